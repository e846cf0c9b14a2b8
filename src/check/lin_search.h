// Is one key's history linearizable? Wing & Gong's search with Lowe's
// just-in-time linearization and a cache of visited configurations (as
// Porcupine does), plus a shrinker that turns a failing history into a few
// operations a person can read. Internal to src/check.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "check/lin_history.h"

namespace rkv::lin {

struct Limits {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  uint64_t memory_bytes_max = uint64_t{1} << 30;
  // A budget that does not depend on the machine's speed, so that what a run
  // prints is a function of its input (the simulator's promise).
  uint64_t steps_max = UINT64_MAX;
};

// An operation of a KeyHistory to include; `relaxed` treats it as unknown
// (info): it may take effect at any time after its invocation, or never, and
// its reported result is ignored. Relaxing only ever admits more orders, so a
// relaxed history that fails proves the original fails too.
struct Choice {
  uint32_t op;
  bool relaxed = false;
};

struct SearchResult {
  enum class Verdict {
    kLinearizable,
    kNotLinearizable,
    kTimeLimit,
    kMemoryLimit,
    kStepLimit
  } verdict = Verdict::kLinearizable;
  // Not linearizable: the operation whose return the search came closest to
  // passing without being able to order it (index into KeyHistory::ops).
  uint32_t blocked_op = 0;
  // The operations the search used, after dropping unknown ones that cannot
  // matter (indices into KeyHistory::ops, with `relaxed` as given or set for
  // info operations).
  std::vector<Choice> used;
  uint64_t steps = 0;
  uint64_t configurations = 0;
  uint64_t unknown_dropped = 0;  // info operations proven irrelevant before the search
  uint64_t memory_bytes = 0;
};

// All operations of `k` when `selection` is null. Values seen by the search
// are interned into k.values.
SearchResult Search(KeyHistory& k, const std::vector<Choice>* selection, const Limits& limits);

// A small sub-history (relaxations of `k`, see Choice) that is still not
// linearizable, found within `limits`; `failed` is Search's result on all of k.
std::vector<Choice> Shrink(KeyHistory& k, const SearchResult& failed, const Limits& limits);

// For each choice: whether it is an append whose bytes occur in the value of
// some read in `sel` (for people: such appends explain what was read).
std::vector<bool> AppendsSeen(const KeyHistory& k, const std::vector<Choice>& sel);

}  // namespace rkv::lin
