// How a core's persistent state sits in the engine: the hard state (term and
// vote) in the meta column family, log entries in the log column family keyed
// by big-endian index. Record layout:
//   [format=1][kind][varint term][varint origin][varint request_id][data]
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/replica_core.h"
#include "storage/engine.h"

namespace rkv {

std::string LogKey(uint64_t index);
void EncodeLogRecord(const Entry& e, std::string* out);
bool DecodeLogRecord(uint64_t index, std::string_view bytes, Entry* out);

// Adds the persistence part of a Ready (hard state, truncation, appends).
void AddLogWrites(const std::optional<HardState>& hard_state,
                  const std::optional<uint64_t>& truncate_from, const std::vector<Entry>& append,
                  WriteBatch* batch);
// Deletes log entries with index <= upto.
void AddLogCompaction(uint64_t upto, WriteBatch* batch);

// Which term each index of a node's log holds, kept past compaction: the
// first index of each term (the last kMax terms). A snapshot carries its
// sender's, so that a receiver can tell which of the entries it replaces the
// sender's history holds (the same index and term is the same entry, Raft's
// log matching) — those are in the snapshot's state, not rolled back.
// Stored in the meta family under kKey.
class TermStarts {
 public:
  static constexpr std::string_view kKey = "term_starts";
  static constexpr size_t kMax = 1024;

  // The log was cut from `truncate_from`, then `append` was added (either
  // may be empty). True when the starts changed (and must be stored).
  bool Observe(const std::optional<uint64_t>& truncate_from, const std::vector<Entry>& append);
  // The log now starts after `at` (a snapshot's position, or a loaded log's
  // start): what came before is forgotten unless it agrees.
  bool ObservePosition(const LogPosition& at);
  // The term at `index`, if known (an index before the first start is not).
  std::optional<uint64_t> TermAt(uint64_t index) const;
  std::string Encode() const;
  // False (and *out untouched) when the bytes are not a valid list.
  static bool Decode(std::string_view in, TermStarts* out);
  size_t size() const { return starts_.size(); }

 private:
  // Each true when the starts changed.
  bool CutFrom(uint64_t index);  // drops the starts at or after `index`
  bool Add(uint64_t index, uint64_t term);
  std::vector<std::pair<uint64_t, uint64_t>> starts_;  // (first index, term), both increasing
};

// Loads the hard state and every stored log entry, in index order (a gap is
// corruption). Leaves out->applied alone: the state machine owns it.
Status LoadCoreState(Engine* engine, CoreRecovery* out);

}  // namespace rkv
