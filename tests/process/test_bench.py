"""`replicakv bench`, the load generator behind `make bench`, against a real
ReplicaKV node, a real redis-server and (when installed) a one-member etcd:
sane figures, every operation accounted for, errors counted rather than hidden,
and a failure to connect is an error exit, never a silent zero."""

import json
import os
import shutil
import subprocess
import tempfile

from common import (Node, RedisServer, _started, check, free_base_port, http_get, parse_args,
                    run_tests, wait_until)


def main():
    args = parse_args()
    binary = args.binary

    def bench(*a, timeout=30):
        out = subprocess.run([binary, "bench", "--json", *map(str, a)], capture_output=True,
                             text=True, timeout=timeout)
        res = json.loads(out.stdout) if out.stdout.strip() else None
        return out.returncode, res, out.stderr

    def sane(res, n=None):
        lat = res["latency_ms"]
        check(res["ops_per_sec"] > 0 and res["elapsed_s"] > 0, f"no throughput: {res}")
        check(0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"],
              f"latencies out of order: {lat}")
        check(lat["max"] < 5000, f"a loopback request took {lat['max']} ms")
        if n is not None:
            check(res["ok"] == n and lat["count"] == n, f"expected {n} ok: {res}")

    node = Node(binary, extra=["--durability", "none"]).start()
    redis_server = RedisServer()

    def test_resp_workloads_count_every_operation():
        for port in (node.port, redis_server.port):
            addr = f"127.0.0.1:{port}"
            rc, res, err = bench("--addr", addr, "--workload", "set", "--requests", 3000,
                                 "--clients", 10)
            check(rc == 0 and res["errors"] == 0, f"set on {port}: rc {rc} {res} {err}")
            sane(res, 3000)
            rc, res, err = bench("--addr", addr, "--workload", "set", "--requests", 3200,
                                 "--clients", 4, "--pipeline", 16)
            check(rc == 0, f"pipelined set: {err}")
            sane(res, 3200)
            rc, res, err = bench("--addr", addr, "--workload", "load", "--keys", 2000,
                                 "--pipeline", 64, "--clients", 3)
            check(rc == 0 and res["ok"] == 2000, f"load: {res} {err}")
            rc, res, err = bench("--addr", addr, "--workload", "get", "--keys", 2000,
                                 "--requests", 2000, "--clients", 5)
            check(rc == 0 and res["misses"] == 0, f"every loaded key is found: {res} {err}")
            sane(res, 2000)
            # The SET + WAIT pair: WAIT 0 0 answers at once on a server without replicas.
            rc, res, err = bench("--addr", addr, "--workload", "set-wait2", "--wait-replicas", 0,
                                 "--requests", 500, "--clients", 5)
            check(rc == 0, f"set-wait2 with 0 replicas: {res} {err}")
            sane(res, 500)

    def test_duration_mode_runs_about_that_long():
        rc, res, err = bench("--addr", f"127.0.0.1:{node.port}", "--workload", "get",
                             "--duration-ms", 700, "--warmup-ms", 200, "--clients", 5)
        check(rc == 0, err)
        check(0.6 < res["elapsed_s"] < 2.5, f"elapsed {res['elapsed_s']} for a 700 ms run")
        sane(res)

    def test_a_wrong_address_is_an_error_exit():
        dead = free_base_port(span=1, offsets=(0,))
        rc, res, err = bench("--addr", f"127.0.0.1:{dead}", "--workload", "set", "--requests", 10)
        check(rc == 1, f"exit {rc}, want 1")
        check(res["errors"] > 0 and res["ok"] == 0 and "connect" in res["fatal"], f"{res}")
        check("connect" in err, f"stderr names the failure: {err}")

    def test_error_replies_and_timeouts_are_counted():
        # A node with a password answers every command with NOAUTH.
        locked = Node(binary, extra=["--durability", "none", "--password", "pw"]).start()
        try:
            rc, res, err = bench("--addr", f"127.0.0.1:{locked.port}", "--workload", "set",
                                 "--requests", 300, "--clients", 3)
            check(rc == 1 and res["errors"] == 300 and res["ok"] == 0, f"{res}")
            check(any("NOAUTH" in s for s in res["error_samples"]), f"{res['error_samples']}")
        finally:
            locked.cleanup()
        # WAIT 2 on a server without replicas never answers: each connection times out.
        rc, res, err = bench("--addr", f"127.0.0.1:{redis_server.port}", "--workload", "set-wait2",
                             "--requests", 50, "--clients", 2, "--timeout-ms", 300)
        check(rc == 1 and res["errors"] == 2 and res["ok"] == 0, f"{res}")
        check(any("no reply within 300 ms" in s for s in res["error_samples"]), f"{res}")

    def test_read_level_is_set_per_connection():
        addr = f"127.0.0.1:{node.port}"
        for level in ("strong", "eventual", "bounded 100"):
            rc, res, err = bench("--addr", addr, "--workload", "get", "--requests", 300,
                                 "--clients", 3, "--consistency", level)
            check(rc == 0 and res["consistency"] == level, f"{level}: {res} {err}")
            sane(res, 300)
        # A level the server refuses (and a server without the command) stops the run.
        for port, level in ((node.port, "sometimes"), (redis_server.port, "strong")):
            rc, res, err = bench("--addr", f"127.0.0.1:{port}", "--workload", "get",
                                 "--requests", 10, "--consistency", level)
            check(rc == 1 and "RKV.CONSISTENCY" in res.get("fatal", ""), f"{port} {level}: {res}")

    def test_bad_usage_exits_2():
        for a in (["--workload", "put"], ["--workload", "set", "--system", "etcd"],
                  ["--workload", "set"], ["--workload", "get", "--requests", "5", "--key-size", "6"],
                  ["--workload", "set", "--requests", "5", "--pipeline", "0"]):
            out = subprocess.run([binary, "bench", "--addr", f"127.0.0.1:{node.port}", *a],
                                 capture_output=True, text=True, timeout=10)
            check(out.returncode == 2 and out.stderr.count("\n") == 1 and "--" in out.stderr,
                  f"{a}: exit {out.returncode}, stderr {out.stderr!r}")

    def test_etcd_gateway_binding():
        if not shutil.which("etcd"):
            print("skip: etcd is not installed (scripts/bootstrap installs etcd-server)")
            return
        d = tempfile.mkdtemp(prefix="rkv-test-etcd-")
        base = free_base_port(span=1, offsets=(0, 100))
        p = subprocess.Popen(["etcd", "--name", "m0", "--data-dir", os.path.join(d, "m0"),
                              "--listen-client-urls", f"http://127.0.0.1:{base}",
                              "--advertise-client-urls", f"http://127.0.0.1:{base}",
                              "--listen-peer-urls", f"http://127.0.0.1:{base + 100}",
                              "--initial-advertise-peer-urls", f"http://127.0.0.1:{base + 100}",
                              "--initial-cluster", f"m0=http://127.0.0.1:{base + 100}",
                              "--logger", "zap", "--log-level", "error"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _started.append(p)
        try:
            wait_until(lambda: json.loads(http_get(base, "/health")).get("health") == "true", 20,
                       "etcd to be healthy")
            addr = f"127.0.0.1:{base}"
            rc, res, err = bench("--system", "etcd", "--addr", addr, "--workload", "load",
                                 "--keys", 1000, "--batch", 128, "--clients", 2)
            check(rc == 0 and res["ok"] == 1000, f"etcd load: {res} {err}")
            check(res["latency_ms"]["count"] == 8, f"1000 keys in txns of 128 = 8: {res}")
            for w in ("put", "range"):
                rc, res, err = bench("--system", "etcd", "--addr", addr, "--workload", w,
                                     "--keys", 1000, "--requests", 300, "--clients", 5)
                check(rc == 0 and res["misses"] == 0, f"etcd {w}: {res} {err}")
                sane(res, 300)
            rc, res, err = bench("--system", "etcd", "--addr", addr, "--workload", "range",
                                 "--keys", 100000, "--requests", 50, "--clients", 1,
                                 "--serializable", "--seed", 7)
            check(rc == 0 and 0 < res["misses"] <= 50, f"keys above 1000 are missing: {res}")
        finally:
            p.terminate()
            p.wait(timeout=20)
            shutil.rmtree(d, ignore_errors=True)

    try:
        run_tests([test_resp_workloads_count_every_operation, test_duration_mode_runs_about_that_long,
                   test_a_wrong_address_is_an_error_exit, test_error_replies_and_timeouts_are_counted,
                   test_read_level_is_set_per_connection, test_bad_usage_exits_2,
                   test_etcd_gateway_binding])
    finally:
        node.cleanup()
        redis_server.stop()


if __name__ == "__main__":
    main()
