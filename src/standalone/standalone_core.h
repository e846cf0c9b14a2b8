// The trivial core: one node, no peers. A write is appended to the log and
// applied once durable; reads are served at once from the applied state.
// It exercises the whole driver contract (persist → Persisted → apply) that the
// replicated cores use.
#pragma once

#include <deque>
#include <map>

#include "core/replica_core.h"

namespace rkv {

class StandaloneCore final : public ReplicaCore {
 public:
  struct Options {
    bool sync = true;  // --durability fsync
  };
  StandaloneCore(const Options& options, CoreRecovery recovery);

  void Tick(uint64_t now_ns) override { now_ns_ = now_ns; }
  void Step(const Message&) override {}
  void Propose(Request r) override;
  void Persisted(LogPosition pos) override;
  bool HasReady() const override { return !ready_.empty(); }
  Ready TakeReady() override;
  CoreStatus GetStatus() const override;
  Role role() const override { return Role::kStandalone; }
  NodeId leader() const override { return 0; }

 private:
  static constexpr uint64_t kTerm = 1;
  Options options_;
  uint64_t now_ns_ = 0;
  uint64_t last_index_ = 0;
  uint64_t applied_index_ = 0;
  std::deque<Entry> unapplied_;           // appended, waiting to be durable
  std::map<uint64_t, uint64_t> waiting_;  // index -> request id
  Ready ready_;
};

}  // namespace rkv
