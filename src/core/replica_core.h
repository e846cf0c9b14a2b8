// The one architectural rule (DESIGN.md §2): a replication core is a
// deterministic state machine. It takes inputs and returns effects as data; it
// never touches a socket, thread, clock, file or random source of its own.
//
//   inputs:  Step(message) · Propose(request) · Tick(now_ns) · Persisted(position)
//   effects: Ready — records to persist, messages, entries to apply, reads
//            that may be served, requests that failed.
//
// Drivers: src/server (Asio + RocksDB) and src/sim (virtual time, one thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rkv {

using NodeId = uint64_t;  // 0 means "none"

struct LogPosition {
  uint64_t term = 0;
  uint64_t index = 0;
  friend bool operator==(const LogPosition&, const LogPosition&) = default;
};

enum class EntryKind : uint8_t {
  kNoop = 0,     // appended by a new leader to commit its term
  kCommand = 1,  // client commands (kv/command_codec.h)
  kConfig = 2,   // membership change
  kBarrier = 3,  // client commands applied only once majority-committed, even
                 // under async/one: undoing them would need the whole state (FLUSHALL)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryKind kind = EntryKind::kCommand;
  NodeId origin = 0;        // the node whose client proposed it
  uint64_t request_id = 0;  // that node's request id (unique per node, across restarts)
  std::string data;
};

// Persisted with a sync before any vote or acknowledgement that depends on it.
struct HardState {
  uint64_t term = 0;
  NodeId vote = 0;
  friend bool operator==(const HardState&, const HardState&) = default;
};

enum class MsgType : uint8_t {
  // context != 0: not a vote request, but a follower telling its leader that
  // node `context`, not a member, asks for votes (see LeaderCore::departing_)
  kPreVote = 0,
  kPreVoteResp,
  kVote,
  kVoteResp,
  kAppend,      // entries (possibly none) after (log_term, index); carries commit/applied
  kAppendResp,  // index = follower's match (or rejected index); reject_hint = its last index
  kHeartbeat,   // commit; context = read-index round
  kHeartbeatResp,
  kForward,        // follower → leader: client writes; context = forward id
  kForwardResp,    // leader → follower: index of the first forwarded entry, or reject
  kTimeoutNow,     // leader → follower: start an election now (leadership transfer)
  kReadIndex,      // follower → leader: confirm leadership for a read; context = request id
  kReadIndexResp,  // leader → follower: index = read index, or reject
  kJoin,           // a node asks to join: context = its id, data = its peer address (term-less)
};

std::string_view MsgTypeName(MsgType t);

// One struct for every message of the single-leader family (like etcd's
// raftpb.Message); fields a type does not use stay zero. The server's
// transport maps it to protobuf; the simulator passes it as is.
struct Message {
  MsgType type = MsgType::kAppend;
  NodeId from = 0;
  NodeId to = 0;
  uint64_t term = 0;
  uint64_t log_term = 0;  // term of the entry at `index` (kAppend: previous entry)
  uint64_t index = 0;
  uint64_t commit = 0;       // leader's majority commit
  uint64_t applied = 0;      // leader's acknowledged (applied) index, for async/one followers
  uint64_t context = 0;      // read-index round or forward id
  uint64_t reject_hint = 0;  // kHeartbeat(Resp): the last entry sent before the heartbeat
  bool reject = false;
  std::vector<Entry> entries;
  std::string data;  // kJoin: the joining node's peer address
};

enum class RequestKind : uint8_t {
  kWrite = 0,  // data = encoded commands; replicated through the log
  kRead = 1,   // linearizable read: served once the applied state covers a confirmed read index
  kRemoveMember = 2,  // data = the node id (decimal); a membership change through the log
};

struct Request {
  // Chosen by the driver; unique per node, also across its restarts (an entry
  // proposed before a restart must never answer a request made after it).
  uint64_t id = 0;
  RequestKind kind = RequestKind::kWrite;
  bool barrier = false;  // a write to apply only once majority-committed (EntryKind::kBarrier)
  std::string data;
};

// What a snapshot stands for: the applied state at `position`, with the
// membership at that point (encoded).
struct SnapshotMeta {
  LogPosition position;
  std::string membership;
};

struct ApplyItem {
  Entry entry;
  uint64_t request_id = 0;  // this node's request that proposed the entry, or 0
  // Applied before it was majority-committed (async/one): it may yet be rolled
  // back, so the driver keeps what it needs to undo it.
  bool speculative = false;
};

struct RequestFailed {
  uint64_t request_id = 0;
  Status status;  // kTryAgain: not applied; kTimeout: outcome unknown
};

// Effects, in the order a driver must carry them out:
//  1. Persist hard_state, then truncate the log from truncate_from, then append
//     `append`. All of it is durable (synced when `sync`) before step 4's
//     messages_after_persist go out and before Persisted() is reported.
//  2. Send `messages` now: they do not depend on step 1 (a leader's appends
//     may go out while its own fsync runs, Raft thesis §10.2.1).
//  3. Undo applied entries after `rollback_to` (if set) and record them and the
//     other `discarded` entries as rolled back — the undo atomically with step
//     1's truncation, the records durably before it; then apply `apply` in
//     order; then serve `reads`; then fail `failed`.
//  4. After step 1 is durable: send messages_after_persist, report Persisted.
struct Ready {
  std::optional<HardState> hard_state;
  std::optional<uint64_t> truncate_from;
  std::vector<Entry> append;
  bool sync = false;

  std::vector<Message> messages;
  std::vector<Message> messages_after_persist;

  // Undo applied entries after this position (they diverge from the leader's
  // log) before applying anything else; the state returns to this position.
  std::optional<LogPosition> rollback_to;
  // Entries a truncation removed from this node's log (in index order), applied
  // or not: they diverge from the leader's log. The driver records them (with
  // the undone ones) as rolled back: under async/one some may have been
  // acknowledged, even ones whose application a crash had undone.
  std::vector<Entry> discarded;
  std::vector<ApplyItem> apply;
  // The majority commit advanced to this index: speculative entries up to it
  // can no longer be rolled back.
  std::optional<uint64_t> committed;
  std::vector<uint64_t> reads;  // request ids of reads that may now be served
  std::vector<RequestFailed> failed;
  // Log entries up to this position are no longer needed (the applied state
  // holds them): the driver deletes them with, or after, this Ready's state
  // machine writes, and remembers the position as where the log now starts.
  std::optional<LogPosition> compact_to;
  // Followers that need a snapshot (their next entry was compacted away):
  // the driver exports the applied state, streams it, and reports back with
  // ReportSnapshot.
  std::vector<NodeId> send_snapshot_to;
  // The membership changed (encoded leader/membership.h): peer links to add or drop.
  std::optional<std::string> membership;

  bool empty() const {
    return !hard_state && !truncate_from && append.empty() && messages.empty() &&
           messages_after_persist.empty() && !rollback_to && discarded.empty() && apply.empty() &&
           reads.empty() && failed.empty() && !compact_to && !committed &&
           send_snapshot_to.empty() && !membership;
  }
};

enum class Role : uint8_t { kStandalone, kLeader, kFollower, kCandidate, kLearner };
std::string_view RoleName(Role r);

struct FollowerStatus {
  NodeId id = 0;
  bool voter = true;
  uint64_t match_index = 0;
  uint64_t lag_entries = 0;
  double lag_ms = 0;
  double last_ack_age_ms = 0;
  std::string state;  // online | probe | snapshot | down
};

struct CoreStatus {
  Role role = Role::kStandalone;
  uint64_t term = 0;
  NodeId leader_id = 0;
  uint64_t last_index = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  std::vector<FollowerStatus> followers;  // on a leader
  std::string membership;                 // encoded, as this node knows it
  uint64_t log_first_index = 0;           // entries before it were compacted
  // Removed, and asking the members for the log: it holds entries it cannot
  // tell are committed (under async, perhaps writes it acknowledged).
  bool removed_awaiting_log = false;
};

// What a core is started from: everything it persisted before a restart.
struct CoreRecovery {
  HardState hard_state;
  std::vector<Entry> log;  // entries after the snapshot, in index order
  LogPosition applied;     // the state machine's durable applied position
  std::string membership;  // the membership as of `applied` (encoded), if any
  LogPosition log_start;   // the last compacted entry (the log holds what follows)
};

class ReplicaCore {
 public:
  virtual ~ReplicaCore() = default;

  // Advances the core's clock (monotonic ns) and fires due timers. Drivers call
  // it before other inputs whenever time has moved.
  virtual void Tick(uint64_t now_ns) = 0;
  // Moves the clock forward without firing timers. A real driver ticks every
  // few milliseconds and calls this before each input, so the times the core
  // records (an entry's append time, behind lag_ms) are exact, not rounded to
  // the last tick.
  virtual void AdvanceClock(uint64_t now_ns) { (void)now_ns; }
  // A peer's message.
  virtual void Step(const Message& m) = 0;
  // A client request. Its outcome arrives later in Ready: an ApplyItem with its
  // id (writes), its id in `reads`, or a RequestFailed.
  virtual void Propose(Request r) = 0;
  // The log is durable up to `pos` (reported in the order Readys were taken).
  virtual void Persisted(LogPosition pos) = 0;

  virtual bool HasReady() const = 0;
  virtual Ready TakeReady() = 0;

  virtual CoreStatus GetStatus() const = 0;
  // GetStatus().role and .leader_id, cheaply (asked on every routed read).
  virtual Role role() const { return GetStatus().role; }
  virtual NodeId leader() const { return GetStatus().leader_id; }

  // Snapshots (single leader): the driver installed, durably, a snapshot
  // `from` the leader of `term`; or finished sending one to `to`.
  virtual void InstallSnapshot(NodeId from, uint64_t term, const SnapshotMeta& meta) {}
  // `index` is the snapshot's log position (known on success).
  virtual void ReportSnapshot(NodeId to, bool ok, uint64_t index) {}
  // Entries this node holds above its majority commit (a snapshot replaces them).
  virtual std::vector<Entry> UncommittedEntries() const { return {}; }
  // Whether this node's state, applied through `applied` of its log, holds
  // every write of the log prefix that ends at `want` (a session token, a
  // read index) that will not be rolled back. Comparing positions is not
  // enough once entries are applied before the majority commit (acks=async,
  // one): a later term's speculative entries may be rolled back in turn.
  virtual bool Holds(LogPosition want, uint64_t applied) const { return applied >= want.index; }
};

}  // namespace rkv
