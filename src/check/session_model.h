// A history as the session checks read it (internal to src/check): operations
// paired with their completions, which writes each read observed, and what the
// history proves about the order of writes. See src/check/README.md, "Session
// guarantees", for the rules and why each is sound.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "check/history.h"
#include "core/status.h"

namespace rkv::sess {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
// An operation that never returned, as an event position.
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// A log position "term.index" (the history's `version`).
struct Pos {
  uint64_t term = 0, index = 0;
  bool known = false;
};
// a < b, both known: in one log, positions grow with the log.
inline bool Before(const Pos& a, const Pos& b) {
  return a.known && b.known && (a.term != b.term ? a.term < b.term : a.index < b.index);
}
std::string PosString(const Pos& p);

enum class Outcome : uint8_t { kOk, kFail, kInfo };

struct Op {
  OpType type = OpType::kNone;
  Outcome outcome = Outcome::kInfo;  // open at the end counts as info
  uint32_t key = 0;
  uint32_t session = 0;
  uint64_t client = 0, node = 0;
  // read: the value read; write/append: the value; cas: expected (value2
  // new); incr: the delta.
  std::optional<std::string> value, value2;
  std::optional<int64_t> result;    // incr: the value after
  uint64_t call = 0, ret = kNever;  // positions in the history (its real-time order)
  uint64_t call_time = 0, ret_time = 0, call_line = 0, ret_line = 0;
  Pos pos;  // write: where it was appended; read: the state it was served from
  bool ok() const { return outcome == Outcome::kOk; }
  // Whether it may have changed its key: not failed, and not a read.
  bool IsWrite() const { return type != OpType::kRead && outcome != Outcome::kFail; }
};

struct Key {
  std::string name;
  bool has_writes = false;
  bool append_only = true;   // every write an append: a token, once in, stays
  bool counter_only = true;  // every write an incr of a positive delta: the value only grows
  bool spaced = true;        // every token is ' ' and bytes without ' ' (values split on ' ')
  // Which write a value names; kAmbiguous when several wrote it.
  std::unordered_map<std::string, uint32_t> writer;    // write and cas: value -> op
  std::unordered_map<std::string, uint32_t> appender;  // append: token -> op
  std::vector<uint32_t> by_pos;                        // writes with a version, by position
};
constexpr uint32_t kAmbiguous = kNone - 1;

// What one read saw, as writes. A counter's value names no write: after a
// rollback the same value may be reached again by other increments.
struct View {
  bool absent = false;
  uint32_t writer = kNone;       // the one write or cas whose value was read
  std::vector<uint32_t> tokens;  // appends the value holds, in its order (first occurrences)
  std::vector<size_t> token_at;  // byte offset of each in the value
  std::unordered_set<uint32_t> token_set;
  std::optional<int64_t> number;  // the value as an integer, on counter keys
  template <typename Fn>
  void ForEachObserved(Fn fn) const {
    if (writer != kNone) fn(writer);
    for (uint32_t t : tokens) fn(t);
  }
};

class Model {
 public:
  // Pairs each invocation with its completion (a client has one operation
  // open at a time). A malformed history is an error naming the line.
  Status Build(const History& h);

  const std::vector<Op>& ops() const { return ops_; }
  const Op& op(uint32_t i) const { return ops_[i]; }
  const Key& key(uint32_t i) const { return keys_[i]; }
  size_t key_count() const { return keys_.size(); }
  size_t session_count() const { return session_names_.size(); }
  // "client 3", or "session 7" when events carry a session.
  const std::string& SessionName(uint32_t s) const { return session_names_[s]; }
  // Operation ids in history order of `what`: an invocation (false) or a
  // completion (true) of each operation.
  struct Step {
    uint32_t op;
    bool completion;
  };
  const std::vector<Step>& steps() const { return steps_; }

  View Observe(uint32_t read) const;
  // a ≺ b: a comes before b in every log that holds both — both have versions
  // and a's is lower, or a was acknowledged before b was invoked.
  bool Precedes(uint32_t a, uint32_t b) const;
  // One line for a report, in the linearizable counterexamples' shape.
  std::string Line(uint32_t op) const;
  std::string Quote(const std::optional<std::string>& v) const;
  std::string Token(uint32_t append) const { return Quote(ops_[append].value); }
  // Whether a rollback event (a replica's record of entries it discarded)
  // holds this write (a write or append; an incr only by version): at its
  // version, or, without one, by the value it wrote — an argument of the
  // record's command, or, for a record without a command, its value (a
  // token in it, for an append).
  bool RolledBack(uint32_t write) const;
  // Whether a read's state held a write to its key that was later rolled
  // back: a rollback event on the key in the read's term at or below its
  // index (a log holding (t, i) holds every entry of term t before i).
  bool HeldRolledBack(uint32_t read) const;
  // Whether a read's state held a write its own session made after `missed`
  // (and before the read) that was later rolled back (same term, at or below
  // the read's index): the session's writes forked (under async an old and a
  // new leader each took one), and the read followed the later one onto the
  // branch that was then discarded. A write the session made after the one a
  // read held is no excuse: the read should have waited for it.
  bool HeldOwnLaterRolledBackWrite(uint32_t read, uint32_t missed) const;

 private:
  Status Invoke(const Event& e, uint64_t position, uint64_t line);
  Status Complete(const Event& e, uint64_t position, uint64_t line);
  void Index();

  std::vector<Op> ops_;
  std::vector<Key> keys_;
  std::unordered_map<std::string, uint32_t> key_ids_;
  std::unordered_map<uint64_t, uint32_t> open_;  // client -> its open operation
  std::unordered_map<uint64_t, uint32_t> client_sessions_, named_sessions_;
  std::vector<std::string> session_names_;
  std::vector<Step> steps_;
  struct RolledBackWrites {
    std::vector<std::string> arguments;                    // the commands' arguments after the key
    std::vector<std::string> values;                       // of records without a command
    std::vector<std::pair<uint64_t, uint64_t>> positions;  // (term, index)
  };
  std::set<std::pair<uint64_t, uint64_t>> rolled_back_at_;         // (term, index)
  std::unordered_map<std::string, RolledBackWrites> rolled_back_;  // by key
};

}  // namespace rkv::sess
