// How a core's persistent state sits in the engine: the hard state (term and
// vote) in the meta column family, log entries in the log column family keyed
// by big-endian index. Record layout:
//   [format=1][kind][varint term][varint origin][varint request_id][data]
#pragma once

#include <optional>
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

// Loads the hard state and every stored log entry, in index order (a gap is
// corruption). Leaves out->applied alone: the state machine owns it.
Status LoadCoreState(Engine* engine, CoreRecovery* out);

}  // namespace rkv
