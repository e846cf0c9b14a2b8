// A history cut into keys, each a list of operations on one register, as the
// linearizability search reads them. Internal to src/check.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "check/history.h"
#include "check/history_stream.h"
#include "check/lin_values.h"
#include "core/status.h"

namespace rkv::lin {

// The return position of an operation whose outcome is unknown: it may take
// effect at any time after its invocation, or never.
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

enum class Outcome : uint8_t {
  kOk,         // took effect between invocation and return, saw what it reports
  kInfo,       // unknown: may take effect at any time after invocation, or never
  kCasFailed,  // a cas that ran and found a value other than the expected one
};

struct Op {
  OpType type = OpType::kNone;
  Outcome outcome = Outcome::kOk;
  uint32_t a = 0;      // read: the value read; write: the value; cas: the expected value
  uint32_t b = 0;      // cas: the new value; incr with a result: the result's value
  uint32_t piece = 0;  // append: index into KeyHistory::pieces
  int64_t delta = 0;   // incr
  bool has_result = false;
  int64_t result = 0;               // incr: the value after
  uint64_t call = 0, ret = kNever;  // positions in the history's order
  uint64_t call_time = 0, ret_time = 0;
  uint64_t client = 0, node = 0;
  uint64_t call_line = 0, ret_line = 0;  // 0: none
  std::string version;
  bool dropped = false;  // builder only: carries no information (a failed write, an info read)
};

struct KeyHistory {
  std::string key;
  ValueTable values;
  std::vector<Op> ops;  // in invocation order
  std::vector<Piece> pieces;
  std::string piece_bytes;  // what `pieces` view
  std::vector<uint64_t> piece_at;
  uint64_t failed_dropped = 0, info_reads_dropped = 0;
};

struct BuildCounts {
  uint64_t events = 0, ops = 0, ok = 0, info = 0, fail = 0, open_at_end = 0;
};

// Pairs invocations with completions (a client has one operation open at a
// time) and files each operation under its key. Events must come in history
// order; errors name the line.
class HistoryBuilder {
 public:
  Status Add(const EventView& e);
  // Operations still open at the end count as unknown (info). Keys sorted by name.
  std::vector<std::unique_ptr<KeyHistory>> Finish();
  const BuildCounts& counts() const { return counts_; }

 private:
  struct KeyState {
    std::unique_ptr<KeyHistory> history;
    uint32_t last_read =
        ValueTable::kAbsent;  // the last value read, to intern the next one cheaply
    std::string last_read_bytes;
  };
  struct Open {
    uint32_t key;
    uint32_t op;
  };
  Status Invoke(const EventView& e);
  Status Complete(const EventView& e);
  uint32_t InternRead(KeyState& k, std::string_view s);

  std::unordered_map<std::string, uint32_t> key_index_;
  std::vector<KeyState> keys_;
  std::unordered_map<uint64_t, Open> open_;  // client -> its open operation
  uint64_t position_ = 0;
  uint64_t last_time_ = 0;
  uint64_t last_time_line_ = 0;
  BuildCounts counts_;
};

}  // namespace rkv::lin
