#include "leader/leader_core.h"

#include <algorithm>

#include "core/assert.h"

namespace rkv {

namespace {

// A safety invariant: asserted unless a mutation deliberately breaks it, in
// which case the simulator's checkers must notice the consequences instead.
#define SAFETY_ASSERT(cond)                    \
  do {                                         \
    if (!o_.mutations.any()) RKV_ASSERT(cond); \
  } while (0)

}  // namespace

LeaderCore::LeaderCore(const LeaderOptions& options, CoreRecovery recovery)
    : o_(options), rng_(options.seed ^ (options.id * 0x9e3779b97f4a7c15ULL)) {
  RKV_ASSERT(o_.id != 0);
  if (o_.membership.empty()) {
    std::vector<Member> members;
    for (NodeId v : o_.voters) members.push_back({v, "", true});
    o_.membership = Membership(std::move(members));
  }
  term_ = recovery.hard_state.term;
  vote_ = recovery.hard_state.vote;
  // The log starts after its last compacted entry (or after what the state
  // machine applied, when nothing of the log is left).
  LogPosition start = recovery.log_start;
  if (recovery.log.empty() && recovery.applied.index > start.index) start = recovery.applied;
  if (!recovery.log.empty() && recovery.log.front().index != start.index + 1)
    start = LogPosition{0, recovery.log.front().index - 1};
  log_ = RaftLog(start);
  for (Entry& e : recovery.log) log_.Append(std::move(e));
  // Membership: the log's latest config entry, else what the state machine
  // recorded, else the initial members (first start).
  membership_from_options_ = !Membership::Decode(recovery.membership, &snapshot_config_);
  if (membership_from_options_) snapshot_config_ = o_.membership;
  // A node started to join has no members to record: it learns them.
  if (o_.membership.empty()) membership_from_options_ = false;
  RecomputeMembership();
  ready_.membership.reset();
  if (config_index_ != 0) membership_from_options_ = false;
  stable_ = log_.last_index();
  applied_ = recovery.applied.index;
  RKV_ASSERT(applied_ <= log_.last_index());
  // A restarted node knows its compacted prefix is committed (compaction
  // stops at the commit), and so is the state it recovered: the engine holds
  // committed state only (Replica::FlushStoreWrites). It learns the rest of
  // the commit from the leader. Starting the commit there makes an append
  // below it a stale one, answered with where we are, never matched against
  // entries this log no longer holds (sim seed 114); and entries up to it are
  // never taken for replaced when a snapshot arrives (Replica::InstallSnapshot).
  commit_ = std::max(std::min(recovery.log_start.index, log_.first_index() - 1), applied_);
  role_ = Role::kFollower;
  ResetElectionTimer();
}

// ---------------------------------------------------------------- helpers

bool LeaderCore::IsVoter(NodeId id) const { return config_.IsVoter(id); }

void LeaderCore::SetTerm(uint64_t term) {
  if (term == term_) return;
  RKV_ASSERT(term > term_);
  term_ = term;
  vote_ = 0;
  hard_state_dirty_ = true;
}

void LeaderCore::ResetElectionTimer() {
  election_deadline_ = now_ + o_.election_timeout_ns + rng_.Below(o_.election_timeout_ns);
}

void LeaderCore::Send(Message m, bool after_persist) {
  m.from = o_.id;
  if (m.term == 0) m.term = term_;
  (after_persist ? ready_.messages_after_persist : ready_.messages).push_back(std::move(m));
}

void LeaderCore::Fail(uint64_t request_id, Status status) {
  ready_.failed.push_back({request_id, std::move(status)});
}

// ---------------------------------------------------------------- roles

void LeaderCore::BecomeFollower(uint64_t term, NodeId leader) {
  bool was_leader = role_ == Role::kLeader;
  if (term > term_) {
    SetTerm(term);
    matched_ = 0;
    leader_applied_ = 0;
  }
  if (leader != leader_) {
    matched_ = 0;
    leader_applied_ = 0;
  }
  role_ = Role::kFollower;
  pre_candidate_ = false;
  leader_ = leader;
  if (leader != 0) last_leader_contact_ = now_;
  ResetElectionTimer();
  ack_ = 0;  // only a leader acknowledges
  if (was_leader) {
    broadcast_pending_ = false;
    snapshot_pending_.clear();
    progress_.clear();
    departing_.clear();
    append_times_.clear();
    FailAllReads(Status::TryAgain("leadership lost before the read was confirmed"));
  }
}

void LeaderCore::Campaign() {
  if (role_ == Role::kLeader || !IsVoter(o_.id)) return;
  if (o_.pre_vote)
    BecomePreCandidate();
  else
    BecomeCandidate();
}

void LeaderCore::BecomePreCandidate() {
  role_ = Role::kCandidate;
  pre_candidate_ = true;
  leader_ = 0;
  votes_.clear();
  votes_[o_.id] = true;
  ResetElectionTimer();
  if (config_.voter_count() == 1) {
    BecomeCandidate();
    return;
  }
  RequestVotes();
}

void LeaderCore::RequestVotes() {
  vote_retry_at_ = now_ + o_.heartbeat_interval_ns;
  for (NodeId v : config_.Voters()) {
    if (v == o_.id || votes_.count(v)) continue;
    Message m;
    m.type = pre_candidate_ ? MsgType::kPreVote : MsgType::kVote;
    m.to = v;
    if (pre_candidate_) m.term = term_ + 1;  // the term it would campaign in; ours does not change
    m.log_term = log_.last_term();
    m.index = log_.last_index();
    Send(std::move(m),
         /*after_persist=*/!pre_candidate_);  // a vote request follows our own durable vote
  }
}

void LeaderCore::BecomeCandidate() {
  SetTerm(term_ + 1);
  vote_ = o_.id;
  hard_state_dirty_ = true;
  role_ = Role::kCandidate;
  pre_candidate_ = false;
  leader_ = 0;
  matched_ = 0;
  leader_applied_ = 0;
  votes_.clear();
  votes_[o_.id] = true;
  ResetElectionTimer();
  if (config_.voter_count() == 1) {
    BecomeLeader();
    return;
  }
  RequestVotes();
}

void LeaderCore::BecomeLeader() {
  role_ = Role::kLeader;
  pre_candidate_ = false;
  leader_ = o_.id;
  progress_.clear();
  departing_.clear();
  // forwarded_ is kept: a copy of a write forwarded to this node in an
  // earlier term it led may still arrive (AppendedBefore).
  SyncProgress();  // every other member, with a grace period before check-quorum judges it
  ack_ = commit_;
  term_start_index_ = log_.last_index() + 1;  // the entry appended below
  last_leader_contact_ = now_;
  heartbeat_deadline_ = now_ + o_.heartbeat_interval_ns;
  check_quorum_deadline_ = now_ + o_.election_timeout_ns;
  // Commit everything before it by committing an entry of our own term. On a
  // cluster's first start, that entry records the initial membership.
  if (membership_from_options_) {
    membership_from_options_ = false;
    ProposeMembership(config_, 0);
  } else {
    Entry noop;
    noop.kind = EntryKind::kNoop;
    AppendAsLeader(std::move(noop));
  }
}

// ---------------------------------------------------------------- inputs

void LeaderCore::Tick(uint64_t now_ns) {
  if (now_ns > now_) now_ = now_ns;
  if (role_ == Role::kLeader) {
    if (now_ >= heartbeat_deadline_) {
      heartbeat_deadline_ = now_ + o_.heartbeat_interval_ns;
      BroadcastHeartbeat(0);
    }
    if (o_.check_quorum && now_ >= check_quorum_deadline_) {
      check_quorum_deadline_ = now_ + o_.election_timeout_ns;
      CheckQuorum();
    }
    // A departing node that went quiet is forgotten; if it asks for votes
    // again, it is told the log again.
    for (auto it = departing_.begin(); it != departing_.end();) {
      auto pr = progress_.find(it->first);
      if (pr == progress_.end() ||
          now_ > pr->second.last_heard_ns() + 10 * o_.election_timeout_ns) {
        if (pr != progress_.end()) progress_.erase(pr);
        snapshot_pending_.erase(it->first);
        it = departing_.erase(it);
      } else {
        ++it;
      }
    }
    if (role_ == Role::kLeader)
      for (auto& [id, pr] : progress_) SendAppends(id);
  } else if (now_ >= election_deadline_ && IsVoter(o_.id)) {
    Campaign();
  } else if (now_ >= election_deadline_ && RemovedWithUnsettledLog()) {
    ResetElectionTimer();
    AskForTheLogAsRemoved();
  } else if (role_ == Role::kCandidate && now_ >= vote_retry_at_) {
    // Ask again the voters that have not answered: a request may be lost, or
    // ignored by a voter whose lease on the old leader had not run out yet.
    // Asking is harmless (a pre-vote changes nothing; a vote is given once).
    RequestVotes();
  }
  ExpireRequests();
}

void LeaderCore::Step(const Message& m) {
  if (m.type == MsgType::kJoin) {  // from a node with no term yet
    HandleJoin(m);
    return;
  }
  if (m.type == MsgType::kPreVote && m.context != 0) {  // a non-member candidate, forwarded
    if (role_ == Role::kLeader) AddDeparting(m.context);
    return;
  }
  if ((m.type == MsgType::kPreVote || m.type == MsgType::kVote) && !config_.IsMember(m.from))
    NoteNonMemberCandidate(m);
  // A departing node never deposes the leader that tells it the log.
  if (m.term > term_ && departing_.count(m.from)) return;
  // Terms first (Raft §5.1), with pre-vote's exceptions.
  if (m.term > term_) {
    bool vote_request = m.type == MsgType::kPreVote || m.type == MsgType::kVote;
    // While we hear from a leader (or are one; check-quorum demotes a leader
    // that cannot reach a majority), a disruptive candidate is ignored.
    bool in_lease =
        leader_ == o_.id || (leader_ != 0 && now_ < last_leader_contact_ + o_.election_timeout_ns);
    if (vote_request && o_.check_quorum && in_lease) return;
    if (m.type == MsgType::kPreVote) {
      // Answer without changing our term.
    } else if (m.type == MsgType::kPreVoteResp && !m.reject) {
      // A granted pre-vote carries the proposed term; nothing to adopt.
    } else {
      bool from_leader = m.type == MsgType::kAppend || m.type == MsgType::kHeartbeat;
      BecomeFollower(m.term, from_leader ? m.from : 0);
    }
  } else if (m.term < term_) {
    if (m.type == MsgType::kAppend || m.type == MsgType::kHeartbeat) {
      // A stale leader: tell it our term so it steps down.
      Message r;
      r.type = MsgType::kAppendResp;
      r.to = m.from;
      r.reject = true;
      Send(std::move(r));
    } else if (m.type == MsgType::kPreVote || m.type == MsgType::kVote) {
      Message r;
      r.type = m.type == MsgType::kPreVote ? MsgType::kPreVoteResp : MsgType::kVoteResp;
      r.to = m.from;
      r.reject = true;
      Send(std::move(r));
    } else if (m.type == MsgType::kForward && !AppendedBefore(m)) {
      Message r;
      r.type = MsgType::kForwardResp;
      r.to = m.from;
      r.reject = true;
      r.context = m.context;
      Send(std::move(r));
    }
    return;  // every other stale message is dropped
  }

  switch (m.type) {
    case MsgType::kPreVote:
    case MsgType::kVote:
      HandleVoteRequest(m);
      break;
    case MsgType::kPreVoteResp:
    case MsgType::kVoteResp:
      HandleVoteResponse(m);
      break;
    case MsgType::kAppend:
      HandleAppend(m);
      break;
    case MsgType::kAppendResp:
      HandleAppendResponse(m);
      break;
    case MsgType::kHeartbeat:
      HandleHeartbeat(m);
      break;
    case MsgType::kHeartbeatResp:
      HandleHeartbeatResponse(m);
      break;
    case MsgType::kForward:
      HandleForward(m);
      break;
    case MsgType::kForwardResp:
      HandleForwardResponse(m);
      break;
    case MsgType::kReadIndex:
      HandleReadIndex(m);
      break;
    case MsgType::kReadIndexResp:
      HandleReadIndexResponse(m);
      break;
    case MsgType::kJoin:  // handled above
      break;
    case MsgType::kTimeoutNow:
      if (m.from == leader_) BecomeCandidate();
      break;
  }
}

void LeaderCore::Propose(Request r) {
  uint64_t deadline = now_ + o_.request_timeout_ns;
  if (r.kind == RequestKind::kRemoveMember) {
    RemoveMember(r);
    return;
  }
  if (r.kind == RequestKind::kRead) {
    if (role_ == Role::kLeader) {
      unsent_reads_.emplace_back(r.id, deadline);
      if (o_.mutations.read_without_quorum || config_.voter_count() == 1) StartReadRound();
    } else if (leader_ != 0) {
      forwarded_reads_[r.id] = deadline;
      Message m;
      m.type = MsgType::kReadIndex;
      m.to = leader_;
      m.context = r.id;
      Send(std::move(m));
    } else {
      Fail(r.id, Status::TryAgain("no leader is known; retry the read"));
    }
    return;
  }
  Entry e;
  e.kind = r.barrier ? EntryKind::kBarrier : EntryKind::kCommand;
  e.origin = o_.id;
  e.request_id = r.id;
  e.data = std::move(r.data);
  if (role_ == Role::kLeader) {
    if (o_.acks == AcksPolicy::kAll) {
      for (const auto& [id, pr] : progress_) {
        if (config_.IsMember(id) && !Connected(pr)) {
          Fail(r.id, Status::TryAgain("acks=all and node " + std::to_string(id) +
                                      " is not connected; the write was not applied"));
          return;
        }
      }
    }
    writes_[r.id] = {deadline, log_.last_index() + 1, term_};
    AppendAsLeader(std::move(e));
  } else if (leader_ != 0) {
    writes_[r.id] = {deadline, 0, 0};
    Message m;
    m.type = MsgType::kForward;
    m.to = leader_;
    m.context = r.id;
    m.entries.push_back(std::move(e));
    Send(std::move(m));
  } else {
    Fail(r.id, Status::TryAgain("no leader is known (an election is under way); the write was "
                                "not applied"));
  }
}

void LeaderCore::Persisted(LogPosition pos) {
  RKV_ASSERT(!persisting_.empty());
  auto [seq, advertised] = persisting_.front();
  persisting_.pop_front();
  RKV_ASSERT(advertised == pos);
  // Entries at or after a truncation issued after this write are not what
  // this write put on disk.
  uint64_t limit = pos.index;
  for (const auto& [tseq, tindex] : truncations_)
    if (tseq > seq) limit = std::min(limit, tindex - 1);
  truncations_.erase(std::remove_if(truncations_.begin(), truncations_.end(),
                                    [seq](const auto& t) { return t.first <= seq; }),
                     truncations_.end());
  limit = std::min(limit, log_.last_index());
  if (limit > stable_) stable_ = limit;
  if (role_ == Role::kLeader) {
    MaybeCommit();
  } else {
    MaybeApply();
  }
}

// ---------------------------------------------------------------- elections

void LeaderCore::HandleVoteRequest(const Message& m) {
  bool pre = m.type == MsgType::kPreVote;
  bool log_ok = o_.mutations.vote_without_log_check || log_.IsUpToDate(m.log_term, m.index);
  // A real vote is granted once per term; a pre-vote promises nothing.
  bool can_vote = pre ? (m.term > term_ || (vote_ == 0 && leader_ == 0) || vote_ == m.from)
                      : (vote_ == 0 || vote_ == m.from);
  // A node votes even if its own log does not (yet) list it as a voter: it may
  // have been promoted by an entry it has not received (Raft §4.1).
  bool grant = can_vote && log_ok;
  Message r;
  r.type = pre ? MsgType::kPreVoteResp : MsgType::kVoteResp;
  r.to = m.from;
  r.reject = !grant;
  r.term = grant && pre ? m.term : term_;
  if (grant && !pre) {
    vote_ = m.from;
    hard_state_dirty_ = true;
    ResetElectionTimer();
  }
  Send(std::move(r), /*after_persist=*/!pre);
}

void LeaderCore::HandleVoteResponse(const Message& m) {
  if (role_ != Role::kCandidate) return;
  bool pre = m.type == MsgType::kPreVoteResp;
  if (pre != pre_candidate_) return;
  if (!IsVoter(m.from)) return;
  votes_.emplace(m.from, !m.reject);
  size_t granted = 0, rejected = 0;
  for (const auto& [id, g] : votes_) (g ? granted : rejected) += 1;
  size_t need = Majority(config_.voter_count());
  if (granted >= need) {
    if (pre)
      BecomeCandidate();
    else
      BecomeLeader();
  } else if (rejected >= need) {
    BecomeFollower(term_, 0);
  }
}

// ---------------------------------------------------------------- the log

void LeaderCore::AppendToLog(Entry e) {
  bool config = e.kind == EntryKind::kConfig;
  ready_.append.push_back(e);
  ready_.sync = ready_.sync || o_.sync;
  log_.Append(std::move(e));
  if (config) RecomputeMembership();  // a configuration takes effect when appended
}

void LeaderCore::Truncate(uint64_t from) {
  SAFETY_ASSERT(from > commit_);
  // Applies still in this Ready (a driver that batches a turn's inputs into
  // one Ready) were never made: from `from` on they are void, and only what
  // the driver applied before this Ready needs undoing. Queued applies start
  // right after that position, or after an earlier rollback's.
  auto& apply = ready_.apply;
  const uint64_t driver_applied = apply.empty() ? applied_ : apply.front().entry.index - 1;
  for (auto it = apply.begin(); it != apply.end();) {
    if (it->entry.index < from) {
      ++it;
      continue;
    }
    if (it->request_id != 0)
      Fail(it->request_id, Status::Timeout("the entry was replaced before it was applied; the "
                                           "write may or may not take effect"));
    it = apply.erase(it);
  }
  if (from <= driver_applied) {
    // Applied entries the leader's log does not have: undo them (they were
    // acknowledged under async/one and are now rolled back, recorded).
    uint64_t to = from - 1;
    if (!ready_.rollback_to || to < ready_.rollback_to->index)
      ready_.rollback_to = LogPosition{log_.term(to), to};
  }
  applied_ = std::min(applied_, from - 1);
  // Entries handed to the driver before (persisting or durable) are recorded;
  // ones still in this Ready were never written anywhere.
  uint64_t unsubmitted =
      ready_.append.empty() ? log_.last_index() + 1 : ready_.append.front().index;
  for (uint64_t i = from; i <= log_.last_index() && i < unsubmitted; ++i)
    if (log_.at(i).kind == EntryKind::kCommand || log_.at(i).kind == EntryKind::kBarrier)
      ready_.discarded.push_back(log_.at(i));
  bool config = config_index_ >= from;
  log_.TruncateFrom(from);
  if (config) RecomputeMembership();
  stable_ = std::min(stable_, from - 1);
  matched_ = std::min(matched_, from - 1);
  // Unsubmitted appends at or after `from` are void; the rest of the durable
  // log is cut by truncate_from.
  auto& app = ready_.append;
  app.erase(
      std::remove_if(app.begin(), app.end(), [from](const Entry& e) { return e.index >= from; }),
      app.end());
  ready_.truncate_from = ready_.truncate_from ? std::min(*ready_.truncate_from, from) : from;
  ready_truncates_ = true;
}

void LeaderCore::AppendAsLeader(Entry e) {
  e.term = term_;
  e.index = log_.last_index() + 1;
  append_times_.emplace_back(e.index, now_);
  if (append_times_.size() > 100000) append_times_.pop_front();
  AppendToLog(std::move(e));
  broadcast_pending_ = true;  // sent once per Ready, however many entries arrive
  if (o_.mutations.ack_before_quorum) MaybeCommit();
}

// ---------------------------------------------------------------- replication (leader)

bool LeaderCore::SendAppend(NodeId to, bool even_if_empty) {
  Progress& pr = progress_.at(to);
  if (!pr.CanSend(now_, o_.heartbeat_interval_ns)) return false;
  uint64_t prev = pr.next() - 1;
  if (prev + 1 < log_.first_index()) {
    // Its next entry was compacted away: it needs a snapshot (of committed
    // state only: see TakeReady), unless one just failed or it is gone (its
    // heartbeat answer, once it is back, brings it here again).
    if (now_ < pr.snapshot_retry_at_ns || !Connected(pr)) return false;
    pr.BecomeSnapshot();
    snapshot_pending_.insert(to);
    return false;
  }
  std::vector<Entry> entries =
      log_.Slice(pr.next(), log_.last_index(), o_.entries_per_append_max, o_.bytes_per_append_max);
  if (entries.empty() && !even_if_empty) return false;
  Message m;
  m.type = MsgType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = log_.term(prev);
  m.commit = commit_;
  m.applied = ack_;
  uint64_t last = entries.empty() ? prev : entries.back().index;
  m.entries = std::move(entries);
  pr.Sent(last, now_);
  Send(std::move(m));
  return true;
}

void LeaderCore::SendAppends(NodeId to) {
  // In replicate state appends stream until the window is full.
  for (int i = 0; i < 1024 && progress_.at(to).next() <= log_.last_index(); ++i)
    if (!SendAppend(to, false)) break;
}

void LeaderCore::BroadcastHeartbeat(uint64_t context) {
  for (auto& [id, pr] : progress_) {
    Message m;
    m.type = MsgType::kHeartbeat;
    m.to = id;
    m.index = std::min(pr.match(), log_.last_index());
    m.commit = std::min(commit_, pr.match());
    m.applied = std::min(ack_, pr.match());
    m.context = context;
    // The last entry sent before this heartbeat, echoed in the response: a
    // follower that answers with less lost appends. Without it, appends sent
    // after the heartbeat looked lost under load, and every heartbeat
    // response sent the follower back to probing and re-sending its window
    // (callgrind, acks=async, 50 clients: each entry encoded ~6 times).
    m.reject_hint = pr.next() - 1;
    Send(std::move(m));
  }
  commit_sent_ = commit_;
  ack_sent_ = ack_;
}

void LeaderCore::HandleAppendResponse(const Message& m) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.Heard(now_);
  if (m.reject) {
    if (m.index == 0 && m.reject_hint == 0 && m.log_term == 0) return;  // a stale-term answer
    // Skip the follower's conflicting term in one step (etcd's findConflictByTerm).
    uint64_t hint = m.reject_hint;
    if (m.log_term != 0 && hint >= log_.first_index())
      hint = log_.LastIndexWithTermAtMost(m.log_term, log_.first_index(), hint);
    if (pr.Rejected(m.index, hint)) SendAppend(m.from, true);
    return;
  }
  bool advanced = pr.Acked(m.index);
  if (pr.state() == Progress::State::kProbe) pr.BecomeReplicate();
  auto dep = departing_.find(m.from);
  if (dep != departing_.end() && pr.match() >= dep->second) {
    // It holds our log through its removal: its divergent entries are rolled
    // back, and it no longer counts itself a member.
    departing_.erase(dep);
    progress_.erase(it);
    return;
  }
  if (advanced) MaybeCommit();
  if (role_ == Role::kLeader) SendAppends(m.from);
}

void LeaderCore::HandleHeartbeatResponse(const Message& m) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.Heard(now_);
  if (m.context > pr.read_ack) {
    pr.read_ack = m.context;
    ConfirmReadRounds();
  }
  // The follower holds up to m.index: if appends sent before the heartbeat
  // (up to the echoed m.reject_hint) were lost, probe again from what it has.
  // Appends sent after the heartbeat may simply still be on their way.
  if (pr.match() < log_.last_index()) {
    if (pr.state() == Progress::State::kReplicate && m.index < m.reject_hint &&
        m.index + 1 < pr.next() && m.index >= pr.match()) {
      pr.BecomeProbe();
    }
    // Nothing new to send: an empty append makes it acknowledge what it holds
    // (an earlier acknowledgement may have been lost).
    if (!SendAppend(m.from, false)) SendAppend(m.from, true);
  }
}

std::span<uint64_t> LeaderCore::VoterMatches() const {
  matches_scratch_.clear();
  if (IsVoter(o_.id)) matches_scratch_.push_back(stable_);
  for (const auto& [id, pr] : progress_)
    if (IsVoter(id)) matches_scratch_.push_back(pr.match());
  return matches_scratch_;
}

uint64_t LeaderCore::LeaderAckIndex() const {
  std::span<uint64_t> matches = VoterMatches();
  if (matches.empty()) return commit_;
  uint64_t ack = AckIndex(o_.acks, matches, stable_, commit_);
  // `one` counts the leader and one follower: safe only for entries of the
  // current term (Raft §5.4.2); older ones wait for the majority commit.
  if (o_.acks == AcksPolicy::kOne && ack > commit_ && log_.term(ack) != term_) ack = commit_;
  if (o_.mutations.ack_before_quorum) ack = std::max(ack, stable_);
  return ack;
}

void LeaderCore::MaybeCommit() {
  if (role_ != Role::kLeader) return;
  // A leader that removed itself still leads until that change commits, but
  // no longer counts itself (Raft §4.2.2).
  std::span<uint64_t> matches = VoterMatches();
  if (matches.empty()) return;
  uint64_t n = MajorityIndex(matches);
  if (n > commit_ && log_.term(n) == term_) {
    commit_ = n;
    ready_.committed = commit_;
  }
  if (!config_.IsMember(o_.id) && config_index_ <= commit_) {
    BecomeFollower(term_, 0);  // removed, and the removal is committed: step aside
    return;
  }
  ack_ = std::max(ack_, LeaderAckIndex());
  MaybeApply();
  if (!unsent_reads_.empty() && ReadsAllowed()) StartReadRound();
}

void LeaderCore::CheckQuorum() {
  size_t active = 1;  // ourselves
  for (auto& [id, pr] : progress_) {
    if (IsVoter(id) && pr.recent_active()) ++active;
    pr.ResetRecentActive();
  }
  if (!IsVoter(o_.id)) --active;
  if (active < Majority(config_.voter_count())) BecomeFollower(term_, 0);
}

// ---------------------------------------------------------------- replication (follower)

void LeaderCore::HandleAppend(const Message& m) {
  if (role_ != Role::kFollower || leader_ != m.from) BecomeFollower(term_, m.from);
  last_leader_contact_ = now_;
  ResetElectionTimer();
  Message r;
  r.type = MsgType::kAppendResp;
  r.to = m.from;
  if (m.index < commit_) {
    // Already committed here: tell the leader where we are.
    r.index = commit_;
    Send(std::move(r), true);
    return;
  }
  bool prev_ok = m.index <= log_.last_index() &&
                 (log_.term(m.index) == m.log_term || o_.mutations.skip_consistency_check);
  if (!prev_ok) {
    r.reject = true;
    r.index = m.index;
    uint64_t hint = std::min(m.index, log_.last_index());
    if (hint >= log_.first_index() && hint > commit_)
      hint = std::max(commit_, log_.LastIndexWithTermAtMost(m.log_term, commit_ + 1, hint));
    r.reject_hint = hint;
    r.log_term = log_.term(hint);
    Send(std::move(r));
    return;
  }
  for (const Entry& e : m.entries) {
    if (e.index <= log_.last_index()) {
      if (log_.term(e.index) == e.term) continue;
      Truncate(e.index);
    }
    if (e.index == log_.last_index() + 1) AppendToLog(e);
  }
  uint64_t last_new = m.index + m.entries.size();
  matched_ = std::max(matched_, std::min(last_new, log_.last_index()));
  uint64_t new_commit = std::min(m.commit, last_new);
  if (new_commit > commit_) {
    commit_ = new_commit;
    ready_.committed = commit_;
  }
  leader_applied_ = std::max(leader_applied_, m.applied);
  r.index = last_new;
  Send(std::move(r), /*after_persist=*/true);  // acknowledge only what is durable
  MaybeApply();
}

void LeaderCore::HandleHeartbeat(const Message& m) {
  if (role_ != Role::kFollower || leader_ != m.from) BecomeFollower(term_, m.from);
  last_leader_contact_ = now_;
  ResetElectionTimer();
  // The leader sends only what it knows we match (its progress for us).
  matched_ = std::max(matched_, std::min(m.index, log_.last_index()));
  uint64_t new_commit = std::min(m.commit, matched_);
  if (new_commit > commit_) {
    commit_ = new_commit;
    ready_.committed = commit_;
  }
  leader_applied_ = std::max(leader_applied_, m.applied);
  Message r;
  r.type = MsgType::kHeartbeatResp;
  r.to = m.from;
  r.context = m.context;
  r.index = log_.last_index();
  r.log_term = log_.last_term();
  r.reject_hint = m.reject_hint;  // echoed: what the leader had sent before the heartbeat
  Send(std::move(r));
  MaybeApply();
}

// ---------------------------------------------------------------- forwarding

bool LeaderCore::AppendedBefore(const Message& forward) const {
  if (forward.entries.empty()) return false;
  auto seen = forwarded_.find({forward.entries[0].origin, forward.entries[0].request_id});
  return seen != forwarded_.end() && seen->second == 0;
}

void LeaderCore::HandleForward(const Message& m) {
  Message r;
  r.type = MsgType::kForwardResp;
  r.to = m.from;
  r.context = m.context;
  if (role_ != Role::kLeader) {
    // Final: this node cannot lead again in this term, and a copy of the
    // message arriving in a later term is refused as stale — unless this
    // node led earlier and appended a first copy (a duplicated message): that
    // write may be committed, and the first answer stands (if it was lost,
    // the sender times out and reports the outcome unknown).
    if (AppendedBefore(m)) return;
    r.reject = true;
    Send(std::move(r));
    return;
  }
  // A duplicated message gets the first copy's verdict: appending a write
  // whose first copy was refused would apply a write reported as not applied.
  if (!m.entries.empty()) {
    auto seen = forwarded_.find({m.entries[0].origin, m.entries[0].request_id});
    if (seen != forwarded_.end()) {
      if (seen->second != 0) {  // refused: refuse again
        r.reject = true;
        r.reject_hint = seen->second;
        Send(std::move(r));
      }
      return;  // appended: the first answer stands (if lost, the sender times out)
    }
  }
  NodeId missing = 0;
  if (o_.acks == AcksPolicy::kAll) {
    for (const auto& [id, pr] : progress_)
      if (config_.IsMember(id) && !Connected(pr)) missing = id;
  }
  auto remember = [this](const Entry& e, NodeId verdict) {
    forwarded_.emplace(std::make_pair(e.origin, e.request_id), verdict);
    forwarded_order_.push_back({e.origin, e.request_id});
    if (forwarded_order_.size() > kForwardedRemembered) {
      forwarded_.erase(forwarded_order_.front());
      forwarded_order_.pop_front();
    }
  };
  if (missing != 0) {
    for (const Entry& e : m.entries) remember(e, missing);
    r.reject = true;
    r.reject_hint = missing;
    Send(std::move(r));
    return;
  }
  r.index = log_.last_index() + 1;
  r.log_term = term_;
  Send(std::move(r));
  for (const Entry& e : m.entries) {
    remember(e, 0);
    Entry copy = e;
    AppendAsLeader(std::move(copy));
  }
}

void LeaderCore::HandleForwardResponse(const Message& m) {
  auto it = writes_.find(m.context);
  if (it == writes_.end()) return;
  if (m.reject) {
    Fail(m.context,
         Status::TryAgain(m.reject_hint != 0
                              ? "acks=all and node " + std::to_string(m.reject_hint) +
                                    " is not connected; the write was not applied"
                              : "the node it was forwarded to is not the leader; not applied"));
    writes_.erase(it);
    return;
  }
  it->second.index = m.index;
  it->second.term = m.log_term;
}

// ---------------------------------------------------------------- reads

void LeaderCore::StartReadRound() {
  if (unsent_reads_.empty() && unsent_remote_reads_.empty()) return;
  if (!ReadsAllowed() && !o_.mutations.read_without_quorum) return;  // wait for it
  ReadRound round;
  round.context = ++read_context_;
  round.position = {log_.term(ack_), ack_};
  for (auto& [id, deadline] : unsent_reads_) round.local.push_back(id);
  round.remote = std::move(unsent_remote_reads_);
  unsent_reads_.clear();
  unsent_remote_reads_.clear();
  read_rounds_.push_back(std::move(round));
  if (o_.mutations.read_without_quorum || config_.voter_count() == 1) {
    ConfirmReadRounds();
  } else {
    BroadcastHeartbeat(read_context_);
  }
}

void LeaderCore::ConfirmReadRounds() {
  while (!read_rounds_.empty()) {
    ReadRound& round = read_rounds_.front();
    size_t acks = 1;
    for (const auto& [id, pr] : progress_)
      if (IsVoter(id) && pr.read_ack >= round.context) ++acks;
    bool confirmed = o_.mutations.read_without_quorum || acks >= Majority(config_.voter_count());
    if (!confirmed) return;
    for (uint64_t id : round.local)
      reads_waiting_apply_.push_back({round.position, id, now_ + o_.request_timeout_ns});
    for (auto& [node, id] : round.remote) {
      Message r;
      r.type = MsgType::kReadIndexResp;
      r.to = node;
      r.context = id;
      r.index = round.position.index;
      r.log_term = round.position.term;
      Send(std::move(r));
    }
    read_rounds_.pop_front();
  }
  ServeReads();
}

void LeaderCore::HandleReadIndex(const Message& m) {
  if (role_ != Role::kLeader) {
    Message r;
    r.type = MsgType::kReadIndexResp;
    r.to = m.from;
    r.context = m.context;
    r.reject = true;
    Send(std::move(r));
    return;
  }
  unsent_remote_reads_.emplace_back(m.from, m.context);
}

void LeaderCore::HandleReadIndexResponse(const Message& m) {
  auto it = forwarded_reads_.find(m.context);
  if (it == forwarded_reads_.end()) return;
  uint64_t deadline = it->second;
  forwarded_reads_.erase(it);
  if (m.reject) {
    Fail(m.context, Status::TryAgain("the leader changed before the read was confirmed"));
    return;
  }
  reads_waiting_apply_.push_back({{m.log_term, m.index}, m.context, deadline});
  ServeReads();
}

void LeaderCore::ServeReads() {
  auto& w = reads_waiting_apply_;
  auto ready_end = std::stable_partition(
      w.begin(), w.end(), [this](const ReadWait& r) { return Holds(r.position, applied_); });
  for (auto it = w.begin(); it != ready_end; ++it) ready_.reads.push_back(it->request_id);
  w.erase(w.begin(), ready_end);
}

bool LeaderCore::Holds(LogPosition want, uint64_t applied) const {
  // Up to the majority commit, every replica's log is the same.
  uint64_t c = std::min(applied, commit_);
  if (want.index <= c) return true;
  if (want.term == 0) return false;  // no term known: wait for the commit
  // Past a committed entry of a later term, no log will hold `want`'s
  // entries again: what of its prefix survives is committed, and held.
  if (log_.term(c) > want.term) return true;
  // Same term at the same index: the same prefix (log matching). A position
  // alone is not enough: under async a follower may have applied entries of
  // an older leader that this leader's log lacks (they will be rolled back),
  // or of a newer leader that are rolled back in turn, while `want`'s
  // entries are committed.
  return applied >= want.index && log_.has(want.index) && log_.term(want.index) == want.term;
}

void LeaderCore::FailAllReads(const Status& why) {
  for (auto& [id, deadline] : unsent_reads_) Fail(id, why);
  unsent_reads_.clear();
  for (ReadRound& round : read_rounds_) {
    for (uint64_t id : round.local) Fail(id, why);
    for (auto& [node, id] : round.remote) {
      Message r;
      r.type = MsgType::kReadIndexResp;
      r.to = node;
      r.context = id;
      r.reject = true;
      Send(std::move(r));
    }
  }
  read_rounds_.clear();
  for (auto& [node, id] : unsent_remote_reads_) {
    Message r;
    r.type = MsgType::kReadIndexResp;
    r.to = node;
    r.context = id;
    r.reject = true;
    Send(std::move(r));
  }
  unsent_remote_reads_.clear();
}

// ---------------------------------------------------------------- applying

void LeaderCore::MaybeApply() {
  uint64_t limit;
  if (role_ == Role::kLeader) {
    limit = ack_;
  } else if (o_.mutations.apply_before_commit) {
    limit = log_.last_index();
  } else {
    // Followers apply what the leader acknowledged, on the prefix known to
    // match its log: applied = acknowledged on every replica.
    limit = std::min(leader_applied_, matched_);
  }
  limit = std::min(limit, stable_);
  while (applied_ < limit) {
    const Entry& e = log_.at(applied_ + 1);
    if (e.kind == EntryKind::kBarrier && e.index > commit_) break;
    applied_ = e.index;
    ApplyItem item;
    item.entry = e;
    item.speculative = e.index > commit_;
    if (e.origin == o_.id && e.request_id != 0) {
      auto it = writes_.find(e.request_id);
      if (it != writes_.end()) {
        item.request_id = e.request_id;
        writes_.erase(it);
      }
    }
    ready_.apply.push_back(std::move(item));
  }
  // Writes whose index now holds another entry for good.
  for (auto it = writes_.begin(); it != writes_.end();) {
    const PendingWrite& p = it->second;
    if (p.index != 0 && p.index <= commit_ && p.index <= applied_ && log_.has(p.index) &&
        log_.term(p.index) != p.term) {
      Fail(it->first, Status::TryAgain("a new leader's entry took its place in the log; the "
                                       "write was not applied"));
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  ServeReads();
}

void LeaderCore::ExpireRequests() {
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (now_ >= it->second.deadline_ns) {
      Fail(it->first, Status::Timeout("not acknowledged within the request timeout; the write may "
                                      "still take effect"));
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = forwarded_reads_.begin(); it != forwarded_reads_.end();) {
    if (now_ >= it->second) {
      Fail(it->first, Status::TryAgain("the leader did not confirm the read in time"));
      it = forwarded_reads_.erase(it);
    } else {
      ++it;
    }
  }
  auto& w = reads_waiting_apply_;
  for (auto it = w.begin(); it != w.end();) {
    if (now_ >= it->deadline_ns) {
      Fail(it->request_id, Status::TryAgain("the read index was not applied in time"));
      it = w.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = unsent_reads_.begin(); it != unsent_reads_.end();) {
    if (now_ >= it->second) {
      Fail(it->first, Status::TryAgain("the leader could not confirm the read in time"));
      it = unsent_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---------------------------------------------------------------- output

bool LeaderCore::HasReady() const {
  if (CompactionTarget() != 0) return true;
  return hard_state_dirty_ || !ready_.empty() || broadcast_pending_ || !snapshot_pending_.empty() ||
         (role_ == Role::kLeader && (!unsent_reads_.empty() || !unsent_remote_reads_.empty()) &&
          ReadsAllowed()) ||
         (role_ == Role::kLeader && (commit_ != commit_sent_ || ack_ != ack_sent_));
}

Ready LeaderCore::TakeReady() {
  MaybeCompact();
  if (role_ == Role::kLeader) {
    MaybePromoteLearner();
    // A snapshot holds committed state only (its receiver treats it as
    // committed): the driver pins its engine, which never holds speculative
    // state (Replica::FlushStoreWrites), so the pin is at or below the commit
    // even while the applied state runs ahead of it under async.
    if (!snapshot_pending_.empty()) {
      for (NodeId id : snapshot_pending_) ready_.send_snapshot_to.push_back(id);
      snapshot_pending_.clear();
    }
    if (broadcast_pending_) {
      broadcast_pending_ = false;
      for (auto& [id, pr] : progress_) SendAppends(id);
    }
    StartReadRound();
    // Followers learn a new commit or acknowledged index without waiting for
    // the next heartbeat, so their applied state keeps up.
    if (commit_ != commit_sent_ || ack_ != ack_sent_) {
      commit_sent_ = commit_;
      ack_sent_ = ack_;
      for (auto& [id, pr] : progress_)
        if (pr.state() == Progress::State::kReplicate && !pr.paused()) SendAppend(id, true);
    }
  }
  if (hard_state_dirty_) {
    ready_.hard_state = HardState{term_, vote_};
    ready_.sync = true;  // votes and terms are always synced
    hard_state_dirty_ = false;
  }
  if (!ready_.append.empty() || ready_truncates_) {
    ++persist_seq_;
    if (ready_truncates_ && ready_.truncate_from)
      truncations_.emplace_back(persist_seq_, *ready_.truncate_from);
    if (!ready_.append.empty())
      persisting_.emplace_back(persist_seq_,
                               LogPosition{ready_.append.back().term, ready_.append.back().index});
    ready_truncates_ = false;
  }
  std::sort(ready_.discarded.begin(), ready_.discarded.end(),
            [](const Entry& a, const Entry& b) { return a.index < b.index; });
  Ready r = std::move(ready_);
  ready_ = Ready{};
  return r;
}

std::string LeaderCore::DebugString() const {
  std::string s = "node " + std::to_string(o_.id) + " " + std::string(RoleName(role_)) +
                  (pre_candidate_ ? "(pre)" : "") + " term " + std::to_string(term_) + " vote " +
                  std::to_string(vote_) + " leader " + std::to_string(leader_) + " last " +
                  std::to_string(log_.last_index()) + "/" + std::to_string(log_.last_term()) +
                  " stable " + std::to_string(stable_) + " commit " + std::to_string(commit_) +
                  " ack " + std::to_string(ack_) + " applied " + std::to_string(applied_) +
                  " matched " + std::to_string(matched_) + " leader_applied " +
                  std::to_string(leader_applied_) + " persisting " +
                  std::to_string(persisting_.size()) + " members " + config_.ToString() + " (at " +
                  std::to_string(config_index_) + ")";
  for (const auto& [id, pr] : progress_) {
    s += " | " + std::to_string(id) + ": match " + std::to_string(pr.match()) + " next " +
         std::to_string(pr.next()) + " " +
         (pr.state() == Progress::State::kProbe       ? "probe"
          : pr.state() == Progress::State::kReplicate ? "replicate"
                                                      : "snapshot") +
         (pr.paused() ? " paused" : "");
  }
  return s;
}

CoreStatus LeaderCore::GetStatus() const {
  CoreStatus s;
  s.role = role_;
  s.term = term_;
  s.leader_id = leader_;
  s.last_index = log_.last_index();
  s.commit_index = commit_;
  s.applied_index = applied_;
  s.membership = config_.Encode();
  s.log_first_index = log_.first_index();
  s.removed_awaiting_log = RemovedWithUnsettledLog();
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : progress_) {
      if (!config_.IsMember(id)) continue;  // departing
      FollowerStatus f;
      f.id = id;
      f.voter = IsVoter(id);
      f.match_index = pr.match();
      f.lag_entries = log_.last_index() - std::min(pr.match(), log_.last_index());
      // How long ago the oldest entry it lacks was appended.
      if (f.lag_entries > 0) {
        auto it = std::lower_bound(append_times_.begin(), append_times_.end(),
                                   std::make_pair(pr.match() + 1, uint64_t{0}));
        if (it != append_times_.end()) f.lag_ms = static_cast<double>(now_ - it->second) / 1e6;
      }
      f.last_ack_age_ms = static_cast<double>(now_ - pr.last_heard_ns()) / 1e6;
      if (!Connected(pr))
        f.state = "down";
      else if (pr.state() == Progress::State::kProbe)
        f.state = "probe";
      else if (pr.state() == Progress::State::kSnapshot)
        f.state = "snapshot";
      else
        f.state = "online";
      s.followers.push_back(std::move(f));
    }
  }
  return s;
}

}  // namespace rkv
