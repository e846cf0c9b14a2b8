// Majority and acknowledgement arithmetic, kept apart from the protocol so the
// rules of CONTRACTS.md §5 can be read and tested on their own.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace rkv {

enum class AcksPolicy : uint8_t {
  kAsync,   // acknowledged at the leader's own durable append
  kOne,     // ... and one voting follower's
  kQuorum,  // ... a majority of voters'
  kAll,     // ... every voter's
};

std::string_view AcksPolicyName(AcksPolicy p);
bool ParseAcksPolicy(std::string_view s, AcksPolicy* out);

// The largest index durable on a majority, given every voter's match index.
// Both functions reorder `matches` (the caller's scratch: no allocation).
uint64_t MajorityIndex(std::span<uint64_t> matches);
// The largest index the acks policy acknowledges, given every voter's match
// index (the leader's own included) and the majority commit. Under `all` it
// never passes the majority commit; under `quorum` it is the majority commit.
uint64_t AckIndex(AcksPolicy policy, std::span<uint64_t> matches, uint64_t leader_match,
                  uint64_t commit);
// Votes needed to win among `voters`.
size_t Majority(size_t voters);

}  // namespace rkv
