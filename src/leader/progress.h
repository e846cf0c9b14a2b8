// What a leader knows about one follower: how much of the log it holds
// (match), what to send next, and whether to send optimistically.
//
//   probe:     one append in flight at a time; used after a rejection or a
//              restart until the follower's position is known
//   replicate: appends streamed back to back, at most `inflight_max` unacknowledged
//   snapshot:  the follower needs a snapshot (issue 5)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace rkv {

class Progress {
 public:
  enum class State : uint8_t { kProbe, kReplicate, kSnapshot };

  Progress() = default;
  Progress(uint64_t next, size_t inflight_max) : next_(next), inflight_max_(inflight_max) {}

  uint64_t match() const { return match_; }
  uint64_t next() const { return next_; }
  State state() const { return state_; }

  // An append covering up to `last` was sent.
  void Sent(uint64_t last, uint64_t now_ns);
  // The follower acknowledged everything up to `index`. False if stale.
  bool Acked(uint64_t index);
  // The follower rejected an append after `rejected`; it holds up to `hint`.
  // False if the rejection is stale.
  bool Rejected(uint64_t rejected, uint64_t hint);
  // Whether another append may go now.
  bool CanSend(uint64_t now_ns, uint64_t probe_interval_ns) const;
  bool paused() const;
  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot() {
    state_ = State::kSnapshot;
    inflight_.clear();
  }

  // Liveness, for check-quorum and /status.
  void Heard(uint64_t now_ns) {
    last_heard_ns_ = now_ns;
    recent_active_ = true;
  }
  uint64_t last_heard_ns() const { return last_heard_ns_; }
  bool recent_active() const { return recent_active_; }
  void ResetRecentActive() { recent_active_ = false; }

  // The highest read-index round this follower has answered.
  uint64_t read_ack = 0;
  // After a failed snapshot transfer, none is tried again before this time.
  uint64_t snapshot_retry_at_ns = 0;
  // The last snapshot it was sent (holds compaction until acknowledged).
  uint64_t snapshot_index = 0;
  // After a snapshot: its next entry is the one after the snapshot.
  void SkipTo(uint64_t next) { next_ = std::max(next_, next); }

 private:
  uint64_t match_ = 0;
  uint64_t next_ = 1;
  State state_ = State::kProbe;
  size_t inflight_max_ = 64;
  std::deque<uint64_t> inflight_;  // last index of each unacknowledged append (replicate)
  bool probe_sent_ = false;
  uint64_t probe_sent_ns_ = 0;
  uint64_t last_heard_ns_ = 0;
  bool recent_active_ = false;
};

}  // namespace rkv
