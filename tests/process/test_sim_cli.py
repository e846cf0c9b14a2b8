"""`replicakv sim` and `replicakv check` as users run them: determinism (same
flags and seed give byte-identical stdout and history), per-seed history files,
a failing run printing the command that reproduces it, and check's verdicts."""

import json
import os
import shutil
import subprocess
import tempfile

from common import check, parse_args, run_tests


def main():
    binary = parse_args().binary
    tmp = tempfile.mkdtemp(prefix="rkv-sim-")

    def run(*a):
        return subprocess.run([binary, *a], capture_output=True, text=True, timeout=300)

    def test_same_seed_same_bytes():
        outs = []
        for i in range(2):
            h = os.path.join(tmp, f"h{i}.jsonl")
            p = run("sim", "--mode", "leader", "--acks", "quorum", "--seed", "5", "--faults", "all",
                    "--history", h)
            check(p.returncode == 0, f"sim failed: {p.stdout}{p.stderr}")
            outs.append((p.stdout, open(h, "rb").read()))
        check(outs[0][0] == outs[1][0], "stdout differs between identical runs")
        check(outs[0][1] == outs[1][1], "history differs between identical runs")
        check("seed 5:" in outs[0][0] and "result: ok" in outs[0][0], outs[0][0])
        lines = outs[0][1].decode().splitlines()
        events = [json.loads(l) for l in lines]
        types = {e["type"] for e in events}
        check({"invoke", "ok", "final"} <= types, f"event types {types}")
        finals = [i for i, e in enumerate(events) if e["type"] == "final"]
        check(finals and all(e["type"] in ("final", "rollback") for e in events[finals[0]:]),
              "final events come last")
        times = [e["time"] for e in events if "time" in e]
        check(times == sorted(times), "events are in time order")

    def test_many_seeds_write_one_history_each():
        h = os.path.join(tmp, "many.jsonl")
        p = run("sim", "--acks", "async", "--seeds", "3", "--seed", "10", "--faults", "crash",
                "--history", h)
        check(p.returncode == 0, p.stdout + p.stderr)
        for s in (10, 11, 12):
            check(os.path.exists(os.path.join(tmp, f"many.{s}.jsonl")), f"history of seed {s}")
        check("seeds 10..12: 3 run, 0 failed" in p.stdout, p.stdout)

    def test_check_command_verdicts():
        h = os.path.join(tmp, "h0.jsonl")
        p = run("check", h, "--checks", "lost-writes,convergence")
        check(p.returncode == 0, p.stdout + p.stderr)
        check("lost-writes: ok" in p.stdout and "convergence: ok" in p.stdout, p.stdout)
        bad = os.path.join(tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"client":1,"type":"invoke","op":"append","key":"k","value":" x1","time":1,"node":1}\n')
            f.write('{"client":1,"type":"ok","op":"append","key":"k","value":" x1","time":2,"node":1}\n')
            f.write('{"client":2,"type":"invoke","op":"append","key":"k","value":" x2","time":3,"node":1}\n')
            f.write('{"client":2,"type":"ok","op":"append","key":"k","value":" x2","time":4,"node":1}\n')
            f.write('{"type":"final","node":1,"key":"k","value":" x1 x2"}\n')
            f.write('{"type":"final","node":2,"key":"k","value":" x1"}\n')
        p = run("check", bad, "--checks", "lost-writes,convergence")
        check(p.returncode == 1, f"exit {p.returncode}")
        check("lost-writes: FAIL" in p.stdout and '" x2"' in p.stdout, p.stdout)
        check("convergence: FAIL" in p.stdout and "node 2=' x1'" in p.stdout, p.stdout)
        p = run("check", bad, "--checks", "nonsense")
        check(p.returncode == 2 and "nonsense" in p.stderr, p.stderr)
        with open(bad, "w") as f:
            f.write('{"client":1,"type":"ok"\n')
        p = run("check", bad, "--checks", "lost-writes")
        check(p.returncode != 0 and "line 1" in p.stderr, p.stderr)

    def test_failing_run_prints_how_to_reproduce():
        p = run("sim", "--acks", "quorum", "--seeds", "30", "--faults", "all", "--mutation",
                "ack-before-quorum")
        check(p.returncode == 1, f"exit {p.returncode}: {p.stdout}")
        lines = p.stdout.splitlines()
        at = [i for i, l in enumerate(lines) if "reproduce:" in l]
        check(at, p.stdout)
        argv = lines[at[0]].split("reproduce:")[1].split()
        check(argv[0] == "replicakv" and "--seed" in argv, lines[at[0]])
        start = max(i for i, l in enumerate(lines[:at[0]]) if l.startswith("seed "))
        again = run(*argv[1:])
        check(again.returncode == 1, "the reproduced run fails too")
        check(again.stdout == "\n".join(lines[start:at[0] + 1]) + "\n",
              "the printed command reproduces that seed's run exactly")

    def test_bad_flags_exit_2():
        for argv, needle in ((["sim", "--faults", "bogus"], "bogus"),
                             (["sim", "--acks", "most"], "--acks"),
                             (["sim", "--nodes", "0"], "--nodes"),
                             (["sim", "--mutation", "nope"], "nope")):
            p = run(*argv)
            check(p.returncode == 2 and needle in p.stderr, f"{argv}: {p.returncode} {p.stderr}")

    try:
        run_tests([test_same_seed_same_bytes, test_many_seeds_write_one_history_each,
                   test_check_command_verdicts, test_failing_run_prints_how_to_reproduce,
                   test_bad_flags_exit_2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
