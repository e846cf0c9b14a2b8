"""Lag, catch-up and losses a real cluster makes visible: a follower restarted
after missing thousands of entries catches up from the log; a follower cut off
with /faults shows its lag on the leader and catches up when healed; WAIT
behaves as in Redis; under acks=async a leader's acknowledged writes that no
follower received are rolled back — saved to a rollback file, counted in
/metrics and INFO replication — when it rejoins."""

import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import redis

from common import (TIMEOUT_SCALE, Cluster, check, free_base_port, http_get, parse_args, run_tests,
                    wait_until)


def others(cluster, leader):
    return [i for i in cluster.nodes if i != leader]


def main():
    binary = parse_args().binary

    def test_restarted_follower_catches_up_from_the_log():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
        try:
            leader = c.leader()
            victim = others(c, leader)[0]
            c.kill9(victim)
            r = redis.Redis(port=c.port(leader))
            # One at a time: each write is a log entry of its own (a turn's
            # pipelined writes would share one).
            for i in range(5000):
                r.set(f"k{i}", i)
            check(c.status(leader)["last_index"] >= 5000, "the leader has the entries")
            c.restart(victim)
            c.wait_converged(timeout=60)
            f = redis.Redis(port=c.port(victim))
            check(f.get("k4999") == b"4999" and f.dbsize() == 5000, "the follower has every key")
        finally:
            c.cleanup()

    def test_cut_off_follower_lag_is_visible_and_heals():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum", "--allow-faults"]).start()
        try:
            leader = c.leader()
            victim = others(c, leader)[0]
            code, body = c.faults(leader, {"drop_to": [victim]})
            check(code == 200, body)
            code, body = c.faults(victim, {"drop_to": [i for i in c.nodes if i != victim]})
            check(code == 200, body)
            r = redis.Redis(port=c.port(leader))
            for i in range(300):
                r.set(f"c{i}", i)
            time.sleep(0.2)
            st = c.status(leader)
            f = [x for x in st["followers"] if x["id"] == victim][0]
            check(f["lag_entries"] >= 300 and f["lag_ms"] > 0, f"lag on /status: {f}")
            info = r.info("replication")
            check(info[f"replicakv_follower{victim}"]["lag_entries"] >= 300, f"INFO: {info}")
            metrics = http_get(c.admin(leader), "/metrics")
            m = re.search(rf'replicakv_follower_lag_entries{{follower="{victim}"}} (\d+)', metrics)
            check(m and int(m.group(1)) >= 300, "lag in /metrics")
            wait_until(lambda: [x for x in c.status(leader)["followers"] if x["id"] == victim][0]["state"] == "down",
                       5, "the cut-off follower to be shown down")
            check(r.info("replication")["connected_slaves"] == 1, "INFO counts one connected replica")
            # The cut-off node never disrupts the leader (pre-vote), and catches up once healed.
            for i in c.nodes:
                c.faults(i, {"clear": True})
            c.wait_converged(timeout=30)
            check(c.leader() == leader, "the leader kept its leadership")
            check(redis.Redis(port=c.port(victim)).get("c299") == b"299", "caught up")
        finally:
            c.cleanup()

    def test_wait_like_redis():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "async", "--allow-faults"]).start()
        try:
            leader = c.leader()
            r = redis.Redis(port=c.port(leader))
            r.set("w", 1)
            check(r.execute_command("WAIT", 2, 1000) == 2, "both replicas acknowledge")
            c.faults(leader, {"drop_to": [others(c, leader)[0]]})
            r.set("w", 2)
            start = time.time()
            n = r.execute_command("WAIT", 2, 300)
            elapsed = time.time() - start
            check(n == 1 and 0.25 < elapsed < 2, f"WAIT 2 300 -> {n} after {elapsed:.2f}s")
            check(r.execute_command("WAIT", 0, 0) == 1, "WAIT 0 returns at once")
            f = redis.Redis(port=c.port(others(c, leader)[1]))
            try:
                f.execute_command("WAIT", 1, 10)
                check(False, "WAIT on a follower is refused")
            except redis.ResponseError as e:
                check("replica" in str(e), str(e))
            for bad, text in ((["WAIT", "x", "0"], "not an integer"), (["WAIT", "1", "-1"], "negative")):
                try:
                    r.execute_command(*bad)
                    check(False, f"{bad} is refused")
                except redis.ResponseError as e:
                    check(text in str(e), str(e))
        finally:
            c.cleanup()

    def test_async_loss_is_recorded_counted_and_logged():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "async", "--allow-faults"]).start()
        try:
            old = c.leader()
            check(c.faults(old, {"delay_ms": 300, "to": others(c, old)})[0] == 200, "delay")
            r = redis.Redis(port=c.port(old))
            acked = []
            for i in range(50):
                if r.set(f"lost{i}", f"v{i}") is True:
                    acked.append(f"lost{i}")
            check(len(acked) == 50, "async acknowledges at the leader's own durable append")
            c.kill9(old)  # before any follower got them
            new = c.leader(timeout=10)
            check(new != old, "a new leader")
            nr = redis.Redis(port=c.port(new))
            nr.set("after", "failover")
            c.restart(old)
            c.wait_converged(timeout=30)
            missing = [k for k, v in zip(acked, nr.mget(acked)) if v is None]
            recs = [x for x in c.rollback_records() if x["node"] == old]
            keys = {x["key"] for x in recs}
            check(missing, "some acknowledged writes were lost (they never left the old leader)")
            check(set(missing) <= keys, f"every lost write is in the rollback file: {set(missing) - keys}")
            for rec in recs:
                for field in ("key", "value", "term", "index", "time_ms"):
                    check(field in rec, f"rollback record has {field}: {rec}")
                check(re.fullmatch(r"rollback-\d+-\d+\.jsonl", rec["file"]), rec["file"])
            st = c.status(old)
            check(st["rolled_back_writes"] >= len(missing), f"/status counts them: {st['rolled_back_writes']}")
            info = redis.Redis(port=c.port(old)).info("replication")
            check(info["replicakv_rolled_back_writes"] >= len(missing), "INFO counts them")
            m = re.search(r"^replicakv_rolled_back_writes_total (\d+)$", http_get(c.admin(old), "/metrics"), re.M)
            check(m and int(m.group(1)) >= len(missing), "/metrics counts them")
            check("rolled back" in c.tail(f"node-{old}/server.log", 20000), "the log says so")
            check(redis.Redis(port=c.port(old)).get(missing[0]) is None, "the old leader restored the key")
            print(f"  {len(missing)} of {len(acked)} acknowledged writes rolled back and recorded", flush=True)
        finally:
            c.cleanup()

    def test_an_idle_cluster_ticks_slowly_and_still_answers_at_once():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
        try:
            leader = c.leader()

            def wakeups_per_second(i):
                """The event loop's (the main thread's) sleeps per second, over 1 s."""
                def switches():
                    with open(f"/proc/{c.pid(i)}/status") as f:
                        return next(int(line.split()[1]) for line in f
                                    if line.startswith("voluntary_ctxt_switches"))
                t0, s0 = time.time(), switches()
                time.sleep(1.0)  # the measurement's window
                return (switches() - s0) / (time.time() - t0)

            # 200 ticks a second while busy; 40, plus heartbeats, once idle.
            def quiet():
                rates = {i: wakeups_per_second(i) for i in c.nodes}
                return rates if all(v < 100 for v in rates.values()) else None
            wait_until(quiet, 20, "every idle node to wake fewer than 100 times a second")
            r = redis.Redis(port=c.port(leader))
            t0 = time.time()
            for k in range(20):
                r.set(f"after-idle-{k}", "v")
            took = time.time() - t0
            check(took < 2.0 * TIMEOUT_SCALE, f"20 writes to an idle cluster took {took:.2f} s")
            c.wait_converged()
        finally:
            c.cleanup()

    def test_foreign_and_garbage_peers_are_refused():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
        foreign = None
        tmp = None
        try:
            leader = c.leader()
            target = c.nodes[1]["peer"]
            # Garbage on the peer port: a huge length, a frame that is no
            # PeerFrame (whole, and sent in pieces that may arrive in separate
            # reads), random bytes. Each is refused, with its reason logged.
            for junk in ([b"\xff\xff\xff\xff"], [b"\x00\x00\x00\x05hello"],
                         [b"\x00\x00", b"\x00\x05hel", b"lo"], [bytes(range(256)) * 8]):
                s = socket.create_connection(("127.0.0.1", int(target.split(":")[1])), timeout=2)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for part in junk:
                    s.sendall(part)
                s.close()
            wait_until(lambda: c.tail("node-1/server.log", 20000).count("exceeds the limit") >= 1 and
                       c.tail("node-1/server.log", 20000).count("is not a valid PeerFrame") >= 2,
                       10, "node 1 to refuse the oversized frame and both malformed ones")
            # A node of another cluster dials node 1.
            base = free_base_port(span=1)
            tmp = tempfile.mkdtemp(prefix="rkv-foreign-")
            foreign = subprocess.Popen(
                [binary, "server", "--id", "9", "--data-dir", tmp, "--listen", f"127.0.0.1:{base}",
                 "--mode", "leader", "--cluster-id", "some-other-cluster",
                 "--peers", f"9=127.0.0.1:{base + 100},1={target}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until(lambda: "belongs to cluster 'some-other-cluster'" in c.tail("node-1/server.log", 20000),
                       10, "node 1 to refuse the foreign node")
            check(c.leader() == leader, "the cluster is undisturbed")
            redis.Redis(port=c.port(leader)).set("still", "fine")
            c.wait_converged()
        finally:
            if foreign:
                foreign.kill()
                foreign.wait()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
            c.cleanup()

    def test_follower_pipeline_keeps_request_order():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
        try:
            leader = c.leader()
            f = redis.Redis(port=c.port(others(c, leader)[0]))
            pipe = f.pipeline(transaction=False)
            for i in range(300):
                pipe.set("p", str(i))  # forwarded to the leader
                pipe.get("p")          # read here, after the write before it is applied here
                pipe.incr("n")
            res = pipe.execute()
            check(res[1::3] == [str(i).encode() for i in range(300)], "each GET sees the SET before it")
            check(res[2::3] == list(range(1, 301)), "INCR replies in order")
            tx = f.pipeline(transaction=True)
            tx.set("t", "1").incr("t").get("t")
            check(tx.execute() == [True, 2, b"2"], "MULTI/EXEC through a follower")
        finally:
            c.cleanup()

    def test_a_turns_writes_share_an_entry_and_keep_their_replies():
        # The writes that arrive in one event-loop turn, from any number of
        # connections, are proposed as one log entry; each request still gets
        # its own reply, errors included, in its connection's order.
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
        try:
            leader = c.leader()
            redis.Redis(port=c.port(leader)).set("s", "not a number")
            before = c.status(leader)["last_index"]
            results = {}

            def client(n):
                pipe = redis.Redis(port=c.port(leader)).pipeline(transaction=False)
                for i in range(400):
                    pipe.set(f"b{n}:{i}", i)
                    pipe.incr(f"counter{n}")
                    if i % 50 == 0:
                        pipe.incr("s")  # fails when applied; its neighbours do not
                results[n] = pipe.execute(raise_on_error=False)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for n in range(4):
                res = results[n]
                sets = [x for x in res if x is True]
                counters = [x for x in res if isinstance(x, int) and not isinstance(x, bool)]
                errors = [x for x in res if isinstance(x, redis.ResponseError)]
                check(len(sets) == 400 and counters == list(range(1, 401)),
                      f"client {n}: every SET acknowledged, its INCRs in order")
                check(len(errors) == 8 and all("not an integer" in str(e) for e in errors),
                      f"client {n}: each failed INCR got its own error: {errors[:2]}")
            entries = c.status(leader)["last_index"] - before
            check(entries < 4 * 808 // 4, f"{4 * 808} writes took {entries} log entries (fewer "
                  "than a quarter: a turn's writes share one)")
            c.wait_converged(timeout=30)
            f = redis.Redis(port=c.port(others(c, leader)[0]))
            check(f.get("b3:399") == b"399" and f.get("counter2") == b"400", "the followers have them")
        finally:
            c.cleanup()

    run_tests([test_a_turns_writes_share_an_entry_and_keep_their_replies,
               test_follower_pipeline_keeps_request_order, test_foreign_and_garbage_peers_are_refused,
               test_an_idle_cluster_ticks_slowly_and_still_answers_at_once,
               test_restarted_follower_catches_up_from_the_log,
               test_cut_off_follower_lag_is_visible_and_heals, test_wait_like_redis,
               test_async_loss_is_recorded_counted_and_logged])


if __name__ == "__main__":
    main()
