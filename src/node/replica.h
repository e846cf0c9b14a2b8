// One replica: a core plus the applied state, driven by a host.
// Not thread-safe: every call, and every callback the host makes, happens on
// the driver's one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/replica_core.h"
#include "kv/kv_store.h"
#include "kv/reply.h"
#include "storage/engine.h"

namespace rkv {

struct RequestOutcome {
  enum class Kind : uint8_t { kApplied, kReadReady, kFailed };
  Kind kind = Kind::kApplied;
  std::vector<Reply> replies;  // kApplied: one per command of the entry
  LogPosition position;        // kApplied: the entry's log position
  Status status;               // kFailed
};

// A divergent entry that was applied and then undone (single leader, async).
struct RolledBackWrite {
  Entry entry;
};

class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  // Writes `batch` (synced when `sync`). Writes complete in submission order;
  // `done` runs later on the driver thread.
  virtual void SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) = 0;
  virtual void Send(Message m) = 0;
  virtual void OnOutcome(uint64_t request_id, RequestOutcome outcome) = 0;
  // A storage write failed: the replica cannot continue safely.
  virtual void OnFatal(const Status& status) = 0;
};

class Replica {
 public:
  // `engine` and `host` outlive the replica. The core is built from what the
  // engine holds (see storage/log_store.h) by `make_core`.
  using CoreFactory = std::function<std::unique_ptr<ReplicaCore>(CoreRecovery)>;
  static Result<std::unique_ptr<Replica>> Open(ReplicaHost* host, Engine* engine,
                                               const CoreFactory& make_core);

  void Tick(uint64_t now_ns);
  void Step(const Message& m);
  void Propose(Request r);

  KvStore& store() { return store_; }
  CoreStatus status() const { return core_->GetStatus(); }
  uint64_t storage_writes_in_flight() const { return writes_in_flight_; }

 private:
  Replica(ReplicaHost* host, Engine* engine) : host_(host), engine_(engine), store_(engine) {}
  void Drain();
  void Process(Ready rd);
  void FlushStoreWrites(const std::optional<uint64_t>& compact_upto);

  ReplicaHost* host_;
  Engine* engine_;
  KvStore store_;
  std::unique_ptr<ReplicaCore> core_;
  bool draining_ = false;
  uint64_t log_first_index_ = 1;  // no stored log entry is below this
  uint64_t writes_in_flight_ = 0;
  std::vector<Reply> replies_scratch_;
};

}  // namespace rkv
