// One replica: a core plus the applied state, driven by a host.
// Not thread-safe: every call, and every callback the host makes, happens on
// the driver's one thread.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/replica_core.h"
#include "kv/kv_store.h"
#include "kv/reply.h"
#include "storage/engine.h"
#include "storage/log_store.h"

namespace rkv {

struct RequestOutcome {
  enum class Kind : uint8_t { kApplied, kReadReady, kFailed };
  Kind kind = Kind::kApplied;
  std::vector<Reply> replies;  // kApplied: one per command of the entry
  LogPosition position;        // kApplied: the entry's log position
  Status status;               // kFailed
};

// One key change of a client write this node's log held but the new leader's
// log does not: the divergent entries of CONTRACTS §5, written to
// DATA_DIR/rollback/rollback-TERM-FIRSTINDEX.jsonl. Under async (and one with
// 4+ voters) some were acknowledged; under quorum/all none ever was.
struct RollbackRecord {
  std::string key;
  // Applied here: the value the write left (none for a delete). Not applied:
  // the command's value argument (SET's value, APPEND's suffix, INCRBY's delta).
  std::optional<std::string> value;
  std::vector<std::string> command;  // the command that wrote the key
  bool applied = false;              // applied here, and now undone
  uint64_t term = 0;
  uint64_t index = 0;
  uint64_t time_ms = 0;  // when it was applied here (0: never applied)
  NodeId origin = 0;
  uint64_t request_id = 0;
};

struct RollbackBatch {
  uint64_t term = 0;             // of the first rolled-back entry
  uint64_t first_index = 0;      // its index
  uint64_t entries = 0;          // client writes (log entries) rolled back
  uint64_t applied_entries = 0;  // of which were applied here and undone
  // Client write commands in those entries (the server proposes a turn's
  // writes as one entry; a MULTI/EXEC block counts each of its commands).
  uint64_t commands = 0;
  std::vector<RollbackRecord> records;
};

class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  // Writes `batch` (synced when `sync`). Writes complete in submission order;
  // `done` runs later on the driver thread.
  virtual void SubmitWrite(WriteBatch batch, bool sync,
                           std::function<void(const Status&)> done) = 0;
  virtual void Send(Message m) = 0;
  virtual void OnOutcome(uint64_t request_id, RequestOutcome outcome) = 0;
  // Records rolled-back writes durably before the state forgets them.
  virtual Status RecordRollback(const RollbackBatch& batch) = 0;
  // Wall-clock milliseconds, for rollback records.
  virtual uint64_t WallClockMs() = 0;
  // A storage write failed: the replica cannot continue safely.
  virtual void OnFatal(const Status& status) = 0;

  // Single leader. Runs `task` after every write submitted before it and
  // before any submitted after (the storage order); `done` runs on the driver
  // thread.
  virtual void SubmitTask(std::function<Status()> task,
                          std::function<void(const Status&)> done) = 0;
  // Export the pinned state and stream it to `to`; call Replica::SnapshotDone.
  virtual void SendSnapshot(NodeId to, uint64_t term, std::shared_ptr<const void> pin) = 0;
  // The membership changed (encoded leader/membership.h).
  virtual void OnMembership(const std::string& encoded) = 0;
  // The applied state moved forward (entries applied, or a snapshot installed),
  // or the majority commit did.
  virtual void OnApplied() {}
  // Runs `drain` later on the driver thread, after the inputs that are ready
  // now (an event loop's turn), and returns true; false: the replica drains at
  // once. Deferring turns many proposals and messages into one Ready: one
  // storage write and one append message per follower for all of them.
  virtual bool DeferDrain(std::function<void()> drain) {
    (void)drain;
    return false;
  }
};

class Replica {
 public:
  // `engine` and `host` outlive the replica. The core is built from what the
  // engine holds (see storage/log_store.h) by `make_core`.
  using CoreFactory = std::function<std::unique_ptr<ReplicaCore>(CoreRecovery)>;
  static Result<std::unique_ptr<Replica>> Open(ReplicaHost* host, Engine* engine,
                                               const CoreFactory& make_core);

  void Tick(uint64_t now_ns);
  void AdvanceClock(uint64_t now_ns) { core_->AdvanceClock(now_ns); }
  void Step(const Message& m);
  void Propose(Request r);

  // Snapshots: the host finished (or failed) sending one; the host received
  // one whole (it takes the image's files).
  void SnapshotDone(NodeId to, bool ok, uint64_t index);
  void InstallSnapshot(NodeId from, uint64_t term, SnapshotImage image);
  // The meta keys a snapshot carries: the state's, and the log's term starts.
  static std::vector<std::string> SnapshotMetaKeys();
  bool installing_snapshot() const { return installing_; }

  KvStore& store() { return store_; }
  CoreStatus status() const { return core_->GetStatus(); }
  Role role() const { return core_->role(); }
  NodeId leader() const { return core_->leader(); }
  ReplicaCore& core() { return *core_; }
  uint64_t storage_writes_in_flight() const { return writes_in_flight_; }
  // Client writes rolled back at failover since the data directory was created.
  uint64_t rolled_back_writes() const { return rolled_back_writes_; }

 private:
  struct UndoRecord {
    uint64_t term = 0;
    uint64_t time_ms = 0;
    NodeId origin = 0;
    uint64_t request_id = 0;
    std::string data;  // the entry's commands
    std::vector<KvStore::UndoItem> items;
    // A config entry: the membership the store held before it.
    std::optional<std::string> prior_membership;
  };
  // The state's writes since the previous batch, waiting for the majority
  // commit to reach the position they leave the state at.
  struct HeldWrites {
    WriteBatch batch;
    uint64_t seq = 0;
    uint64_t applied_index = 0;
  };
  static bool DecodeUndo(std::string_view bytes, UndoRecord* r);

  Replica(ReplicaHost* host, Engine* engine) : host_(host), engine_(engine), store_(engine) {}
  Status UndoLegacySpeculativeState(const CoreRecovery& recovery);
  void Drain();
  // Drain now, or once at the end of the host's turn (ReplicaHost::DeferDrain).
  void RequestDrain();
  void Process(Ready rd);
  void RollBack(const std::optional<LogPosition>& to, const std::vector<Entry>& discarded);
  void Apply(ApplyItem& item);
  // The store's writes so far, held back until the majority commit covers them.
  void HoldWrites();
  void FlushStoreWrites(const std::optional<LogPosition>& compact_to);
  void RecordReplaced(const std::vector<Entry>& entries);
  void FinishInstall(NodeId from, uint64_t term, const SnapshotMeta& meta, TermStarts starts,
                     const Status& s);

  ReplicaHost* host_;
  Engine* engine_;
  KvStore store_;
  std::unique_ptr<ReplicaCore> core_;
  bool draining_ = false;
  bool drain_deferred_ = false;  // a deferred Drain is scheduled
  bool installing_ = false;      // a snapshot is being imported: inputs wait
  uint64_t writes_in_flight_ = 0;
  uint64_t log_first_index_ = 1;  // no stored log entry is below this
  uint64_t rolled_back_writes_ = 0;
  TermStarts term_starts_;               // of this node's log, stored with it
  std::map<uint64_t, UndoRecord> undo_;  // by index: applied, not yet majority-committed
  std::deque<HeldWrites> held_writes_;
  uint64_t commit_index_ = 0;   // the majority commit, as far as this node knows
  uint64_t flushed_index_ = 0;  // the state the engine holds (or is writing) is at this index
  std::optional<LogPosition> pending_compaction_;  // waits for the state to be written
  bool rolled_back_count_dirty_ = false;
  std::vector<Reply> replies_scratch_;
};

}  // namespace rkv
