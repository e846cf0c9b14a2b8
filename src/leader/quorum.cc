#include "leader/quorum.h"

#include <algorithm>
#include <functional>

#include "core/assert.h"

namespace rkv {

std::string_view AcksPolicyName(AcksPolicy p) {
  switch (p) {
    case AcksPolicy::kAsync:
      return "async";
    case AcksPolicy::kOne:
      return "one";
    case AcksPolicy::kQuorum:
      return "quorum";
    case AcksPolicy::kAll:
      return "all";
  }
  return "?";
}

bool ParseAcksPolicy(std::string_view s, AcksPolicy* out) {
  for (AcksPolicy p : {AcksPolicy::kAsync, AcksPolicy::kOne, AcksPolicy::kQuorum, AcksPolicy::kAll})
    if (AcksPolicyName(p) == s) {
      *out = p;
      return true;
    }
  return false;
}

size_t Majority(size_t voters) { return voters / 2 + 1; }

uint64_t MajorityIndex(std::span<uint64_t> matches) {
  RKV_ASSERT(!matches.empty());
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[Majority(matches.size()) - 1];
}

uint64_t AckIndex(AcksPolicy policy, std::span<uint64_t> matches, uint64_t leader_match,
                  uint64_t commit) {
  switch (policy) {
    case AcksPolicy::kAsync:
      return leader_match;
    case AcksPolicy::kOne: {
      if (matches.size() < 2) return commit;
      std::sort(matches.begin(), matches.end(), std::greater<>());
      // The leader and at least one follower: the second largest match, but
      // never more than the leader itself holds.
      return std::min(matches[1], leader_match);
    }
    case AcksPolicy::kQuorum:
      return commit;
    case AcksPolicy::kAll: {
      uint64_t lowest = *std::min_element(matches.begin(), matches.end());
      return std::min(lowest, commit);
    }
  }
  return commit;
}

}  // namespace rkv
