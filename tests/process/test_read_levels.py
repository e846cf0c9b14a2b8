"""Read levels over lagging replicas, on a real 3-process cluster (issue 8).

Followers are made to lag with /faults (the leader delays what it sends them).
The classic anomalies are reproduced under `eventual` and shown not to happen
under `session`: a user's own update vanishing on reload, two reloads going
backwards, a comment seen before its post. Also: session tokens carried across
connections and nodes, strong reads on a follower, bounded staleness, routing
with RKV.READFROM, consistent prefix (an MSET is seen whole, an MGET reads one
position), and clear errors for bad input."""

import time

import redis

from common import Cluster, check, parse_args, run_tests, wait_until

DELAY_MS = 600


def main():
    binary = parse_args().binary
    c = Cluster(binary, extra=["--mode", "leader", "--acks", "quorum", "--allow-faults",
                               "--session-wait-ms", "200"]).start()
    leader = c.leader()
    fast, slow = [i for i in c.nodes if i != leader]

    def conn(i, level=None, read_from=None):
        r = redis.Redis(port=c.port(i), socket_timeout=10)
        if level:
            check(r.execute_command("RKV.CONSISTENCY", *level.split()) == b"OK", "level set")
        if read_from:
            check(r.execute_command("RKV.READFROM", read_from) == b"OK", "routing set")
        return r

    def lag(delays):
        """delays: {follower: ms}; the leader delays what it sends each."""
        c.faults(leader, {"clear": True})
        for f, ms in delays.items():
            code, body = c.faults(leader, {"delay_ms": ms, "to": [f]})
            check(code == 200, body)

    def heal():
        for i in c.nodes:
            c.faults(i, {"clear": True})
        c.wait_converged(timeout=30)

    def token(r):
        return r.execute_command("RKV.SESSION").decode()

    def test_profile_update_then_reload_from_a_lagging_follower():
        lag({slow: DELAY_MS})
        try:
            w = conn(leader)
            w.set("profile:1", "old")
            wait_until(lambda: conn(slow).get("profile:1") == b"old", 10, "the old profile on the follower")
            w.set("profile:1", "new")
            # eventual: the reload on the lagging follower shows the old profile.
            ev = conn(slow, "eventual")
            check(ev.get("profile:1") == b"old", "eventual serves the lagging follower's stale value")
            # session: the same reload, carrying the writer's token, shows the update.
            t0 = time.time()
            s = conn(slow, "session")
            s.execute_command("RKV.SESSION", token(w))
            check(s.get("profile:1") == b"new", "session: the user sees their own update")
            print(f"  session read behind the token answered in {1000 * (time.time() - t0):.0f} ms "
                  f"(follower delayed {DELAY_MS} ms, session wait 200 ms, then forwarded)")
        finally:
            heal()

    def test_plain_redis_client_reads_its_writes_on_a_lagging_follower():
        lag({slow: DELAY_MS})
        try:
            r = redis.Redis(port=c.port(slow), socket_timeout=10)  # no RKV commands at all
            for i in range(5):
                r.set("ryw", f"v{i}")
                check(r.get("ryw") == f"v{i}".encode(), "a plain client reads its own write")
        finally:
            heal()

    def test_two_reloads_never_go_backwards_under_session():
        # The fast follower has the new value, the slow one does not: a session
        # reading fast then slow goes backwards under eventual, never under session.
        lag({slow: DELAY_MS})
        try:
            w = conn(leader)
            w.set("counter", "1")
            wait_until(lambda: conn(slow).get("counter") == b"1", 10, "the first value everywhere")
            w.set("counter", "2")
            wait_until(lambda: conn(fast).get("counter") == b"2", 10, "the fast follower's catch-up")
            a, b = conn(fast, "eventual"), conn(slow, "eventual")
            first, second = a.get("counter"), b.get("counter")
            check((first, second) == (b"2", b"1"), f"eventual goes backwards: {first} then {second}")
            a, b = conn(fast, "session"), conn(slow, "session")
            first = a.get("counter")
            b.execute_command("RKV.SESSION", token(a))
            second = b.get("counter")
            check((first, second) == (b"2", b"2"), f"session stays monotonic: {first} then {second}")
        finally:
            heal()

    def test_comment_never_seen_before_its_post_under_session():
        lag({slow: DELAY_MS})
        try:
            w = conn(leader)
            w.set("post:7", "Hello")
            w.set("comment:7:1", "Nice post")
            wait_until(lambda: conn(fast).get("comment:7:1") == b"Nice post", 10, "the fast follower")
            # A reader sees the comment on the fast follower, then looks the post up on the slow one.
            a, b = conn(fast, "eventual"), conn(slow, "eventual")
            check(a.get("comment:7:1") == b"Nice post" and b.get("post:7") is None,
                  "eventual: a comment whose post does not exist yet")
            a, b = conn(fast, "session"), conn(slow, "session")
            check(a.get("comment:7:1") == b"Nice post", "the comment")
            b.execute_command("RKV.SESSION", token(a))
            check(b.get("post:7") == b"Hello", "session: the post is there once its comment was seen")
            # And on any one replica the log order holds whatever the level: a
            # comment is never visible without its post.
            for i in c.nodes:
                r = conn(i, "eventual")
                if r.get("comment:7:1") is not None:
                    check(r.get("post:7") == b"Hello", f"node {i} shows the comment without the post")
        finally:
            heal()

    def test_stale_rather_than_a_stale_value():
        # A token no replica reaches in time: -STALE, never an old value. (A
        # token names a log position: the current term, far past every log.
        # One naming a term no entry at its index has, like "99999.1", names
        # entries rolled back for good, and is held by every state.)
        r = conn(fast, "session")
        r.set("stale:probe", "x")
        term, index = (int(x) for x in token(r).split("."))
        r.execute_command("RKV.SESSION", f"{term}.{index + 1000000000}")
        try:
            r.get("profile:1")
            check(False, "a read beyond every replica must fail")
        except redis.ResponseError as e:
            check(str(e).startswith("STALE"), f"-STALE expected: {e}")
        # With routing to the leader the leader itself answers -STALE.
        r.execute_command("RKV.READFROM", "leader")
        try:
            r.get("profile:1")
            check(False, "a read beyond every replica must fail")
        except redis.ResponseError as e:
            check(str(e).startswith("STALE"), f"-STALE expected: {e}")

    def test_strong_reads_on_a_lagging_follower_are_fresh():
        lag({slow: DELAY_MS})
        try:
            w = conn(leader)
            s = conn(slow, "strong")
            for i in range(3):
                w.set("strong", str(i))
                check(s.get("strong") == str(i).encode(), "strong: the latest acknowledged write")
        finally:
            heal()

    def test_bounded_staleness():
        lag({slow: DELAY_MS})
        try:
            w = conn(leader)
            w.set("b", "1")
            wait_until(lambda: conn(slow).get("b") == b"1", 10, "b on the slow follower")
            w.set("b", "2")
            # A bound larger than the lag: served by the follower, possibly stale within the bound.
            loose = conn(slow, "bounded 5000")
            check(loose.get("b") in (b"1", b"2"), "bounded 5000 served")
            # A bound smaller than the lag: the follower cannot prove it, the
            # read goes to the leader and is fresh.
            tight = conn(slow, "bounded 100")
            check(tight.get("b") == b"2", "bounded 100 on a follower 600 ms behind")
        finally:
            heal()

    def test_read_routing():
        w = conn(leader)
        w.set("route", "x")
        wait_until(lambda: all(conn(i).get("route") == b"x" for i in c.nodes), 10, "route everywhere")
        lag({slow: DELAY_MS})
        try:
            w.set("route", "y")
            # READFROM leader on the lagging follower: the leader's value at once.
            r = conn(slow, "eventual", "leader")
            check(r.get("route") == b"y", "read from the leader through a follower")
            check(r.execute_command("RKV.READFROM") == b"leader", "routing shown")
            # READFROM follower on the leader: served by a follower.
            r = conn(leader, "eventual", "follower")
            check(r.get("route") in (b"x", b"y"), "read from a follower through the leader")
        finally:
            heal()

    def test_mset_is_seen_whole_and_mget_reads_one_position():
        import threading
        w = conn(leader)
        f = conn(slow, "eventual")
        done = threading.Event()
        counts = {"reads": 0, "torn": 0}

        def writer():
            for i in range(1500):
                w.mset({"pa": i, "pb": i, "pc": i})
            done.set()

        t = threading.Thread(target=writer)
        t.start()
        while not done.is_set():
            a, b, cc = f.mget("pa", "pb", "pc")
            # MULTI/EXEC of reads on a follower: one position too.
            p = f.pipeline(transaction=True)
            p.get("pa")
            p.get("pc")
            x, y = p.execute()
            counts["reads"] += 2
            if not (a == b == cc) or x != y:
                counts["torn"] += 1
        t.join()
        check(counts["reads"] >= 100, f"only {counts['reads']} reads overlapped the writes")
        check(counts["torn"] == 0, f"{counts['torn']} torn multi-key reads on a follower")
        print(f"  1500 MSETs of 3 keys, {counts['reads']} concurrent multi-key reads on a follower: 0 torn")

    def test_bad_input_is_refused_clearly():
        r = conn(fast)
        for args, want in [
            (["RKV.CONSISTENCY", "bounded"], "needs a staleness bound"),
            (["RKV.CONSISTENCY", "bounded", "0"], "invalid staleness bound"),
            (["RKV.CONSISTENCY", "bounded", "-5"], "invalid staleness bound"),
            (["RKV.CONSISTENCY", "strongest"], "unknown read level"),
            (["RKV.CONSISTENCY", "strong", "5"], "only bounded takes a number"),
            (["RKV.SESSION", "abc"], "invalid session token"),
            (["RKV.SESSION", "1.2", "3"], "wrong number of arguments"),
            (["RKV.READFROM", "primary"], "invalid read routing"),
        ]:
            try:
                r.execute_command(*args)
                check(False, f"{args} accepted")
            except redis.ResponseError as e:
                check(want in str(e), f"{args}: {e}")
        check(r.execute_command("RKV.CONSISTENCY") == b"session", "the default level is session")
        check(r.execute_command("RKV.READFROM") == b"nearest", "the default routing is nearest")

    try:
        run_tests([
            test_profile_update_then_reload_from_a_lagging_follower,
            test_plain_redis_client_reads_its_writes_on_a_lagging_follower,
            test_two_reloads_never_go_backwards_under_session,
            test_comment_never_seen_before_its_post_under_session,
            test_stale_rather_than_a_stale_value,
            test_strong_reads_on_a_lagging_follower_are_fresh,
            test_bounded_staleness,
            test_read_routing,
            test_mset_is_seen_whole_and_mget_reads_one_position,
            test_bad_input_is_refused_clearly,
        ])
    finally:
        c.cleanup()


if __name__ == "__main__":
    main()
