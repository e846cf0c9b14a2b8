#include "leader/progress.h"

#include <algorithm>

namespace rkv {

void Progress::Sent(uint64_t last, uint64_t now_ns) {
  if (state_ == State::kReplicate) {
    if (last >= next_) {
      next_ = last + 1;
      inflight_.push_back(last);
    }
  } else {
    probe_sent_ = true;
    probe_sent_ns_ = now_ns;
  }
}

bool Progress::Acked(uint64_t index) {
  bool advanced = false;
  if (index > match_) {
    match_ = index;
    advanced = true;
  }
  next_ = std::max(next_, index + 1);
  while (!inflight_.empty() && inflight_.front() <= index) inflight_.pop_front();
  probe_sent_ = false;
  return advanced;
}

bool Progress::Rejected(uint64_t rejected, uint64_t hint) {
  if (state_ == State::kReplicate) {
    // Stale if it rejects something already known to match.
    if (rejected <= match_) return false;
    next_ = std::max(match_ + 1, std::min(rejected, hint + 1));
    BecomeProbe();
    return true;
  }
  if (next_ == 0 || rejected != next_ - 1) return false;  // stale probe answer
  next_ = std::max<uint64_t>(1, std::min(rejected, hint + 1));
  next_ = std::max(next_, match_ + 1);
  probe_sent_ = false;
  return true;
}

bool Progress::paused() const {
  switch (state_) {
    case State::kProbe:
      return probe_sent_;
    case State::kReplicate:
      return inflight_.size() >= inflight_max_;
    case State::kSnapshot:
      return true;
  }
  return true;
}

bool Progress::CanSend(uint64_t now_ns, uint64_t probe_interval_ns) const {
  if (state_ == State::kProbe && probe_sent_) return now_ns >= probe_sent_ns_ + probe_interval_ns;
  return !paused();
}

void Progress::BecomeProbe() {
  state_ = State::kProbe;
  inflight_.clear();
  probe_sent_ = false;
  next_ = std::max(next_, match_ + 1);
}

void Progress::BecomeReplicate() {
  state_ = State::kReplicate;
  inflight_.clear();
  next_ = match_ + 1;
}

}  // namespace rkv
