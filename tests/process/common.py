"""Helpers for the real-process tests: start `replicakv server` (and Debian's
redis-server) on free loopback ports, wait on conditions with deadlines, and
stop only the processes the test started."""

import argparse
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

_started = []  # Popen objects to stop at exit


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    args, _ = p.parse_known_args()
    return args


def _cleanup():
    for proc in _started:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    for path in _reserved:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


RESERVATIONS = "/tmp/rkv-test-ports"


def _reserve(base):
    """Claims ports base..base+99 for this process (tests run in parallel:
    a port free now may be taken by another test before our node binds it)."""
    os.makedirs(RESERVATIONS, exist_ok=True)
    path = os.path.join(RESERVATIONS, str(base // 100))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            with open(path) as f:
                owner = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return False
        if owner and _alive(owner):
            return False
        os.unlink(path)  # left by a process that is gone
        return _reserve(base)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    _reserved.append(path)
    return True


_reserved = []


def free_base_port(span=3, offsets=(0, 100, 200)):
    """A base port P such that P+o..P+o+span-1 are free for each offset, and
    reserved for this process (the hundreds P, P+100 and P+200)."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(400):
        base = rng.randrange(200, 600) * 100 + rng.randrange(0, 90, 10)
        if not all(port_free(base + o + i) for o in offsets for i in range(span)):
            continue
        claimed = []
        for o in offsets:
            if _reserve(base + o):
                claimed.append(base + o)
            else:
                break
        if len(claimed) == len(offsets):
            return base
        for c in claimed:
            path = os.path.join(RESERVATIONS, str(c // 100))
            _reserved.remove(path)
            os.unlink(path)
    raise RuntimeError("no free ports")


# Deadlines stretch under slow builds (make test-asan-server sets 5): a test
# waits on a condition, and a sanitized debug server reaches it later.
TIMEOUT_SCALE = float(os.environ.get("RKV_TEST_TIMEOUT_SCALE", "1"))


def wait_until(cond, timeout, what):
    timeout *= TIMEOUT_SCALE
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - the condition may fail until ready
            last = e
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


def http_get(port, path, timeout=2):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read().decode()


def http_post(port, path, body, timeout=2):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Node:
    """One `replicakv server` process."""

    def __init__(self, binary, data_dir=None, port=None, extra=()):
        self.binary = binary
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="rkv-test-")
        self.port = port or free_base_port(span=1)
        self.admin_port = self.port + 200
        self.extra = list(extra)
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    def argv(self):
        return [self.binary, "server", "--data-dir", self.data_dir,
                "--listen", f"127.0.0.1:{self.port}"] + self.extra

    def start(self, wait=True):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log)
        _started.append(self.proc)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            return json.loads(http_get(self.admin_port, "/status"))
        return wait_until(ready, timeout, f"node on {self.port} to answer /status")

    def status(self):
        return json.loads(http_get(self.admin_port, "/status"))

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout=20):
        self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.kill9()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class RedisServer:
    """Debian's redis-server 7, started on its own port with no persistence."""

    def __init__(self, port=None, extra=()):
        self.port = port or free_base_port(span=1, offsets=(0,))
        self.dir = tempfile.mkdtemp(prefix="rkv-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"] + list(extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _started.append(self.proc)
        wait_until(lambda: raw_roundtrip(self.port, b"PING\r\n") == b"+PONG\r\n", 10,
                   "redis-server to start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def raw_roundtrip(port, data, settle=0.3, timeout=5, close_write=False, first_byte=1.0):
    """Sends raw bytes, then reads until the server closes or stays quiet for
    `settle` seconds after a byte arrived (waiting up to `first_byte` seconds
    for the first). Returns what was read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        out = b""
        s.settimeout(max(first_byte, settle))
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
                s.settimeout(settle)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_tests(tests):
    """Runs each test function; prints a line each; exits 1 on any failure."""
    failed = 0
    for t in tests:
        start = time.time()
        try:
            t()
            print(f"ok   {t.__name__} ({time.time() - start:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            import traceback
            traceback.print_exc()
            print(f"FAIL {t.__name__}: {e}", flush=True)
    sys.exit(1 if failed else 0)


class Cluster:
    """A `replicakv cluster` launcher and its nodes (CONTRACTS §2)."""

    def __init__(self, binary, nodes=3, extra=(), data_dir=None):
        self.binary = binary
        self.n = nodes
        self.dir = data_dir or tempfile.mkdtemp(prefix="rkv-cluster-")
        self.base = free_base_port(span=nodes)
        self.extra = list(extra)
        self.launcher = None
        self.nodes = {}
        self.restarted = {}

    def start(self, timeout=60):
        log = open(os.path.join(self.dir, "launcher.log"), "ab")
        self.launcher = subprocess.Popen(
            [self.binary, "cluster", "--nodes", str(self.n), "--data-dir", self.dir,
             "--base-port", str(self.base)] + self.extra, stdout=log, stderr=log)
        _started.append(self.launcher)
        path = os.path.join(self.dir, "cluster.json")
        wait_until(lambda: os.path.exists(path) or self.launcher.poll() is not None, timeout,
                   "cluster.json")
        check(self.launcher.poll() is None, "launcher exited:\n" + self.tail("launcher.log"))
        for n in json.load(open(path))["nodes"]:
            self.nodes[n["id"]] = n
        return self

    def tail(self, rel, chars=3000):
        try:
            with open(os.path.join(self.dir, rel), errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def port(self, i):
        return self.base + i - 1

    def admin(self, i):
        return self.base + 200 + i - 1

    def status(self, i, timeout=1):
        return json.loads(http_get(self.admin(i), "/status", timeout=timeout))

    def statuses(self):
        out = {}
        for i in self.nodes:
            try:
                out[i] = self.status(i)
            except Exception:  # noqa: BLE001 - a node may be down
                pass
        return out

    def leader(self, timeout=10):
        """The leader, once every node that answers names it: a follower that
        has not heard from a new leader yet would refuse a forwarded write."""
        def find():
            sts = self.statuses()
            leaders = [i for i, st in sts.items() if st["role"] == "leader"]
            if len(leaders) != 1:
                return None
            if all(i == leaders[0] or st["leader_id"] == leaders[0] for i, st in sts.items()):
                return leaders[0]
            return None
        return wait_until(find, timeout, "a leader every node knows")

    def pid(self, i):
        with open(os.path.join(self.nodes[i]["data_dir"], "node.pid")) as f:
            return int(f.read())

    def kill9(self, i):
        pid = self.pid(i)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(pid), 10, f"node {i} to die")

    def restart(self, i, wait=True):
        log = open(os.path.join(self.nodes[i]["data_dir"], "server.log"), "ab")
        p = subprocess.Popen(self.nodes[i]["argv"], stdout=log, stderr=log, start_new_session=True)
        _started.append(p)
        self.restarted[i] = p
        if wait:
            wait_until(lambda: self.status(i), 30, f"node {i} to restart")
        return p

    def faults(self, i, body):
        return http_post(self.admin(i), "/faults", body)

    def wait_converged(self, timeout=60):
        """Every node up, one leader, equal applied index, last index and digest."""
        def converged():
            sts = self.statuses()
            if len(sts) != len(self.nodes):
                return False
            leaders = [s for s in sts.values() if s["role"] == "leader"]
            if len(leaders) != 1:
                return False
            vals = {(s["applied_index"], s["last_index"], s["digest"]) for s in sts.values()}
            return len(vals) == 1 and leaders[0]["commit_index"] == leaders[0]["last_index"]
        return wait_until(converged, timeout, "the cluster to converge")

    def rollback_records(self):
        recs = []
        for i, n in self.nodes.items():
            d = os.path.join(n["data_dir"], "rollback")
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name)) as f:
                    for line in f:
                        r = json.loads(line)
                        r["node"] = i
                        r["file"] = name
                        recs.append(r)
        return recs

    def stop(self):
        if self.launcher and self.launcher.poll() is None:
            self.launcher.terminate()
            try:
                self.launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.launcher.kill()
        for p in self.restarted.values():
            if p.poll() is None:
                p.kill()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
