// The linearizability check (`replicakv check --checks linearizable`): every
// key is a register (read, write, cas, append, incr; CONTRACTS.md §6), and the
// history must have an order of its operations that respects real time and
// explains every value clients saw. Keys are independent
// (P-compositionality) and are checked in parallel.
#pragma once

#include <cstdint>
#include <string>

#include "check/checks.h"
#include "check/history.h"
#include "core/status.h"

namespace rkv {

// Search limits; a key that exceeds them is `unknown`, never `ok`.
constexpr uint64_t kLinTimeLimitMsDefault = 60'000;  // per key
constexpr uint64_t kLinMemoryLimitMbDefault = 1024;  // per key: configurations and values
// Per failing key, to find a small counterexample: whichever runs out first.
constexpr uint64_t kLinShrinkTimeLimitMsDefault = 10'000;
constexpr uint64_t kLinShrinkStepsDefault = 20'000'000;
constexpr size_t kLinCounterexamplesMax = 3;  // failing keys explained in detail

struct LinearizableOptions {
  uint64_t time_limit_ms = kLinTimeLimitMsDefault;
  uint64_t memory_limit_mb = kLinMemoryLimitMbDefault;
  uint64_t shrink_time_limit_ms = kLinShrinkTimeLimitMsDefault;
  // Search steps for shrinking: unlike time, the same on every machine, so a
  // caller that must print the same thing every run (the simulator) bounds
  // shrinking by steps alone. 0: no counterexample, only the verdict.
  uint64_t shrink_steps = kLinShrinkStepsDefault;
  unsigned threads = 0;  // 0: the hardware's concurrency
};

// counts: keys, ops (operations checked), ok, info, fail, keys_failed,
// keys_unknown, unknown_dropped (info operations proven irrelevant),
// configurations (search states explored). A malformed history (a completion
// nobody invoked, times out of order) is `unknown` with the reason.
CheckResult CheckLinearizable(const History& h, const LinearizableOptions& options = {});
// The same over a file, read in blocks rather than loaded as a History (for
// histories of gigabytes). Errors reading or parsing the file are returned.
Result<CheckResult> CheckLinearizableFile(const std::string& path,
                                          const LinearizableOptions& options = {});

}  // namespace rkv
