// Membership changes of the single-leader core: one node at a time, through
// kConfig log entries that take effect when appended (Raft §4.1). A new node
// joins as a learner (it receives the log but neither votes nor counts for
// commit) and is promoted once it has caught up; removal is an admin request.
#include "core/assert.h"
#include "leader/leader_core.h"

namespace rkv {

void LeaderCore::RecomputeMembership() {
  Membership next = snapshot_config_;
  uint64_t at = 0;
  for (uint64_t i = log_.last_index(); i >= log_.first_index() && i > 0; --i) {
    const Entry& e = log_.at(i);
    if (e.kind != EntryKind::kConfig) continue;
    Membership m;
    if (Membership::Decode(e.data, &m)) {
      next = std::move(m);
      at = i;
    }
    break;
  }
  config_index_ = at;
  if (at != 0) membership_from_options_ = false;  // the log holds it now
  if (next == config_) return;
  config_ = std::move(next);
  ready_.membership = config_.Encode();
  SyncProgress();
}

void LeaderCore::SyncProgress() {
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();)
    it = config_.IsMember(it->first) || departing_.count(it->first) ? std::next(it)
                                                                    : progress_.erase(it);
  for (auto it = departing_.begin(); it != departing_.end();)
    it = config_.IsMember(it->first) ? departing_.erase(it) : std::next(it);
  for (const Member& m : config_.members()) {
    if (m.id == o_.id || progress_.count(m.id)) continue;
    Progress pr(log_.last_index() + 1, o_.inflight_appends_max);
    pr.Heard(now_);
    progress_.emplace(m.id, pr);
  }
}

void LeaderCore::ProposeMembership(Membership next, uint64_t request_id) {
  Entry e;
  e.kind = EntryKind::kConfig;
  e.origin = request_id ? o_.id : 0;
  e.request_id = request_id;
  e.data = next.Encode();
  if (request_id)
    writes_[request_id] = {now_ + o_.request_timeout_ns, log_.last_index() + 1, term_};
  AppendAsLeader(std::move(e));
  RecomputeMembership();
}

void LeaderCore::HandleJoin(const Message& m) {
  NodeId id = m.context;
  if (id == 0 || m.data.empty()) return;
  if (role_ != Role::kLeader) {
    if (leader_ != 0 && leader_ != o_.id && m.from != leader_) {
      Message fwd = m;
      fwd.to = leader_;
      fwd.term = term_;
      Send(std::move(fwd));
    }
    return;
  }
  // The joiner asks again until it hears from us: changes go one at a time.
  if (config_.IsMember(id) || MembershipChangePending() || !CommittedInCurrentTerm()) return;
  ProposeMembership(config_.WithLearner(id, m.data), 0);
}

void LeaderCore::MaybePromoteLearner() {
  if (role_ != Role::kLeader || MembershipChangePending() || !CommittedInCurrentTerm()) return;
  for (NodeId id : config_.Learners()) {
    auto it = progress_.find(id);
    if (it == progress_.end()) continue;
    const Progress& pr = it->second;
    // Caught up: it holds everything committed and answers.
    if (pr.match() >= commit_ && Connected(pr)) {
      ProposeMembership(config_.Promoted(id), 0);
      return;
    }
  }
}

void LeaderCore::NoteNonMemberCandidate(const Message& m) {
  if (m.from == o_.id) return;
  if (role_ == Role::kLeader) {
    AddDeparting(m.from);
  } else if (leader_ != 0 && leader_ != o_.id) {
    // Its members may not include the leader: tell the leader.
    Message fwd;
    fwd.type = MsgType::kPreVote;
    fwd.to = leader_;
    fwd.context = m.from;
    Send(std::move(fwd));
  }
}

bool LeaderCore::RemovedWithUnsettledLog() const {
  // Removed (its own log says so), with entries it does not know to be
  // committed and has not matched against a leader's log since: as a leader
  // under async it may have acknowledged some, and only the cluster knows
  // whether they survived. Nobody sends to a removed node, so it asks.
  return !config_.IsMember(o_.id) && commit_ < log_.last_index() && matched_ < log_.last_index();
}

void LeaderCore::AskForTheLogAsRemoved() {
  // A pre-vote, as from a removed node that still campaigns: the leader (or a
  // member, which forwards it) answers with the log through the removal, so
  // the entries it lacks are rolled back here and recorded. This node does
  // not campaign: it is not a voter, whatever the answers.
  for (NodeId v : config_.Voters()) {
    Message m;
    m.type = MsgType::kPreVote;
    m.to = v;
    m.term = term_ + 1;
    m.log_term = log_.last_term();
    m.index = log_.last_index();
    Send(std::move(m));
  }
}

void LeaderCore::AddDeparting(NodeId id) {
  if (role_ != Role::kLeader || id == o_.id || config_.IsMember(id) || progress_.count(id)) return;
  Progress pr(log_.last_index() + 1, o_.inflight_appends_max);
  pr.Heard(now_);
  progress_.emplace(id, pr);
  departing_[id] = log_.last_index();
  SendAppend(id, true);
}

void LeaderCore::RemoveMember(const Request& r) {
  NodeId id = std::strtoull(r.data.c_str(), nullptr, 10);
  if (role_ != Role::kLeader) {
    Fail(r.id,
         Status::TryAgain("membership changes go to the leader" +
                          (leader_ ? " (node " + std::to_string(leader_) + ")" : std::string())));
  } else if (!config_.IsMember(id)) {
    Fail(r.id, Status::Invalid("node " + r.data + " is not a member"));
  } else if (config_.IsVoter(id) && config_.voter_count() == 1) {
    Fail(r.id, Status::Invalid("node " + r.data + " is the last voter"));
  } else if (MembershipChangePending() || !CommittedInCurrentTerm()) {
    Fail(r.id, Status::TryAgain("another membership change is in progress; retry"));
  } else {
    ProposeMembership(config_.Without(id), r.id);
  }
}

}  // namespace rkv
