#include "node/replica.h"

#include <gtest/gtest.h>

#include <deque>

#include "core/encoding.h"
#include "kv/command_codec.h"
#include "kv/kv_store.h"
#include "standalone/standalone_core.h"
#include "storage/log_store.h"
#include "storage/memory_engine.h"

namespace rkv {
namespace {

// A host whose storage writes complete only when the test says so.
class FakeHost : public ReplicaHost {
 public:
  explicit FakeHost(MemoryEngine* engine) : engine_(engine) {}
  void SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) override {
    queue_.push_back({std::move(batch), sync, std::move(done)});
  }
  void Send(Message) override {}
  void OnOutcome(uint64_t id, RequestOutcome o) override {
    outcomes.emplace_back(id, std::move(o));
  }
  void OnFatal(const Status& s) override { FAIL() << s.ToString(); }
  Status RecordRollback(const RollbackBatch& b) override {
    rollbacks.push_back(b);
    return Status::Ok();
  }
  uint64_t WallClockMs() override { return 1; }
  void SubmitTask(std::function<Status()> task, std::function<void(const Status&)> done) override {
    done(task());
  }
  void SendSnapshot(NodeId, uint64_t, std::shared_ptr<const void>) override {}
  void OnMembership(const std::string&) override {}
  std::vector<RollbackBatch> rollbacks;
  // Completes the oldest pending write.
  bool CompleteOne() {
    if (queue_.empty()) return false;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    EXPECT_TRUE(engine_->Write(p.batch, p.sync).ok());
    p.done(Status::Ok());
    return true;
  }
  void CompleteAll() {
    while (CompleteOne()) {
    }
  }
  size_t pending() const { return queue_.size(); }
  std::vector<std::pair<uint64_t, RequestOutcome>> outcomes;

 private:
  struct Pending {
    WriteBatch batch;
    bool sync;
    std::function<void(const Status&)> done;
  };
  MemoryEngine* engine_;
  std::deque<Pending> queue_;
};

std::unique_ptr<Replica> OpenStandalone(FakeHost* host, MemoryEngine* engine) {
  auto r = Replica::Open(host, engine, [](CoreRecovery rec) {
    return std::make_unique<StandaloneCore>(StandaloneCore::Options{true}, std::move(rec));
  });
  EXPECT_TRUE(r.ok());
  return std::move(r.value());
}

Request Write(uint64_t id, std::vector<std::string> argv) {
  Request r;
  r.id = id;
  r.kind = RequestKind::kWrite;
  EncodeCommand(Argv(argv.begin(), argv.end()), &r.data);
  return r;
}

TEST(StandaloneReplica, AcknowledgesOnlyAfterTheLogIsDurable) {
  MemoryEngine engine(/*track_unsynced=*/true);
  FakeHost host(&engine);
  auto replica = OpenStandalone(&host, &engine);
  host.CompleteAll();  // the initial hard state
  replica->Propose(Write(7, {"set", "k", "v"}));
  replica->Propose(Write(8, {"incr", "n"}));
  EXPECT_TRUE(host.outcomes.empty());
  std::string stored;
  EXPECT_FALSE(replica->store().Get("k", &stored)) << "not visible before it is durable";
  ASSERT_TRUE(host.CompleteOne());  // the first log write
  ASSERT_EQ(host.outcomes.size(), 1u);
  ASSERT_TRUE(host.CompleteOne());  // the state machine's write of the first
  ASSERT_TRUE(host.CompleteOne());  // the second log write
  ASSERT_EQ(host.outcomes.size(), 2u);
  EXPECT_EQ(host.outcomes[0].first, 7u);
  EXPECT_EQ(host.outcomes[0].second.replies[0].str, "OK");
  EXPECT_EQ(host.outcomes[1].second.replies[0].integer, 1);
  EXPECT_TRUE(replica->store().Get("k", &stored));
}

TEST(StandaloneReplica, CrashAfterTheLogSyncReappliesOnRestart) {
  MemoryEngine engine(/*track_unsynced=*/true);
  {
    FakeHost host(&engine);
    auto replica = OpenStandalone(&host, &engine);
    host.CompleteAll();
    replica->Propose(Write(1, {"set", "a", "1"}));
    replica->Propose(Write(2, {"append", "a", "2"}));
    ASSERT_TRUE(host.CompleteOne());  // synced log record of the first
    ASSERT_TRUE(host.CompleteOne());  // (lost below) the state machine's write
    ASSERT_TRUE(host.CompleteOne());  // synced log record of the second
    EXPECT_EQ(host.outcomes.size(), 2u);
    // The state machine's (unsynced) write is pending: crash now, losing it.
    engine.Crash(0);
  }
  FakeHost host(&engine);
  auto replica = OpenStandalone(&host, &engine);
  std::string stored;
  ASSERT_TRUE(replica->store().Get("a", &stored)) << "re-applied from the log";
  EXPECT_EQ(replica->store().applied().index, 2u);
  EXPECT_EQ(replica->status().last_index, 2u);
  host.CompleteAll();
  replica->Propose(Write(3, {"get", "a"}));
  host.CompleteAll();
  ASSERT_EQ(host.outcomes.size(), 1u);
  EXPECT_EQ(host.outcomes[0].second.replies[0].str, "12");
  EXPECT_EQ(host.outcomes[0].second.position.index, 3u);
}

TEST(StandaloneReplica, AppliedEntriesAreCompactedFromTheLog) {
  MemoryEngine engine;
  FakeHost host(&engine);
  auto replica = OpenStandalone(&host, &engine);
  for (uint64_t i = 1; i <= 10; ++i) {
    replica->Propose(Write(i, {"set", "k" + std::to_string(i), "v"}));
    host.CompleteAll();
  }
  auto it = engine.NewIterator(Cf::kLog);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid()) << "every applied entry was deleted from the log";
  EXPECT_EQ(replica->store().key_count(), 10u);
}

// Data directories of builds before speculative state stayed in memory hold
// it in the data column family with an undo record per entry. Opening one
// puts the state back at the last entry below the records, durably, and
// drops the records; the entry is applied again from the log.
TEST(StandaloneReplica, LegacyUndoRecordsAreUndoneWhenOpened) {
  MemoryEngine engine(/*track_unsynced=*/false);
  FakeHost host(&engine);
  std::string v2;
  {
    auto replica = OpenStandalone(&host, &engine);
    replica->Propose(Write(1, {"SET", "k", "v1"}));
    replica->Propose(Write(2, {"SET", "k", "v2"}));
    host.CompleteAll();
    ASSERT_TRUE(replica->store().Get("k", &v2));
    replica->Propose(Write(3, {"SET", "k", "v3"}));
    host.CompleteAll();
    ASSERT_EQ(replica->store().applied().index, 3u);
  }
  // The record an older build wrote for entry 3: k had v2 before it.
  std::string record(1, '\x01');
  for (uint64_t v : {1, 1, 1, 3}) PutVarint64(&record, v);  // term, time, origin, request
  PutLengthPrefixed(&record, "");
  PutVarint64(&record, 1);
  PutLengthPrefixed(&record, "k");
  record.push_back(1);  // had a prior value; no "after" value
  PutLengthPrefixed(&record, v2);
  PutLengthPrefixed(&record, "");
  WriteBatch legacy;
  legacy.Put(Cf::kUndo, LogKey(3), record);
  // And the log as it was then: entry 3 not yet compacted away.
  Entry e3;
  e3.term = 1;
  e3.index = 3;
  EncodeCommand({"SET", "k", "v3"}, &e3.data);
  AddLogWrites(std::nullopt, std::nullopt, {e3}, &legacy);
  std::string start;
  PutFixed64BE(&start, 1);
  PutFixed64BE(&start, 2);
  legacy.Put(Cf::kMeta, "log_start", start);
  ASSERT_TRUE(engine.Write(legacy, true).ok());

  auto replica = OpenStandalone(&host, &engine);
  std::string on_disk;
  ASSERT_TRUE(engine.Get(Cf::kData, KvStore::DataKey("k"), &on_disk).ok());
  EXPECT_EQ(on_disk, v2) << "the speculative value is still on disk";
  EXPECT_FALSE(engine.Get(Cf::kUndo, LogKey(3), &on_disk).ok()) << "the record is still there";
  host.CompleteAll();
  std::string now;
  ASSERT_TRUE(replica->store().Get("k", &now));
  StoredValueView view;
  ASSERT_TRUE(DecodeStoredValue(now, &view));
  EXPECT_EQ(view.payload, "v3") << "entry 3 is applied again from the log";
}

// A core that hands the driver the Readies a test scripts, one per turn.
class ScriptedCore : public ReplicaCore {
 public:
  explicit ScriptedCore(std::deque<Ready>* script) : script_(script) {}
  void Tick(uint64_t) override {}
  void Step(const Message&) override {}
  void Propose(Request) override {}
  void Persisted(LogPosition) override {}
  bool HasReady() const override { return !script_->empty(); }
  Ready TakeReady() override {
    Ready rd = std::move(script_->front());
    script_->pop_front();
    return rd;
  }
  CoreStatus GetStatus() const override { return {}; }

 private:
  std::deque<Ready>* script_;
};

// A replica over a scripted core, a memory engine and a host whose writes
// complete when the test says so.
struct ScriptedReplica {
  ScriptedReplica() {
    auto r = Replica::Open(&host, &engine,
                           [&](CoreRecovery) { return std::make_unique<ScriptedCore>(&script); });
    EXPECT_TRUE(r.ok());
    if (r.ok()) replica = std::move(r.value());
  }
  MemoryEngine engine{/*track_unsynced=*/false};
  FakeHost host{&engine};
  std::deque<Ready> script;
  std::unique_ptr<Replica> replica;
};

namespace {

Entry SetEntry(uint64_t index, const std::string& value) {
  Entry e;
  e.term = 1;
  e.index = index;
  EncodeCommand({"SET", "k", value}, &e.data);
  return e;
}

// The engine's state index and k's value there.
std::pair<uint64_t, std::string> EngineState(MemoryEngine* engine) {
  KvStore on_disk(engine);
  EXPECT_TRUE(on_disk.Load().ok());
  std::string v;
  StoredValueView view;
  if (!on_disk.Get("k", &v) || !DecodeStoredValue(v, &view)) return {on_disk.applied().index, ""};
  return {on_disk.applied().index, std::string(view.payload)};
}

// One turn that appends and applies SET k v1, v2, v3 (entries 1-3), none
// of them committed yet.
Ready ThreeSpeculativeSets() {
  Ready turn;
  for (uint64_t i = 1; i <= 3; ++i) {
    turn.append.push_back(SetEntry(i, "v" + std::to_string(i)));
    turn.apply.push_back(ApplyItem{turn.append.back(), 0, /*speculative=*/true});
  }
  return turn;
}

}  // namespace

// Under async a leader applies entries before the majority commits them; the
// engine holds committed state only, and a snapshot is the engine's state.
// When the commit stops inside what one turn applied, the engine must still
// reach the commit: the leader's log may be compacted up to it, and a
// snapshot below it would leave a follower a gap it can only fill with
// another snapshot of the same state (async, membership, seed 900168).
TEST(Replica, TheEngineReachesACommitThatStopsInsideOneTurnsApply) {
  ScriptedReplica t;
  t.script.push_back(ThreeSpeculativeSets());
  Ready commit;
  commit.committed = 2;
  t.script.push_back(std::move(commit));
  t.replica->Tick(1);  // the driver takes both turns
  t.host.CompleteAll();
  ASSERT_EQ(t.replica->store().applied().index, 3u);
  EXPECT_EQ(EngineState(&t.engine), std::make_pair(uint64_t{2}, std::string("v2")))
      << "the engine's state is not at the commit";
}

// A rollback puts the undone entries' held writes and the undo's own into one
// batch at the rollback's position; the kept speculative entries' batches stay
// apart, so a commit that stops below that position still reaches the engine
// (merged, the engine stayed below the commit, where a compacted log could not
// resume after a snapshot of it: review of the seed 900168 fix).
TEST(Replica, ARollbackKeepsTheKeptEntriesWritesApart) {
  ScriptedReplica t;
  t.script.push_back(ThreeSpeculativeSets());
  Ready rollback;  // entry 3 diverged from the new leader's log
  rollback.rollback_to = LogPosition{1, 2};
  rollback.truncate_from = 3;
  rollback.discarded.push_back(SetEntry(3, "v3"));
  rollback.committed = 1;
  t.script.push_back(std::move(rollback));
  t.replica->Tick(1);
  t.host.CompleteAll();
  ASSERT_EQ(t.replica->store().applied().index, 2u);
  EXPECT_EQ(EngineState(&t.engine), std::make_pair(uint64_t{1}, std::string("v1")));
  Ready commit;
  commit.committed = 2;
  t.script.push_back(std::move(commit));
  t.replica->Tick(2);
  t.host.CompleteAll();
  EXPECT_EQ(EngineState(&t.engine), std::make_pair(uint64_t{2}, std::string("v2")));
  ASSERT_EQ(t.host.rollbacks.size(), 1u);
}

// A config entry applied speculatively and rolled back leaves the membership
// it replaced: the store's membership (and the engine's copy, which a snapshot
// and a restart read) must not keep a config that was never committed.
TEST(Replica, ARolledBackConfigEntryPutsTheMembershipBack) {
  ScriptedReplica t;
  Ready turn;
  for (uint64_t i = 1; i <= 2; ++i) {
    Entry e;
    e.term = 1;
    e.index = i;
    e.kind = EntryKind::kConfig;
    e.data = "members-" + std::to_string(i);
    turn.append.push_back(e);
    turn.apply.push_back(ApplyItem{e, 0, /*speculative=*/i == 2});
  }
  turn.committed = 1;
  t.script.push_back(std::move(turn));
  Ready rollback;
  rollback.rollback_to = LogPosition{1, 1};
  rollback.truncate_from = 2;
  rollback.discarded.push_back(t.script.front().append.back());
  t.script.push_back(std::move(rollback));
  t.replica->Tick(1);
  t.host.CompleteAll();
  EXPECT_EQ(t.replica->store().membership(), "members-1");
  KvStore on_disk(&t.engine);
  ASSERT_TRUE(on_disk.Load().ok());
  EXPECT_EQ(on_disk.applied().index, 1u);
  EXPECT_EQ(on_disk.membership(), "members-1");
}

}  // namespace
}  // namespace rkv

namespace rkv {
namespace {

// The term starts a node stores with its log (storage/log_store.h) follow the
// log it opens: a start written before a crash took its entry goes, and the
// rest agree with the log, which a snapshot this node sends relies on.
TEST(Replica, TermStartsFollowTheLogItOpens) {
  MemoryEngine engine;
  std::vector<Entry> log;
  for (uint64_t i = 1; i <= 8; ++i) {
    Entry e;
    e.index = i;
    e.term = i <= 5 ? 1 : 2;
    e.kind = EntryKind::kNoop;
    log.push_back(e);
  }
  WriteBatch batch;
  AddLogWrites(std::nullopt, std::nullopt, log, &batch);
  TermStarts stored;
  Entry lost;  // its start reached the meta family, the entry never the log
  lost.index = 9;
  lost.term = 3;
  stored.Observe(std::nullopt, log);
  stored.Observe(std::nullopt, {lost});
  ASSERT_EQ(stored.TermAt(9), 3u);
  batch.Put(Cf::kMeta, TermStarts::kKey, stored.Encode());
  ASSERT_TRUE(engine.Write(batch, true).ok());

  FakeHost host(&engine);
  auto replica = OpenStandalone(&host, &engine);
  std::string value;
  ASSERT_TRUE(engine.Get(Cf::kMeta, TermStarts::kKey, &value).ok());
  TermStarts now;
  ASSERT_TRUE(TermStarts::Decode(value, &now));
  EXPECT_EQ(now.size(), 2u);
  EXPECT_EQ(now.TermAt(5), 1u);
  EXPECT_EQ(now.TermAt(6), 2u);
  EXPECT_EQ(now.TermAt(9), 2u) << "the start of an entry the log lost is gone";
}

}  // namespace
}  // namespace rkv
