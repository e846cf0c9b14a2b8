// Reading a history without materializing it: each line becomes an EventView
// whose strings borrow the parser's buffers. ParseHistory builds Events from
// these; the linearizability checker consumes them directly, so a history of
// gigabytes is read in fixed memory. Internal to src/check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/history.h"
#include "core/status.h"

namespace rkv {

// One event, borrowed: valid only during the callback that receives it.
struct EventView {
  EventType type = EventType::kInvoke;
  OpType op = OpType::kNone;
  uint64_t client = 0;
  std::string_view key;
  std::optional<std::string_view> value;   // nullopt = null or absent
  std::optional<std::string_view> value2;  // cas: the new value
  std::optional<int64_t> result;
  uint64_t time = 0;
  uint64_t node = 0;
  std::string_view version;
  std::optional<uint64_t> session;
  uint64_t term = 0, index = 0;
  std::vector<std::string_view> command;
  uint64_t line = 0;  // 1-based line of the file (or event number)
};

// Parses one JSON object per line. Reusable; not thread-safe.
class EventLineParser {
 public:
  EventLineParser();
  ~EventLineParser();
  EventLineParser(const EventLineParser&) = delete;
  EventLineParser& operator=(const EventLineParser&) = delete;

  // `line` must be followed in memory by at least kPadding readable bytes
  // (the stream reader guarantees it). Errors name the line.
  Status Parse(std::string_view line, size_t capacity, uint64_t lineno, EventView* out);
  static constexpr size_t kPadding = 64;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Calls `fn` for each non-blank line of the file, in order, reading it in
// blocks (memory: one block plus the longest line). Stops at the first error.
Status StreamHistoryFile(const std::string& path,
                         const std::function<Status(const EventView&)>& fn);
// The same over text in memory.
Status StreamHistoryText(std::string_view text, const std::function<Status(const EventView&)>& fn);

// An Event's fields as a view (line = the given number).
void ViewOf(const Event& e, uint64_t line, EventView* out);

}  // namespace rkv
