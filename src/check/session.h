// Session guarantees and stale reads (`replicakv check --checks
// read-your-writes,monotonic-reads,consistent-prefix,stale-reads`). A session
// is a client, unless events carry a `session` field (CONTRACTS.md §6). Each
// check names the reads that break it with the few operations that prove it;
// src/check/README.md ("Session guarantees") defines them exactly.
#pragma once

#include <string>
#include <vector>

#include "check/checks.h"
#include "check/history.h"

namespace rkv {

// Which of the checks to run; results come back in this order.
struct SessionChecks {
  bool read_your_writes = false;
  bool monotonic_reads = false;
  bool consistent_prefix = false;
  bool stale_reads = false;
};

// One pass over the history for all the requested checks. counts of each:
// reads (ok reads checked), sessions, violations (reads that break it), and
// for consistent-prefix also gaps (a read holding a later write without an
// earlier one) and going_back (a read of one key from before a write the
// session saw on another). rolled_back: of the violations, those whose missed
// write a rollback event holds — reported all the same, since the promises
// hold only for writes not rolled back (CONTRACTS.md §5). A malformed history
// makes each `unknown`.
std::vector<CheckResult> CheckSessions(const History& h, const SessionChecks& which);

}  // namespace rkv
