#include "server/server_impl.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/limits.h"
#include "kv/commands.h"
#include "leader/leader_core.h"
#include "leader/membership.h"
#include "server/admin_http.h"
#include "server/client_conn.h"
#include "server/peer_transport.h"
#include "server/snapshot_transfer.h"
#include "standalone/standalone_core.h"
#include "storage/memory_engine.h"

namespace rkv {

uint64_t MonotonicNowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t WallNowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

namespace {
// Ticks every 5 ms while anything waits on time (client requests, reads,
// replication, an election, WAIT); every 25 ms after a second without any:
// heartbeats (50 ms) and election timeouts (500 ms and up) need no finer
// steps, and an idle node wakes 40 times a second rather than 200 (which cost
// an idle 3-node cluster 4.5% of a core here, and the benchmark's idle
// clusters about a tenth of the active one's throughput).
constexpr auto kTickInterval = std::chrono::milliseconds(5);
constexpr auto kIdleTickInterval = std::chrono::milliseconds(25);
constexpr uint64_t kIdleAfterNs = 1'000'000'000;
}  // namespace

ServerImpl::ServerImpl(ServerConfig config)
    : config_(std::move(config)),
      acceptor_(io_),
      client_poller_(io_,
                     [this](uint64_t conn_id, uint32_t events) {
                       auto it = conns_.find(conn_id);
                       if (it == conns_.end()) return;
                       if (auto conn = it->second.lock()) conn->OnReady(events);
                     }),
      tick_timer_(io_),
      signals_(io_, SIGINT, SIGTERM) {}

ServerImpl::~ServerImpl() {
  if (admin_) admin_->Stop();
  if (transport_) transport_->Stop();
  conns_.clear();
  replica_.reset();
  writer_.reset();  // writes everything queued, then stops
  engine_.reset();
}

Status ServerImpl::OpenStorage() {
  if (config_.storage == "memory") {
    engine_ = std::make_unique<MemoryEngine>(false);
  } else {
    EngineOptions options;
    options.dir = config_.data_dir;
    auto engine = OpenRocksDbEngine(options);
    // A node restarted right after kill -9 can find its lock file still held:
    // the killed process is gone, but its last thread may still be finishing
    // a disk write (seconds on a busy disk), and its files close after that.
    // Another live process holding the directory also looks like this, so the
    // wait is bounded and said.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool said = false;
    while (!engine.ok() && engine.status().message().find("While lock file") != std::string::npos &&
           engine.status().message().find("Resource temporarily unavailable") !=
               std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      if (!said)
        spdlog::warn(
            "{} is locked by another process; waiting up to 30 s for it to exit (a "
            "node killed just now may still be finishing a disk write)",
            config_.data_dir);
      said = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      engine = OpenRocksDbEngine(options);
    }
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine.value());
  }
  // Identity kept in the data directory: the cluster this node belongs to,
  // and a boot counter that keeps request ids unique across restarts.
  std::string stored_cluster;
  Status cs = engine_->Get(Cf::kMeta, "cluster_id", &stored_cluster);
  if (!cs.ok() && cs.code() != Code::kNotFound) return cs;
  if (cs.ok()) {
    if (!config_.cluster_id.empty() && config_.cluster_id != stored_cluster)
      return Status::Invalid("--cluster-id: " + config_.data_dir + " belongs to cluster '" +
                             stored_cluster + "', not '" + config_.cluster_id + "'");
    cluster_id_ = stored_cluster;
  } else if (!config_.cluster_id.empty()) {
    cluster_id_ = config_.cluster_id;
  } else if (!config_.join.empty()) {
    cluster_id_.clear();  // learned from the first member that dials us
  } else {
    std::string members;
    for (const auto& [id, hp] : config_.peers)
      members += std::to_string(id) + "=" + hp.ToString() + ",";
    std::string hash;
    PutFixed64BE(&hash, HashKey(members));
    cluster_id_ = "rkv-" + ToHex(hash).substr(0, 12);
  }
  if (!engine_->Get(Cf::kMeta, "node_uuid", &node_uuid_).ok() || node_uuid_.empty()) {
    std::random_device rd;
    std::string raw;
    PutFixed64BE(&raw, (uint64_t{rd()} << 32) ^ rd());
    PutFixed64BE(&raw, (uint64_t{rd()} << 32) ^ rd() ^ MonotonicNowNs());
    node_uuid_ = ToHex(raw);
  }
  {
    std::string known;
    if (engine_->Get(Cf::kMeta, "peer_uuids", &known).ok()) {
      // "id=uuid,id=uuid,"
      for (size_t at = 0; at < known.size();) {
        size_t eq = known.find('=', at), comma = known.find(',', at);
        if (eq == std::string::npos || comma == std::string::npos || eq > comma) break;
        peer_uuids_[std::strtoull(known.substr(at, eq - at).c_str(), nullptr, 10)] =
            known.substr(eq + 1, comma - eq - 1);
        at = comma + 1;
      }
    }
  }
  std::string boot;
  if (engine_->Get(Cf::kMeta, "boot", &boot).ok() && boot.size() == 8)
    boot_ = DecodeFixed64BE(boot.data());
  ++boot_;
  {
    WriteBatch b;
    if (!cluster_id_.empty()) b.Put(Cf::kMeta, "cluster_id", cluster_id_);
    std::string v;
    PutFixed64BE(&v, boot_);
    b.Put(Cf::kMeta, "boot", v);
    b.Put(Cf::kMeta, "node_uuid", node_uuid_);
    RKV_RETURN_IF_ERROR(engine_->Write(b, true));
  }
  next_request_id_ = boot_ << 40;

  writer_ = std::make_unique<GroupCommitWriter>(engine_.get());
  bool sync = config_.durability == "fsync";
  Replica::CoreFactory factory;
  if (config_.mode == "leader") {
    LeaderOptions o;
    o.id = config_.id;
    // The initial members (a first start; afterwards the log and snapshots
    // hold the membership). A node started with --join knows none.
    std::vector<Member> members;
    if (config_.join.empty())
      for (const auto& [id, hp] : config_.peers) members.push_back({id, hp.ToString(), true});
    o.membership = Membership(std::move(members));
    ParseAcksPolicy(config_.acks, &o.acks);
    o.log_compact_entries = config_.log_compact_entries;
    o.log_compact_bytes = config_.log_compact_bytes;
    o.log_keep_entries = config_.log_keep_entries;
    o.snapshot_lag_entries = config_.snapshot_lag_entries;
    o.sync = sync;
    o.election_timeout_ns = config_.election_timeout_ms * 1000000ULL;
    o.heartbeat_interval_ns = config_.heartbeat_ms * 1000000ULL;
    o.request_timeout_ns = config_.request_timeout_ms * 1000000ULL;
    o.seed = MonotonicNowNs() ^ (static_cast<uint64_t>(getpid()) << 32);
    uint64_t now = MonotonicNowNs();
    factory = [o, now](CoreRecovery recovery) {
      auto core = std::make_unique<LeaderCore>(o, std::move(recovery));
      core->Tick(now);
      return std::unique_ptr<ReplicaCore>(std::move(core));
    };
  } else {
    factory = [sync](CoreRecovery recovery) {
      StandaloneCore::Options o;
      o.sync = sync;
      return std::unique_ptr<ReplicaCore>(std::make_unique<StandaloneCore>(o, std::move(recovery)));
    };
  }
  auto replica = Replica::Open(this, engine_.get(), factory);
  if (!replica.ok()) return replica.status();
  replica_ = std::move(replica.value());
  ReadService::Options ro;
  ro.session_wait_ns = config_.session_wait_ms * 1'000'000ULL;
  ro.node_id = config_.id;
  reads_ = std::make_unique<ReadService>(
      replica_.get(), [this] { return next_request_id_++; }, ro);
  return Status::Ok();
}

Status ServerImpl::WritePidFile() {
  std::string path = config_.data_dir + "/node.pid";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << getpid() << "\n";
    if (!f) return Status::IoError("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

Status ServerImpl::Start() {
  start_ms_ = WallNowMs();
  std::error_code fec;
  std::filesystem::create_directories(config_.data_dir, fec);
  if (fec)
    return Status::IoError("cannot create --data-dir " + config_.data_dir + ": " + fec.message());
  RKV_RETURN_IF_ERROR(OpenStorage());
  RKV_RETURN_IF_ERROR(WritePidFile());

  asio::error_code ec;
  auto address = asio::ip::make_address(config_.listen.host, ec);
  if (ec) return Status::Invalid("--listen: '" + config_.listen.host + "' is not an IP address");
  asio::ip::tcp::endpoint ep(address, config_.listen.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("--listen " + config_.listen.ToString() + ": " + ec.message());
  RKV_RETURN_IF_ERROR(client_poller_.Open());

  admin_ = std::make_unique<AdminHttp>(this);
  RKV_RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  if (config_.mode == "leader") {
    PeerHello hello;
    hello.cluster_id = cluster_id_;
    hello.node_id = config_.id;
    hello.resp_address = config_.listen.ToString();
    hello.admin_address = config_.admin_listen.ToString();
    hello.peer_address = config_.peer_listen.ToString();
    hello.node_uuid = node_uuid_;
    PeerHandlers handlers;
    handlers.identity = [this](NodeId id, const std::string& uuid, std::string* why) {
      return CheckPeerIdentity(id, uuid, why);
    };
    handlers.message = [this](Message m) {
      if (!replica_) return;
      if (m.type != MsgType::kHeartbeat && m.type != MsgType::kHeartbeatResp) active_ = true;
      replica_->AdvanceClock(MonotonicNowNs());
      replica_->Step(m);
    };
    handlers.chunk = [this](NodeId from, SnapshotChunkMsg c) {
      active_ = true;
      transfer_->OnChunk(from, c);
    };
    handlers.ack = [this](NodeId from, SnapshotAckMsg a) {
      active_ = true;
      transfer_->OnAck(from, a);
    };
    handlers.read = [this](NodeId from, ReadForwardMsg m) {
      ServeForwardedRead(from, std::move(m));
    };
    handlers.read_reply = [this](NodeId from, ReadReplyMsg m) { OnReadReply(from, std::move(m)); };
    handlers.cluster_id = [this](const std::string& id) {
      cluster_id_ = id;
      WriteBatch b;
      b.Put(Cf::kMeta, "cluster_id", id);
      writer_->Submit(std::move(b), true, nullptr);
      spdlog::info("joined cluster {}", id);
    };
    transport_ = std::make_unique<PeerTransport>(io_, hello, config_.peer_listen, handlers);
    transfer_ = std::make_unique<SnapshotTransfer>(
        io_, config_.data_dir, engine_.get(), transport_.get(), [this] { return replica_.get(); },
        config_.snapshot_mb_per_sec << 20);
    RKV_RETURN_IF_ERROR(transport_->Start());
    OnMembership(replica_->status().membership);
  }

  signals_.async_wait([this](const asio::error_code& e, int signo) {
    if (e) return;
    spdlog::info("signal {}: shutting down", signo);
    RequestStop();
  });
  Accept();
  ScheduleTick();
  CoreStatus st = replica_->status();
  spdlog::info(
      "node {} ({} mode{}, {} storage, durability {}, cluster {}) serving RESP on {}, "
      "peers on {}, admin on {}; applied index {}, {} keys",
      config_.id, config_.mode, config_.mode == "leader" ? ", acks " + config_.acks : "",
      config_.storage, config_.durability, cluster_id_, config_.listen.ToString(),
      config_.peer_listen.ToString(), config_.admin_listen.ToString(), st.applied_index,
      replica_->store().key_count());
  return Status::Ok();
}

void ServerImpl::Run() { io_.run(); }

void ServerImpl::RequestStop() {
  asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    asio::error_code ec;
    acceptor_.close(ec);
    tick_timer_.cancel();
    signals_.cancel();
    if (transport_) transport_->Stop();
    std::vector<std::shared_ptr<ClientConn>> conns;
    for (auto& [id, c] : conns_)
      if (auto p = c.lock()) conns.push_back(p);
    for (auto& c : conns) c->Close();
    client_poller_.Close();
    io_.stop();
  });
}

void ServerImpl::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("accept: {}", ec.message());
    } else {
      ++metrics_.connections_received;
      if (conns_.size() >= config_.max_clients) {
        ++metrics_.connections_rejected;
        asio::error_code wec;
        asio::write(socket,
                    asio::buffer(std::string_view("-ERR max number of clients reached\r\n")), wec);
        socket.close(wec);
      } else {
        uint64_t id = next_conn_id_++;
        auto conn = std::make_shared<ClientConn>(this, std::move(socket), id);
        conns_.emplace(id, conn);
        strong_conns_.emplace(id, conn);
        conn->Start();
      }
    }
    if (!stopping_) Accept();
  });
}

void ServerImpl::ConnectionClosed(uint64_t conn_id) {
  conns_.erase(conn_id);
  // Let the connection finish its current callback before it is freed.
  asio::post(io_, [this, conn_id] { strong_conns_.erase(conn_id); });
}

// Like etcd's "slow fdatasync" warning: a synced write that takes this long
// holds every write (and, on a follower, the leader's quorum) behind it.
void ServerImpl::CheckSlowStorage(uint64_t now) {
  constexpr uint64_t kSlowSyncUs = 100000;
  constexpr uint64_t kEveryNs = 10'000'000'000ULL;
  next_storage_check_ns_ = now + kEveryNs;
  GroupCommitStats gc = writer_->stats();
  uint64_t slow = gc.sync_latency.CountAbove(kSlowSyncUs);
  if (slow > slow_syncs_seen_)
    spdlog::warn(
        "storage: {} synced write(s) took over {} ms in the last {} s ({} in all, of {}); the "
        "disk is slow or RocksDB is stalling writes (see {}/db/LOG); "
        "replicakv_storage_sync_duration_seconds in /metrics has the distribution",
        slow - slow_syncs_seen_, kSlowSyncUs / 1000, kEveryNs / 1'000'000'000ULL, slow, gc.syncs,
        config_.data_dir);
  slow_syncs_seen_ = slow;
}

bool ServerImpl::Idle(uint64_t now) {
  if (active_) {
    active_ = false;
    busy_until_ns_ = now + kIdleAfterNs;
  }
  // A replica that knows no leader (an election) is never idle: its timeouts
  // decide failover.
  const bool electing =
      last_role_ == Role::kCandidate || (last_role_ != Role::kStandalone && last_leader_ == 0);
  return now >= busy_until_ns_ && waiters_.empty() && !electing;
}

void ServerImpl::ScheduleTick() {
  tick_timer_.expires_after(Idle(MonotonicNowNs()) ? kIdleTickInterval : kTickInterval);
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    uint64_t now = MonotonicNowNs();
    replica_->Tick(now);
    TickReads(now);
    if (!waiters_.empty()) CheckWaiters();
    LogRoleChanges();
    if (now >= next_storage_check_ns_) CheckSlowStorage(now);
    if (transfer_) transfer_->Tick(now);
    if (!config_.join.empty() && now >= next_join_ns_) MaybeAskToJoin(now);
    ScheduleTick();
  });
}

void ServerImpl::Propose(ClientConn* conn, uint64_t slot_seq, RequestKind kind, std::string data,
                         bool barrier) {
  active_ = true;
  if (kind == RequestKind::kWrite && !barrier) {
    size_t n = write_batch_.Add(data);
    if (n > 0) {
      Batched(conn, slot_seq, n);
      return;
    }
  }
  ProposeWriteBatch();  // what was batched goes first: proposals keep their order
  uint64_t id = next_request_id_++;
  requests_.emplace(id, PendingRequest{conn->weak_from_this(), slot_seq, {}});
  Request r;
  r.id = id;
  r.kind = kind;
  r.barrier = barrier;
  r.data = std::move(data);
  replica_->AdvanceClock(MonotonicNowNs());
  replica_->Propose(std::move(r));
}

void ServerImpl::ProposeCommand(ClientConn* conn, uint64_t slot_seq, const Argv& command) {
  active_ = true;
  write_batch_.AddCommand(command);
  Batched(conn, slot_seq, 1);
}

void ServerImpl::Batched(ClientConn* conn, uint64_t slot_seq, size_t commands) {
  write_batch_parts_.push_back({conn->weak_from_this(), slot_seq, commands});
  if (write_batch_parts_.size() >= limits::kEntryRequestsMax ||
      write_batch_.bytes() >= limits::kEntryBatchBytesMax) {
    ProposeWriteBatch();
  } else if (!write_batch_posted_) {
    // Posted: runs after every request this turn has already read.
    write_batch_posted_ = true;
    asio::post(io_, [this] {
      write_batch_posted_ = false;
      ProposeWriteBatch();
    });
  }
}

CommandStats* ServerImpl::KvCommandStats(const KvCommandSpec* spec) {
  const std::vector<KvCommandSpec>& all = KvCommands();
  if (kv_command_stats_.empty()) kv_command_stats_.assign(all.size(), nullptr);
  size_t i = static_cast<size_t>(spec - all.data());
  if (kv_command_stats_[i] == nullptr) kv_command_stats_[i] = &metrics_.For(spec->name);
  return kv_command_stats_[i];
}

void ServerImpl::DeferClientFlush(std::shared_ptr<ClientConn> conn) {
  flush_due_.push_back(std::move(conn));
  if (flush_due_.size() > 1) return;  // the handler is posted already
  asio::post(io_, [this] {
    flushing_.swap(flush_due_);  // flushes may defer again: into the emptied list
    for (const std::shared_ptr<ClientConn>& c : flushing_) c->RunDeferredFlush();
    flushing_.clear();
  });
}

void ServerImpl::ProposeWriteBatch() {
  if (write_batch_.empty()) return;
  uint64_t id = next_request_id_++;
  PendingRequest p;
  if (write_batch_parts_.size() == 1) {
    p.conn = std::move(write_batch_parts_[0].conn);
    p.slot_seq = write_batch_parts_[0].slot_seq;
  } else {
    p.parts = std::move(write_batch_parts_);
  }
  write_batch_parts_.clear();
  requests_.emplace(id, std::move(p));
  Request r;
  r.id = id;
  r.kind = RequestKind::kWrite;
  r.data = write_batch_.Take();
  replica_->AdvanceClock(MonotonicNowNs());
  replica_->Propose(std::move(r));
}

void ServerImpl::LogRoleChanges() {
  CoreStatus st = replica_->status();
  if (st.role == last_role_ && st.term == last_term_ && st.leader_id == last_leader_) return;
  if (st.role == Role::kLeader && last_role_ != Role::kLeader) {
    spdlog::info("became leader in term {} (last index {})", st.term, st.last_index);
  } else if (st.role != Role::kLeader && last_role_ == Role::kLeader) {
    spdlog::warn("stepped down in term {}: {}", st.term,
                 st.leader_id ? "node " + std::to_string(st.leader_id) + " leads"
                              : std::string("lost contact with a majority"));
  } else if (st.role == Role::kFollower && st.leader_id != 0 && st.leader_id != last_leader_) {
    spdlog::info("following node {} in term {}", st.leader_id, st.term);
  } else if (st.role == Role::kCandidate && last_role_ != Role::kCandidate) {
    spdlog::info("no leader heard from: campaigning (term {})", st.term);
  }
  last_role_ = st.role;
  last_term_ = st.term;
  last_leader_ = st.leader_id;
}

uint64_t ServerImpl::ReplicasHolding(uint64_t index) {
  CoreStatus st = replica_->status();
  if (st.role != Role::kLeader) return 0;
  uint64_t n = 0;
  for (const FollowerStatus& f : st.followers)
    if (f.match_index >= index) ++n;
  return n;
}

void ServerImpl::Wait(ClientConn* conn, uint64_t slot_seq, uint64_t index, uint64_t replicas,
                      uint64_t timeout_ms) {
  uint64_t deadline = timeout_ms == 0 ? 0 : MonotonicNowNs() + timeout_ms * 1000000ULL;
  waiters_.push_back({conn->weak_from_this(), slot_seq, index, replicas, deadline});
  CheckWaiters();
}

void ServerImpl::CheckWaiters() {
  uint64_t now = MonotonicNowNs();
  std::vector<Waiter> still;
  for (Waiter& w : waiters_) {
    auto conn = w.conn.lock();
    if (!conn) continue;
    uint64_t n = ReplicasHolding(w.index);
    if (n >= w.replicas || (w.deadline_ns != 0 && now >= w.deadline_ns)) {
      RequestOutcome o;
      o.kind = RequestOutcome::Kind::kApplied;
      o.replies.push_back(Reply::Integer(static_cast<int64_t>(n)));
      conn->OnOutcome(w.slot_seq, std::move(o));
    } else {
      still.push_back(std::move(w));
    }
  }
  waiters_ = std::move(still);
}

std::string ServerImpl::ApplyFaults(const std::string& body) {
  if (!transport_) return "this node has no peer traffic to fault (standalone mode)";
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "the body must be a JSON object";
  PeerFaults f = transport_->faults();
  auto ids = [&](const char* key, std::set<NodeId>* out) -> std::string {
    if (!j[key].is_array()) return std::string("'") + key + "' must be an array of node ids";
    for (const auto& v : j[key]) {
      if (!v.is_number_unsigned() || config_.peers.count(v.get<uint64_t>()) == 0 ||
          v.get<uint64_t>() == config_.id)
        return std::string("'") + key + "' names " + v.dump() + ", which is not another member";
      out->insert(v.get<uint64_t>());
    }
    return "";
  };
  for (auto& [key, value] : j.items()) {
    if (key == "clear") {
      if (!value.is_boolean()) return "'clear' must be true or false";
      if (value.get<bool>()) f = PeerFaults{};
    } else if (key == "drop_to") {
      std::set<NodeId> s;
      if (std::string e = ids("drop_to", &s); !e.empty()) return e;
      f.drop_to = s;
    } else if (key == "delay_ms") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() > 600000)
        return "'delay_ms' must be a whole number of milliseconds up to 600000";
      f.delay_ms = value.get<uint64_t>();
    } else if (key == "to") {
      std::set<NodeId> s;
      if (std::string e = ids("to", &s); !e.empty()) return e;
      f.delay_to = s;
    } else {
      return "unknown key '" + key + "' (drop_to, delay_ms, to, clear)";
    }
  }
  if (j.contains("delay_ms") && !j.contains("to"))
    return "'delay_ms' needs 'to': the nodes to delay";
  transport_->SetFaults(f);
  spdlog::warn("test fault injection: dropping to {} node(s), delaying {} ms to {} node(s)",
               f.drop_to.size(), f.delay_ms, f.delay_to.size());
  return "";
}

void ServerImpl::SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) {
  writer_->Submit(std::move(batch), sync, [this, done = std::move(done)](const Status& s) mutable {
    asio::post(io_, [done = std::move(done), s] { done(s); });
  });
}

// Posted handlers run after the completions the loop already holds (every
// client read and peer frame of this turn), so their proposals and messages
// reach the core before it is drained once.
bool ServerImpl::DeferDrain(std::function<void()> drain) {
  asio::post(io_, std::move(drain));
  return true;
}

void ServerImpl::SubmitTask(std::function<Status()> task, std::function<void(const Status&)> done) {
  writer_->SubmitTask(std::move(task), [this, done = std::move(done)](const Status& s) mutable {
    asio::post(io_, [done = std::move(done), s] { done(s); });
  });
}

void ServerImpl::SendSnapshot(NodeId to, uint64_t term, std::shared_ptr<const void> pin) {
  if (!transfer_) {
    asio::post(io_, [this, to] {
      if (replica_) replica_->SnapshotDone(to, false, 0);
    });
    return;
  }
  transfer_->Send(to, term, std::move(pin));
}

void ServerImpl::OnMembership(const std::string& encoded) {
  Membership m;
  if (!transport_ || !Membership::Decode(encoded, &m)) return;
  std::map<NodeId, HostPort> links;
  for (const Member& member : m.members()) {
    auto hp = ParseHostPort(member.address);
    if (hp.ok()) links[member.id] = *hp;
  }
  transport_->SetMembers(links);
  if (!m.empty()) spdlog::info("members: {}", m.ToString());
  // A removed node's identity is forgotten: it may come back, with new data,
  // through --join.
  bool forgot = false;
  for (auto it = peer_uuids_.begin(); it != peer_uuids_.end();) {
    if (!m.empty() && !m.IsMember(it->first)) {
      it = peer_uuids_.erase(it);
      forgot = true;
    } else {
      ++it;
    }
  }
  if (forgot) SavePeerUuids();
}

bool ServerImpl::CheckPeerIdentity(NodeId id, const std::string& uuid, std::string* why) {
  if (uuid.empty()) return true;  // a peer that predates identities
  auto it = peer_uuids_.find(id);
  if (it == peer_uuids_.end()) {
    // A node outside the membership (a removed one still asking for the log)
    // is not remembered: its identity was forgotten at its removal, and
    // remembering it again would refuse it when it rejoins with new data.
    if (transport_ && transport_->OutsideMembership(id)) return true;
    peer_uuids_[id] = uuid;
    SavePeerUuids();
    return true;
  }
  if (it->second == uuid) return true;
  *why = "node " + std::to_string(id) +
         " came back with a different data directory (it lost its data: a wiped or replaced "
         "disk); refused, since it may have forgotten votes and entries it acknowledged. Remove "
         "it (RKV.REMOVE " +
         std::to_string(id) + " on the leader) and start it again with --join";
  return false;
}

void ServerImpl::SavePeerUuids() {
  std::string v;
  for (const auto& [id, uuid] : peer_uuids_) v += std::to_string(id) + "=" + uuid + ",";
  WriteBatch b;
  b.Put(Cf::kMeta, "peer_uuids", v);
  writer_->Submit(std::move(b), true, nullptr);
}

void ServerImpl::MaybeAskToJoin(uint64_t now) {
  next_join_ns_ = now + 500000000ULL;
  Membership m;
  if (Membership::Decode(replica_->status().membership, &m) && m.IsMember(config_.id)) return;
  auto target = ParseHostPort(config_.join);
  if (!target.ok()) return;
  Message j;
  j.type = MsgType::kJoin;
  j.from = config_.id;
  j.to = 0;  // whoever answers at that address
  j.context = config_.id;
  j.data = config_.peer_listen.ToString();
  transport_->SendJoin(*target, j);
}

void ServerImpl::Send(Message m) {
  if (transport_) transport_->Send(std::move(m));
}

void ServerImpl::OnOutcome(uint64_t request_id, RequestOutcome outcome) {
  if (outcome.kind != RequestOutcome::Kind::kApplied && reads_ &&
      reads_->OnOutcome(request_id, outcome.kind == RequestOutcome::Kind::kReadReady,
                        outcome.status, MonotonicNowNs()))
    return;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  PendingRequest p = std::move(it->second);
  requests_.erase(it);
  if (p.parts.empty()) {
    if (auto conn = p.conn.lock()) conn->OnOutcome(p.slot_seq, std::move(outcome));
    return;
  }
  // Several requests in one entry: each gets its own replies, the same
  // position, or the same failure.
  size_t at = 0;
  for (RequestPart& part : p.parts) {
    auto conn = part.conn.lock();
    if (outcome.kind == RequestOutcome::Kind::kApplied) {
      size_t end = std::min(at + part.commands, outcome.replies.size());
      std::span<Reply> replies(outcome.replies.data() + at, end - at);
      at = end;
      if (conn) conn->OnApplied(part.slot_seq, outcome.position, replies);
      continue;
    }
    RequestOutcome o;
    o.kind = outcome.kind;
    o.status = outcome.status;
    if (conn) conn->OnOutcome(part.slot_seq, std::move(o));
  }
}

void ServerImpl::OnFatal(const Status& status) {
  spdlog::critical(
      "storage write failed: {}; stopping so no acknowledgement is given for data "
      "that may not be durable",
      status.ToString());
  std::_Exit(1);
}

Status ServerImpl::RecordRollback(const RollbackBatch& batch) {
  std::string dir = config_.data_dir + "/rollback";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string path = dir + "/rollback-" + std::to_string(batch.term) + "-" +
                     std::to_string(batch.first_index) + ".jsonl";
  std::string body;
  for (const RollbackRecord& r : batch.records) {
    std::string command = "[";
    for (size_t i = 0; i < r.command.size(); ++i)
      command += (i ? ", " : "") + JsonQuote(r.command[i]);
    command += "]";
    body += "{\"key\": " + JsonQuote(r.key) +
            ", \"value\": " + (r.value ? JsonQuote(*r.value) : std::string("null")) +
            ", \"command\": " + command + ", \"applied\": " + (r.applied ? "true" : "false") +
            ", \"term\": " + std::to_string(r.term) + ", \"index\": " + std::to_string(r.index) +
            ", \"time_ms\": " + std::to_string(r.time_ms) +
            ", \"origin\": " + std::to_string(r.origin) +
            ", \"request_id\": " + std::to_string(r.request_id) + "}\n";
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < body.size()) {
    ssize_t n = ::write(fd, body.data() + off, body.size() - off);
    if (n <= 0) {
      ::close(fd);
      return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  spdlog::warn(
      "rolled back {} write(s) in {} log entries ({} applied here and undone) from index {} "
      "of term {}: the "
      "new leader's log does not have them; saved in {} (under async or one, some may "
      "have been acknowledged)",
      batch.commands, batch.entries, batch.applied_entries, batch.first_index, batch.term, path);
  return Status::Ok();
}

std::string ServerImpl::CallOnLoop(std::function<std::string()> fn) {
  auto promise = std::make_shared<std::promise<std::string>>();
  std::future<std::string> f = promise->get_future();
  asio::post(io_, [promise, fn = std::move(fn)] { promise->set_value(fn()); });
  if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
  return f.get();
}

}  // namespace rkv
