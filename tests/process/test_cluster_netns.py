"""Three nodes as separate hosts: each in its own network namespace with its
own address (198.18.0.0/15, never routed outside), joined by veth pairs to a
bridge in a namespace of its own, with no default route. Clients run inside
the namespaces (ip netns exec). A partition made by dropping packets with
nftables isolates the leader; the majority elects a new one; healed, the
cluster converges with every acknowledged write. Needs root; skips without it.
Everything it creates is removed on every exit path."""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import check, parse_args, run_tests, wait_until

TAG = f"rkv{os.getpid() % 100000}"
SUBNET = f"198.18.{os.getpid() % 250 + 1}"
BRIDGE_NS = f"{TAG}-br"
NODES = [1, 2, 3]
created = []
procs = []


def sh(*args, check_rc=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=30, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p


def ns(i):
    return f"{TAG}-n{i}"


def addr(i):
    return f"{SUBNET}.{i}"


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    for name in reversed(created):
        sh("ip", "netns", "del", name, check_rc=False)
    created.clear()


atexit.register(cleanup)
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda *_: sys.exit(1))


def build_network():
    sh("ip", "netns", "add", BRIDGE_NS)
    created.append(BRIDGE_NS)
    sh("ip", "-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", BRIDGE_NS, "link", "set", "br0", "up")
    for i in NODES:
        sh("ip", "netns", "add", ns(i))
        created.append(ns(i))
        # The veth pair is created inside the namespaces: nothing touches the host's.
        sh("ip", "-n", BRIDGE_NS, "link", "add", f"vb{i}", "type", "veth", "peer", "name", "eth0",
           "netns", ns(i))
        sh("ip", "-n", BRIDGE_NS, "link", "set", f"vb{i}", "master", "br0")
        sh("ip", "-n", BRIDGE_NS, "link", "set", f"vb{i}", "up")
        sh("ip", "-n", ns(i), "addr", "add", f"{addr(i)}/24", "dev", "eth0")
        sh("ip", "-n", ns(i), "link", "set", "eth0", "up")
        sh("ip", "-n", ns(i), "link", "set", "lo", "up")


def in_ns(i, *args, timeout=30):
    return subprocess.run(["ip", "netns", "exec", ns(i), *args], capture_output=True, text=True,
                          timeout=timeout)


def cli(i, target, *args):
    """redis-cli run inside node i's namespace against node `target`."""
    p = in_ns(i, "redis-cli", "-h", addr(target), "-p", "7001", *args, timeout=15)
    return p.stdout.strip()


def status(i, target):
    out = cli(i, target, "RKV.STATUS")
    return json.loads(out) if out.startswith("{") else None


def isolate(i):
    """Drop every packet between node i and the other nodes, both ways."""
    others = ", ".join(addr(j) for j in NODES if j != i)
    rules = (f"table inet {TAG} {{\n"
             f"  chain input {{\n    type filter hook input priority 0; policy accept;\n"
             f"    ip saddr {{ {others} }} drop\n  }}\n"
             f"  chain output {{\n    type filter hook output priority 0; policy accept;\n"
             f"    ip daddr {{ {others} }} drop\n  }}\n}}\n")
    p = subprocess.run(["ip", "netns", "exec", ns(i), "nft", "-f", "-"], input=rules,
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 0, f"nft: {p.stderr}")


def heal(i):
    subprocess.run(["ip", "netns", "exec", ns(i), "nft", "delete", "table", "inet", TAG],
                   capture_output=True, timeout=10)


def main():
    binary = parse_args().binary
    if os.geteuid() != 0 or shutil.which("nft") is None:
        print("SKIP: network namespaces and nftables need root (and the nft tool)")
        return
    probe = subprocess.run(["ip", "netns", "add", f"{TAG}-probe"], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"SKIP: cannot create network namespaces here: {probe.stderr.strip()}")
        return
    subprocess.run(["ip", "netns", "del", f"{TAG}-probe"], capture_output=True)
    data = tempfile.mkdtemp(prefix="rkv-netns-")

    def test_partitioned_leader_is_replaced_and_nothing_acknowledged_is_lost():
        build_network()
        peers = ",".join(f"{i}={addr(i)}:7101" for i in NODES)
        for i in NODES:
            log = open(os.path.join(data, f"node-{i}.log"), "ab")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns(i), binary, "server", "--id", str(i), "--data-dir",
                 os.path.join(data, f"node-{i}"), "--listen", f"{addr(i)}:7001", "--peer-listen",
                 f"{addr(i)}:7101", "--admin-listen", f"{addr(i)}:7201", "--peers", peers,
                 "--mode", "leader", "--acks", "quorum", "--protected-mode", "false"],
                stdout=log, stderr=log))

        def leader_seen_by(i):
            st = status(i, i)
            return st and st["leader_id"] or None
        leader = wait_until(lambda: leader_seen_by(1), 30, "a leader")
        acked = []
        for k in range(100):
            if cli(2, leader, "SET", f"a{k}", f"{k}") == "OK":
                acked.append(f"a{k}")
        check(len(acked) == 100, "writes through the network")
        isolate(leader)
        rest = [i for i in NODES if i != leader]

        def new_leader():
            st = status(rest[0], rest[0])
            return st and st["role"] in ("leader", "follower") and st["leader_id"] not in (0, leader) and st["leader_id"]
        start = time.time()
        nl = wait_until(new_leader, 15, "the majority side to elect a new leader")
        print(f"  new leader {nl} after {time.time() - start:.2f} s of partition", flush=True)
        wait_until(lambda: (status(leader, leader) or {}).get("role") != "leader", 10,
                   "the isolated leader to step down (check-quorum)")
        out = cli(leader, leader, "SET", "minority", "x")
        check(out != "OK", f"the isolated old leader does not acknowledge a write: {out}")
        for k in range(100, 200):
            if cli(rest[1], nl, "SET", f"a{k}", f"{k}") == "OK":
                acked.append(f"a{k}")
        heal(leader)

        def converged():
            sts = [status(i, i) for i in NODES]
            if any(s is None for s in sts):
                return False
            return len({(s["applied_index"], s["digest"]) for s in sts}) == 1 and \
                sum(s["role"] == "leader" for s in sts) == 1
        wait_until(converged, 30, "convergence after healing")
        for i in NODES:
            vals = cli(i, i, "MGET", *acked).split("\n")
            check(vals == [k[1:] for k in acked], f"node {i} holds every acknowledged write")

    try:
        run_tests([test_partitioned_leader_is_replaced_and_nothing_acknowledged_is_lost])
    finally:
        cleanup()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
