#include "standalone/standalone_core.h"

#include "core/assert.h"

namespace rkv {

StandaloneCore::StandaloneCore(const Options& options, CoreRecovery recovery) : options_(options) {
  if (recovery.hard_state.term != kTerm) {
    ready_.hard_state = HardState{kTerm, 0};
    ready_.sync = options_.sync;
  }
  applied_index_ = recovery.applied.index;
  last_index_ = applied_index_;
  // Entries that were durable but not applied before a restart.
  for (Entry& e : recovery.log) {
    if (e.index <= applied_index_) continue;
    RKV_ASSERT(e.index == last_index_ + 1);
    last_index_ = e.index;
    applied_index_ = e.index;
    ready_.apply.push_back({std::move(e), 0});
  }
  if (applied_index_ > 0) ready_.compact_to = LogPosition{kTerm, applied_index_};
}

void StandaloneCore::Propose(Request r) {
  if (r.kind == RequestKind::kRead) {
    ready_.reads.push_back(r.id);
    return;
  }
  Entry e;
  e.term = kTerm;
  e.index = ++last_index_;
  e.kind = r.barrier ? EntryKind::kBarrier : EntryKind::kCommand;
  e.request_id = r.id;
  e.data = std::move(r.data);
  waiting_.emplace(e.index, r.id);
  ready_.append.push_back(e);
  ready_.sync = ready_.sync || options_.sync;
  unapplied_.push_back(std::move(e));
}

void StandaloneCore::Persisted(LogPosition pos) {
  while (!unapplied_.empty() && unapplied_.front().index <= pos.index) {
    Entry e = std::move(unapplied_.front());
    unapplied_.pop_front();
    uint64_t id = 0;
    if (auto it = waiting_.find(e.index); it != waiting_.end()) {
      id = it->second;
      waiting_.erase(it);
    }
    applied_index_ = e.index;
    ready_.apply.push_back({std::move(e), id});
  }
  ready_.compact_to = LogPosition{kTerm, applied_index_};
}

Ready StandaloneCore::TakeReady() {
  Ready r = std::move(ready_);
  ready_ = Ready{};
  return r;
}

CoreStatus StandaloneCore::GetStatus() const {
  CoreStatus s;
  s.role = Role::kStandalone;
  s.term = kTerm;
  s.leader_id = 0;
  s.last_index = last_index_;
  s.commit_index = applied_index_;
  s.applied_index = applied_index_;
  return s;
}

}  // namespace rkv
