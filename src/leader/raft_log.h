// The in-memory replication log. Entries are kept from first_index() to
// last_index(); everything before first_index() was compacted (issue 5) and is
// known only by the term of its last entry.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "core/replica_core.h"

namespace rkv {

class RaftLog {
 public:
  RaftLog() = default;
  // Starts after a compacted prefix ending at `snapshot`.
  explicit RaftLog(LogPosition snapshot) : snapshot_(snapshot) {}

  uint64_t first_index() const { return snapshot_.index + 1; }
  uint64_t last_index() const { return snapshot_.index + entries_.size(); }
  uint64_t last_term() const { return entries_.empty() ? snapshot_.term : entries_.back().term; }
  // Term of the entry at `index`; 0 when the index is past the end or
  // compacted beyond the snapshot.
  uint64_t term(uint64_t index) const;
  bool has(uint64_t index) const { return index >= first_index() && index <= last_index(); }
  const Entry& at(uint64_t index) const;

  // Appends an entry at last_index() + 1.
  void Append(Entry e);
  // Removes entries with index >= `index`.
  void TruncateFrom(uint64_t index);
  // Forgets entries with index <= `index` (they are in a snapshot now).
  void CompactTo(uint64_t index);
  size_t size() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  // Entries [from, to] (inclusive), at most max_count and max_bytes (always at
  // least one when the range is not empty).
  std::vector<Entry> Slice(uint64_t from, uint64_t to, size_t max_count, size_t max_bytes) const;
  // Whether a candidate's log (last_term, last_index) is at least as up to date.
  bool IsUpToDate(uint64_t last_term, uint64_t last_index) const {
    return last_term > this->last_term() ||
           (last_term == this->last_term() && last_index >= this->last_index());
  }
  // The last index of the entries in [lo, hi] whose term is <= `term`, used to
  // skip a follower's conflicting term in one step; lo - 1 when none.
  uint64_t LastIndexWithTermAtMost(uint64_t term, uint64_t lo, uint64_t hi) const;

 private:
  LogPosition snapshot_;
  std::deque<Entry> entries_;
  uint64_t bytes_ = 0;  // data bytes of entries_
};

}  // namespace rkv
