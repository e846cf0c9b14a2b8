// The single-leader core: Raft (elections with pre-vote and check-quorum, log
// replication with per-follower flow control) plus what CONTRACTS.md §5 adds:
// the acks policy (async / one / quorum / all) that decides when a write is
// acknowledged and applied, kept apart from the majority commit that drives
// elections and read-index; rollback of applied entries a new leader's log
// does not have; forwarding of writes and reads from followers.
//
// Invariants asserted here (unless a mutation is on): never two leaders in one
// term as seen by this node's votes; a majority-committed entry is never
// truncated; applied entries above the commit are undone, not forgotten.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/replica_core.h"
#include "leader/membership.h"
#include "leader/mutations.h"
#include "leader/progress.h"
#include "leader/quorum.h"
#include "leader/raft_log.h"

namespace rkv {

struct LeaderOptions {
  NodeId id = 0;
  // The initial members (first start only; afterwards the log and snapshots
  // hold the membership). `voters` is a shorthand without addresses.
  Membership membership;
  std::vector<NodeId> voters;
  AcksPolicy acks = AcksPolicy::kQuorum;
  bool sync = true;                           // --durability fsync
  uint64_t election_timeout_ns = 1000000000;  // randomized in [T, 2T)
  uint64_t heartbeat_interval_ns = 100000000;
  uint64_t request_timeout_ns = 5000000000;
  uint64_t seed = 1;  // election jitter
  size_t entries_per_append_max = 256;
  size_t bytes_per_append_max = 1 << 20;
  size_t inflight_appends_max = 64;
  bool pre_vote = true;
  bool check_quorum = true;
  // Log compaction: when the log holds more entries or bytes than this, it is
  // cut up to the applied and majority-committed index, but not past what a
  // connected follower still needs — unless that follower lags more than
  // snapshot_lag_entries (it then gets a snapshot). log_keep_entries recent
  // entries stay for slight lags.
  uint64_t log_compact_entries = 100000;
  uint64_t log_compact_bytes = 16ULL << 20;
  uint64_t snapshot_lag_entries = 50000;
  uint64_t log_keep_entries = 1000;
  // How long a snapshot sent to a follower holds the log back while the
  // follower is silent: an installing follower answers nothing, and a large
  // import can outlast an election timeout. Past it the follower counts as
  // gone (a transfer to a dead node retries for 30 s, and the log would grow
  // all that time).
  uint64_t snapshot_hold_ns = 60ULL * 1000000000;
  Mutations mutations;
};

class LeaderCore final : public ReplicaCore {
 public:
  LeaderCore(const LeaderOptions& options, CoreRecovery recovery);

  void Tick(uint64_t now_ns) override;
  void AdvanceClock(uint64_t now_ns) override {
    if (now_ns > now_) now_ = now_ns;
  }
  void Step(const Message& m) override;
  void Propose(Request r) override;
  void Persisted(LogPosition pos) override;
  bool HasReady() const override;
  Ready TakeReady() override;
  CoreStatus GetStatus() const override;
  void InstallSnapshot(NodeId from, uint64_t term, const SnapshotMeta& meta) override;
  void ReportSnapshot(NodeId to, bool ok, uint64_t index) override;
  std::vector<Entry> UncommittedEntries() const override;
  bool Holds(LogPosition want, uint64_t applied) const override;

  // For tests and the simulator's checks.
  Role role() const override { return role_; }
  uint64_t term() const { return term_; }
  NodeId leader() const override { return leader_; }
  uint64_t commit() const { return commit_; }
  uint64_t ack() const { return ack_; }  // acknowledged (and visible) up to here, on a leader
  uint64_t applied() const { return applied_; }
  uint64_t acked() const { return ack_; }
  const RaftLog& log() const { return log_; }
  const Membership& membership() const { return config_; }
  // Starts an election now, as if the election timer fired.
  void Campaign();
  // One line of internal state, for failure reports.
  std::string DebugString() const;

 private:
  struct PendingWrite {
    uint64_t deadline_ns = 0;
    uint64_t index = 0;  // 0 until known (forwarded writes learn it from the leader)
    uint64_t term = 0;
  };
  struct ReadRound {
    uint64_t context = 0;                             // heartbeat round that confirms leadership
    LogPosition position;                             // the read index, with its term
    std::vector<uint64_t> local;                      // this node's requests
    std::vector<std::pair<NodeId, uint64_t>> remote;  // followers' requests
  };
  struct ReadWait {
    LogPosition position;  // the read index, in the leader's log
    uint64_t request_id = 0;
    uint64_t deadline_ns = 0;
  };

  // roles
  void BecomeFollower(uint64_t term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void RequestVotes();
  void ResetElectionTimer();
  bool IsVoter(NodeId id) const;
  void SetTerm(uint64_t term);

  // membership (leader_membership.cc)
  void RecomputeMembership();
  void SyncProgress();
  bool MembershipChangePending() const { return config_index_ > commit_; }
  void ProposeMembership(Membership next, uint64_t request_id);
  void HandleJoin(const Message& m);
  void MaybePromoteLearner();
  void RemoveMember(const Request& r);
  void NoteNonMemberCandidate(const Message& m);
  void AddDeparting(NodeId id);
  bool RemovedWithUnsettledLog() const;
  void AskForTheLogAsRemoved();

  // compaction and snapshots (leader_snapshot.cc)
  void MaybeCompact();
  uint64_t CompactionTarget() const;  // 0: nothing to compact now
  // A forwarded write whose first copy this node appended while it led (see
  // forwarded_): never to be refused as "not applied".
  bool AppendedBefore(const Message& forward) const;
  // Heard from within an election timeout: what counts as up, for holding
  // the log back, starting a snapshot and counting acknowledgements.
  bool Connected(const Progress& pr) const { return HeardWithin(pr, o_.election_timeout_ns); }
  bool HeardWithin(const Progress& pr, uint64_t window_ns) const {
    return now_ <= pr.last_heard_ns() + window_ns;
  }

  // message handlers
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  void HandleAppend(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  void HandleForward(const Message& m);
  void HandleForwardResponse(const Message& m);
  void HandleReadIndex(const Message& m);
  void HandleReadIndexResponse(const Message& m);

  // leader
  void AppendAsLeader(Entry e);
  bool SendAppend(NodeId to, bool even_if_empty);
  void SendAppends(NodeId to);
  void BroadcastHeartbeat(uint64_t context);
  void MaybeCommit();
  void CheckQuorum();
  bool CommittedInCurrentTerm() const { return log_.term(commit_) == term_; }
  // A read index must cover every write a previous leader acknowledged. Those
  // all precede this term's first entry, so reads wait until the acks rule
  // covers that entry: for quorum that is the majority commit; for all, every
  // voter (a new leader cannot know how far its predecessor acknowledged).
  bool ReadsAllowed() const { return CommittedInCurrentTerm() && ack_ >= term_start_index_; }
  void StartReadRound();
  void ConfirmReadRounds();
  uint64_t LeaderAckIndex() const;
  // Every voter's match index (the leader's own included), in a scratch
  // vector reused across calls: commit and ack run for every acknowledgement.
  std::span<uint64_t> VoterMatches() const;

  // everyone
  void AppendToLog(Entry e);
  void Truncate(uint64_t from);
  void MaybeApply();
  void ServeReads();
  void ExpireRequests();
  void FailAllReads(const Status& why);
  void Send(Message m, bool after_persist = false);
  void Fail(uint64_t request_id, Status status);

  LeaderOptions o_;
  Rng rng_;
  uint64_t now_ = 0;

  // persistent
  uint64_t term_ = 0;
  NodeId vote_ = 0;
  RaftLog log_;
  Membership config_;                     // the latest in the log (applied when appended)
  Membership snapshot_config_;            // as of the log's start (snapshot or initial)
  uint64_t config_index_ = 0;             // the entry that set config_ (0: snapshot_config_)
  bool membership_from_options_ = false;  // first start: the next leader records it
  bool hard_state_dirty_ = false;

  // volatile
  Role role_ = Role::kFollower;
  bool pre_candidate_ = false;
  NodeId leader_ = 0;
  uint64_t term_start_index_ = 0;  // a leader's first entry of its term
  uint64_t commit_ = 0;            // majority commit as known here
  uint64_t ack_ = 0;               // leader: the acks policy's acknowledged index
  uint64_t applied_ = 0;           // emitted for application
  uint64_t stable_ = 0;            // durable here and equal to the in-memory log
  uint64_t leader_applied_ = 0;    // follower: the leader's acknowledged index
  uint64_t matched_ = 0;           // follower: our log equals the current leader's up to here
  uint64_t commit_sent_ = 0, ack_sent_ = 0;  // leader: last values sent to followers
  bool broadcast_pending_ = false;           // leader: new entries to send at TakeReady
  std::set<NodeId> snapshot_pending_;        // leader: followers to send a snapshot in this Ready
  // Leader: removed nodes that still ask for votes, so they may hold entries
  // this log lacks (a deposed leader removed before it heard of its
  // successor: under async, acknowledged writes). Each gets the log (in
  // progress_) up to the index here, which covers its removal: its divergent
  // entries are then rolled back and recorded, and it stops campaigning.
  std::map<NodeId, uint64_t> departing_;
  uint64_t election_deadline_ = 0;
  uint64_t vote_retry_at_ = 0;
  uint64_t heartbeat_deadline_ = 0;
  uint64_t check_quorum_deadline_ = 0;
  uint64_t last_leader_contact_ = 0;
  std::map<NodeId, bool> votes_;
  std::map<NodeId, Progress> progress_;                     // leader: every other voter
  std::deque<std::pair<uint64_t, uint64_t>> append_times_;  // leader: (index, ns), for lag_ms

  // requests
  std::map<uint64_t, PendingWrite> writes_;  // by request id
  std::vector<std::pair<uint64_t, uint64_t>>
      unsent_reads_;  // (request id, deadline) for the next round
  std::vector<std::pair<NodeId, uint64_t>> unsent_remote_reads_;
  std::deque<ReadRound> read_rounds_;
  uint64_t read_context_ = 0;
  std::vector<ReadWait> reads_waiting_apply_;
  std::map<uint64_t, uint64_t> forwarded_reads_;  // follower: request id → deadline
  // leader: writes forwarded to it in this term, to drop duplicated messages
  static constexpr size_t kForwardedRemembered = 65536;
  // Forwarded writes this node handled as leader, in any term, by (origin,
  // request id): 0 appended, else refused under acks=all (the voter found
  // missing). A duplicated message gets the first copy's verdict.
  std::map<std::pair<NodeId, uint64_t>, NodeId> forwarded_;
  std::deque<std::pair<NodeId, uint64_t>> forwarded_order_;

  // persistence bookkeeping: Readys with appends, in order, and truncations
  uint64_t persist_seq_ = 0;
  std::deque<std::pair<uint64_t, LogPosition>> persisting_;
  std::vector<std::pair<uint64_t, uint64_t>> truncations_;  // (seq of its Ready, index)
  bool ready_truncates_ = false;

  Ready ready_;
  mutable std::vector<uint64_t> matches_scratch_;
};

}  // namespace rkv
