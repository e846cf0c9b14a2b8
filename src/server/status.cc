// Views of the node rendered on the event loop: /status JSON, INFO text and
// /metrics (Prometheus text).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "leader/membership.h"
#include "server/client_conn.h"
#include "server/peer_transport.h"
#include "server/server_impl.h"
#include "server/snapshot_transfer.h"

namespace rkv {

namespace {

constexpr std::string_view kVersion = "0.1.0";

uint64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string HumanBytes(uint64_t b) {
  char buf[32];
  if (b >= (1ULL << 30))
    std::snprintf(buf, sizeof(buf), "%.2fG", b / double(1ULL << 30));
  else if (b >= (1ULL << 20))
    std::snprintf(buf, sizeof(buf), "%.2fM", b / double(1ULL << 20));
  else
    std::snprintf(buf, sizeof(buf), "%.2fK", b / 1024.0);
  return buf;
}

}  // namespace

std::string ServerImpl::StatusJson() {
  replica_->AdvanceClock(MonotonicNowNs());
  CoreStatus st = replica_->status();
  nlohmann::json j;
  j["id"] = config_.id;
  j["pid"] = getpid();
  j["mode"] = config_.mode;
  j["role"] = std::string(RoleName(st.role));
  j["term"] = st.term;
  j["leader_id"] = st.leader_id;
  j["resp"] = config_.listen.ToString();
  j["peer"] = config_.peer_listen.ToString();
  j["admin"] = config_.admin_listen.ToString();
  j["last_index"] = st.last_index;
  j["commit_index"] = st.commit_index;
  j["applied_index"] = st.applied_index;
  if (st.role == Role::kLeader) {
    nlohmann::json followers = nlohmann::json::array();
    for (const FollowerStatus& f : st.followers) {
      followers.push_back({{"id", f.id},
                           {"voter", f.voter},
                           {"match_index", f.match_index},
                           {"lag_entries", f.lag_entries},
                           {"lag_ms", f.lag_ms},
                           {"state", f.state}});
    }
    j["followers"] = followers;
  }
  j["rolled_back_writes"] = replica_->rolled_back_writes();
  j["log_first_index"] = st.log_first_index;
  j["removed_awaiting_log"] = st.removed_awaiting_log;
  {
    const ReadStats& rs = reads_->stats();
    std::optional<uint64_t> fresh = reads_->confirmed_staleness_ns(MonotonicNowNs());
    j["reads"] = {{"default_consistency", config_.consistency.ToString()},
                  {"served_at_once", rs.served_at_once},
                  {"served_after_wait", rs.served_after_wait},
                  {"max_wait_ms", static_cast<double>(rs.max_wait_ns) / 1e6},
                  {"forwarded_out", reads_forwarded_out_},
                  {"forwarded_in", reads_forwarded_in_},
                  {"stale", rs.stale},
                  {"failed", rs.failed},
                  {"read_index_rounds", rs.read_index_rounds},
                  {"waiting", reads_->waiting()},
                  {"confirmed_staleness_ms",
                   fresh ? nlohmann::json(static_cast<double>(*fresh) / 1e6) : nlohmann::json()}};
  }
  {
    Membership m;
    if (Membership::Decode(st.membership, &m)) {
      nlohmann::json members = nlohmann::json::array();
      for (const Member& mem : m.members())
        members.push_back({{"id", mem.id}, {"peer", mem.address}, {"voter", mem.voter}});
      j["members"] = members;
    }
  }
  if (transfer_) {
    nlohmann::json snaps = nlohmann::json::array();
    for (const TransferStatus& t : transfer_->Status()) {
      snaps.push_back({{"direction", t.direction},
                       {"peer", t.peer},
                       {"state", t.state},
                       {"bytes", t.bytes},
                       {"total", t.total},
                       {"percent", t.total ? 100.0 * double(t.bytes) / double(t.total) : 100.0},
                       {"resumes", t.resumes},
                       {"elapsed_ms", t.elapsed_ms}});
    }
    j["snapshots"] = snaps;
  }
  j["cluster_id"] = cluster_id_;
  if (transport_) {
    nlohmann::json peers = nlohmann::json::array();
    for (const PeerLinkStatus& p : transport_->LinkStatus())
      peers.push_back({{"id", p.id},
                       {"peer", p.address},
                       {"resp", p.resp_address},
                       {"connected", p.connected},
                       {"member", p.member},
                       {"messages_sent", p.messages_sent},
                       {"messages_dropped", p.messages_dropped}});
    j["peers"] = peers;
    nlohmann::json refused = nlohmann::json::array();
    for (const auto& [id, why] : transport_->refused())
      refused.push_back({{"id", id}, {"reason", why}});
    j["refused_peers"] = refused;
    const PeerFaults& f = transport_->faults();
    if (!f.drop_to.empty() || f.delay_ms > 0)
      j["faults"] = {{"drop_to", f.drop_to}, {"delay_ms", f.delay_ms}, {"delay_to", f.delay_to}};
  }
  j["digest"] = replica_->store().digest();
  j["keys"] = replica_->store().key_count();
  j["acks"] = config_.acks;
  j["durability"] = config_.durability;
  j["storage"] = config_.storage;
  j["connected_clients"] = conns_.size();
  j["uptime_ms"] = WallNowMs() - start_ms_;
  j["version"] = kVersion;
  return j.dump();
}

std::string ServerImpl::InfoText(std::string_view section) {
  bool all = section == "all" || section == "everything" || section == "default";
  replica_->AdvanceClock(MonotonicNowNs());
  CoreStatus st = replica_->status();
  std::string out;
  auto add = [&out](std::string_view k, const std::string& v) {
    out.append(k);
    out.push_back(':');
    out.append(v);
    out.append("\r\n");
  };
  auto header = [&out](std::string_view name) {
    if (!out.empty()) out.append("\r\n");
    out.append("# ");
    out.append(name);
    out.append("\r\n");
  };
  uint64_t uptime_s = (WallNowMs() - start_ms_) / 1000;
  if (all || section == "server") {
    header("Server");
    add("redis_version", "7.0.15");
    add("replicakv_version", std::string(kVersion));
    add("redis_mode", "standalone");
    add("replicakv_mode", config_.mode);
    add("os", "Linux");
    add("arch_bits", "64");
    add("process_id", std::to_string(getpid()));
    add("tcp_port", std::to_string(config_.listen.port));
    add("uptime_in_seconds", std::to_string(uptime_s));
    add("uptime_in_days", std::to_string(uptime_s / 86400));
  }
  if (all || section == "clients") {
    header("Clients");
    add("connected_clients", std::to_string(conns_.size()));
    add("blocked_clients", "0");
    add("maxclients", std::to_string(config_.max_clients));
  }
  if (all || section == "memory") {
    header("Memory");
    uint64_t rss = RssBytes();
    add("used_memory", std::to_string(rss));
    add("used_memory_human", HumanBytes(rss));
    add("used_memory_rss", std::to_string(rss));
    add("maxmemory", "0");
  }
  if (all || section == "persistence") {
    header("Persistence");
    GroupCommitStats gc = writer_->stats();
    add("loading", "0");
    add("aof_enabled", config_.durability == "fsync" ? "1" : "0");
    add("replicakv_storage", config_.storage);
    add("replicakv_durability", config_.durability);
    add("replicakv_storage_bytes", std::to_string(engine_->ApproximateBytes()));
    add("replicakv_group_commit_writes", std::to_string(gc.writes));
    add("replicakv_group_commit_syncs", std::to_string(gc.syncs));
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f",
                  gc.engine_writes ? double(gc.writes) / double(gc.engine_writes) : 0.0);
    add("replicakv_writes_per_group", buf);
  }
  if (all || section == "stats") {
    header("Stats");
    add("total_connections_received", std::to_string(metrics_.connections_received));
    add("total_commands_processed", std::to_string(metrics_.commands_processed));
    add("total_net_input_bytes", std::to_string(metrics_.net_input_bytes));
    add("total_net_output_bytes", std::to_string(metrics_.net_output_bytes));
    add("rejected_connections", std::to_string(metrics_.connections_rejected));
    add("replicakv_protocol_errors", std::to_string(metrics_.protocol_errors));
  }
  if (all || section == "replication") {
    header("Replication");
    bool follower = st.role == Role::kFollower || st.role == Role::kLearner;
    add("role", follower ? "slave" : "master");
    add("connected_slaves", std::to_string(st.followers.size()));
    if (follower) {
      std::string leader =
          transport_ && st.leader_id ? transport_->RespAddressOf(st.leader_id) : "";
      size_t colon = leader.rfind(':');
      add("master_host", colon == std::string::npos ? "" : leader.substr(0, colon));
      add("master_port", colon == std::string::npos ? "0" : leader.substr(colon + 1));
      add("master_link_status", st.leader_id != 0 ? "up" : "down");
      add("slave_repl_offset", std::to_string(st.applied_index));
      add("slave_read_repl_offset", std::to_string(st.applied_index));
    }
    size_t online = 0;
    for (const FollowerStatus& f : st.followers) online += f.state != "down" ? 1 : 0;
    out.replace(
        out.find("connected_slaves:"),
        std::string("connected_slaves:").size() + std::to_string(st.followers.size()).size(),
        "connected_slaves:" + std::to_string(online));
    size_t i = 0;
    for (const FollowerStatus& f : st.followers) {
      if (f.state == "down") continue;
      std::string resp = transport_ ? transport_->RespAddressOf(f.id) : "";
      size_t colon = resp.rfind(':');
      add("slave" + std::to_string(i++),
          "ip=" + (colon == std::string::npos ? std::string("?") : resp.substr(0, colon)) +
              ",port=" + (colon == std::string::npos ? std::string("0") : resp.substr(colon + 1)) +
              ",state=online,offset=" + std::to_string(f.match_index) +
              ",lag=" + std::to_string(static_cast<uint64_t>(f.last_ack_age_ms / 1000)));
    }
    add("master_repl_offset",
        std::to_string(st.role == Role::kLeader ? st.last_index : st.applied_index));
    add("replicakv_role", std::string(RoleName(st.role)));
    add("replicakv_term", std::to_string(st.term));
    add("replicakv_leader_id", std::to_string(st.leader_id));
    add("replicakv_acks", config_.mode == "leader" ? config_.acks : "none");
    add("replicakv_last_index", std::to_string(st.last_index));
    add("replicakv_commit_index", std::to_string(st.commit_index));
    add("replicakv_applied_index", std::to_string(st.applied_index));
    for (const FollowerStatus& f : st.followers) {
      char lag[32];
      std::snprintf(lag, sizeof(lag), "%.1f", f.lag_ms);
      add("replicakv_follower" + std::to_string(f.id),
          "id=" + std::to_string(f.id) + ",match_index=" + std::to_string(f.match_index) +
              ",lag_entries=" + std::to_string(f.lag_entries) + ",lag_ms=" + lag +
              ",state=" + f.state);
    }
    add("replicakv_rolled_back_writes", std::to_string(replica_->rolled_back_writes()));
  }
  if (all || section == "keyspace") {
    header("Keyspace");
    uint64_t keys = replica_->store().key_count();
    if (keys > 0) add("db0", "keys=" + std::to_string(keys) + ",expires=0,avg_ttl=0");
  }
  return out;
}

std::string ServerImpl::MetricsText() {
  std::string out;
  replica_->AdvanceClock(MonotonicNowNs());
  CoreStatus st = replica_->status();
  out += "# HELP replicakv_commands_total Commands processed, by command.\n";
  out += "# TYPE replicakv_commands_total counter\n";
  for (const auto& [name, s] : metrics_.commands)
    out += "replicakv_commands_total{command=\"" + name + "\"} " + std::to_string(s.calls) + "\n";
  out += "# HELP replicakv_command_errors_total Commands answered with an error, by command.\n";
  out += "# TYPE replicakv_command_errors_total counter\n";
  for (const auto& [name, s] : metrics_.commands)
    out += "replicakv_command_errors_total{command=\"" + name + "\"} " + std::to_string(s.errors) +
           "\n";
  out += "# HELP replicakv_command_duration_seconds Time from request parsed to reply ready.\n";
  out += "# TYPE replicakv_command_duration_seconds histogram\n";
  for (const auto& [name, s] : metrics_.commands)
    AppendHistogram(&out, "replicakv_command_duration_seconds", "command=\"" + name + "\"",
                    s.latency);
  GroupCommitStats gc = writer_->stats();
  AppendGauge(&out, "replicakv_connected_clients", "Open client connections.",
              static_cast<double>(conns_.size()));
  AppendCounter(&out, "replicakv_connections_received_total", "Client connections accepted.",
                metrics_.connections_received);
  AppendCounter(&out, "replicakv_protocol_errors_total", "Requests refused as malformed.",
                metrics_.protocol_errors);
  AppendCounter(&out, "replicakv_net_input_bytes_total", "Bytes read from clients.",
                metrics_.net_input_bytes);
  AppendCounter(&out, "replicakv_net_output_bytes_total", "Bytes written to clients.",
                metrics_.net_output_bytes);
  AppendGauge(&out, "replicakv_keys", "Keys in the applied state.",
              static_cast<double>(replica_->store().key_count()));
  AppendGauge(&out, "replicakv_storage_bytes", "Approximate bytes used by the storage engine.",
              static_cast<double>(engine_->ApproximateBytes()));
  AppendGauge(&out, "replicakv_resident_memory_bytes", "Resident set size of the process.",
              static_cast<double>(RssBytes()));
  AppendCounter(&out, "replicakv_storage_writes_total", "Batches written by the storage thread.",
                gc.writes);
  AppendCounter(&out, "replicakv_storage_syncs_total", "Synced engine writes (group commits).",
                gc.syncs);
  out +=
      "# HELP replicakv_storage_sync_duration_seconds Time of each synced engine write "
      "(write and fdatasync of a group commit).\n";
  out += "# TYPE replicakv_storage_sync_duration_seconds histogram\n";
  AppendHistogram(&out, "replicakv_storage_sync_duration_seconds", "", gc.sync_latency);
  AppendGauge(&out, "replicakv_term", "Current term.", static_cast<double>(st.term));
  AppendGauge(&out, "replicakv_last_index", "Last log index.", static_cast<double>(st.last_index));
  AppendGauge(&out, "replicakv_commit_index", "Majority-committed log index.",
              static_cast<double>(st.commit_index));
  AppendGauge(&out, "replicakv_applied_index", "Applied log index.",
              static_cast<double>(st.applied_index));
  AppendCounter(&out, "replicakv_rolled_back_writes_total",
                "Writes of this node's log that a new leader's log did not have, saved to the "
                "rollback directory (some acknowledged, under async or one).",
                replica_->rolled_back_writes());
  {
    const ReadStats& rs = reads_->stats();
    AppendCounter(&out, "replicakv_reads_served_at_once_total",
                  "Reads served without waiting (their level was already met here).",
                  rs.served_at_once);
    AppendCounter(&out, "replicakv_reads_served_after_wait_total",
                  "Reads served here after waiting for the applied state (session token, "
                  "bound, read index).",
                  rs.served_after_wait);
    AppendCounter(&out, "replicakv_reads_forwarded_total",
                  "Reads this node handed to another node (routing, or too far behind).",
                  reads_forwarded_out_);
    AppendCounter(&out, "replicakv_reads_stale_total",
                  "Reads answered -STALE: the level could not be met in time.", rs.stale);
    AppendCounter(&out, "replicakv_read_index_rounds_total",
                  "Read-index rounds proposed for strong and bounded reads.", rs.read_index_rounds);
  }
  AppendGauge(&out, "replicakv_is_leader", "1 if this node is the leader.",
              st.role == Role::kLeader ? 1 : 0);
  for (const FollowerStatus& f : st.followers) {
    std::string l = "follower=\"" + std::to_string(f.id) + "\"";
    AppendGauge(&out, "replicakv_follower_lag_entries",
                "Log entries a follower lacks (on the leader).", static_cast<double>(f.lag_entries),
                l);
  }
  for (const FollowerStatus& f : st.followers) {
    std::string l = "follower=\"" + std::to_string(f.id) + "\"";
    AppendGauge(&out, "replicakv_follower_lag_seconds",
                "How long ago the oldest entry a follower lacks was appended (on the leader).",
                f.lag_ms / 1000.0, l);
  }
  for (const FollowerStatus& f : st.followers) {
    std::string l = "follower=\"" + std::to_string(f.id) + "\"";
    AppendGauge(&out, "replicakv_follower_match_index", "Highest index a follower holds durably.",
                static_cast<double>(f.match_index), l);
  }
  if (transport_) {
    for (const PeerLinkStatus& p : transport_->LinkStatus()) {
      std::string l = "peer=\"" + std::to_string(p.id) + "\"";
      AppendCounter(&out, "replicakv_peer_messages_sent_total", "Messages sent to a peer.",
                    p.messages_sent, l);
    }
    for (const PeerLinkStatus& p : transport_->LinkStatus()) {
      std::string l = "peer=\"" + std::to_string(p.id) + "\"";
      AppendCounter(&out, "replicakv_peer_messages_dropped_total",
                    "Messages to a peer dropped (link down, backlog full or injected fault).",
                    p.messages_dropped, l);
    }
    AppendCounter(&out, "replicakv_peer_messages_received_total", "Messages received from peers.",
                  transport_->messages_received());
  }
  return out;
}

}  // namespace rkv
