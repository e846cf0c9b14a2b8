"""The admin HTTP interface of a standalone node: /status (CONTRACTS §3 keys
that apply), /metrics (Prometheus text), the dashboard, and /faults refused
unless --allow-faults."""

import json
import re

import redis

from common import Node, check, http_get, http_post, parse_args, run_tests


def main():
    args = parse_args()
    node = Node(args.binary).start()
    r = redis.Redis(port=node.port)

    def test_status_keys():
        r.set("a", "1")
        st = node.status()
        for key in ("id", "pid", "mode", "role", "term", "leader_id", "resp", "peer", "admin",
                    "last_index", "commit_index", "applied_index", "rolled_back_writes", "digest"):
            check(key in st, f"/status has {key}")
        check(st["role"] == "standalone" and st["mode"] == "standalone", "standalone role")
        check(st["pid"] == node.proc.pid, "pid")
        check(st["applied_index"] >= 1 and re.fullmatch(r"[0-9a-f]{32}", st["digest"]), "indexes")
        check(json.loads(r.execute_command("RKV.STATUS"))["id"] == st["id"], "RKV.STATUS")

    def test_metrics():
        for _ in range(5):
            r.set("m", "1")
            r.get("m")
        text = http_get(node.admin_port, "/metrics")
        m = re.search(r'^replicakv_commands_total\{command="set"\} (\d+)$', text, re.M)
        check(m and int(m.group(1)) >= 5, "set counter")
        check(re.search(r'^replicakv_command_duration_seconds_bucket\{command="get",le="\+Inf"\} \d+$',
                        text, re.M), "latency histogram")
        # Every synced write is in the storage sync histogram: its +Inf bucket
        # equals its count, which equals the syncs counter.
        syncs = int(re.search(r"^replicakv_storage_syncs_total (\d+)$", text, re.M).group(1))
        count = int(re.search(r"^replicakv_storage_sync_duration_seconds_count (\d+)$", text, re.M).group(1))
        inf = int(re.search(r'^replicakv_storage_sync_duration_seconds_bucket\{le="\+Inf"\} (\d+)$',
                            text, re.M).group(1))
        check(syncs >= 5 and count == syncs and inf == count, f"sync histogram: {syncs} {count} {inf}")
        for name in ("replicakv_connected_clients", "replicakv_storage_bytes", "replicakv_keys",
                     "replicakv_storage_syncs_total"):
            check(re.search(rf"^{name} ", text, re.M), f"{name} present")
        # Made-up command names share one entry, whatever bytes they hold.
        for i in range(50):
            try:
                r.execute_command(f'NOSUCH"{i}\\')
            except redis.ResponseError as e:
                check("unknown command" in str(e), f"unknown command error: {e}")
        text = http_get(node.admin_port, "/metrics")
        m = re.search(r'^replicakv_commands_total\{command="unknown"\} (\d+)$', text, re.M)
        check(m and int(m.group(1)) == 50, f"unknown commands counted once each: {m and m.group(0)}")
        check("nosuch" not in text, "no entry per made-up name")
        for line in text.splitlines():
            check(line.startswith("#") or re.fullmatch(r'replicakv_[a-z_]+(\{[^}]*\})? [0-9.e+-]+', line),
                  f"Prometheus text line: {line!r}")

    def test_dashboard_and_faults():
        check("ReplicaKV" in http_get(node.admin_port, "/"), "dashboard")
        code, body = http_post(node.admin_port, "/faults", {"drop_to": [2]})
        check(code == 403 and "--allow-faults" in body, f"faults refused: {code} {body}")

    try:
        run_tests([test_status_keys, test_metrics, test_dashboard_and_faults])
    finally:
        node.cleanup()


if __name__ == "__main__":
    main()
