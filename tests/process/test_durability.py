"""kill -9 under write load, then restart: every write acknowledged under
--durability fsync is there, with its value, in every cycle."""

import threading
import time

import redis

from common import Node, check, parse_args, run_tests


def write_load(port, writer, stop, acked, lock, pipelined):
    """Writes unique keys until the connection dies; records what was acknowledged."""
    r = redis.Redis(port=port, socket_timeout=10)
    i = 0
    try:
        while not stop.is_set():
            if pipelined:
                pipe = r.pipeline(transaction=False)
                keys = [f"w{writer}:{i + j}" for j in range(16)]
                for k in keys:
                    pipe.set(k, k)
                pipe.append(f"log{writer}", f" t{i}")
                res = pipe.execute()
                with lock:
                    acked["keys"].extend(k for k, ok in zip(keys, res) if ok is True)
                    acked["tokens"].append((writer, f" t{i}"))
                i += 16
            else:
                k = f"w{writer}:{i}"
                if r.set(k, k) is True:
                    with lock:
                        acked["keys"].append(k)
                i += 1
    except (redis.ConnectionError, redis.TimeoutError):
        pass


def main():
    args = parse_args()
    node = Node(args.binary).start()

    def test_acknowledged_writes_survive_kill9():
        acked = {"keys": [], "tokens": []}
        lock = threading.Lock()
        for cycle in range(3):
            stop = threading.Event()
            writers = [threading.Thread(target=write_load,
                                        args=(node.port, w + 10 * cycle, stop, acked, lock, w % 2 == 0))
                       for w in range(6)]
            for t in writers:
                t.start()
            time.sleep(1.5)
            node.kill9()
            stop.set()
            for t in writers:
                t.join(timeout=30)
            node.start()
            r = redis.Redis(port=node.port)
            keys = list(acked["keys"])
            missing = []
            for i in range(0, len(keys), 1000):
                chunk = keys[i:i + 1000]
                for k, v in zip(chunk, r.mget(chunk)):
                    if v != k.encode():
                        missing.append(k)
            check(len(keys) > 1000, f"cycle {cycle}: only {len(keys)} writes acknowledged")
            check(not missing, f"cycle {cycle}: {len(missing)} of {len(keys)} acknowledged writes lost, "
                               f"e.g. {missing[:5]}")
            for writer, token in acked["tokens"]:
                value = r.get(f"log{writer}") or b""
                check(token.encode() in value, f"cycle {cycle}: appended token {token!r} lost")
            print(f"  cycle {cycle}: {len(keys)} acknowledged writes, all present after kill -9",
                  flush=True)

    def test_restart_keeps_digest_and_counts():
        before = node.status()
        node.kill9()
        node.start()
        after = node.status()
        check(after["digest"] == before["digest"], "the applied state is the same after restart")
        check(after["keys"] == before["keys"], "key count survives restart")
        check(after["applied_index"] == before["applied_index"], "applied index survives restart")

    try:
        run_tests([test_acknowledged_writes_survive_kill9, test_restart_keeps_digest_and_counts])
    finally:
        node.cleanup()


if __name__ == "__main__":
    main()
