// Read levels over lagging replicas (CONTRACTS §4, §5): what a replica must do
// before it answers a read at `strong`, `session`, `bounded MS` or `eventual`.
// Shared by the server and the simulator, so the simulator proves the code the
// server runs.
//
//   eventual  the replica's applied state, whatever it is (always in log order).
//   session   the applied state once it reflects the session's token, a log
//             position the session wrote or read; a replica behind the token
//             waits up to session_wait, then hands the read on (forward), and
//             a replica that may not forward answers -STALE: never a value
//             older than the token.
//   bounded   the applied state once it is known to miss nothing the leader
//             had committed more than MS ago. Known by read-index rounds: a
//             round started at local time s that comes back with read index c
//             proves every write committed before s is at or below c; once
//             applied ≥ c the state is fresh as of s. No clocks are compared.
//   strong    linearizable: a read-index round per batch of reads (leader, or
//             a follower asking the leader), served once applied ≥ the index.
//
// Positions compare as (term, index): within one log that is log order, and a
// position from a term that was rolled back never passes for a later one.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/replica_core.h"
#include "core/status.h"

namespace rkv {

class Replica;

enum class ReadLevel : uint8_t { kStrong, kSession, kBounded, kEventual };

struct ReadConsistency {
  ReadLevel level = ReadLevel::kSession;
  uint64_t bound_ms = 0;         // kBounded
  std::string ToString() const;  // "strong", "session", "bounded 250", "eventual"
  friend bool operator==(const ReadConsistency&, const ReadConsistency&) = default;
};
// Parses the words of RKV.CONSISTENCY ("bounded", "250"); a single word may
// also be "bounded:250" (the --consistency flag). On failure *error names what
// was wrong.
bool ParseReadConsistency(const std::vector<std::string_view>& words, ReadConsistency* out,
                          std::string* error);
inline constexpr uint64_t kBoundedReadMsMax = 3600 * 1000;

enum class ReadFrom : uint8_t { kNearest, kLeader, kFollower };
bool ParseReadFrom(std::string_view word, ReadFrom* out);
std::string_view ReadFromName(ReadFrom r);

// Session tokens: "TERM.INDEX" (opaque to clients).
std::string EncodeSessionToken(LogPosition p);
bool DecodeSessionToken(std::string_view s, LogPosition* out);
inline bool PositionAtLeast(LogPosition have, LogPosition want) {
  return have.term != want.term ? have.term > want.term : have.index >= want.index;
}
inline LogPosition MaxPosition(LogPosition a, LogPosition b) {
  return PositionAtLeast(a, b) ? a : b;
}

struct ReadSpec {
  ReadConsistency consistency;
  LogPosition token;        // the position the read must reflect (session)
  bool may_forward = true;  // false for a read already forwarded here
};

struct ReadDecision {
  enum class Kind : uint8_t {
    kServe,    // run the read on the applied state now
    kForward,  // hand it to the leader (it runs there with may_forward = false)
    kFail,     // answer `status` (-STALE, -TRYAGAIN)
  };
  Kind kind = Kind::kServe;
  Status status;
};

struct ReadStats {
  uint64_t served_at_once = 0;  // no wait
  uint64_t served_after_wait = 0;
  uint64_t forwarded = 0;
  uint64_t stale = 0;              // answered -STALE
  uint64_t failed = 0;             // other failures (no leader, timeout)
  uint64_t read_index_rounds = 0;  // proposed to the core (strong reads, freshness)
  uint64_t max_wait_ns = 0;
};

class ReadService {
 public:
  struct Options {
    uint64_t session_wait_ns = 200'000'000;  // how long a replica behind waits
    NodeId node_id = 0;                      // named in -STALE texts
  };
  using Done = std::function<void(ReadDecision)>;

  // `next_request_id` gives ids for the reads it proposes to the core; the
  // driver routes their outcomes back through OnOutcome.
  ReadService(Replica* replica, std::function<uint64_t()> next_request_id, Options o);

  // The fast path, without allocating: whether the read may be served now.
  bool CanServeNow(const ReadSpec& spec, uint64_t now_ns);
  // The slow path, after CanServeNow returned false: `done` gets the decision,
  // usually later, but possibly before Read returns (a one-voter read round
  // completes at once).
  void Read(const ReadSpec& spec, uint64_t now_ns, Done done);

  // Whether a read decided kServe may still be served at `now_ns`: a driver
  // that could not serve it at once (a paused process) checks again, and
  // starts over with Read when the state is no longer fresh enough.
  bool StillServable(const ReadSpec& spec, uint64_t now_ns) const;

  // Driver hooks.
  void OnApplied(uint64_t now_ns);
  // True when `request_id` is one of this service's read-index requests.
  bool OnOutcome(uint64_t request_id, bool ok, const Status& status, uint64_t now_ns);
  void Tick(uint64_t now_ns);

  // How stale the applied state may be right now: now minus the start of the
  // newest confirmed freshness round (unknown before the first).
  std::optional<uint64_t> confirmed_staleness_ns(uint64_t now_ns) const;
  const ReadStats& stats() const { return stats_; }
  size_t waiting() const {
    return session_waiters_.size() + bounded_waiters_.size() + strong_.size();
  }
  const Options& options() const { return o_; }

 private:
  struct Waiter {
    ReadSpec spec;
    uint64_t start_ns = 0;
    uint64_t deadline_ns = 0;
    Done done;
  };
  // Whether the applied state holds the session's writes and reads (the
  // prefix of the log that ends at its token) that are not rolled back. Not
  // a comparison of positions (term first): under async a later term's
  // speculative entries may be rolled back in turn (ReplicaCore::Holds).
  bool Covered(LogPosition token) const;
  bool FreshEnough(uint64_t bound_ms, uint64_t now_ns) const;
  void StartFreshnessRound(uint64_t now_ns);
  void Finish(Waiter& w, ReadDecision d, uint64_t now_ns);
  // Past its deadline: forward when allowed and useful, else -STALE.
  void GiveUp(Waiter& w, std::string why, uint64_t now_ns);
  void ServeFreshWaiters(uint64_t now_ns);

  Replica* replica_;
  std::function<uint64_t()> next_id_;
  Options o_;
  ReadStats stats_;

  std::vector<Waiter> session_waiters_;
  std::vector<Waiter> bounded_waiters_;
  std::unordered_map<uint64_t, Waiter> strong_;  // by read-index request id

  // Freshness for bounded reads.
  uint64_t fresh_as_of_ns_ = 0;
  bool have_fresh_ = false;
  uint64_t round_id_ = 0;  // 0: none in flight
  uint64_t round_start_ns_ = 0;
  uint64_t next_round_ns_ = 0;  // after a failed round
};

}  // namespace rkv
