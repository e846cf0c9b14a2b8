#include "node/read_service.h"

#include <algorithm>
#include <charconv>

#include "node/replica.h"

namespace rkv {

namespace {

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

constexpr uint64_t kRoundRetryNs = 10'000'000;

std::string Ms(uint64_t ns) { return std::to_string((ns + 500'000) / 1'000'000) + " ms"; }

}  // namespace

std::string ReadConsistency::ToString() const {
  switch (level) {
    case ReadLevel::kStrong:
      return "strong";
    case ReadLevel::kSession:
      return "session";
    case ReadLevel::kBounded:
      return "bounded " + std::to_string(bound_ms);
    case ReadLevel::kEventual:
      return "eventual";
  }
  return "unknown";
}

bool ParseReadConsistency(const std::vector<std::string_view>& words, ReadConsistency* out,
                          std::string* error) {
  const char* usage = "expected strong, session, bounded MS or eventual";
  if (words.empty()) {
    *error = std::string("no read level given: ") + usage;
    return false;
  }
  std::string_view level = words[0];
  std::optional<std::string_view> ms;
  if (size_t colon = level.find(':'); colon != std::string_view::npos) {
    ms = level.substr(colon + 1);
    level = level.substr(0, colon);
  }
  if (words.size() > 1) {
    if (ms || words.size() > 2) {
      *error = "too many words for a read level: " + std::string(usage);
      return false;
    }
    ms = words[1];
  }
  ReadConsistency c;
  if (EqualsNoCase(level, "strong")) {
    c.level = ReadLevel::kStrong;
  } else if (EqualsNoCase(level, "session")) {
    c.level = ReadLevel::kSession;
  } else if (EqualsNoCase(level, "eventual")) {
    c.level = ReadLevel::kEventual;
  } else if (EqualsNoCase(level, "bounded")) {
    c.level = ReadLevel::kBounded;
    if (!ms) {
      *error = "bounded needs a staleness bound in milliseconds, e.g. 'bounded 250'";
      return false;
    }
    if (!ParseU64(*ms, &c.bound_ms) || c.bound_ms == 0 || c.bound_ms > kBoundedReadMsMax) {
      *error = "invalid staleness bound '" + std::string(*ms) + "': expected milliseconds, 1 to " +
               std::to_string(kBoundedReadMsMax);
      return false;
    }
    *out = c;
    return true;
  } else {
    *error = "unknown read level '" + std::string(level) + "': " + usage;
    return false;
  }
  if (ms) {
    *error = "only bounded takes a number (" + std::string(level) + " was given one)";
    return false;
  }
  *out = c;
  return true;
}

bool ParseReadFrom(std::string_view word, ReadFrom* out) {
  if (EqualsNoCase(word, "nearest")) {
    *out = ReadFrom::kNearest;
  } else if (EqualsNoCase(word, "leader")) {
    *out = ReadFrom::kLeader;
  } else if (EqualsNoCase(word, "follower")) {
    *out = ReadFrom::kFollower;
  } else {
    return false;
  }
  return true;
}

std::string_view ReadFromName(ReadFrom r) {
  switch (r) {
    case ReadFrom::kNearest:
      return "nearest";
    case ReadFrom::kLeader:
      return "leader";
    case ReadFrom::kFollower:
      return "follower";
  }
  return "unknown";
}

std::string EncodeSessionToken(LogPosition p) {
  return std::to_string(p.term) + "." + std::to_string(p.index);
}

bool DecodeSessionToken(std::string_view s, LogPosition* out) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos) return false;
  LogPosition p;
  if (!ParseU64(s.substr(0, dot), &p.term) || !ParseU64(s.substr(dot + 1), &p.index)) return false;
  *out = p;
  return true;
}

// ---------------------------------------------------------------- service

ReadService::ReadService(Replica* replica, std::function<uint64_t()> next_request_id, Options o)
    : replica_(replica), next_id_(std::move(next_request_id)), o_(o) {}

bool ReadService::Covered(LogPosition token) const {
  return replica_->core().Holds(token, replica_->store().applied().index);
}

bool ReadService::FreshEnough(uint64_t bound_ms, uint64_t now_ns) const {
  return have_fresh_ && now_ns - fresh_as_of_ns_ <= bound_ms * 1'000'000;
}

std::optional<uint64_t> ReadService::confirmed_staleness_ns(uint64_t now_ns) const {
  if (!have_fresh_) return std::nullopt;
  return now_ns - fresh_as_of_ns_;
}

bool ReadService::CanServeNow(const ReadSpec& spec, uint64_t now_ns) {
  switch (spec.consistency.level) {
    case ReadLevel::kEventual:
      break;
    case ReadLevel::kSession:
      if (!Covered(spec.token)) return false;
      break;
    case ReadLevel::kBounded:
      if (!FreshEnough(spec.consistency.bound_ms, now_ns)) return false;
      // Keep the state confirmed fresh ahead of the next reads.
      if (round_id_ == 0 && now_ns - fresh_as_of_ns_ > spec.consistency.bound_ms * 500'000)
        StartFreshnessRound(now_ns);
      break;
    case ReadLevel::kStrong:
      // A standalone node is its own leader with nobody to ask.
      if (replica_->role() != Role::kStandalone) return false;
      break;
  }
  ++stats_.served_at_once;
  return true;
}

bool ReadService::StillServable(const ReadSpec& spec, uint64_t now_ns) const {
  switch (spec.consistency.level) {
    case ReadLevel::kSession:
      return Covered(spec.token);
    case ReadLevel::kBounded:
      return FreshEnough(spec.consistency.bound_ms, now_ns);
    case ReadLevel::kStrong:  // linearized at its confirmed read index, already applied
    case ReadLevel::kEventual:
      return true;
  }
  return true;
}

void ReadService::Read(const ReadSpec& spec, uint64_t now_ns, Done done) {
  Waiter w{spec, now_ns, now_ns + o_.session_wait_ns, std::move(done)};
  switch (spec.consistency.level) {
    case ReadLevel::kEventual:
      Finish(w, ReadDecision{}, now_ns);
      return;
    case ReadLevel::kSession:
      if (Covered(spec.token)) {
        Finish(w, ReadDecision{}, now_ns);
        return;
      }
      session_waiters_.push_back(std::move(w));
      return;
    case ReadLevel::kBounded:
      if (FreshEnough(spec.consistency.bound_ms, now_ns)) {
        Finish(w, ReadDecision{}, now_ns);
        return;
      }
      w.deadline_ns = now_ns + std::max(o_.session_wait_ns, spec.consistency.bound_ms * 1'000'000);
      bounded_waiters_.push_back(std::move(w));
      if (round_id_ == 0 && now_ns >= next_round_ns_) StartFreshnessRound(now_ns);
      return;
    case ReadLevel::kStrong: {
      uint64_t id = next_id_();
      strong_.emplace(id, std::move(w));
      ++stats_.read_index_rounds;
      Request r;
      r.id = id;
      r.kind = RequestKind::kRead;
      replica_->Propose(std::move(r));
      return;
    }
  }
}

void ReadService::StartFreshnessRound(uint64_t now_ns) {
  round_id_ = next_id_();
  round_start_ns_ = now_ns;
  ++stats_.read_index_rounds;
  Request r;
  r.id = round_id_;
  r.kind = RequestKind::kRead;
  replica_->Propose(std::move(r));
}

void ReadService::Finish(Waiter& w, ReadDecision d, uint64_t now_ns) {
  switch (d.kind) {
    case ReadDecision::Kind::kServe:
      if (now_ns > w.start_ns) {
        ++stats_.served_after_wait;
        stats_.max_wait_ns = std::max(stats_.max_wait_ns, now_ns - w.start_ns);
      } else {
        ++stats_.served_at_once;
      }
      break;
    case ReadDecision::Kind::kForward:
      ++stats_.forwarded;
      break;
    case ReadDecision::Kind::kFail:
      ++(d.status.code() == Code::kStale ? stats_.stale : stats_.failed);
      break;
  }
  Done done = std::move(w.done);
  done(std::move(d));
}

void ReadService::GiveUp(Waiter& w, std::string why, uint64_t now_ns) {
  if (w.spec.may_forward) {
    Role role = replica_->role();
    if (role != Role::kLeader && role != Role::kStandalone && replica_->leader() != 0) {
      Finish(w, ReadDecision{ReadDecision::Kind::kForward, {}}, now_ns);
      return;
    }
  }
  Finish(w, ReadDecision{ReadDecision::Kind::kFail, Status::Stale(std::move(why))}, now_ns);
}

void ReadService::OnApplied(uint64_t now_ns) {
  if (session_waiters_.empty()) return;
  // Finish callbacks may start new reads: take the ready ones out first.
  std::vector<Waiter> ready;
  auto keep = std::partition(session_waiters_.begin(), session_waiters_.end(),
                             [this](const Waiter& w) { return !Covered(w.spec.token); });
  std::move(keep, session_waiters_.end(), std::back_inserter(ready));
  session_waiters_.erase(keep, session_waiters_.end());
  for (Waiter& w : ready) Finish(w, ReadDecision{}, now_ns);
}

bool ReadService::OnOutcome(uint64_t request_id, bool ok, const Status& status, uint64_t now_ns) {
  if (request_id == 0) return false;
  if (request_id == round_id_) {
    round_id_ = 0;
    if (ok) {
      // Applied ≥ the read index: nothing committed before the round started
      // is missing here.
      fresh_as_of_ns_ = std::max(fresh_as_of_ns_, round_start_ns_);
      have_fresh_ = true;
    }
    if (ok) {
      ServeFreshWaiters(now_ns);
    } else {
      next_round_ns_ = now_ns + kRoundRetryNs;  // no leader yet: Tick asks again
    }
    return true;
  }
  auto it = strong_.find(request_id);
  if (it == strong_.end()) return false;
  Waiter w = std::move(it->second);
  strong_.erase(it);
  if (ok) {
    Finish(w, ReadDecision{}, now_ns);
  } else {
    Finish(w, ReadDecision{ReadDecision::Kind::kFail, status}, now_ns);
  }
  return true;
}

void ReadService::ServeFreshWaiters(uint64_t now_ns) {
  std::vector<Waiter> ready;
  auto keep = std::partition(
      bounded_waiters_.begin(), bounded_waiters_.end(),
      [&](const Waiter& w) { return !FreshEnough(w.spec.consistency.bound_ms, now_ns); });
  std::move(keep, bounded_waiters_.end(), std::back_inserter(ready));
  bounded_waiters_.erase(keep, bounded_waiters_.end());
  // Waiters whose bound the last round could not meet ask again: a round that
  // starts now proves freshness as of now.
  if (!bounded_waiters_.empty() && round_id_ == 0) StartFreshnessRound(now_ns);
  for (Waiter& w : ready) Finish(w, ReadDecision{}, now_ns);
}

void ReadService::Tick(uint64_t now_ns) {
  std::vector<Waiter> expired;
  auto take_expired = [&](std::vector<Waiter>& v) {
    auto keep =
        std::partition(v.begin(), v.end(), [&](const Waiter& w) { return now_ns < w.deadline_ns; });
    std::move(keep, v.end(), std::back_inserter(expired));
    v.erase(keep, v.end());
  };
  size_t session_expired_from = expired.size();
  take_expired(session_waiters_);
  size_t bounded_expired_from = expired.size();
  take_expired(bounded_waiters_);
  LogPosition applied = replica_->store().applied();
  for (size_t i = 0; i < expired.size(); ++i) {
    Waiter& w = expired[i];
    uint64_t waited = now_ns - w.start_ns;
    if (i >= session_expired_from && i < bounded_expired_from) {
      GiveUp(w,
             "node " + std::to_string(o_.node_id) + " has applied " + EncodeSessionToken(applied) +
                 ", behind the session's " + EncodeSessionToken(w.spec.token) + ", after waiting " +
                 Ms(waited),
             now_ns);
    } else {
      std::string last = have_fresh_ ? "last confirmed " + Ms(now_ns - fresh_as_of_ns_) + " ago"
                                     : "never confirmed";
      GiveUp(w,
             "could not confirm node " + std::to_string(o_.node_id) + " is within " +
                 std::to_string(w.spec.consistency.bound_ms) + " ms of the leader's commit (" +
                 last + ", waited " + Ms(waited) + ")",
             now_ns);
    }
  }
  // A round that failed (no leader known) is retried here, not at once.
  if (!bounded_waiters_.empty() && round_id_ == 0 && now_ns >= next_round_ns_)
    StartFreshnessRound(now_ns);
}

}  // namespace rkv
