// Log compaction and snapshots of the single-leader core. The log is cut up to
// the applied and majority-committed index once it grows past a bound,
// keeping what connected followers still need; a follower whose next entry is
// gone gets a snapshot of the applied state instead (the driver exports,
// streams and installs it).
#include <algorithm>

#include "core/assert.h"
#include "leader/leader_core.h"

namespace rkv {

uint64_t LeaderCore::CompactionTarget() const {
  if (log_.size() <= o_.log_compact_entries && log_.bytes() <= o_.log_compact_bytes) return 0;
  // Never past the majority commit: under async (and one with 4+ voters)
  // entries are applied above it, and a new leader may still truncate them —
  // which needs their terms, and their records for the rollback file. What is
  // compacted is therefore committed (the constructor relies on it).
  uint64_t upto = std::min({applied_, stable_, commit_});
  // What is kept is bounded in bytes too (a quarter of the bound, by the
  // average entry): the server proposes a turn's writes as one entry, so a
  // thousand entries can hold hundreds of megabytes.
  uint64_t keep = o_.log_keep_entries;
  if (log_.bytes() > o_.log_compact_bytes / 4)
    keep = std::min<uint64_t>(keep, log_.size() * (o_.log_compact_bytes / 4) / log_.bytes());
  if (upto <= keep) return 0;
  uint64_t target = upto - keep;
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : progress_) {
      if (departing_.count(id)) continue;  // it can take a snapshot
      // A snapshot in flight, or installed but not yet acknowledged, must
      // find the entries after it, for as long as its follower may still be
      // busy with it (snapshot_hold_ns: testdata/compaction_slow_install.txt)
      // — not for a follower that is gone (compaction_dead_follower.txt).
      const bool snapshot_pending =
          pr.state() == Progress::State::kSnapshot || pr.snapshot_index > pr.match();
      if (snapshot_pending && HeardWithin(pr, o_.snapshot_hold_ns)) {
        if (pr.state() == Progress::State::kSnapshot) return 0;
        target = std::min(target, pr.snapshot_index);
      }
      if (!Connected(pr)) continue;  // gone: holds nothing back
      bool close =
          log_.last_index() - std::min(pr.match(), log_.last_index()) <= o_.snapshot_lag_entries;
      if (close) target = std::min(target, pr.match());
    }
  }
  return target >= log_.first_index() ? target : 0;
}

void LeaderCore::MaybeCompact() {
  uint64_t target = CompactionTarget();
  if (target == 0) return;
  // The membership as of the new start of the log: the last config entry
  // being compacted away, if any.
  for (uint64_t i = target; i >= log_.first_index(); --i) {
    const Entry& e = log_.at(i);
    Membership m;
    if (e.kind == EntryKind::kConfig && Membership::Decode(e.data, &m)) {
      snapshot_config_ = std::move(m);
      break;
    }
  }
  RKV_ASSERT(target <= commit_);
  LogPosition to{log_.term(target), target};
  log_.CompactTo(target);
  ready_.compact_to = to;
  if (config_index_ != 0 && config_index_ <= target) config_index_ = 0;
}

void LeaderCore::InstallSnapshot(NodeId from, uint64_t term, const SnapshotMeta& meta) {
  if (term < term_) return;  // from a deposed leader; the new one will send its own
  if (term > term_ || role_ != Role::kFollower || leader_ != from) BecomeFollower(term, from);
  last_leader_contact_ = now_;
  ResetElectionTimer();
  const uint64_t index = meta.position.index;
  if (index <= commit_) {
    // Stale: we already hold more. Tell the leader where we are.
    Message r;
    r.type = MsgType::kAppendResp;
    r.to = from;
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  // Effects still waiting for the driver (it held them back while it imported
  // the snapshot) that concern the replaced log: the new log re-emits what is
  // needed from the snapshot's index on.
  ready_.append.clear();
  ready_.apply.clear();
  ready_.discarded.clear();
  ready_.truncate_from.reset();
  ready_.rollback_to.reset();
  ready_truncates_ = false;
  log_ = RaftLog(meta.position);
  stable_ = commit_ = applied_ = matched_ = index;
  leader_applied_ = std::max(leader_applied_, index);
  Membership m;
  if (Membership::Decode(meta.membership, &m)) snapshot_config_ = m;
  membership_from_options_ = false;
  config_index_ = 0;
  config_ = Membership();
  RecomputeMembership();
  // Writes waiting on indexes the snapshot covers cannot be told apart any more.
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.index != 0 && it->second.index <= index) {
      Fail(it->first, Status::Timeout("a snapshot replaced this node's log; the write may or may "
                                      "not have taken effect"));
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  Message r;
  r.type = MsgType::kAppendResp;
  r.to = from;
  r.index = index;
  Send(std::move(r));  // the driver installed it durably before telling us
  ServeReads();
}

void LeaderCore::ReportSnapshot(NodeId to, bool ok, uint64_t index) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(to);
  if (it == progress_.end() || it->second.state() != Progress::State::kSnapshot) return;
  // Either way, probe: on success the follower's acknowledgement of the
  // snapshot index moves it to replicate; on failure the probe finds the
  // entry still missing and asks for another snapshot.
  Progress& pr = it->second;
  pr.BecomeProbe();
  if (!ok) {
    pr.snapshot_retry_at_ns = now_ + o_.election_timeout_ns;
    return;
  }
  // Until it acknowledges the snapshot, the entries right after it must stay.
  pr.snapshot_index = index;
  pr.SkipTo(index + 1);
}

std::vector<Entry> LeaderCore::UncommittedEntries() const {
  std::vector<Entry> out;
  // Only where an entry above the commit may have been acknowledged.
  bool may_lose =
      o_.acks == AcksPolicy::kAsync || (o_.acks == AcksPolicy::kOne && config_.voter_count() >= 4);
  if (!may_lose) return out;
  for (uint64_t i = std::max(commit_ + 1, log_.first_index()); i <= log_.last_index(); ++i)
    out.push_back(log_.at(i));
  return out;
}

}  // namespace rkv
