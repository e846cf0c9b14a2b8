"""`replicakv check --checks linearizable` and `replicakv convert` as users run
them: exit codes (0 holds, 1 fails or undecided, 2 bad usage naming the flag),
counterexamples that name the operations with their lines and times, limits
that give `unknown`, and Jepsen histories converted and checked."""

import json
import os
import re
import shutil
import subprocess
import tempfile

from common import check, parse_args, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
HISTORIES = os.path.join(HERE, "..", "histories")


def main():
    binary = parse_args().binary
    tmp = tempfile.mkdtemp(prefix="rkv-check-")

    def run(*a):
        return subprocess.run([binary, *a], capture_output=True, text=True, timeout=300)

    def hist(name):
        return os.path.join(HISTORIES, name)

    def test_linearizable_history_exits_0():
        p = run("check", hist("append-concurrent.ok.jsonl"), "--checks", "linearizable")
        check(p.returncode == 0, f"exit {p.returncode}: {p.stdout}{p.stderr}")
        check(p.stdout.startswith("linearizable: ok"), p.stdout)

    def test_stale_read_exits_1_and_names_the_operations():
        p = run("check", hist("register-stale-read.fail.jsonl"), "--checks", "linearizable")
        check(p.returncode == 1, f"exit {p.returncode}: {p.stdout}{p.stderr}")
        check(p.stdout.startswith("linearizable: FAIL"), p.stdout)
        # The three operations that cannot be ordered, with lines and times.
        for needle in ('write "1"', 'write "2"', 'read -> "1"', "invoked t=10 (line 1)",
                       "invoked t=30 (line 3)", "invoked t=50 (line 5)", "ok t=60 (line 6)"):
            check(needle in p.stdout, f"{needle!r} missing from:\n{p.stdout}")

    def test_cas_failure_that_matters():
        p = run("check", hist("cas-fail-matters.fail.jsonl"), "--checks", "linearizable")
        check(p.returncode == 1, p.stdout)
        check("failed: found another value" in p.stdout and "(line 3)" in p.stdout, p.stdout)

    def test_with_other_checks_in_one_run():
        p = run("check", hist("two-keys-one-broken.fail.jsonl"), "--checks",
                "lost-writes,linearizable")
        check(p.returncode == 1, p.stdout)
        check("lost-writes: ok" in p.stdout, p.stdout)
        check("first: b" in p.stdout and "key b:" in p.stdout and "key a:" not in p.stdout,
              p.stdout)

    def test_sim_history_checks_and_a_lie_is_caught():
        h = os.path.join(tmp, "sim.jsonl")
        p = run("sim", "--acks", "quorum", "--seed", "3", "--faults", "all", "--history", h)
        check(p.returncode == 0, p.stdout + p.stderr)
        check("check linearizable: ok" in p.stdout, p.stdout)
        p = run("check", h, "--checks", "linearizable")
        check(p.returncode == 0, p.stdout + p.stderr)
        # Make one read return a value no write wrote.
        lines = open(h).read().splitlines()
        for i, line in enumerate(lines):
            e = json.loads(line)
            if e.get("type") == "ok" and e.get("op") == "read":
                e["value"] = "never written"
                lines[i] = json.dumps(e)
                break
        bad = os.path.join(tmp, "sim-bad.jsonl")
        open(bad, "w").write("\n".join(lines) + "\n")
        p = run("check", bad, "--checks", "linearizable")
        check(p.returncode == 1, p.stdout + p.stderr)
        check('read -> "never written"' in p.stdout and f"(line {i + 1})" in p.stdout, p.stdout)

    def test_limits_give_unknown_and_exit_1():
        def sequential(path, writes):
            with open(path, "w") as f:
                for i in range(writes):
                    for typ in ("invoke", "ok"):
                        f.write(json.dumps({"client": 1, "type": typ, "op": "write", "key": "k",
                                            "value": str(i), "time": 2 * i + (typ == "ok")})
                                + "\n")
        small, large = os.path.join(tmp, "small.jsonl"), os.path.join(tmp, "large.jsonl")
        sequential(small, 1000)
        sequential(large, 100000)
        p = run("check", small, "--checks", "linearizable", "--memory-limit-mb", "1")
        check(p.returncode == 0 and p.stdout.startswith("linearizable: ok"), p.stdout)
        p = run("check", large, "--checks", "linearizable")
        check(p.returncode == 0, p.stdout)
        p = run("check", large, "--checks", "linearizable", "--memory-limit-mb", "1")
        check(p.returncode == 1, f"exit {p.returncode}: {p.stdout}")
        check(p.stdout.startswith("linearizable: unknown"), p.stdout)
        check("key k: unknown" in p.stdout and "--memory-limit-mb" in p.stdout, p.stdout)

    def test_bad_usage_exits_2_naming_the_flag():
        for argv, needle in ((["--checks", "linearisable"], "linearisable"),
                             (["--checks", "linearizable", "--time-limit-ms", "0"],
                              "--time-limit-ms"),
                             (["--checks", "linearizable", "--from", "csv"], "--from"),
                             (["--checks", "linearizable", "--threads", "-1"], "--threads")):
            p = run("check", hist("append-concurrent.ok.jsonl"), *argv)
            check(p.returncode == 2 and needle in p.stderr, f"{argv}: {p.returncode} {p.stderr}")
        p = run("check", os.path.join(tmp, "missing.jsonl"), "--checks", "linearizable")
        check(p.returncode == 2 and "cannot read" in p.stderr, p.stderr)
        broken = os.path.join(tmp, "broken.jsonl")
        open(broken, "w").write('{"client":1,"type":"invoke","op":"read","key":"k","time":1}\n{"x"\n')
        p = run("check", broken, "--checks", "linearizable")
        check(p.returncode == 1 and "line 2" in p.stderr, p.stderr)

    def test_convert_jepsen_edn_and_log():
        out = os.path.join(tmp, "jepsen.jsonl")
        p = run("convert", hist("jepsen/independent.ok.edn"), "--output", out)
        check(p.returncode == 0, p.stderr)
        events = [json.loads(l) for l in open(out)]
        check(events[0] == {"client": 0, "type": "invoke", "op": "write", "key": "k1",
                            "value": "3", "time": 10, "node": 0}, events[0])
        check({e["key"] for e in events} == {"k1", "k2", "1"}, events)
        p = run("check", out, "--checks", "linearizable")
        check(p.returncode == 0, p.stdout)
        p = run("convert", hist("jepsen/register.fail.log"), "--from", "jepsen-log")
        check(p.returncode == 0 and '"op":"read"' in p.stdout, p.stdout + p.stderr)
        p = run("check", hist("jepsen/register.fail.log"), "--from", "jepsen-log", "--checks",
                "linearizable")
        check(p.returncode == 1 and 'read -> "2"' in p.stdout and "(line 5)" in p.stdout,
              p.stdout)
        bad = os.path.join(tmp, "bad.edn")
        open(bad, "w").write("{:process 0, :type :invoke, :f :write, :value 1}\n"
                             "{:process 0, :type :invoke, :f :txn, :value [[:r 1 nil]]}\n")
        p = run("convert", bad)
        check(p.returncode == 1 and re.search(r"line 2: unsupported :f :txn", p.stderr),
              p.stderr)
        p = run("convert", bad, "--from", "yaml")
        check(p.returncode == 2 and "--from" in p.stderr, p.stderr)

    try:
        run_tests([test_linearizable_history_exits_0,
                   test_stale_read_exits_1_and_names_the_operations,
                   test_cas_failure_that_matters, test_with_other_checks_in_one_run,
                   test_sim_history_checks_and_a_lie_is_caught, test_limits_give_unknown_and_exit_1,
                   test_bad_usage_exits_2_naming_the_flag, test_convert_jepsen_edn_and_log])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
