"""The command line as CONTRACTS §1-2 fixes it: bad usage exits 2 with one line
naming the flag; SIGTERM/SIGINT shut down cleanly; `replicakv cluster` lays out
ports and cluster.json, lets a test restart a node from argv, and stops every
node of its directory, restarted ones included."""

import json
import os
import shutil
import signal
import subprocess
import tempfile

import redis

from common import Node, check, free_base_port, http_get, parse_args, run_tests, wait_until


def main():
    args = parse_args()
    binary = args.binary

    def run(*a, timeout=20):
        return subprocess.run([binary, *a], capture_output=True, text=True, timeout=timeout)

    def test_bad_usage_exits_2_with_one_line():
        tmp = tempfile.mkdtemp(prefix="rkv-cli-")
        bad_toml = os.path.join(tmp, "bad.toml")
        with open(bad_toml, "w") as f:
            f.write('acks = "sometimes"\n')
        unknown_toml = os.path.join(tmp, "unknown.toml")
        with open(unknown_toml, "w") as f:
            f.write('acks = "quorum"\nlisten_port = 3\n')
        cases = [
            (["server", "--acks", "most"], "--acks"),
            (["server", "--listen", "localhost"], "--listen"),
            (["server", "--listen", "127.0.0.1:70000"], "--listen"),
            (["server", "--durability", "sometimes"], "--durability"),
            (["server", "--no-such-flag"], "--no-such-flag"),
            (["server", "--election-timeout-ms", "ten"], "--election-timeout-ms"),
            (["server", "--mode", "leader", "--peers", "2=127.0.0.1:1"], "--peers"),
            (["server", "--config", bad_toml], "acks"),
            (["server", "--config", unknown_toml], "listen_port"),
            (["server", "--config", os.path.join(tmp, "absent.toml")], "absent.toml"),
            (["cluster", "--nodes", "0", "--data-dir", tmp], "--nodes"),
            (["cluster", "--data-dir", tmp, "--acks", "most"], "--acks"),
            (["frobnicate"], "frobnicate"),
        ]
        for argv, needle in cases:
            p = run(*argv)
            check(p.returncode == 2, f"{argv}: exit {p.returncode}, stderr {p.stderr!r}")
            first = p.stderr.strip().splitlines()[0] if p.stderr.strip() else ""
            check(needle in first, f"{argv}: the first line names {needle!r}: {p.stderr!r}")
        shutil.rmtree(tmp)

    def test_help_exits_0():
        p = run("server", "--help")
        check(p.returncode == 0 and "--acks" in p.stdout, f"help: {p.returncode}")

    def test_sigterm_and_sigint_shut_down_cleanly():
        for sig in (signal.SIGTERM, signal.SIGINT):
            node = Node(binary).start()
            r = redis.Redis(port=node.port)
            r.set("a", "1")
            node.proc.send_signal(sig)
            code = node.proc.wait(timeout=20)
            check(code == 0, f"exit code after {sig}: {code}\n{node.log()}")
            check("stopped" in node.log(), "the log says it stopped")
            node.start()
            check(redis.Redis(port=node.port).get("a") == b"1", "data is there after restart")
            node.cleanup()

    def test_config_file_and_flags_override_it():
        tmp = tempfile.mkdtemp(prefix="rkv-cfg-")
        base = free_base_port(span=1)
        path = os.path.join(tmp, "node.toml")
        with open(path, "w") as f:
            f.write(f'id = 4\ndata_dir = "{tmp}/data"\nlisten = "127.0.0.1:{base}"\n'
                    f'durability = "none"\n')
        proc = subprocess.Popen([binary, "server", "--config", path, "--durability", "fsync"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            status = wait_until(lambda: json.loads(http_get(base + 200, "/status")), 20, "node")
            check(status["id"] == 4, "id from the file")
            check(status["durability"] == "fsync", "the flag overrides the file")
            check(status["resp"] == f"127.0.0.1:{base}", "listen from the file")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            shutil.rmtree(tmp)

    def test_cluster_launcher_contract():
        tmp = tempfile.mkdtemp(prefix="rkv-cluster-")
        base = free_base_port(span=3)
        launcher = subprocess.Popen([binary, "cluster", "--nodes", "3", "--data-dir", tmp,
                                     "--base-port", str(base)],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            path = os.path.join(tmp, "cluster.json")
            wait_until(lambda: os.path.exists(path), 60, "cluster.json")
            doc = json.load(open(path))
            nodes = doc["nodes"]
            check(len(nodes) == 3, "three nodes")
            for i, n in enumerate(nodes, start=1):
                check(n["id"] == i, "ids are 1-based")
                check(n["resp"] == f"127.0.0.1:{base + i - 1}", f"resp port of node {i}")
                check(n["peer"] == f"127.0.0.1:{base + 100 + i - 1}", f"peer port of node {i}")
                check(n["admin"] == f"127.0.0.1:{base + 200 + i - 1}", f"admin port of node {i}")
                check(n["data_dir"] == os.path.join(os.path.realpath(tmp), f"node-{i}") or
                      n["data_dir"] == os.path.join(tmp, f"node-{i}"), f"data dir {n['data_dir']}")
                check(os.path.isabs(n["argv"][0]) and n["argv"][1] == "server", "argv")
                check(json.loads(http_get(base + 200 + i - 1, "/status"))["id"] == i, "status")
                check(redis.Redis(port=base + i - 1).ping(), f"node {i} answers PING")
            check(not os.path.exists(path + ".tmp"), "written atomically (no temp file left)")
            # A test may kill -9 a node and restart it from argv.
            victim = nodes[1]
            os.kill(victim["pid"], signal.SIGKILL)
            wait_until(lambda: not pid_alive(victim["pid"]), 10, "node 2 to die")
            check(launcher.poll() is None, "the launcher keeps running while a node is down")
            restarted = subprocess.Popen(victim["argv"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            wait_until(lambda: redis.Redis(port=base + 1).ping(), 20, "restarted node 2")
            launcher.send_signal(signal.SIGTERM)
            code = launcher.wait(timeout=60)
            check(code == 0, f"launcher exit code {code}")
            check(restarted.wait(timeout=20) == 0, "the restarted node was stopped cleanly too")
            for n in nodes:
                check(not pid_alive(n["pid"]), f"node {n['id']} stopped")
        finally:
            if launcher.poll() is None:
                launcher.kill()
            shutil.rmtree(tmp, ignore_errors=True)

    try:
        run_tests([test_bad_usage_exits_2_with_one_line, test_help_exits_0,
                   test_sigterm_and_sigint_shut_down_cleanly, test_config_file_and_flags_override_it,
                   test_cluster_launcher_contract])
    finally:
        pass


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    main()
