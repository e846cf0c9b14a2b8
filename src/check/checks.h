// Checks over a history. Each returns a verdict a person can read, and the
// counts explore and the tests use.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "check/history.h"

namespace rkv {

struct CheckResult {
  std::string name;
  enum class Verdict { kOk, kFail, kUnknown } verdict = Verdict::kOk;
  std::string summary;               // one line
  std::vector<std::string> details;  // the few events that show a violation
  std::map<std::string, uint64_t> counts;
  bool ok() const { return verdict == Verdict::kOk; }
};

// Acknowledged appends whose token is missing from a replica's final value,
// counters whose final value is below the sum of acknowledged increments.
// counts: lost, recorded (lost ones found in rollback events), unrecorded,
// duplicated (a token appended once but present twice), acknowledged.
CheckResult CheckLostWrites(const History& h);
// Every replica's final value of every key is the same.
CheckResult CheckConvergence(const History& h);

struct LinearizableOptions;  // check/linearizable.h

inline constexpr const char* kCheckNames =
    "lost-writes, convergence, linearizable, read-your-writes, monotonic-reads, "
    "consistent-prefix, stale-reads";

// Runs the checks named in `names` (comma-separated; kCheckNames, the session
// ones from check/session.h). Unknown names are an error. `lin` tunes the
// linearizable check (defaults when null).
Result<std::vector<CheckResult>> RunChecks(const History& h, const std::string& names,
                                           const LinearizableOptions* lin = nullptr);
std::string_view VerdictName(CheckResult::Verdict v);
// The result of the check named `name`, or null when it did not run.
const CheckResult* FindCheck(const std::vector<CheckResult>& results, std::string_view name);

}  // namespace rkv
