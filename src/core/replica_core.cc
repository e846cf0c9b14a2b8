#include "core/replica_core.h"

namespace rkv {

std::string_view MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kPreVote:
      return "PreVote";
    case MsgType::kPreVoteResp:
      return "PreVoteResp";
    case MsgType::kVote:
      return "Vote";
    case MsgType::kVoteResp:
      return "VoteResp";
    case MsgType::kAppend:
      return "Append";
    case MsgType::kAppendResp:
      return "AppendResp";
    case MsgType::kHeartbeat:
      return "Heartbeat";
    case MsgType::kHeartbeatResp:
      return "HeartbeatResp";
    case MsgType::kForward:
      return "Forward";
    case MsgType::kForwardResp:
      return "ForwardResp";
    case MsgType::kTimeoutNow:
      return "TimeoutNow";
    case MsgType::kReadIndex:
      return "ReadIndex";
    case MsgType::kReadIndexResp:
      return "ReadIndexResp";
    case MsgType::kJoin:
      return "Join";
  }
  return "Unknown";
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kStandalone:
      return "standalone";
    case Role::kLeader:
      return "leader";
    case Role::kFollower:
      return "follower";
    case Role::kCandidate:
      return "candidate";
    case Role::kLearner:
      return "learner";
  }
  return "unknown";
}

}  // namespace rkv
