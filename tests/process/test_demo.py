"""`replicakv demo` (what `make demo` runs) finishes by itself, succeeds and
shows what it promises: an election, lag, read levels on a lagging follower
(stale under eventual, fresh under session), a failover that loses nothing
under quorum, and an async loss saved in a rollback file."""

import re

import subprocess

from common import check, parse_args, run_tests


def main():
    binary = parse_args().binary

    def test_demo_tour():
        p = subprocess.run([binary, "demo"], capture_output=True, text=True, timeout=300)
        out = p.stdout
        check(p.returncode == 0, f"exit {p.returncode}\n{out}\n{p.stderr}")
        for needle in ("elects a leader", "entries behind", "acknowledged writes are there",
                       "rollback-", "replicakv_rolled_back_writes:", "Tour finished"):
            check(needle in out, f"the tour shows {needle!r}:\n{out}")
        # The reload from the lagging follower: missing under eventual, there under session.
        section = out[out.index("== 4."):out.index("== 5.")]
        reads = re.findall(r"> GET user:ada:name \n\s+(.*)", section)
        check(len(reads) >= 2 and reads[0] == "(nil)" and reads[1].startswith('"Ada Lovelace"'),
              f"eventual then session reloads: {reads}\n{section}")

    run_tests([test_demo_tour])


if __name__ == "__main__":
    main()
