// A history of client operations (CONTRACTS.md §6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace rkv {

enum class EventType : uint8_t { kInvoke, kOk, kFail, kInfo, kFinal, kRollback };
enum class OpType : uint8_t { kRead, kWrite, kCas, kAppend, kIncr, kNone };

std::string_view EventTypeName(EventType t);
std::string_view OpTypeName(OpType t);

struct Event {
  EventType type = EventType::kInvoke;
  OpType op = OpType::kNone;
  uint64_t client = 0;
  std::string key;
  // read: the value read (nullopt = absent); write/append: the value; incr:
  // the delta; cas: the expected value, with `value2` the new one.
  std::optional<std::string> value;
  std::optional<std::string> value2;
  std::optional<int64_t> result;  // incr: the value after
  uint64_t time = 0;              // ns; absent on final events
  uint64_t node = 0;
  std::string version;  // "term.index", optional
  std::optional<uint64_t> session;
  // kRollback only: the log position of the rolled-back write and its command.
  uint64_t term = 0, index = 0;
  std::vector<std::string> command;
};

struct History {
  std::vector<Event> events;
  // Optional: the line of the file each event came from (ReadHistory,
  // ParseHistory and the Jepsen reader fill it), so reports cite the file.
  std::vector<uint64_t> lines;
};

// One JSON object per line. Errors name the line.
Result<History> ReadHistory(const std::string& path);
Result<History> ParseHistory(std::string_view text);
std::string FormatEvent(const Event& e);

}  // namespace rkv
