"""Real Redis clients against one node: redis-py (a client library), redis-cli
and redis-benchmark, RESP3, AUTH, pipelining and many connections."""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import redis

from common import Node, check, parse_args, raw_roundtrip, run_tests, wait_until


def main():
    args = parse_args()
    node = Node(args.binary).start()
    r = redis.Redis(port=node.port)

    def test_redis_py_commands():
        r.flushall()
        check(r.set("k", "v") is True, "set")
        check(r.get("k") == b"v", "get")
        check(r.set("k", "w", nx=True) is None, "set nx on existing key is refused")
        check(r.incr("n") == 1 and r.incrby("n", 41) == 42 and r.decr("n") == 41, "counters")
        check(abs(r.incrbyfloat("f", 1.5) - 1.5) < 1e-9, "incrbyfloat")
        check(r.append("a", "x1") == 2 and r.append("a", " x2") == 5, "append")
        check(r.strlen("a") == 5, "strlen")
        check(r.mset({"m1": "1", "m2": "2"}) is True, "mset")
        check(r.mget("m1", "m2", "none") == [b"1", b"2", None], "mget")
        check(r.exists("m1", "m2", "none") == 2, "exists")
        check(r.delete("m1", "none") == 1, "del")
        check(r.dbsize() == 5, f"dbsize {r.dbsize()}")
        check(r.getset("k", "z") == b"w" or r.get("k") == b"z", "getset")
        check(r.type("k") == b"string", "type")
        check(r.ping() is True and r.echo("hi") == b"hi", "ping/echo")
        check(r.client_setname("tester") and r.client_getname() == "tester", "client name")
        check(isinstance(r.client_id(), int), "client id")
        try:
            r.incr("a")
            check(False, "incr on a non-number must fail")
        except redis.ResponseError as e:
            check("not an integer" in str(e), str(e))

    def test_scan_visits_every_key_once():
        r.flushall()
        keys = {f"user:{i}" for i in range(2500)}
        pipe = r.pipeline(transaction=False)
        for k in keys:
            pipe.set(k, "1")
        pipe.set("other", "1")
        pipe.execute()
        seen = list(r.scan_iter(match="user:*", count=100))
        check(len(seen) == len(set(seen)) == 2500, f"scan returned {len(seen)} keys")
        check({k.decode() for k in seen} == keys, "scan returned exactly the matching keys")
        check(len(r.keys("user:1*")) == 1 + 10 + 100 + 1000, "keys with a pattern")

    def test_transactions_are_atomic_and_ordered():
        r.flushall()
        pipe = r.pipeline(transaction=True)
        pipe.set("t", "1").incr("t").get("t").append("t", "0")
        check(pipe.execute() == [True, 2, b"2", 2], "multi/exec results in order")
        check(r.get("t") == b"20", "final value")

    def test_pipeline_reads_see_earlier_writes():
        r.flushall()
        pipe = r.pipeline(transaction=False)
        for i in range(200):
            pipe.set("p", str(i))
            pipe.get("p")
        res = pipe.execute()
        gets = res[1::2]
        check(gets == [str(i).encode() for i in range(200)], "each GET sees the SET before it")

    def test_resp3_hello():
        out = raw_roundtrip(node.port, b"HELLO 3\r\nGET missing\r\nSET a 1\r\nINFO keyspace\r\n")
        check(out.startswith(b"%7\r\n"), f"HELLO 3 answers a map: {out[:40]!r}")
        check(b"\r\n_\r\n+OK\r\n=" in out, f"RESP3 null, then a verbatim INFO: {out!r}")
        cli = subprocess.run(["redis-cli", "-3", "-p", str(node.port), "GET", "missing"],
                             capture_output=True, text=True, timeout=10)
        check(cli.returncode == 0 and "(nil)" in cli.stdout or cli.stdout.strip() == "",
              f"redis-cli -3: {cli.stdout!r} {cli.stderr!r}")

    def test_redis_cli():
        def cli(*a):
            return subprocess.run(["redis-cli", "-p", str(node.port), *a], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        check(cli("SET", "cli", "value") == "OK", "redis-cli set")
        check(cli("GET", "cli") == "value", "redis-cli get")
        check("role:master" in cli("INFO", "replication"), "INFO replication")
        check(cli("--no-raw", "DBSIZE").startswith("(integer)"), "dbsize")
        info = cli("INFO")
        for section in ("# Server", "# Clients", "# Stats", "# Replication", "# Keyspace"):
            check(section in info, f"INFO has {section}")

    def test_redis_benchmark_without_errors():
        r.flushall()
        for pipeline in ("1", "16"):
            out = subprocess.run(
                ["redis-benchmark", "-p", str(node.port), "-t", "set,get,incr,mset", "-n", "20000",
                 "-c", "20", "-P", pipeline, "-r", "1000", "-q"],
                capture_output=True, text=True, timeout=300)
            text = out.stdout + out.stderr
            check(out.returncode == 0, f"redis-benchmark exit {out.returncode}: {text}")
            check("rror" not in text, f"redis-benchmark reported errors: {text}")
            for t in ("SET", "GET", "INCR", "MSET"):
                check(re.search(rf"{t}.*requests per second", text), f"{t} ran: {text}")
        total = sum(int(r.get(k)) for k in r.scan_iter(match="counter:*", count=1000))
        check(total == 40000, f"every INCR was applied exactly once: {total}")

    def test_many_connections():
        conns = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
            conns.append(s)
        errors = []

        def work(i, s):
            try:
                s.sendall(b"SET c%d %d\r\nGET c%d\r\n" % (i, i, i))
                data = b""
                while data.count(b"\r\n") < 3:
                    data += s.recv(100)
                if data != b"+OK\r\n$%d\r\n%d\r\n" % (len(str(i)), i):
                    errors.append(data)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for s in conns:
            s.close()
        check(not errors, f"errors: {errors[:3]}")
        wait_until(lambda: int(r.info("clients")["connected_clients"]) <= 2, 10,
                   "closed connections to be counted as closed")

    def test_slow_reader_gets_every_reply_in_order():
        # 200 GETs of a 1 MB value sent at once and not read for a while: far
        # more than the socket buffers hold, so replies are written in parts
        # as the client drains them, and the connection stops reading past
        # its reply limit (64 MB) until they are. Another client is served
        # meanwhile, and every reply arrives whole and in order.
        value = b"v" * (1 << 20)
        r.set("big", value)
        s = socket.create_connection(("127.0.0.1", node.port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        n = 200
        s.sendall(b"".join(b"GET big\r\nECHO m%d\r\n" % i for i in range(n)))
        other = redis.Redis(port=node.port, socket_timeout=5)
        for i in range(20):
            check(other.set(f"o{i}", i) and other.get(f"o{i}") == str(i).encode(),
                  "another client is served while one is not reading")
        head = b"$%d\r\n" % len(value)
        buf = bytearray()
        got = 0
        while got < n:
            chunk = s.recv(1 << 20)
            check(chunk, f"connection closed after {got} of {n} reply pairs")
            buf += chunk
            while True:
                one = head + value + b"\r\n"
                echo = b"$%d\r\nm%d\r\n" % (len(b"m%d" % got), got)
                if len(buf) < len(one) + len(echo):
                    break
                check(bytes(buf[:len(one)]) == one, f"GET reply {got} whole")
                check(bytes(buf[len(one):len(one) + len(echo)]) == echo,
                      f"ECHO reply {got} in order: {bytes(buf[len(one):len(one) + 20])!r}")
                del buf[:len(one) + len(echo)]
                got += 1
        check(not buf, f"nothing after the last reply: {bytes(buf[:40])!r}")
        s.close()

    def test_vanished_slow_reader_is_closed():
        # A client that asks for 100 MB of replies, reads none (its connection
        # stops reading past 64 MB of replies) and then resets: the server
        # closes its side and does not spin on the dead socket.
        r.set("big", b"v" * (1 << 20))
        baseline = int(r.info("clients")["connected_clients"])
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET big\r\n" * 100)
        wait_until(lambda: int(r.info("clients")["connected_clients"]) == baseline + 1, 10,
                   "the reader's connection to be counted")
        time.sleep(0.5)  # let the server fill the socket and stop reading
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset
        wait_until(lambda: int(r.info("clients")["connected_clients"]) == baseline, 10,
                   "the reset connection to be closed")

        def ticks():
            fields = open(f"/proc/{node.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        t0, c0 = time.time(), ticks()
        time.sleep(1.0)
        busy = (ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)
        check(busy < 0.5, f"the idle server uses {busy:.0%} of a core after the reset")

    def test_auth_with_password():
        locked = Node(args.binary, extra=["--password", "s3cret"]).start()
        try:
            out = raw_roundtrip(locked.port, b"GET a\r\nAUTH wrong\r\nAUTH s3cret\r\nGET a\r\n")
            check(out == b"-NOAUTH Authentication required.\r\n"
                         b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                         b"+OK\r\n$-1\r\n", f"auth flow: {out!r}")
            rp = redis.Redis(port=locked.port, password="s3cret")
            check(rp.set("x", "1") and rp.get("x") == b"1", "redis-py with a password")
        finally:
            locked.cleanup()

    try:
        run_tests([test_redis_py_commands, test_scan_visits_every_key_once,
                   test_transactions_are_atomic_and_ordered, test_pipeline_reads_see_earlier_writes,
                   test_resp3_hello, test_redis_cli, test_redis_benchmark_without_errors,
                   test_many_connections, test_slow_reader_gets_every_reply_in_order,
                   test_vanished_slow_reader_is_closed,
                   test_auth_with_password])
    finally:
        node.cleanup()


if __name__ == "__main__":
    main()
