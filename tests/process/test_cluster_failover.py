"""A real 3-process (and 5-process) single-leader cluster under load, with a
Redis client library writing unique keys through every node: kill -9 of the
leader mid-load, for each acks setting. Afterwards every acknowledged write is
in the final state or in the rollback directory of a node; none is missing
under quorum/all (and one with 3 voters); the replicas' digests are equal."""

import random
import threading
import time

import redis

from common import Cluster, check, parse_args, run_tests, wait_until


class Writers:
    """Threads writing unique keys through random nodes; they keep track of
    what was acknowledged, refused (TRYAGAIN: not applied) or unknown."""

    def __init__(self, cluster, threads=6):
        self.cluster = cluster
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked, self.refused, self.unknown = [], 0, 0
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]

    def run(self, t):
        rng = random.Random(t)
        i = 0
        client = None
        while not self.stop.is_set():
            if client is None:
                node = rng.choice(list(self.cluster.nodes))
                client = redis.Redis(port=self.cluster.port(node), socket_timeout=10,
                                     socket_connect_timeout=1)
            key = f"t{t}:{i}"
            i += 1
            try:
                ok = client.set(key, key)
                with self.lock:
                    if ok is True:
                        self.acked.append(key)
            except redis.ResponseError as e:
                with self.lock:
                    if str(e).startswith("TRYAGAIN"):
                        self.refused += 1
                    else:
                        self.unknown += 1
                time.sleep(0.02)
            except (redis.ConnectionError, redis.TimeoutError):
                with self.lock:
                    self.unknown += 1
                client = None
                time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def count(self):
        with self.lock:
            return len(self.acked)


def failover_ms(cluster, old_leader, takes_writes):
    """kill -9 the leader; the time until another node leads (and, unless the
    policy needs every voter, takes a write)."""
    start = time.time()
    cluster.kill9(old_leader)

    def new_leader():
        for i, st in cluster.statuses().items():
            if i != old_leader and st["role"] == "leader":
                if not takes_writes:
                    return True
                try:
                    return redis.Redis(port=cluster.port(i), socket_timeout=2).set("probe", i)
                except redis.RedisError:
                    return False
        return False
    wait_until(new_leader, 10, "a new leader" + (" that takes writes" if takes_writes else ""))
    return (time.time() - start) * 1000


def run_policy(binary, acks, nodes=3, kills=1):
    cluster = Cluster(binary, nodes=nodes, extra=["--mode", "leader", "--acks", acks]).start()
    try:
        cluster.leader()
        times = []
        with Writers(cluster) as w:
            for _ in range(kills):
                wait_until(lambda: w.count() > 300, 30, "writes to be acknowledged")
                leader = cluster.leader()
                # Under acks=all a write needs every voter: none is taken
                # until the killed node is back.
                times.append(failover_ms(cluster, leader, takes_writes=acks != "all"))
                before = w.count()
                if acks == "all":
                    # Once the leader sees the voter is gone, writes are refused.
                    wait_until(lambda: w.refused > 0, 15, "acks=all to refuse writes while a voter is down")
                    cluster.restart(leader)
                    wait_until(lambda: w.count() > before + 200, 30, "writes after the restart")
                else:
                    wait_until(lambda: w.count() > before + 200, 30, "writes after the failover")
                    cluster.restart(leader)
        cluster.wait_converged()
        leader = cluster.leader()
        r = redis.Redis(port=cluster.port(leader))
        missing = []
        for i in range(0, len(w.acked), 500):
            chunk = w.acked[i:i + 500]
            for k, v in zip(chunk, r.mget(chunk)):
                if v != k.encode():
                    missing.append(k)
        rolled = {rec["key"] for rec in cluster.rollback_records()}
        unrecorded = [k for k in missing if k not in rolled]
        digests = {s["digest"] for s in cluster.statuses().values()}
        rolled_back = sum(s["rolled_back_writes"] for s in cluster.statuses().values())
        print(f"  acks={acks} nodes={nodes}: {len(w.acked)} acknowledged, {w.refused} refused "
              f"(TRYAGAIN), {w.unknown} unknown; {len(missing)} acknowledged missing, "
              f"{len(missing) - len(unrecorded)} of them in rollback files; {rolled_back} rolled back "
              f"in all; failover {', '.join(f'{t:.0f} ms' for t in times)}", flush=True)
        check(len(digests) == 1, f"replica digests differ: {digests}")
        check(not unrecorded, f"acknowledged writes lost silently: {unrecorded[:5]}")
        if acks in ("quorum", "all") or (acks == "one" and nodes == 3):
            check(not missing, f"acks={acks} lost acknowledged writes: {missing[:5]}")
        for t in times:
            check(t < 2000, f"failover took {t:.0f} ms (limit 2000 ms)")
        return times
    finally:
        cluster.cleanup()


def main():
    binary = parse_args().binary

    def test_quorum():
        run_policy(binary, "quorum", kills=2)

    def test_all():
        run_policy(binary, "all")

    def test_one():
        run_policy(binary, "one")

    def test_async():
        run_policy(binary, "async")

    def test_one_on_five_nodes():
        run_policy(binary, "one", nodes=5)

    run_tests([test_quorum, test_all, test_one, test_async, test_one_on_five_nodes])


if __name__ == "__main__":
    main()
