#include "sim/sim.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>

#include "check/linearizable.h"
#include "check/session.h"
#include "core/random.h"
#include "core/stored_value.h"
#include "kv/command_codec.h"
#include "kv/commands.h"
#include "leader/leader_core.h"
#include "node/replica.h"
#include "storage/memory_engine.h"

namespace rkv {

namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;
constexpr uint64_t kSec = 1000 * kMs;

constexpr uint64_t kTickInterval = 2 * kMs;
constexpr uint64_t kElectionTimeout = 1000 * kMs;
constexpr uint64_t kHeartbeat = 100 * kMs;
constexpr uint64_t kRequestTimeout = 2 * kSec;
constexpr uint64_t kHealDeadline = 60 * kSec;
// A run's workload never exceeds this in virtual time: the larger of a floor
// and a budget per operation (so --ops 1000000 under faults can finish), or
// the requested duration plus the floor.
constexpr uint64_t kWorkloadDeadline = 600 * kSec;
constexpr uint64_t kWorkloadDeadlinePerOp = 20 * kMs;
// The linearizable check's counterexample search is bounded by steps here.
constexpr uint64_t kLinShrinkUnboundedMs = 24ull * 3600 * 1000;

const char* const kFaultNames[] = {"delay",     "loss",  "dup",   "reorder",
                                   "partition", "crash", "pause", "skew"};

}  // namespace

bool ParseFaults(const std::string& s, uint32_t* out, std::string* bad) {
  *out = 0;
  if (s.empty() || s == "none") return true;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string name =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool found = false;
    if (name == "all") {
      *out |= kFaultAll;
      found = true;
    }
    for (int i = 0; i < 8; ++i)
      if (name == kFaultNames[i]) {
        *out |= 1u << i;
        found = true;
      }
    if (!found) {
      *bad = name;
      return false;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

std::string FaultsName(uint32_t faults) {
  if (faults == 0) return "none";
  if ((faults & kFaultAll) == kFaultAll) return "all";
  std::string s;
  for (int i = 0; i < 8; ++i)
    if (faults & (1u << i)) s += (s.empty() ? "" : ",") + std::string(kFaultNames[i]);
  return s;
}

bool ParseSimConsistency(const std::string& s, ReadConsistency* out, std::string* error) {
  return ParseReadConsistency({s}, out, error);
}

uint64_t AllowedStalenessNs(const SimConfig& c) {
  ReadConsistency rc;
  std::string why;
  if (!ParseSimConsistency(c.consistency, &rc, &why) || rc.level != ReadLevel::kBounded) return 0;
  uint64_t bound = rc.bound_ms * kMs;
  // Skewed clocks run at 0.9x to 1.1x: a slow clock measures 0.9 of the time.
  return (c.faults & kFaultSkew) ? bound * 10 / 9 + 1 : bound;
}

namespace {

// Whether a write may be acknowledged before the majority commit: async, and
// `one` once there can be 4 or more voters (membership changes add them; the
// simulator's go up to 5). Such a write is applied speculatively, so it may be
// rolled back, and a strong read at the commit may miss it.
bool AckedBeforeCommit(const SimConfig& c) {
  return c.acks == AcksPolicy::kAsync ||
         (c.acks == AcksPolicy::kOne && (c.nodes >= 4 || c.membership));
}

}  // namespace

bool LinearizabilityRequired(const SimConfig& c) {
  return c.consistency == "strong" && !AckedBeforeCommit(c);
}

bool SessionGuaranteesRequired(const SimConfig& c) { return c.consistency == "session"; }

uint64_t UnexplainedViolations(const CheckResult& r) {
  if (r.verdict == CheckResult::Verdict::kUnknown) return 1;
  auto get = [&](const char* k) {
    auto it = r.counts.find(k);
    return it == r.counts.end() ? uint64_t{0} : it->second;
  };
  return get("violations") - std::min(get("violations"), get("rolled_back"));
}

bool LossAllowed(const SimConfig& c) { return !c.mutations.any() && AckedBeforeCommit(c); }

std::string ReproduceCommand(const SimConfig& c) {
  std::string s = "replicakv sim --mode " + c.mode + " --acks " +
                  std::string(AcksPolicyName(c.acks)) + " --consistency " + c.consistency +
                  " --nodes " + std::to_string(c.nodes) + " --clients " +
                  std::to_string(c.clients) + " --keys " + std::to_string(c.keys);
  s += c.duration_ms ? " --duration-ms " + std::to_string(c.duration_ms)
                     : " --ops " + std::to_string(c.ops);
  if (c.client_timeout_ms != SimConfig{}.client_timeout_ms)
    s += " --client-timeout-ms " + std::to_string(c.client_timeout_ms);
  s += " --seed " + std::to_string(c.seed) + " --faults " + FaultsName(c.faults);
  if (c.mutations.ack_before_quorum) s += " --mutation ack-before-quorum";
  if (c.mutations.skip_consistency_check) s += " --mutation skip-consistency-check";
  if (c.mutations.vote_without_log_check) s += " --mutation vote-without-log-check";
  if (c.mutations.apply_before_commit) s += " --mutation apply-before-commit";
  if (c.mutations.read_without_quorum) s += " --mutation read-without-quorum";
  if (c.membership) s += " --membership";
  if (c.batch_drains) s += " --batch-drains";
  return s;
}

namespace {

class Simulation;

struct PendingOp {
  size_t slot = 0;
  uint64_t client = 0;
  OpType op = OpType::kNone;
  std::string key;
  std::string value;
  int node = 0;
  bool done = false;
};

// node >= 0: tied to that node's incarnation (dropped if it restarted since);
// node <= -2: about node -(node + 2) but not tied (message deliveries);
// node == -1: about no node. Events of a paused node wait for it.
struct SimEvent {
  uint64_t time;
  uint64_t seq;
  int node;
  uint64_t incarnation;
  std::function<void()> fn;
  bool operator>(const SimEvent& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

struct SimNode;

class NodeHost final : public ReplicaHost {
 public:
  NodeHost(Simulation* sim, SimNode* node) : sim_(sim), node_(node) {}
  void SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) override;
  void Send(Message m) override;
  void OnOutcome(uint64_t request_id, RequestOutcome outcome) override;
  Status RecordRollback(const RollbackBatch& batch) override;
  uint64_t WallClockMs() override;
  void OnFatal(const Status& status) override;
  void SubmitTask(std::function<Status()> task, std::function<void(const Status&)> done) override;
  void SendSnapshot(NodeId to, uint64_t term, std::shared_ptr<const void> pin) override;
  void OnMembership(const std::string&) override {}
  void OnApplied() override;
  bool DeferDrain(std::function<void()> drain) override;

 private:
  Simulation* sim_;
  SimNode* node_;
};

struct SimNode {
  int id = 0;
  std::unique_ptr<MemoryEngine> engine;  // survives crashes, minus unsynced writes
  std::unique_ptr<NodeHost> host;
  std::unique_ptr<Replica> replica;    // null while down
  std::unique_ptr<ReadService> reads;  // with the replica
  uint64_t incarnation = 0;
  bool up = false;
  uint64_t paused_until = 0;
  double clock_rate = 1.0;
  int64_t clock_offset_ns = 0;
  uint64_t disk_free_at = 0;
  uint64_t request_counter = 0;
  std::map<uint64_t, std::shared_ptr<PendingOp>> requests;  // request id → op
  std::vector<RollbackBatch> rollbacks;                     // durable
  uint64_t checked_commit = 0;    // commit-safety monitor, per incarnation
  uint64_t checked_ack = 0;       // staleness: acknowledged indexes seen, per incarnation
  std::deque<SimEvent> deferred;  // events that arrived while paused, in order
  bool joining = false;           // started empty and asked to join
  bool removed = false;           // no longer a member
  LeaderCore* core() { return replica ? dynamic_cast<LeaderCore*>(&replica->core()) : nullptr; }
};

class Simulation {
 public:
  explicit Simulation(const SimConfig& c) : c_(c), rng_(c.seed) {
    std::string why;
    if (!ParseSimConsistency(c.consistency, &read_level_, &why)) Violation("--consistency: " + why);
  }
  SimResult Run();

  // For NodeHost.
  void DiskWrite(SimNode* n, WriteBatch batch, bool sync, std::function<void(const Status&)> done);
  void DiskTask(SimNode* n, std::function<Status()> task, std::function<void(const Status&)> done);
  void SnapshotTransfer(SimNode* from, NodeId to, uint64_t term, std::shared_ptr<const void> pin);
  void NetSend(Message m);
  void Outcome(SimNode* n, uint64_t request_id, RequestOutcome o);
  uint64_t now() const { return now_; }
  uint64_t LocalTime(const SimNode& n) const {
    return static_cast<uint64_t>(n.clock_offset_ns + static_cast<int64_t>(now_ * n.clock_rate));
  }
  void NoteRollback(const SimNode& n, const RollbackBatch& b);
  bool DeferDrain(SimNode* n, std::function<void()> drain);
  void Violation(std::string v) {
    if (result_.violations.size() < 20) result_.violations.push_back(std::move(v));
  }

 private:
  void At(uint64_t t, int node, bool tie_to_incarnation, std::function<void()> fn);
  void RunUntil(const std::function<bool()>& done, uint64_t deadline);
  void Monitor(SimNode& n);

  void StartNode(SimNode& n);
  void ScheduleResume(SimNode& n);
  void CrashNode(SimNode& n);
  void ScheduleTick(SimNode& n);

  // network
  bool LinkCut(int from, int to) const { return cut_.count({from, to}) > 0; }
  void Nemesis();
  void Heal();

  // clients
  void ClientNext(size_t slot, bool backoff);
  void Issue(size_t slot);
  void Complete(const std::shared_ptr<PendingOp>& op, EventType type,
                std::optional<std::string> value, std::optional<int64_t> result,
                const std::string& version);
  bool WorkloadDone() const;
  // A read at the run's level at node `at` (where the client sent it, or the
  // leader it was forwarded to).
  void Read(const std::shared_ptr<PendingOp>& op, int at, bool may_forward);
  void ServeRead(const std::shared_ptr<PendingOp>& op, SimNode& at);
  uint64_t StalenessNs(SimNode& at);

  bool Converged();
  // Members as the current leader (or the most recent term) knows them.
  std::vector<int> Members();
  void AddNode();
  void JoinLoop(SimNode& n);
  void RemoveNode();

  SimConfig c_;
  Rng rng_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<SimEvent, std::vector<SimEvent>, std::greater<SimEvent>> queue_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  SimResult result_;

  // network knobs, drawn per seed
  double p_loss_ = 0, p_dup_ = 0, p_slow_ = 0;
  uint64_t base_delay_ = 100 * kUs, jitter_ = 50 * kUs, slow_delay_ = 0;
  std::set<std::pair<int, int>> cut_;
  bool faults_active_ = true;

  // clients
  struct Slot {
    uint64_t client = 0;
    uint64_t counter = 0;
    bool busy = false;
    LogPosition token;  // the client's session: what it wrote or read
  };
  ReadConsistency read_level_;
  std::vector<Slot> slots_;
  uint64_t next_client_ = 0;
  uint64_t issued_ = 0;
  uint64_t in_flight_ = 0;
  bool workload_stopped_ = false;

  // monitors
  std::map<uint64_t, int> leader_of_term_;
  std::map<uint64_t, uint64_t> committed_term_;  // index → term
  std::map<uint64_t, uint64_t> commit_time_;     // index → when a majority first held it
  // index → when a leader first acknowledged it (made it visible): under
  // acks=all that waits for every voter, after the majority commit.
  std::map<uint64_t, uint64_t> ack_time_;
};

// ---------------------------------------------------------------- host

void NodeHost::SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) {
  sim_->DiskWrite(node_, std::move(batch), sync, std::move(done));
}
void NodeHost::Send(Message m) { sim_->NetSend(std::move(m)); }
void NodeHost::OnOutcome(uint64_t id, RequestOutcome o) {
  if (node_->reads && node_->reads->OnOutcome(id, o.kind == RequestOutcome::Kind::kReadReady,
                                              o.status, sim_->LocalTime(*node_)))
    return;
  sim_->Outcome(node_, id, std::move(o));
}
bool NodeHost::DeferDrain(std::function<void()> drain) { return sim_->DeferDrain(node_, drain); }
void NodeHost::OnApplied() {
  if (node_->reads) node_->reads->OnApplied(sim_->LocalTime(*node_));
}
Status NodeHost::RecordRollback(const RollbackBatch& b) {
  // The simulated clients propose one command per entry, so a batch counts as
  // many rolled-back writes (what /status and INFO report) as entries.
  if (b.commands != b.entries)
    sim_->Violation("node " + std::to_string(node_->id) + " counted " + std::to_string(b.commands) +
                    " rolled-back writes for " + std::to_string(b.entries) + " entries");
  node_->rollbacks.push_back(b);  // modelled as a synced file write
  sim_->NoteRollback(*node_, b);
  return Status::Ok();
}
uint64_t NodeHost::WallClockMs() { return (sim_->now() + 1700000000ULL * kSec) / kMs; }
void NodeHost::SubmitTask(std::function<Status()> task, std::function<void(const Status&)> done) {
  sim_->DiskTask(node_, std::move(task), std::move(done));
}
void NodeHost::SendSnapshot(NodeId to, uint64_t term, std::shared_ptr<const void> pin) {
  sim_->SnapshotTransfer(node_, to, term, std::move(pin));
}
void NodeHost::OnFatal(const Status& s) {
  sim_->Violation("node " + std::to_string(node_->id) + ": " + s.ToString());
}

// ---------------------------------------------------------------- events

void Simulation::At(uint64_t t, int node, bool tie, std::function<void()> fn) {
  uint64_t inc = (tie && node >= 0) ? nodes_[node]->incarnation : 0;
  queue_.push(SimEvent{std::max(t, now_), ++seq_, tie ? node : -(node + 2), inc, std::move(fn)});
}

void Simulation::RunUntil(const std::function<bool()>& done, uint64_t deadline) {
  while (!queue_.empty() && !done()) {
    if (queue_.top().time > deadline) {
      now_ = deadline;
      return;
    }
    SimEvent e = queue_.top();
    queue_.pop();
    now_ = e.time;
    ++result_.stats.events;
    int node = e.node >= 0 ? e.node : (e.node <= -2 ? -(e.node + 2) : -1);
    if (node >= 0) {
      SimNode& n = *nodes_[node];
      if (e.node >= 0 && e.incarnation != n.incarnation) continue;  // from before a restart
      if (n.paused_until > now_ || !n.deferred.empty()) {
        // A paused process does nothing; its events run, in order, when it resumes.
        if (n.deferred.empty()) ScheduleResume(n);
        n.deferred.push_back(std::move(e));
        continue;
      }
      e.fn();
      Monitor(n);
    } else {
      e.fn();
    }
  }
}

// ---------------------------------------------------------------- nodes

void Simulation::ScheduleResume(SimNode& n) {
  At(std::max(n.paused_until, now_), -1, false, [this, &n] {
    if (n.paused_until > now_) {
      ScheduleResume(n);
      return;
    }
    std::deque<SimEvent> events = std::move(n.deferred);
    n.deferred.clear();
    for (SimEvent& e : events) {
      if (e.node >= 0 && e.incarnation != n.incarnation) continue;
      e.fn();
      Monitor(n);
    }
  });
}

void Simulation::StartNode(SimNode& n) {
  n.incarnation += 1;
  n.up = true;
  n.checked_commit = 0;
  n.checked_ack = 0;
  LeaderOptions o;
  o.id = static_cast<NodeId>(n.id + 1);
  if (!n.joining)
    for (int i = 0; i < c_.nodes; ++i) o.voters.push_back(static_cast<NodeId>(i + 1));
  o.log_compact_entries = c_.log_compact_entries;
  o.log_keep_entries = c_.log_keep_entries;
  o.snapshot_lag_entries = c_.snapshot_lag_entries;
  o.acks = c_.acks;
  o.sync = c_.durability_sync;
  o.election_timeout_ns = kElectionTimeout;
  o.heartbeat_interval_ns = kHeartbeat;
  o.request_timeout_ns = kRequestTimeout;
  o.seed = c_.seed * 1000003 + n.incarnation * 7919 + static_cast<uint64_t>(n.id);
  o.mutations = c_.mutations;
  uint64_t local = LocalTime(n);
  auto replica = Replica::Open(n.host.get(), n.engine.get(), [&](CoreRecovery rec) {
    auto core = std::make_unique<LeaderCore>(o, std::move(rec));
    core->Tick(local);
    return core;
  });
  if (!replica.ok()) {
    Violation("node " + std::to_string(n.id + 1) +
              " cannot restart: " + replica.status().ToString());
    n.up = false;
    return;
  }
  n.replica = std::move(replica.value());
  SimNode* np = &n;
  n.reads = std::make_unique<ReadService>(
      n.replica.get(), [np] { return (np->incarnation << 32) | ++np->request_counter; },
      ReadService::Options{200 * kMs, static_cast<NodeId>(n.id + 1)});
  ScheduleTick(n);
}

void Simulation::DiskTask(SimNode* n, std::function<Status()> task,
                          std::function<void(const Status&)> done) {
  uint64_t at = std::max(now_, n->disk_free_at) + rng_.Range(200 * kUs, 2 * kMs);
  n->disk_free_at = at;
  auto t = std::make_shared<std::function<Status()>>(std::move(task));
  auto d = std::make_shared<std::function<void(const Status&)>>(std::move(done));
  At(at, n->id, true, [t, d] { (*d)((*t)()); });
}

void Simulation::SnapshotTransfer(SimNode* from, NodeId to, uint64_t term,
                                  std::shared_ptr<const void> pin) {
  ++result_.stats.snapshots_sent;
  auto image = from->engine->ExportSnapshot(pin, Replica::SnapshotMetaKeys(), "");
  int dst = static_cast<int>(to) - 1;
  if (!image.ok() || dst < 0 || dst >= static_cast<int>(nodes_.size())) return;
  auto img = std::make_shared<SnapshotImage>(std::move(image.value()));
  // Streamed in chunks: takes time, and fails if the link is cut or either
  // side goes away meanwhile; the leader then tries again.
  uint64_t duration = 2 * kMs + img->bytes * kSec / (100ULL << 20);
  uint64_t inc = from->incarnation;
  NodeId src = static_cast<NodeId>(from->id + 1);
  // A global event: whatever happened to either side, the sender hears back.
  At(now_ + duration, -1, false, [this, from, dst, inc, src, term, img] {
    SimNode& d = *nodes_[dst];
    bool ok = !LinkCut(from->id, dst) && !LinkCut(dst, from->id) && d.replica &&
              d.paused_until <= now_ && d.deferred.empty() && from->incarnation == inc &&
              (!faults_active_ || !rng_.Chance(p_loss_ * 5));
    if (ok) {
      ++result_.stats.snapshots_installed;
      d.replica->InstallSnapshot(src, term, *img);
    }
    LogPosition pos;
    for (const auto& [k, v] : img->meta)
      if (k == KvStore::StateMetaKey()) KvStore::DecodeApplied(v, &pos);
    At(now_ + base_delay_, from->id, true, [from, dst, ok, index = pos.index] {
      if (from->replica) from->replica->SnapshotDone(static_cast<NodeId>(dst + 1), ok, index);
    });
  });
}

bool Simulation::DeferDrain(SimNode* n, std::function<void()> drain) {
  if (!c_.batch_drains) return false;
  At(now_ + rng_.Below(kMs), n->id, true, std::move(drain));
  return true;
}

void Simulation::NoteRollback(const SimNode& n, const RollbackBatch& b) {
  std::vector<int> members = Members();
  if (std::find(members.begin(), members.end(), n.id) == members.end())
    ++result_.stats.removed_node_rollbacks;
  // A record of an entry the cluster has committed reports as lost a write
  // that is not: the simulator sees every commit (as far as some node knows).
  std::set<uint64_t> false_entries;
  for (const RollbackRecord& r : b.records) {
    auto it = committed_term_.find(r.index);
    if (it != committed_term_.end() && it->second == r.term) false_entries.insert(r.index);
  }
  result_.stats.committed_entries_recorded += false_entries.size();
}

std::vector<int> Simulation::Members() {
  LeaderCore* best = nullptr;
  for (auto& n : nodes_) {
    LeaderCore* c = n->core();
    if (!c || c->membership().empty()) continue;
    if (!best || c->role() == Role::kLeader || c->term() > best->term()) {
      if (!best || best->role() != Role::kLeader || c->term() > best->term()) best = c;
    }
  }
  std::vector<int> out;
  if (!best) {
    for (auto& n : nodes_)
      if (!n->joining) out.push_back(n->id);
    return out;
  }
  for (const Member& m : best->membership().members()) out.push_back(static_cast<int>(m.id) - 1);
  return out;
}

void Simulation::AddNode() {
  auto n = std::make_unique<SimNode>();
  n->id = static_cast<int>(nodes_.size());
  n->joining = true;
  n->engine = std::make_unique<MemoryEngine>(/*track_unsynced=*/true);
  n->host = std::make_unique<NodeHost>(this, n.get());
  nodes_.push_back(std::move(n));
  ++result_.stats.joins;
  StartNode(*nodes_.back());
  JoinLoop(*nodes_.back());
}

void Simulation::JoinLoop(SimNode& n) {
  // The joining node asks a member, again and again, until it is one.
  LeaderCore* c = n.core();
  if (c && c->membership().IsMember(static_cast<NodeId>(n.id + 1))) return;
  if (c && !n.removed) {
    std::vector<int> members = Members();
    if (!members.empty()) {
      Message m;
      m.type = MsgType::kJoin;
      m.from = static_cast<NodeId>(n.id + 1);
      m.to = static_cast<NodeId>(members[rng_.Below(members.size())] + 1);
      m.context = m.from;
      m.data = "sim-node-" + std::to_string(m.from);
      NetSend(std::move(m));
    }
  }
  At(now_ + 300 * kMs, n.id, false, [this, &n] { JoinLoop(n); });
}

void Simulation::RemoveNode() {
  std::vector<int> members = Members();
  LeaderCore* leader = nullptr;
  int leader_id = -1;
  for (auto& n : nodes_)
    if (n->core() && n->core()->role() == Role::kLeader) leader = n->core(), leader_id = n->id;
  if (!leader || leader->membership().voter_count() <= 3) return;
  std::vector<NodeId> voters = leader->membership().Voters();
  NodeId victim = voters[rng_.Below(voters.size())];
  ++result_.stats.removals;
  Request r;
  r.id = (nodes_[leader_id]->incarnation << 32) | ++nodes_[leader_id]->request_counter;
  r.kind = RequestKind::kRemoveMember;
  r.data = std::to_string(victim);
  nodes_[leader_id]->replica->Propose(std::move(r));
}

void Simulation::CrashNode(SimNode& n) {
  ++result_.stats.crashes;
  n.reads.reset();  // waiting reads die with the process: their clients time out
  n.replica.reset();
  n.requests.clear();  // their clients hear nothing and time out
  n.deferred.clear();  // what a paused process had not read is gone with it
  n.paused_until = 0;
  n.up = false;
  n.incarnation += 1;  // pending disk writes and ticks die with the process
  n.engine->Crash(rng_.Below(n.engine->unsynced_batches() + 1));
  n.disk_free_at = now_;
}

void Simulation::ScheduleTick(SimNode& n) {
  At(now_ + kTickInterval, n.id, true, [this, &n] {
    if (!n.replica) return;
    n.replica->Tick(LocalTime(n));
    n.reads->Tick(LocalTime(n));
    ScheduleTick(n);
  });
}

void Simulation::Monitor(SimNode& n) {
  LeaderCore* core = n.core();
  if (!core) return;
  result_.stats.max_term = std::max(result_.stats.max_term, core->term());
  if (core->role() == Role::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(core->term(), n.id);
    if (inserted) ++result_.stats.leaders_elected;
    if (it->second != n.id)
      Violation("two leaders in term " + std::to_string(core->term()) + ": node " +
                std::to_string(it->second + 1) + " and node " + std::to_string(n.id + 1));
  }
  uint64_t commit = std::min(core->commit(), core->log().last_index());
  for (uint64_t i = std::max(n.checked_commit + 1, core->log().first_index()); i <= commit; ++i) {
    uint64_t t = core->log().term(i);
    auto [it, inserted] = committed_term_.emplace(i, t);
    if (inserted) commit_time_.emplace(i, now_);
    if (!inserted && it->second != t)
      Violation("index " + std::to_string(i) + " committed with term " +
                std::to_string(it->second) + " and later with term " + std::to_string(t) +
                " (node " + std::to_string(n.id + 1) + ")");
  }
  n.checked_commit = std::max(n.checked_commit, commit);
  if (core->role() == Role::kLeader) {
    uint64_t ack = std::min(core->ack(), core->log().last_index());
    for (uint64_t i = std::max(n.checked_ack + 1, core->log().first_index()); i <= ack; ++i)
      ack_time_.emplace(i, now_);
    n.checked_ack = std::max(n.checked_ack, ack);
  }
}

void Simulation::DiskWrite(SimNode* n, WriteBatch batch, bool sync,
                           std::function<void(const Status&)> done) {
  uint64_t latency = sync ? rng_.Range(100 * kUs, 1 * kMs) : rng_.Range(5 * kUs, 30 * kUs);
  if ((c_.faults & kFaultDelay) && faults_active_ && rng_.Chance(0.01))
    latency += rng_.Range(5, 50) * kMs;
  uint64_t at = std::max(now_, n->disk_free_at) + latency;
  n->disk_free_at = at;
  auto b = std::make_shared<WriteBatch>(std::move(batch));
  auto d = std::make_shared<std::function<void(const Status&)>>(std::move(done));
  At(at, n->id, true, [n, b, sync, d] {
    Status s = n->engine->Write(*b, sync);
    (*d)(s);
  });
}

// ---------------------------------------------------------------- network

void Simulation::NetSend(Message m) {
  ++result_.stats.messages;
  int from = static_cast<int>(m.from) - 1, to = static_cast<int>(m.to) - 1;
  if (to < 0 || to >= static_cast<int>(nodes_.size())) return;
  bool faulty = faults_active_;
  if (LinkCut(from, to) || (faulty && rng_.Chance(p_loss_))) {
    ++result_.stats.dropped;
    return;
  }
  int copies = faulty && rng_.Chance(p_dup_) ? 2 : 1;
  if (copies == 2) ++result_.stats.duplicated;
  auto msg = std::make_shared<Message>(std::move(m));
  for (int i = 0; i < copies; ++i) {
    uint64_t delay = base_delay_ + rng_.Below(jitter_ + 1);
    if (faulty && slow_delay_ && rng_.Chance(p_slow_)) delay += rng_.Below(slow_delay_);
    At(now_ + delay, to, false, [this, to, msg] {
      SimNode& n = *nodes_[to];
      if (n.replica) n.replica->Step(*msg);
    });
  }
}

void Simulation::Nemesis() {
  if (!faults_active_) return;
  std::vector<uint32_t> kinds;
  for (uint32_t k : {kFaultPartition, kFaultCrash, kFaultPause})
    if (c_.faults & k) kinds.push_back(k);
  constexpr uint32_t kMembership = 1u << 20;
  if (c_.membership) kinds.push_back(kMembership);
  if (kinds.empty()) return;
  uint32_t kind = kinds[rng_.Below(kinds.size())];
  if (kind == kMembership) {
    size_t voters = 0;
    for (auto& n : nodes_)
      if (n->core() && n->core()->role() == Role::kLeader)
        voters = n->core()->membership().voter_count();
    if (voters > 0 && (voters <= 3 || (voters < 5 && rng_.Chance(0.5))) && nodes_.size() < 9)
      AddNode();
    else
      RemoveNode();
    At(now_ + rng_.Range(300, 2000) * kMs, -1, false, [this] { Nemesis(); });
    return;
  }
  uint64_t duration = rng_.Range(200, 4000) * kMs;
  const int total = static_cast<int>(nodes_.size());
  if (kind == kFaultPartition) {
    ++result_.stats.partitions;
    std::vector<int> ids(total);
    for (int i = 0; i < total; ++i) ids[i] = i;
    for (int i = total - 1; i > 0; --i) std::swap(ids[i], ids[rng_.Below(i + 1)]);
    std::vector<std::pair<int, int>> links;
    switch (rng_.Below(5)) {
      case 0:  // isolate one node
        for (int j = 0; j < total; ++j)
          if (j != ids[0]) links.insert(links.end(), {{ids[0], j}, {j, ids[0]}});
        break;
      case 1: {  // majority / minority
        int split = total / 2;
        for (int a = 0; a < split; ++a)
          for (int b = split; b < total; ++b)
            links.insert(links.end(), {{ids[a], ids[b]}, {ids[b], ids[a]}});
        break;
      }
      case 2:  // one-way: a node can send but not receive
        for (int j = 0; j < total; ++j)
          if (j != ids[0]) links.push_back({j, ids[0]});
        break;
      case 3: {  // bridge: two halves that only ids[0] connects
        int half = (total - 1) / 2;
        for (int a = 1; a <= half; ++a)
          for (int b = half + 1; b < total; ++b)
            links.insert(links.end(), {{ids[a], ids[b]}, {ids[b], ids[a]}});
        break;
      }
      default: {  // swizzle: cut links one by one, restore them in random order
        std::vector<std::pair<int, int>> all;
        for (int a = 0; a < total; ++a)
          for (int b = 0; b < total; ++b)
            if (a != b) all.push_back({a, b});
        for (size_t i = all.size() - 1; i > 0; --i) std::swap(all[i], all[rng_.Below(i + 1)]);
        all.resize(rng_.Range(1, all.size()));
        uint64_t step = rng_.Range(20, 200) * kMs;
        for (size_t i = 0; i < all.size(); ++i)
          At(now_ + step * i, -1, false, [this, l = all[i]] {
            if (faults_active_) cut_.insert(l);
          });
        std::vector<std::pair<int, int>> order = all;
        for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng_.Below(i + 1)]);
        uint64_t start = now_ + step * all.size() + duration;
        for (size_t i = 0; i < order.size(); ++i)
          At(start + step * i, -1, false, [this, l = order[i]] { cut_.erase(l); });
        break;
      }
    }
    for (const auto& l : links) cut_.insert(l);
    At(now_ + duration, -1, false, [this, links] {
      for (const auto& l : links) cut_.erase(l);
    });
  } else if (kind == kFaultCrash) {
    std::vector<int> up;
    for (auto& n : nodes_)
      if (n->up) up.push_back(n->id);
    if (up.size() > 1) {
      SimNode& n = *nodes_[up[rng_.Below(up.size())]];
      CrashNode(n);
      At(now_ + rng_.Range(100, 3000) * kMs, -1, false, [this, &n] {
        if (!n.up) StartNode(n);
      });
    }
  } else if (kind == kFaultPause) {
    ++result_.stats.pauses;
    SimNode& n = *nodes_[rng_.Below(nodes_.size())];
    n.paused_until = std::max(n.paused_until, now_ + rng_.Range(100, 3000) * kMs);
  }
  At(now_ + rng_.Range(300, 2000) * kMs, -1, false, [this] { Nemesis(); });
}

void Simulation::Heal() {
  faults_active_ = false;
  cut_.clear();
  for (auto& n : nodes_) {
    n->paused_until = 0;
    if (!n->up && !n->removed) StartNode(*n);
  }
}

// ---------------------------------------------------------------- clients

bool Simulation::WorkloadDone() const { return workload_stopped_ && in_flight_ == 0; }

void Simulation::ClientNext(size_t slot, bool backoff) {
  if (workload_stopped_) return;
  if (!c_.duration_ms && issued_ >= c_.ops) {
    workload_stopped_ = true;
    return;
  }
  // After a failure a client backs off, as a real one would before retrying.
  uint64_t think = backoff ? rng_.Range(20, 200) * kMs : rng_.Range(0, 2 * kMs);
  At(now_ + think, -1, false, [this, slot] { Issue(slot); });
}

void Simulation::Issue(size_t slot) {
  if (workload_stopped_ || (!c_.duration_ms && issued_ >= c_.ops)) {
    workload_stopped_ = true;
    return;
  }
  std::vector<int> up;
  for (int id : Members())
    if (nodes_[id]->replica) up.push_back(id);
  if (up.empty()) {
    At(now_ + 10 * kMs, -1, false, [this, slot] { Issue(slot); });
    return;
  }
  Slot& s = slots_[slot];
  ++issued_;
  ++in_flight_;
  auto op = std::make_shared<PendingOp>();
  op->slot = slot;
  op->client = s.client;
  int k = static_cast<int>(rng_.Below(c_.keys));
  op->key = "k" + std::to_string(k);
  op->node = up[rng_.Below(up.size())];
  uint64_t n = ++s.counter;
  std::string tag = std::to_string(s.client) + "." + std::to_string(n);
  if (rng_.Chance(0.35)) {
    op->op = OpType::kRead;
  } else if (k % 3 == 0) {
    op->op = OpType::kAppend;
    op->value = " x" + tag;
  } else if (k % 3 == 1) {
    op->op = OpType::kWrite;
    op->value = "v" + tag;
  } else {
    op->op = OpType::kIncr;
    op->value = std::to_string(rng_.Range(1, 5));
  }
  Event inv;
  inv.type = EventType::kInvoke;
  inv.op = op->op;
  inv.client = op->client;
  inv.key = op->key;
  if (op->op != OpType::kRead) inv.value = op->value;
  inv.time = now_;
  inv.node = static_cast<uint64_t>(op->node + 1);
  result_.history.events.push_back(inv);
  ++result_.stats.invoked;

  At(now_ + c_.client_timeout_ms * kMs, -1, false, [this, op] {
    if (!op->done) Complete(op, EventType::kInfo, std::nullopt, std::nullopt, "");
  });
  // The request reaches the node as an event of that node, so a paused node
  // sees it only when it resumes.
  At(now_, op->node, false, [this, op] {
    SimNode& node = *nodes_[op->node];
    if (!node.replica || op->done) return;  // crashed: the client hears nothing
    if (op->op == OpType::kRead) {
      Read(op, op->node, true);
      return;
    }
    uint64_t id = (node.incarnation << 32) | ++node.request_counter;
    node.requests[id] = op;
    Request r;
    r.id = id;
    r.kind = RequestKind::kWrite;
    const char* cmd = op->op == OpType::kAppend  ? "append"
                      : op->op == OpType::kWrite ? "set"
                                                 : "incrby";
    EncodeCommand(Argv{cmd, op->key, op->value}, &r.data);
    node.replica->Propose(std::move(r));
  });
}

void Simulation::Outcome(SimNode* n, uint64_t request_id, RequestOutcome o) {
  auto it = n->requests.find(request_id);
  if (it == n->requests.end()) return;
  std::shared_ptr<PendingOp> op = it->second;
  n->requests.erase(it);
  if (op->done) return;
  switch (o.kind) {
    case RequestOutcome::Kind::kApplied: {
      std::string version =
          std::to_string(o.position.term) + "." + std::to_string(o.position.index);
      Slot& slot = slots_[op->slot];
      if (slot.client == op->client) slot.token = MaxPosition(slot.token, o.position);
      const Reply& r = o.replies.empty() ? Reply::Nil() : o.replies[0];
      if (r.is_error()) {
        Violation("a workload command failed at apply: " + r.str);
        Complete(op, EventType::kFail, std::nullopt, std::nullopt, "");
      } else if (op->op == OpType::kIncr) {
        Complete(op, EventType::kOk, op->value, r.integer, version);
      } else {
        Complete(op, EventType::kOk, op->value, std::nullopt, version);
      }
      break;
    }
    case RequestOutcome::Kind::kReadReady:  // reads go through the node's ReadService
      break;
    case RequestOutcome::Kind::kFailed:
      Complete(op, o.status.code() == Code::kTryAgain ? EventType::kFail : EventType::kInfo,
               op->op == OpType::kRead ? std::nullopt : std::optional<std::string>(op->value),
               std::nullopt, "");
      break;
  }
}

void Simulation::Complete(const std::shared_ptr<PendingOp>& op, EventType type,
                          std::optional<std::string> value, std::optional<int64_t> result,
                          const std::string& version) {
  op->done = true;
  --in_flight_;
  Event e;
  e.type = type;
  e.op = op->op;
  e.client = op->client;
  e.key = op->key;
  e.value = op->op == OpType::kRead && type != EventType::kOk ? std::nullopt
            : op->op == OpType::kRead                         ? value
                                      : std::optional<std::string>(op->value);
  e.result = result;
  e.time = now_;
  e.node = static_cast<uint64_t>(op->node + 1);
  e.version = version;
  result_.history.events.push_back(e);
  Slot& s = slots_[op->slot];
  if (type == EventType::kOk) ++result_.stats.ok;
  if (type == EventType::kFail) ++result_.stats.failed;
  if (type == EventType::kInfo) {
    ++result_.stats.info;
    // A client whose outcome is unknown never invokes again; a new one continues.
    s.client = next_client_++;
    s.counter = 0;
    s.token = LogPosition{};
  }
  ClientNext(op->slot, type != EventType::kOk);
}

void Simulation::Read(const std::shared_ptr<PendingOp>& op, int at, bool may_forward) {
  SimNode& node = *nodes_[at];
  if (!node.replica || op->done) return;
  ReadSpec spec{read_level_, slots_[op->slot].token, may_forward};
  uint64_t local = LocalTime(node);
  if (node.reads->CanServeNow(spec, local)) {
    if (at == op->node) ++result_.stats.reads_local;
    ServeRead(op, node);
    return;
  }
  uint64_t inc = node.incarnation;
  node.reads->Read(spec, local, [this, op, at, inc, may_forward](ReadDecision d) {
    // Carried out as an event of the node (never inside Read).
    At(now_, at, true, [this, op, at, inc, may_forward, d = std::move(d)] {
      SimNode& n = *nodes_[at];
      if (op->done || !n.replica || n.incarnation != inc) return;
      switch (d.kind) {
        case ReadDecision::Kind::kServe: {
          ReadSpec again{read_level_, slots_[op->slot].token, may_forward};
          if (!n.reads->StillServable(again, LocalTime(n))) {
            Read(op, at, may_forward);  // paused since the decision: no longer fresh
            break;
          }
          if (at == op->node) ++result_.stats.reads_local;
          ServeRead(op, n);
          break;
        }
        case ReadDecision::Kind::kForward: {
          ++result_.stats.reads_forwarded;
          int leader = static_cast<int>(n.replica->leader()) - 1;
          if (leader < 0 || leader >= static_cast<int>(nodes_.size()) || LinkCut(at, leader)) {
            Complete(op, EventType::kFail, std::nullopt, std::nullopt, "");
            break;
          }
          // One network hop to the leader, where it runs without forwarding
          // again (the answer's way back is folded into this hop).
          At(now_ + base_delay_, leader, true, [this, op, leader] { Read(op, leader, false); });
          break;
        }
        case ReadDecision::Kind::kFail:
          if (d.status.code() == Code::kStale) ++result_.stats.reads_stale;
          Complete(op, d.status.code() == Code::kTimeout ? EventType::kInfo : EventType::kFail,
                   std::nullopt, std::nullopt, "");
          break;
      }
    });
  });
}

void Simulation::ServeRead(const std::shared_ptr<PendingOp>& op, SimNode& at) {
  std::string stored;
  std::optional<std::string> v;
  StoredValueView view;
  if (at.replica->store().Get(op->key, &stored) && DecodeStoredValue(stored, &view))
    v = std::string(view.payload);
  LogPosition p = at.replica->store().applied();
  result_.stats.max_staleness_ns = std::max(result_.stats.max_staleness_ns, StalenessNs(at));
  Slot& slot = slots_[op->slot];
  if (slot.client == op->client) slot.token = MaxPosition(slot.token, p);
  Complete(op, EventType::kOk, v, std::nullopt,
           std::to_string(p.term) + "." + std::to_string(p.index));
}

uint64_t Simulation::StalenessNs(SimNode& at) {
  // The first majority-committed entry this replica's state lacks: past its
  // applied index, or where its applied (speculative) entries diverge from
  // the committed log.
  LeaderCore* core = at.core();
  uint64_t applied = at.replica->store().applied().index;
  uint64_t missing = applied + 1;
  if (core) {
    for (uint64_t i = std::max(core->commit() + 1, core->log().first_index()); i <= applied; ++i) {
      auto c = committed_term_.find(i);
      if (c != committed_term_.end() && core->log().has(i) && core->log().term(i) != c->second) {
        missing = i;
        break;
      }
    }
  }
  // Stale since the entry was both committed and acknowledged (visible on
  // the leader): under acks=all a majority may hold an entry long before it
  // is visible anywhere — a strong read at that moment would not see it either.
  auto t = commit_time_.find(missing);
  auto a = ack_time_.find(missing);
  if (t == commit_time_.end() || a == ack_time_.end()) return 0;
  uint64_t since = std::max(t->second, a->second);
  return since > now_ ? 0 : now_ - since;
}

// ---------------------------------------------------------------- convergence

bool Simulation::Converged() {
  LeaderCore* leader = nullptr;
  for (auto& n : nodes_) {
    LeaderCore* c = n->core();
    if (c && c->role() == Role::kLeader) leader = c;
  }
  if (!leader || leader->log().term(leader->commit()) != leader->term()) return false;
  // Every core's effects taken by its driver: with --batch-drains a Ready can
  // wait up to 1 ms, and one holding a truncation holds its rollback records
  // too — a run judged before it is drained would call that loss silent
  // (seed 860723, async with membership: a removed leader's truncation).
  for (auto& n : nodes_) {
    LeaderCore* c = n->core();
    if (c && c->HasReady()) return false;
  }
  std::string digest;
  for (int id : Members()) {
    SimNode* n = nodes_[id].get();
    LeaderCore* c = n->core();
    if (!c) return false;
    if (c->term() != leader->term() || c->applied() != leader->log().last_index() ||
        c->log().last_index() != leader->log().last_index())
      return false;
    if (n->replica->storage_writes_in_flight() > 0) return false;
    std::string d = n->replica->store().digest();
    if (!digest.empty() && d != digest) return false;
    digest = d;
  }
  // A node outside the membership may still hold entries the cluster
  // replaced from a term it led: under async, writes it acknowledged. It is
  // settled once it has rolled them back (and recorded them); until then such
  // a loss would look silent. (Entries of other leaders' terms are theirs to
  // record.)
  std::vector<int> members = Members();
  for (auto& n : nodes_) {
    LeaderCore* c = n->core();
    if (!c || std::find(members.begin(), members.end(), n->id) != members.end()) continue;
    const RaftLog& log = c->log();
    for (uint64_t i = std::max(c->commit() + 1, log.first_index()); i <= log.last_index(); ++i) {
      auto led = leader_of_term_.find(log.term(i));
      if (led == leader_of_term_.end() || led->second != n->id) continue;
      auto committed = committed_term_.find(i);
      bool matches = leader->log().has(i)
                         ? leader->log().term(i) == log.term(i)
                         : committed != committed_term_.end() && committed->second == log.term(i);
      if (!matches) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- run

SimResult Simulation::Run() {
  result_.config = c_;
  // Per-seed fault knobs.
  if (c_.faults & kFaultLoss) p_loss_ = rng_.Unit() * 0.05;
  if (c_.faults & kFaultDup) p_dup_ = rng_.Unit() * 0.03;
  base_delay_ = rng_.Range(50, 300) * kUs;
  jitter_ = (c_.faults & kFaultReorder) ? rng_.Range(1, 10) * kMs : base_delay_ / 2;
  if (c_.faults & kFaultDelay) {
    p_slow_ = rng_.Unit() * 0.05;
    slow_delay_ = rng_.Range(20, 300) * kMs;
  }
  for (int i = 0; i < c_.nodes; ++i) {
    auto n = std::make_unique<SimNode>();
    n->id = i;
    n->engine = std::make_unique<MemoryEngine>(/*track_unsynced=*/true);
    n->host = std::make_unique<NodeHost>(this, n.get());
    if (c_.faults & kFaultSkew) {
      n->clock_rate = 0.9 + rng_.Unit() * 0.2;
      n->clock_offset_ns = static_cast<int64_t>(rng_.Below(10 * kSec));
    }
    nodes_.push_back(std::move(n));
  }
  for (auto& n : nodes_) StartNode(*n);
  slots_.resize(c_.clients);
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].client = next_client_++;
    At(now_ + rng_.Range(0, 10 * kMs), -1, false, [this, i] { Issue(i); });
  }
  if (c_.faults & (kFaultPartition | kFaultCrash | kFaultPause))
    At(now_ + rng_.Range(200, 1500) * kMs, -1, false, [this] { Nemesis(); });
  if (c_.duration_ms) At(c_.duration_ms * kMs, -1, false, [this] { workload_stopped_ = true; });

  // Safety phase: the workload under faults.
  uint64_t deadline = c_.duration_ms ? c_.duration_ms * kMs + kWorkloadDeadline
                                     : std::max(kWorkloadDeadline, c_.ops * kWorkloadDeadlinePerOp);
  RunUntil([this] { return WorkloadDone(); }, deadline);
  if (!WorkloadDone())
    Violation("the workload did not finish within " + std::to_string(deadline / kSec) +
              " virtual seconds");
  // Heal, then require convergence within a bound.
  uint64_t heal_start = now_;
  Heal();
  RunUntil([this] { return Converged(); }, now_ + kHealDeadline);
  result_.converged = Converged();
  result_.stats.heal_ns = now_ - heal_start;
  if (!result_.converged) {
    Violation("no convergence within " + std::to_string(kHealDeadline / kSec) +
              " virtual seconds of healing");
    for (auto& n : nodes_)
      Violation(
          "  " +
          std::string(n->replica && n->replica->installing_snapshot() ? "(installing) " : "") +
          (n->core() ? n->core()->DebugString() : "node " + std::to_string(n->id + 1) + " down"));
  }
  result_.stats.virtual_ns = now_;

  // Final state of every member's replica, and what each node rolled back.
  for (int id : Members()) {
    SimNode* n = nodes_[id].get();
    for (int k = 0; k < c_.keys; ++k) {
      Event f;
      f.type = EventType::kFinal;
      f.node = static_cast<uint64_t>(n->id + 1);
      f.key = "k" + std::to_string(k);
      std::string stored;
      StoredValueView view;
      if (n->replica && n->replica->store().Get(f.key, &stored) && DecodeStoredValue(stored, &view))
        f.value = std::string(view.payload);
      result_.history.events.push_back(f);
    }
  }
  for (auto& n : nodes_) {
    for (const RollbackBatch& b : n->rollbacks) {
      result_.stats.rolled_back += b.entries;
      for (const RollbackRecord& r : b.records) {
        Event e;
        e.type = EventType::kRollback;
        e.node = static_cast<uint64_t>(n->id + 1);
        e.key = r.key;
        e.value = r.value;
        e.term = r.term;
        e.index = r.index;
        e.command = r.command;
        result_.history.events.push_back(e);
      }
    }
  }

  result_.checks.push_back(CheckLostWrites(result_.history));
  result_.checks.push_back(CheckConvergence(result_.history));
  // Strong reads are read-index reads: judge them (and every write) as one
  // linearizable register per key.
  if (c_.consistency == "strong") {
    LinearizableOptions lin;
    // What a run prints depends only on its flags and seed: the counterexample
    // search is bounded by steps, not time; and where linearizability is not
    // promised the verdict is data, not worth a counterexample.
    lin.shrink_time_limit_ms = kLinShrinkUnboundedMs;
    if (!LinearizabilityRequired(c_)) lin.shrink_steps = 0;
    result_.checks.push_back(CheckLinearizable(result_.history, lin));
  }
  // The other levels' reads go through the session checks (one pass): session
  // reads must keep them; bounded and eventual reads report them. (Strong
  // reads have the linearizable check, which implies them.)
  if (c_.consistency != "strong")
    for (CheckResult& r : CheckSessions(result_.history, SessionChecks{true, true, true, true}))
      result_.checks.push_back(std::move(r));
  const CheckResult& lost = result_.checks[0];
  bool lost_ok = LossAllowed(c_)
                     ? lost.counts.at("unrecorded") == 0 && lost.counts.at("duplicated") == 0
                     : lost.ok();
  const CheckResult* lin = FindCheck(result_.checks, "linearizable");
  bool lin_ok = !LinearizabilityRequired(c_) || lin->ok();
  const CheckResult* session_broken = nullptr;
  if (SessionGuaranteesRequired(c_))
    for (const char* name : kSessionGuarantees) {
      const CheckResult* r = FindCheck(result_.checks, name);
      if (UnexplainedViolations(*r) > 0) {
        session_broken = r;
        break;
      }
    }
  uint64_t allowed_staleness = AllowedStalenessNs(c_);
  bool bound_ok = read_level_.level != ReadLevel::kBounded ||
                  result_.stats.max_staleness_ns <= allowed_staleness;
  result_.ok = result_.violations.empty() && lost_ok && result_.checks[1].ok() && lin_ok &&
               bound_ok && !session_broken;
  if (!result_.violations.empty()) {
    result_.verdict = "FAIL: " + result_.violations[0];
  } else if (!lost_ok) {
    result_.verdict = "FAIL: " + lost.summary;
  } else if (!result_.checks[1].ok()) {
    result_.verdict = "FAIL: " + result_.checks[1].summary;
  } else if (!lin_ok) {
    result_.verdict = lin->verdict == CheckResult::Verdict::kFail
                          ? "FAIL: not linearizable: " + lin->summary
                          : "FAIL: linearizability could not be decided (raise the check's "
                            "limits with replicakv check): " +
                                lin->summary;
  } else if (!bound_ok) {
    result_.verdict =
        "FAIL: a bounded read was " + std::to_string(result_.stats.max_staleness_ns / kMs) +
        " ms stale, beyond the allowed " + std::to_string(allowed_staleness / kMs) + " ms";
  } else if (session_broken) {
    result_.verdict =
        "FAIL: session reads broke " + session_broken->name + ": " + session_broken->summary;
  } else {
    result_.verdict = "ok";
  }
  // Drop nodes before the engines they point into.
  for (auto& n : nodes_) n->replica.reset();
  return std::move(result_);
}

}  // namespace

SimResult RunSimulation(const SimConfig& config) {
  Simulation sim(config);
  return sim.Run();
}

}  // namespace rkv
