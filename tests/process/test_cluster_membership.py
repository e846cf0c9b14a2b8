"""Catch-up at scale and membership changes on real processes: the log is
compacted and stays bounded; a follower that missed compacted entries gets a
snapshot; `replicakv server --join` brings a new node in (learner, snapshot,
log, then voter); RKV.REMOVE takes one out; acks=all counts the current voters;
a snapshot of more than 50 MB survives a link cut in the middle of its transfer."""

import os
import subprocess
import time

import redis

from common import Cluster, check, free_base_port, parse_args, run_tests, wait_until

COMPACT = ["--log-compact-entries", "1000", "--log-keep-entries", "100"]


def load(port, n, value=lambda i: f"v{i}", prefix="k", batch=1):
    """n SETs, `batch` pipelined at a time. One at a time (the default), each
    write is a log entry of its own: the server proposes the writes that
    arrive in one event-loop turn as one entry, and these tests count entries."""
    r = redis.Redis(port=port, socket_timeout=30)
    for start in range(0, n, batch):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + batch)):
            pipe.set(f"{prefix}{i}", value(i))
        check(all(x is True for x in pipe.execute()), "writes acknowledged")


def wait_down(c, leader, victim):
    """Until the leader counts `victim` as down (unheard for an election
    timeout). Before that it may still start a snapshot for it, pinned at
    whatever was loaded by then, which the transfer delivers once the node is
    back (it retries a dead node for up to 30 s)."""
    wait_until(lambda: [f for f in c.status(leader)["followers"] if f["id"] == victim][0]["state"] == "down",
               10, f"the leader to count node {victim} as down")


def snapshot_under_way(binary, keys, sent_bytes):
    """A cluster whose leader is streaming a snapshot of `keys` incompressible
    1000-byte values to a restarted follower, `sent_bytes` of it sent (at 25
    MB/s, so faults land mid-transfer). Returns (cluster, leader, victim, the
    transfer's /status entry)."""
    c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum", "--allow-faults",
                               "--snapshot-mb-per-sec", "25"] + COMPACT).start()
    try:
        leader = c.leader()
        victim = [i for i in c.nodes if i != leader][0]
        c.kill9(victim)
        wait_down(c, leader, victim)
        load(c.port(leader), keys, value=lambda i: os.urandom(1000), batch=100)
        c.restart(victim)

        def sending():
            for s in c.status(leader)["snapshots"]:
                if s["peer"] == victim and s["direction"] == "send" and s["state"] == "sending":
                    return s if s["bytes"] > sent_bytes else None
            return None
        return c, leader, victim, wait_until(sending, 60, "the snapshot transfer to be under way")
    except BaseException:
        c.cleanup()
        raise


def loaded_cluster(binary, keys):
    """A converged 3-node quorum cluster holding `keys` keys: (cluster,
    leader, a follower)."""
    c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"]).start()
    try:
        leader = c.leader()
        load(c.port(leader), keys)
        c.wait_converged(timeout=30)
        return c, leader, [i for i in c.nodes if i != leader][0]
    except BaseException:
        c.cleanup()
        raise


def rejoin_empty(c, victim, leader):
    """Starts `victim` (stopped) again with an empty data directory and
    --join, as OPERATIONS.md says, and waits until the leader has promoted it
    to voter. Returns its process."""
    data = c.nodes[victim]["data_dir"]
    subprocess.run(["rm", "-rf", data], check=True)
    os.makedirs(data)
    argv = list(c.nodes[victim]["argv"])
    at = argv.index("--peers")  # a new member names a member to join, not the peers
    del argv[at:at + 2]
    log = open(os.path.join(data, "server.log"), "ab")
    p = subprocess.Popen(argv + ["--join", c.nodes[leader]["peer"]], stdout=log, stderr=log)

    def voter_again():
        return any(m["id"] == victim and m["voter"] for m in c.status(leader)["members"])
    wait_until(voter_again, 30, f"node {victim} to rejoin as a voter")
    return p


def main():
    binary = parse_args().binary

    def test_log_is_compacted_and_a_returning_follower_gets_a_snapshot():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"] + COMPACT).start()
        try:
            leader = c.leader()
            victim = [i for i in c.nodes if i != leader][0]
            c.kill9(victim)
            load(c.port(leader), 5000)
            # The dead follower holds nothing back once it counts as gone.
            st = wait_until(lambda: (lambda s: s if s["log_first_index"] > 3000 else None)(c.status(leader)),
                            10, "the leader to compact its log")
            check(st["last_index"] - st["log_first_index"] < 2000, "and holds a bounded number of entries")
            c.restart(victim)
            c.wait_converged(timeout=60)
            sent = [s for s in c.status(leader)["snapshots"] if s["direction"] == "send" and s["peer"] == victim]
            check(sent and sent[-1]["state"] == "done", f"the follower got a snapshot: {sent}")
            check(redis.Redis(port=c.port(victim)).dbsize() == 5000, "the follower has every key")
        finally:
            c.cleanup()

    def test_a_restarted_async_follower_that_gets_a_snapshot_reports_no_rollback():
        """acks=async: a follower with a log of its own is killed, falls behind
        the leader's compacted log, and comes back to a snapshot. Nothing was
        lost, so nothing may be reported lost (the simulator counts such
        false reports: `committed entries among them`)."""
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "async"] + COMPACT).start()
        try:
            leader = c.leader()
            load(c.port(leader), 1500)
            c.wait_converged(timeout=30)
            victim = [i for i in c.nodes if i != leader][0]
            st = c.status(victim)
            check(st["last_index"] - st["log_first_index"] >= 100, f"the follower holds a log: {st}")
            c.kill9(victim)
            load(c.port(leader), 5000, prefix="m")
            wait_until(lambda: c.status(leader)["log_first_index"] > st["last_index"] + 1, 10,
                       "the leader to compact past the dead follower's log")
            c.restart(victim)
            c.wait_converged(timeout=60)
            sent = [s for s in c.status(leader)["snapshots"] if s["direction"] == "send" and s["peer"] == victim]
            check(sent and sent[-1]["state"] == "done", f"the follower got a snapshot: {sent}")
            check(c.status(victim)["rolled_back_writes"] == 0,
                  f"nothing reported rolled back: {c.status(victim)['rolled_back_writes']}")
            check(c.rollback_records() == [], f"no rollback records: {c.rollback_records()[:3]}")
        finally:
            c.cleanup()

    def test_join_and_remove():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum"] + COMPACT).start()
        joiner = None
        try:
            leader = c.leader()
            load(c.port(leader), 3000)
            base = free_base_port(span=1)
            data = os.path.join(c.dir, "node-4")
            log = open(os.path.join(c.dir, "node-4.log"), "ab")
            # Any member's peer address will do; here a follower's.
            target = [n for i, n in c.nodes.items() if i != leader][0]["peer"]
            joiner = subprocess.Popen([binary, "server", "--id", "4", "--data-dir", data, "--listen",
                                       f"127.0.0.1:{base}", "--mode", "leader", "--acks", "quorum",
                                       "--join", target] + COMPACT, stdout=log, stderr=log)

            def voter():
                for m in c.status(leader)["members"]:
                    if m["id"] == 4:
                        return m["voter"]
                return False
            wait_until(voter, 30, "node 4 to join and be promoted to voter")
            r4 = redis.Redis(port=base)
            wait_until(lambda: r4.dbsize() == 3000, 30, "node 4 to hold every key")
            members = redis.Redis(port=c.port(leader)).execute_command("RKV.MEMBERS")
            check(len(members) == 4, f"RKV.MEMBERS lists 4 members: {members}")
            # Writes through the new node work; it is a full member now.
            check(r4.set("via4", "x") is True, "a write through the new node")
            # Remove a follower that is not the joiner.
            gone = [i for i in c.nodes if i != leader][0]
            check(redis.Redis(port=c.port(leader)).execute_command("RKV.REMOVE", gone) == b"OK", "remove")
            ids = [m["id"] for m in c.status(leader)["members"]]
            check(gone not in ids and 4 in ids, f"members now {ids}")
            try:
                redis.Redis(port=c.port(leader)).execute_command("RKV.REMOVE", 99)
                check(False, "removing a non-member is refused")
            except redis.ResponseError as e:
                check("not a member" in str(e), str(e))
            check(redis.Redis(port=c.port(leader)).set("after-remove", "y") is True, "writes go on")
        finally:
            if joiner:
                joiner.kill()
                joiner.wait()
            c.cleanup()

    def test_a_wiped_node_is_refused_until_it_rejoins():
        # A node that lost its data (wiped disk) but kept its id could grant a
        # second vote in a term it already voted in: the others refuse it.
        c, leader, victim = loaded_cluster(binary, 500)
        rejoined = None
        try:
            c.kill9(victim)
            data = c.nodes[victim]["data_dir"]
            for name in os.listdir(data):
                if name not in ("server.log",):
                    path = os.path.join(data, name)
                    subprocess.run(["rm", "-rf", path], check=True)
            c.restart(victim)

            def refused():
                for i in c.nodes:
                    if i == victim:
                        continue
                    for r in c.status(i).get("refused_peers", []):
                        if r["id"] == victim and "different data directory" in r["reason"]:
                            return r
                return None
            why = wait_until(refused, 15, "the wiped node to be refused")
            check("RKV.REMOVE" in why["reason"], f"the reason says what to do: {why}")
            # The cluster goes on with the other two; the wiped node never leads.
            r = redis.Redis(port=c.port(leader), socket_timeout=10)
            check(r.set("while-refused", "1") is True, "writes go on")
            check(c.status(victim)["role"] != "leader", "the wiped node does not lead")
            # The documented way back: remove it, then start it empty with --join.
            check(r.execute_command("RKV.REMOVE", victim) == b"OK", "remove the wiped node")
            c.restarted[victim].kill()
            c.restarted[victim].wait()
            rejoined = rejoin_empty(c, victim, leader)
            wait_until(lambda: redis.Redis(port=c.port(victim)).get("while-refused") == b"1", 30,
                       "the rejoined node to hold the data")
            check(not c.status(leader).get("refused_peers"), "no node is refused any more")
        finally:
            if rejoined:
                rejoined.kill()
                rejoined.wait()
            c.cleanup()

    def test_acks_all_counts_the_current_voters():
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "all"]).start()
        try:
            leader = c.leader()
            r = redis.Redis(port=c.port(leader))
            check(r.set("a", 1) is True, "all voters up: acknowledged")
            down = [i for i in c.nodes if i != leader][0]
            c.kill9(down)

            def refused():
                try:
                    r.set("b", 2)
                    return False
                except redis.ResponseError as e:
                    return "TRYAGAIN" in str(e)
            wait_until(refused, 10, "writes to be refused while a voter is down")
            check(r.execute_command("RKV.REMOVE", down) == b"OK", "remove the down voter")
            check(r.set("c", 3) is True, "acknowledged by every remaining voter")
        finally:
            c.cleanup()

    def test_snapshot_over_50mb_survives_a_cut_link():
        # ~60 MB of incompressible values.
        c, leader, victim, s = snapshot_under_way(binary, 60000, 10 << 20)
        try:
            check(s["total"] >= 50 << 20, f"the snapshot is at least 50 MB: {s['total']}")
            start = time.time()
            c.faults(leader, {"drop_to": [victim]})
            c.faults(victim, {"drop_to": [i for i in c.nodes if i != victim]})
            time.sleep(3)  # the cut lasts 3 s: the fault itself, not a synchronisation
            for i in c.nodes:
                c.faults(i, {"clear": True})
            c.wait_converged(timeout=120)
            done = [x for x in c.status(leader)["snapshots"] if x["peer"] == victim and x["direction"] == "send"]
            last = done[-1]
            check(last["state"] == "done", f"the transfer finished: {done}")
            check(redis.Redis(port=c.port(victim)).dbsize() == 60000, "every key arrived")
            print(f"  snapshot {last['total'] / 1e6:.1f} MB, cut for 3 s at {s['bytes'] / 1e6:.1f} MB, "
                  f"done {time.time() - start:.1f} s after the cut, {last['resumes']} resume(s), "
                  f"{last['elapsed_ms'] / 1000:.1f} s in all (rate limit 25 MB/s)", flush=True)
            check(last["resumes"] >= 1 or len(done) > 1, "the transfer resumed (or restarted cleanly)")
        finally:
            c.cleanup()

    def test_snapshot_survives_lost_acknowledgements():
        """The receiver's acknowledgements are lost while the sender fills its
        window: the receiver then holds more than the sender knows, and the
        sender's resend from its last acknowledged byte must move the transfer
        on (it once resent duplicates, which the receiver dropped without a
        word, every 2 s for ever)."""
        c, leader, victim, _ = snapshot_under_way(binary, 30000, 1 << 20)
        try:
            c.faults(victim, {"drop_to": [leader]})
            time.sleep(3)  # acknowledgements lost for 3 s: the fault itself, not a synchronisation
            c.faults(victim, {"clear": True})
            c.wait_converged(timeout=60)
            done = [x for x in c.status(leader)["snapshots"] if x["peer"] == victim and x["direction"] == "send"]
            check(done and done[-1]["state"] == "done", f"the transfer finished: {done}")
            check(redis.Redis(port=c.port(victim)).dbsize() == 30000, "every key arrived")
        finally:
            c.cleanup()

    def test_a_removed_node_that_said_hello_again_can_rejoin_with_new_data():
        """A removed node's identity is forgotten, so it may come back with new
        data through --join. A removed node that restarts (or asks for the log)
        says hello to the members again; they must not remember it then, or
        they would refuse it when it rejoins wiped."""
        c, leader, victim = loaded_cluster(binary, 100)
        rejoined = None
        try:
            r = redis.Redis(port=c.port(leader), socket_timeout=10)
            check(r.execute_command("RKV.REMOVE", victim) == b"OK", "remove a follower")
            c.kill9(victim)
            c.restart(victim)  # its old data: it dials the members and says hello

            def hello_seen():
                return [p for p in c.status(leader)["peers"] if p["id"] == victim and not p["member"]]
            wait_until(hello_seen, 15, "the leader to hear the removed node's hello")
            c.restarted[victim].kill()
            c.restarted[victim].wait()
            rejoined = rejoin_empty(c, victim, leader)
            for i in c.nodes:
                if i != victim:
                    check(not c.status(i).get("refused_peers"), f"node {i} refuses nobody")
            check(r.set("after-rejoin", "1") is True, "writes go on")
        finally:
            if rejoined:
                rejoined.kill()
                rejoined.wait()
            c.cleanup()

    def test_a_removed_leader_records_the_write_it_acknowledged_alone():
        """acks=async: the leader removes itself, is cut off before the removal
        commits, and acknowledges one more write alone. The others commit the
        removal without it, so that write is lost. Nobody sends to a removed
        node, but it asks (it holds entries it cannot tell are committed): the
        new leader dials the address its hello gave and sends it the log, and
        the removed node rolls the write back into its rollback file."""
        # Long election timeouts: the cut-off leader must still lead when the
        # write arrives, up to a check-quorum period after the others went
        # quiet (a few HTTP calls, but on a loaded machine).
        c = Cluster(binary, extra=["--mode", "leader", "--acks", "async", "--allow-faults",
                                   "--election-timeout-ms", "3000", "--heartbeat-ms", "100"]).start()
        try:
            old = c.leader()
            rest = [i for i in c.nodes if i != old]
            r = redis.Redis(port=c.port(old))
            check(r.set("before", "1") is True, "a write before the removal")
            for i in rest:  # the others hear the leader; it does not hear them
                c.faults(i, {"drop_to": [old]})
            check(r.execute_command("RKV.REMOVE", old) == b"OK", "the leader removes itself")

            def others_have_the_removal():
                return all(old not in [m["id"] for m in c.status(i)["members"]] for i in rest)
            wait_until(others_have_the_removal, 5, "the others to append the removal")
            c.faults(old, {"drop_to": rest})
            check(r.set("acked-alone", "x") is True, "acknowledged by the cut-off leader alone")

            def new_leader():
                for i in rest:
                    st = c.status(i)
                    if st["role"] == "leader" and st["commit_index"] == st["last_index"]:
                        return i
                return None
            leader = wait_until(new_leader, 30, "the others to elect a leader and commit the removal")

            def stepped_down_and_waiting():
                st = c.status(old)
                return st["role"] != "leader" and st["removed_awaiting_log"]
            wait_until(stepped_down_and_waiting, 20,
                       "the cut-off leader to step down, knowing it is out but not its log's fate")
            for i in c.nodes:
                c.faults(i, {"clear": True})

            def recorded():
                return [x for x in c.rollback_records() if x["node"] == old and x["key"] == "acked-alone"]
            recs = wait_until(recorded, 60, "the removed node to roll back and record the write")
            check(c.status(old)["rolled_back_writes"] >= 1, "its /status counts the rolled-back write")
            wait_until(lambda: not c.status(old)["removed_awaiting_log"], 10,
                       "the removed node to say it has nothing left to learn")
            check(redis.Redis(port=c.port(leader)).get("acked-alone") is None, "the cluster lost it")
            check(redis.Redis(port=c.port(leader)).get("before") == b"1", "the earlier write survived")
            peer = [p for p in c.status(leader)["peers"] if p["id"] == old]
            check(peer and peer[0]["member"] is False, f"the leader's link to it is a non-member's: {peer}")
            print(f"  node {old} removed itself, acknowledged a write alone; node {leader} led on; "
                  f"the removed node recorded it: {recs[0]['file']}", flush=True)
        finally:
            c.cleanup()

    run_tests([test_log_is_compacted_and_a_returning_follower_gets_a_snapshot,
               test_a_restarted_async_follower_that_gets_a_snapshot_reports_no_rollback,
               test_join_and_remove,
               test_a_wiped_node_is_refused_until_it_rejoins,
               test_acks_all_counts_the_current_voters, test_snapshot_over_50mb_survives_a_cut_link,
               test_snapshot_survives_lost_acknowledgements,
               test_a_removed_leader_records_the_write_it_acknowledged_alone,
               test_a_removed_node_that_said_hello_again_can_rejoin_with_new_data])


if __name__ == "__main__":
    main()
