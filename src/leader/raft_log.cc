#include "leader/raft_log.h"

#include <algorithm>

#include "core/assert.h"

namespace rkv {

uint64_t RaftLog::term(uint64_t index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (!has(index)) return 0;
  return entries_[index - first_index()].term;
}

const Entry& RaftLog::at(uint64_t index) const {
  RKV_ASSERT(has(index));
  return entries_[index - first_index()];
}

void RaftLog::Append(Entry e) {
  RKV_ASSERT(e.index == last_index() + 1);
  RKV_ASSERT(e.term >= last_term());
  bytes_ += e.data.size();
  entries_.push_back(std::move(e));
}

void RaftLog::TruncateFrom(uint64_t index) {
  RKV_ASSERT(index > snapshot_.index);
  while (last_index() >= index && !entries_.empty()) {
    bytes_ -= entries_.back().data.size();
    entries_.pop_back();
  }
}

void RaftLog::CompactTo(uint64_t index) {
  if (index <= snapshot_.index) return;
  RKV_ASSERT(index <= last_index());
  uint64_t t = term(index);
  while (!entries_.empty() && entries_.front().index <= index) {
    bytes_ -= entries_.front().data.size();
    entries_.pop_front();
  }
  snapshot_ = LogPosition{t, index};
}

std::vector<Entry> RaftLog::Slice(uint64_t from, uint64_t to, size_t max_count,
                                  size_t max_bytes) const {
  std::vector<Entry> out;
  if (from < first_index() || from > last_index()) return out;
  out.reserve(std::min<uint64_t>({max_count, to - from + 1, last_index() - from + 1}));
  size_t bytes = 0;
  for (uint64_t i = from; i <= to && i <= last_index(); ++i) {
    const Entry& e = entries_[i - first_index()];
    if (!out.empty() && (out.size() >= max_count || bytes + e.data.size() > max_bytes)) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

uint64_t RaftLog::LastIndexWithTermAtMost(uint64_t term, uint64_t lo, uint64_t hi) const {
  for (uint64_t i = std::min(hi, last_index()); i >= lo && i >= first_index(); --i) {
    if (entries_[i - first_index()].term <= term) return i;
    if (i == 0) break;
  }
  return lo - 1;
}

}  // namespace rkv
