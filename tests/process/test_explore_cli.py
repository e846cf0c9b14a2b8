"""`replicakv explore` and the session checks of `replicakv check` as users run
them: bad usage exits 2 with one line naming the flag, the three formats, the
settings list, and session violations named with their operations."""

import json
import os
import subprocess

from common import check, parse_args, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "..", "histories", "session")


def main():
    binary = parse_args().binary

    def run(*a):
        return subprocess.run([binary, *a], capture_output=True, text=True, timeout=300)

    def test_bad_usage_exits_2_naming_the_flag():
        for args, flag in ((["--seeds", "0"], "--seeds"), (["--format", "html"], "--format"),
                           (["--jobs", "x"], "--jobs"), (["--bogus"], "--bogus")):
            p = run("explore", *args)
            check(p.returncode == 2, f"{args}: exit {p.returncode}: {p.stdout}{p.stderr}")
            lines = p.stderr.strip().splitlines()
            check(len(lines) == 1 and flag in lines[0], f"{args}: {p.stderr!r}")

    def test_list_names_settings_and_scenarios():
        p = run("explore", "--list")
        check(p.returncode == 0, p.stderr)
        lines = p.stdout.splitlines()
        check("setting quorum strong" in lines and "setting async eventual" in lines, p.stdout)
        check([l for l in lines if l.startswith("faults ")] ==
              ["faults none", "faults crash", "faults partition", "faults all"], p.stdout)

    def test_formats():
        # One seed of short runs: the shape, not the figures.
        args = ["explore", "--seeds", "1", "--ops", "200", "--jobs", "2"]
        table = run(*args)
        check(table.returncode in (0, 1), table.stderr)
        for needle in ("faults: none", "faults: all", "acks=quorum, strong reads", "lost writes",
                       "read-your-writes", "write ms p50 / p99"):
            check(needle in table.stdout, f"{needle!r} missing from:\n{table.stdout}")
        md = run(*args, "--format", "markdown")
        check("| setting | lost writes (recorded) |" in md.stdout
              and "**faults: crash**" in md.stdout, md.stdout)
        doc = json.loads(run(*args, "--format", "json").stdout)
        check(doc["seeds"] == 1 and doc["ops"] == 200, doc.keys())
        cells = doc["cells"]
        check(len(cells) == 4 * len([l for l in run("explore", "--list").stdout.splitlines()
                                     if l.startswith("setting ")]), len(cells))
        check(all(c["conflicts"] == 0 for c in cells), "a single leader has no conflicts")
        check(all(c["operations"]["invoked"] == 200 for c in cells), cells[0])

    def test_check_names_session_violations():
        p = run("check", os.path.join(SESSION, "ryw-old-value-after-own-write.jsonl"), "--checks",
                "read-your-writes,monotonic-reads,stale-reads")
        check(p.returncode == 1, p.stdout + p.stderr)
        check(p.stdout.startswith("read-your-writes: FAIL"), p.stdout)
        check("monotonic-reads: ok" in p.stdout, p.stdout)
        for needle in ('write k "a"', 'write k "b"', 'read k -> "a"', "(line 5)"):
            check(needle in p.stdout, f"{needle!r} missing from:\n{p.stdout}")
        p = run("check", os.path.join(SESSION, "all-hold.jsonl"), "--checks",
                "read-your-writes,monotonic-reads,consistent-prefix,stale-reads")
        check(p.returncode == 0, p.stdout + p.stderr)
        p = run("check", os.path.join(SESSION, "all-hold.jsonl"), "--checks", "monotonic")
        check(p.returncode == 2 and "'monotonic'" in p.stderr, p.stderr)

    run_tests([test_bad_usage_exits_2_naming_the_flag, test_list_names_settings_and_scenarios,
               test_formats, test_check_names_session_violations])


if __name__ == "__main__":
    main()
