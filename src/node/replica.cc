#include "node/replica.h"

#include <algorithm>

#include "core/assert.h"
#include "core/encoding.h"
#include "core/stored_value.h"
#include "kv/command_codec.h"
#include "kv/commands.h"
#include "storage/log_store.h"

namespace rkv {

namespace {
constexpr std::string_view kRolledBackKey = "rolled_back_writes";
constexpr std::string_view kLogStartKey = "log_start";
// Present while a snapshot is being imported: a node that finds it at start
// holds half a state and starts over empty (the leader sends a new snapshot).
constexpr std::string_view kInstallingKey = "snapshot_installing";

std::string EncodePosition(LogPosition p) {
  std::string v;
  PutFixed64BE(&v, p.term);
  PutFixed64BE(&v, p.index);
  return v;
}
}  // namespace

Result<std::unique_ptr<Replica>> Replica::Open(ReplicaHost* host, Engine* engine,
                                               const CoreFactory& make_core) {
  std::unique_ptr<Replica> r(new Replica(host, engine));
  std::string marker;
  if (engine->Get(Cf::kMeta, kInstallingKey, &marker).ok()) {
    WriteBatch wipe;
    for (Cf cf : {Cf::kData, Cf::kLog, Cf::kUndo})
      wipe.DeleteRange(cf, "", std::string(64, '\xff'));
    for (const std::string& k : SnapshotMetaKeys()) wipe.Delete(Cf::kMeta, k);
    wipe.Delete(Cf::kMeta, kLogStartKey);
    wipe.Delete(Cf::kMeta, kInstallingKey);
    RKV_RETURN_IF_ERROR(engine->Write(wipe, true));
  }
  RKV_RETURN_IF_ERROR(r->store_.Load());
  CoreRecovery recovery;
  RKV_RETURN_IF_ERROR(LoadCoreState(engine, &recovery));
  recovery.applied = r->store_.applied();
  recovery.membership = r->store_.membership();
  std::string start;
  if (engine->Get(Cf::kMeta, kLogStartKey, &start).ok()) {
    std::string_view in = start;
    GetFixed64BE(&in, &recovery.log_start.term);
    GetFixed64BE(&in, &recovery.log_start.index);
    r->log_first_index_ = recovery.log_start.index + 1;
  }
  if (!recovery.log.empty()) r->log_first_index_ = recovery.log.front().index;
  // The term starts as stored, made to agree with the log that was loaded (a
  // data directory from before they were kept has none: the log's own).
  std::string starts;
  if (engine->Get(Cf::kMeta, TermStarts::kKey, &starts).ok())
    TermStarts::Decode(starts, &r->term_starts_);  // unreadable: rebuilt below
  const std::string stored = r->term_starts_.Encode();
  {
    // Where the core will start its log (LeaderCore's constructor): what the
    // starts say up to there must agree with it, and past it only the log
    // counts (starts written before a crash took their entries go).
    LogPosition start = recovery.log_start;
    if (recovery.log.empty() && recovery.applied.index > start.index) start = recovery.applied;
    if (recovery.log.empty() || recovery.log.front().index == start.index + 1) {
      r->term_starts_.ObservePosition(start);
      r->term_starts_.Observe(start.index + 1, {});
    } else {
      r->term_starts_ = TermStarts();  // a log that does not follow its start: its own terms only
    }
    r->term_starts_.Observe(std::nullopt, recovery.log);
  }
  if (r->term_starts_.Encode() != stored) {
    WriteBatch batch;
    batch.Put(Cf::kMeta, TermStarts::kKey, r->term_starts_.Encode());
    RKV_RETURN_IF_ERROR(engine->Write(batch, true));
  }
  RKV_RETURN_IF_ERROR(r->UndoLegacySpeculativeState(recovery));
  recovery.applied = r->store_.applied();
  std::string count;
  if (engine->Get(Cf::kMeta, kRolledBackKey, &count).ok() && count.size() == 8)
    r->rolled_back_writes_ = DecodeFixed64BE(count.data());
  r->commit_index_ = recovery.applied.index;
  r->flushed_index_ = recovery.applied.index;
  r->core_ = make_core(std::move(recovery));
  r->Drain();
  return r;
}

// Data directories written before speculative state stayed in memory hold it
// in the data column family, with an undo record per entry: put the state back
// at the last entry below them (committed), durably. The entries stay in the
// log and are applied again once committed, or recorded when rolled back.
Status Replica::UndoLegacySpeculativeState(const CoreRecovery& recovery) {
  std::map<uint64_t, UndoRecord> undo;
  auto it = engine_->NewIterator(Cf::kUndo);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("undo key of wrong size");
    UndoRecord u;
    if (!DecodeUndo(it->value(), &u)) return Status::Corruption("undo record is malformed");
    undo.emplace(DecodeFixed64BE(it->key().data()), std::move(u));
  }
  RKV_RETURN_IF_ERROR(it->status());
  if (undo.empty()) return Status::Ok();
  uint64_t to = undo.begin()->first - 1;
  std::optional<LogPosition> position;
  if (to == recovery.log_start.index) position = recovery.log_start;
  for (const Entry& e : recovery.log)
    if (e.index == to) position = LogPosition{e.term, e.index};
  if (!position || to >= store_.applied().index)
    return Status::Corruption("undo records from " + std::to_string(to + 1) +
                              " do not match the applied index " +
                              std::to_string(store_.applied().index) + " and the log");
  for (auto u = undo.rbegin(); u != undo.rend(); ++u)
    for (size_t i = u->second.items.size(); i-- > 0;) store_.Restore(u->second.items[i]);
  store_.SetApplied(*position);
  WriteBatch batch;
  uint64_t seq = 0;
  store_.TakeWrites(&batch, &seq);
  batch.DeleteRange(Cf::kUndo, "", std::string(64, '\xff'));
  RKV_RETURN_IF_ERROR(engine_->Write(batch, true));
  store_.WritesDone(seq);
  return Status::Ok();
}

void Replica::Tick(uint64_t now_ns) {
  if (installing_) return;
  core_->Tick(now_ns);
  Drain();
}

void Replica::Step(const Message& m) {
  if (installing_) return;  // lost, as on a network: the protocol retries
  core_->Step(m);
  RequestDrain();
}

void Replica::Propose(Request r) {
  if (installing_) {
    RequestOutcome o;
    o.kind = RequestOutcome::Kind::kFailed;
    o.status = Status::TryAgain("this node is installing a snapshot; retry");
    host_->OnOutcome(r.id, std::move(o));
    return;
  }
  core_->Propose(std::move(r));
  RequestDrain();
}

void Replica::SnapshotDone(NodeId to, bool ok, uint64_t index) {
  core_->ReportSnapshot(to, ok, index);
  Drain();
}

void Replica::RecordReplaced(const std::vector<Entry>& entries) {
  RollbackBatch batch;
  std::vector<Argv> commands;
  for (const Entry& e : entries) {
    if (e.kind != EntryKind::kCommand && e.kind != EntryKind::kBarrier) continue;
    auto u = undo_.find(e.index);
    if (!DecodeCommands(e.data, &commands)) continue;
    for (const Argv& argv : commands)
      for (WrittenKey& w : WrittenKeys(argv))
        batch.records.push_back({std::move(w.key),
                                 std::move(w.argument),
                                 {argv.begin(), argv.end()},
                                 u != undo_.end(),
                                 e.term,
                                 e.index,
                                 u != undo_.end() ? u->second.time_ms : 0,
                                 e.origin,
                                 e.request_id});
    ++batch.entries;
    batch.commands += std::max<size_t>(1, commands.size());
    if (u != undo_.end()) ++batch.applied_entries;
  }
  if (batch.entries == 0) return;
  batch.term = batch.records.empty() ? entries.front().term : batch.records.front().term;
  batch.first_index = entries.front().index;
  rolled_back_writes_ += batch.commands;
  Status s = host_->RecordRollback(batch);
  if (!s.ok()) host_->OnFatal(s);
}

void Replica::InstallSnapshot(NodeId from, uint64_t term, SnapshotImage image) {
  if (installing_) return;
  // Effects the core made this turn (a drain deferred to the turn's end)
  // first: a truncation's discarded entries are recorded there, and the
  // core's install drops what the driver has not taken.
  Drain();
  SnapshotMeta meta;
  for (const auto& [k, v] : image.meta) {
    if (k == KvStore::StateMetaKey()) KvStore::DecodeApplied(v, &meta.position);
    if (k == "membership") meta.membership = v;
  }
  // From a leader of an older term (the transfer began before this node moved
  // on): the core would refuse it, so it must not be imported either — the
  // state would jump ahead of the core's log (sim: 5 voters, quorum, seed 32).
  // Steps and ticks wait while a snapshot is imported, so the term cannot
  // change between this check and the core's.
  if (term < status().term) return;
  if (meta.position.index <= status().commit_index) return;  // stale: nothing to do
  // What this node held above its commit is replaced wholesale; under async
  // some of it may have been acknowledged, so it is recorded first — except
  // the entries the sender's history holds (the same term at the same index,
  // up to the snapshot's): the snapshot's state has them. A node restarted
  // at its commit would otherwise report committed writes as rolled back.
  // Sound because the snapshot's state is committed (the engine holds
  // committed state only: FlushStoreWrites), so the sender's log up to its
  // index is the cluster's, and one leader per term makes an (index, term)
  // one entry. Starts that do not agree with the snapshot's own position are
  // not trusted.
  TermStarts sender;
  bool sender_known = false;
  for (const auto& [k, v] : image.meta)
    if (k == TermStarts::kKey) sender_known = TermStarts::Decode(v, &sender);
  sender_known = sender_known && sender.TermAt(meta.position.index) == meta.position.term;
  std::vector<Entry> replaced = core_->UncommittedEntries();
  if (sender_known)
    std::erase_if(replaced, [&](const Entry& e) {
      std::optional<uint64_t> t = sender.TermAt(e.index);
      return e.index <= meta.position.index && t && *t == e.term;
    });
  RecordReplaced(replaced);
  // This node's log becomes the sender's up to the snapshot.
  TermStarts starts = sender_known ? sender : TermStarts();
  starts.ObservePosition(meta.position);
  starts.Observe(meta.position.index + 1, {});  // the sender's log past it is not ours yet
  installing_ = true;
  std::string count;
  PutFixed64BE(&count, rolled_back_writes_);
  Engine* engine = engine_;
  auto img = std::make_shared<SnapshotImage>(std::move(image));
  host_->SubmitTask(
      [engine, img, meta, count, encoded_starts = starts.Encode()]() -> Status {
        WriteBatch mark;
        mark.Put(Cf::kMeta, kInstallingKey, "1");
        RKV_RETURN_IF_ERROR(engine->Write(mark, true));
        RKV_RETURN_IF_ERROR(engine->ImportSnapshot(*img));
        WriteBatch done;
        done.Put(Cf::kMeta, kLogStartKey, EncodePosition(meta.position));
        done.Put(Cf::kMeta, kRolledBackKey, count);
        done.Put(Cf::kMeta, TermStarts::kKey, encoded_starts);
        done.Delete(Cf::kMeta, kInstallingKey);
        return engine->Write(done, true);
      },
      [this, from, term, meta, starts](const Status& s) {
        FinishInstall(from, term, meta, starts, s);
      });
}

std::vector<std::string> Replica::SnapshotMetaKeys() {
  std::vector<std::string> keys = KvStore::SnapshotMetaKeys();
  keys.emplace_back(TermStarts::kKey);
  return keys;
}

void Replica::FinishInstall(NodeId from, uint64_t term, const SnapshotMeta& meta, TermStarts starts,
                            const Status& s) {
  if (!s.ok()) {
    host_->OnFatal(s);
    return;
  }
  term_starts_ = std::move(starts);
  Status ls = store_.Load();
  if (!ls.ok()) {
    host_->OnFatal(ls);
    return;
  }
  if (store_.applied().index != meta.position.index)
    host_->OnFatal(Status::Corruption("the installed snapshot's state is at " +
                                      std::to_string(store_.applied().index) + ", expected " +
                                      std::to_string(meta.position.index)));
  undo_.clear();
  held_writes_.clear();  // the installed state replaces what they held
  pending_compaction_.reset();
  commit_index_ = flushed_index_ = meta.position.index;
  log_first_index_ = meta.position.index + 1;
  installing_ = false;
  core_->InstallSnapshot(from, term, meta);
  host_->OnApplied();
  Drain();
}

void Replica::Drain() {
  // Not while a snapshot is imported: writes made now would land after the
  // import and clobber it. The core's effects wait (FinishInstall drains).
  if (draining_ || installing_) return;
  draining_ = true;
  while (core_->HasReady()) Process(core_->TakeReady());
  draining_ = false;
}

void Replica::RequestDrain() {
  if (drain_deferred_) return;
  drain_deferred_ = host_->DeferDrain([this] {
    drain_deferred_ = false;
    Drain();
  });
  if (!drain_deferred_) Drain();
}

void Replica::Process(Ready rd) {
  // Undo first, in memory: the engine holds no state of uncommitted entries
  // (FlushStoreWrites), so nothing of it need go with the log truncation.
  if (rd.rollback_to || !rd.discarded.empty()) RollBack(rd.rollback_to, rd.discarded);
  if (rd.rollback_to) {
    // The held writes of the undone entries and the undo's own writes leave
    // the state at the rollback's position, so they go to the engine as one
    // batch at that position. Kept apart, a held batch "at index i" would be
    // written once a different entry at i commits (sim async seed 48). The
    // kept entries' batches stay as they are (each speculative entry has its
    // own), so the engine can still stop at a commit below the position.
    const uint64_t to = rd.rollback_to->index;
    auto undone_from = std::find_if(held_writes_.begin(), held_writes_.end(),
                                    [to](const HeldWrites& h) { return h.applied_index > to; });
    HeldWrites undone;
    for (auto it = undone_from; it != held_writes_.end(); ++it) {
      undone.batch.Append(std::move(it->batch));
      undone.seq = std::max(undone.seq, it->seq);
    }
    held_writes_.erase(undone_from, held_writes_.end());
    WriteBatch undo;
    uint64_t undo_seq = 0;
    if (store_.TakeWrites(&undo, &undo_seq)) {
      undone.batch.Append(std::move(undo));
      undone.seq = std::max(undone.seq, undo_seq);
    }
    undone.applied_index = to;
    if (!undone.batch.empty()) held_writes_.push_back(std::move(undone));
  }

  // 1. Persist. Whatever must wait for durability waits for this write's
  // callback; writes complete in order, so an empty write also orders
  // messages behind earlier persists.
  bool log_writes = rd.hard_state || rd.truncate_from || !rd.append.empty();
  WriteBatch batch;
  // The state's own writes never need to go with the log's: the engine holds
  // majority-committed state only (FlushStoreWrites), which no truncation
  // touches. The rollback counter goes with the truncation it counts.
  bool rollback_writes = rolled_back_count_dirty_;
  if (rollback_writes) {
    std::string count;
    PutFixed64BE(&count, rolled_back_writes_);
    batch.Put(Cf::kMeta, kRolledBackKey, count);
    rolled_back_count_dirty_ = false;
  }
  if (log_writes || rollback_writes || !rd.messages_after_persist.empty()) {
    AddLogWrites(rd.hard_state, rd.truncate_from, rd.append, &batch);
    if (term_starts_.Observe(rd.truncate_from, rd.append))
      batch.Put(Cf::kMeta, TermStarts::kKey, term_starts_.Encode());
    std::optional<LogPosition> persisted;
    if (!rd.append.empty()) persisted = LogPosition{rd.append.back().term, rd.append.back().index};
    ++writes_in_flight_;
    host_->SubmitWrite(
        std::move(batch), (rd.sync && log_writes) || rollback_writes,
        [this, persisted, after = std::move(rd.messages_after_persist)](const Status& s) mutable {
          --writes_in_flight_;
          if (!s.ok()) {
            host_->OnFatal(s);
            return;
          }
          for (Message& m : after) host_->Send(std::move(m));
          if (persisted) core_->Persisted(*persisted);
          RequestDrain();
        });
  }
  // 2. Messages that need not wait.
  for (Message& m : rd.messages) host_->Send(std::move(m));
  // 3. The state machine. An entry applied as committed is committed (the
  // cores that never report a majority commit apply only committed entries).
  for (ApplyItem& item : rd.apply) {
    if (!item.speculative) commit_index_ = std::max(commit_index_, item.entry.index);
    // Each speculative entry's writes are held on their own, so the engine
    // reaches exactly the commit once it covers them: a snapshot (the
    // engine's state) then starts where the leader's compacted log resumes,
    // even if the commit stops inside what one Ready applied.
    if (item.speculative) HoldWrites();
    Apply(item);
  }
  // Reads waiting for a session's position: the applied state moved, or the
  // commit did (which can settle a position without anything applied).
  if (!rd.apply.empty() || rd.committed) host_->OnApplied();
  if (rd.committed) {
    // Entries up to the majority commit can no longer be rolled back, and
    // the state they produced may be written.
    commit_index_ = std::max(commit_index_, *rd.committed);
    undo_.erase(undo_.begin(), undo_.upper_bound(*rd.committed));
  }
  for (uint64_t id : rd.reads) {
    RequestOutcome o;
    o.kind = RequestOutcome::Kind::kReadReady;
    host_->OnOutcome(id, std::move(o));
  }
  for (RequestFailed& f : rd.failed) {
    RequestOutcome o;
    o.kind = RequestOutcome::Kind::kFailed;
    o.status = std::move(f.status);
    host_->OnOutcome(f.request_id, std::move(o));
  }
  if (rd.membership) host_->OnMembership(*rd.membership);
  for (NodeId to : rd.send_snapshot_to)
    host_->SendSnapshot(to, status().term, engine_->PinSnapshot());
  FlushStoreWrites(rd.compact_to);
}

void Replica::Apply(ApplyItem& item) {
  const Entry& e = item.entry;
  if (e.index != store_.applied().index + 1) {
    std::string why = "entry " + std::to_string(e.index) + " applied after " +
                      std::to_string(store_.applied().index) +
                      ": entries are applied in order, once";
    RKV_ASSERT_MSG(false, why.c_str());
  }
  std::optional<std::string> prior_membership;
  if (item.speculative) {
    store_.BeginUndo();
    if (e.kind == EntryKind::kConfig) prior_membership = store_.membership();
  }
  ApplyEntry(&store_, e, &replies_scratch_);
  if (item.speculative) {
    UndoRecord u;
    u.term = e.term;
    u.time_ms = host_->WallClockMs();
    u.origin = e.origin;
    u.request_id = e.request_id;
    u.data = e.data;
    u.items = store_.EndUndo();
    u.prior_membership = std::move(prior_membership);
    // Kept in memory only: the engine never holds this entry's state before
    // it is majority-committed (FlushStoreWrites), so a crash needs no undo.
    undo_.emplace_hint(undo_.end(), e.index, std::move(u));
  }
  if (item.request_id != 0) {
    RequestOutcome o;
    o.kind = RequestOutcome::Kind::kApplied;
    o.replies = std::move(replies_scratch_);
    o.position = {e.term, e.index};
    host_->OnOutcome(item.request_id, std::move(o));
  }
}

namespace {

// The command of an entry that names `key` last (the one that left its value).
std::vector<std::string> CommandFor(const std::vector<Argv>& commands, std::string_view key) {
  for (size_t c = commands.size(); c-- > 0;)
    for (const WrittenKey& w : WrittenKeys(commands[c]))
      if (w.key == key) return {commands[c].begin(), commands[c].end()};
  return {};
}

}  // namespace

void Replica::RollBack(const std::optional<LogPosition>& to, const std::vector<Entry>& discarded) {
  RollbackBatch batch;
  std::vector<Argv> commands;
  // 1. Undo the applied ones, newest first, so each key returns to its value at `to`.
  if (to) {
    uint64_t applied = store_.applied().index;
    RKV_ASSERT(to->index < applied);
    std::vector<RollbackRecord> undone;
    for (uint64_t index = applied; index > to->index; --index) {
      auto it = undo_.find(index);
      if (it == undo_.end()) {
        // Only entries applied before they were committed can be undone; a
        // truncated committed entry means the protocol itself was broken.
        host_->OnFatal(Status::Corruption("entry " + std::to_string(index) +
                                          " was applied as committed and is now truncated"));
        continue;
      }
      const UndoRecord& u = it->second;
      // Later entries are already undone: each key holds what this one left.
      std::vector<std::optional<std::string>> after;
      std::string stored;
      for (const KvStore::UndoItem& i : u.items) {
        StoredValueView view;
        if (store_.Get(i.key, &stored) && DecodeStoredValue(stored, &view))
          after.emplace_back(std::string(view.payload));
        else
          after.emplace_back(std::nullopt);
      }
      for (size_t i = u.items.size(); i-- > 0;) store_.Restore(u.items[i]);
      // The membership goes back too: a snapshot of this state carries it.
      if (u.prior_membership) store_.SetMembership(*u.prior_membership);
      if (!DecodeCommands(u.data, &commands)) commands.clear();
      for (size_t i = u.items.size(); i-- > 0;)
        undone.push_back({u.items[i].key, after[i], CommandFor(commands, u.items[i].key), true,
                          u.term, index, u.time_ms, u.origin, u.request_id});
      ++batch.entries;
      batch.commands += std::max<size_t>(1, commands.size());
      ++batch.applied_entries;
      undo_.erase(it);
    }
    std::reverse(undone.begin(), undone.end());
    batch.records = std::move(undone);
    store_.SetApplied(*to);
  }
  // 2. The discarded entries that were not applied: from their commands.
  uint64_t applied_now = store_.applied().index;
  for (const Entry& e : discarded) {
    if (e.index <= applied_now) continue;
    bool undone = false;
    for (const RollbackRecord& r : batch.records) undone = undone || r.index == e.index;
    if (undone) continue;
    if (!DecodeCommands(e.data, &commands)) continue;
    for (const Argv& argv : commands)
      for (WrittenKey& w : WrittenKeys(argv))
        batch.records.push_back({std::move(w.key),
                                 std::move(w.argument),
                                 {argv.begin(), argv.end()},
                                 false,
                                 e.term,
                                 e.index,
                                 0,
                                 e.origin,
                                 e.request_id});
    ++batch.entries;
    batch.commands += std::max<size_t>(1, commands.size());
  }
  if (batch.entries == 0) return;
  std::sort(batch.records.begin(), batch.records.end(),
            [](const RollbackRecord& a, const RollbackRecord& b) { return a.index < b.index; });
  batch.term = batch.records.empty() ? 0 : batch.records.front().term;
  batch.first_index = batch.records.empty() ? 0 : batch.records.front().index;
  rolled_back_writes_ += batch.commands;
  rolled_back_count_dirty_ = true;
  // The records are durable before the truncation is.
  Status s = host_->RecordRollback(batch);
  if (!s.ok()) host_->OnFatal(s);
}

void Replica::HoldWrites() {
  HeldWrites held;
  if (store_.TakeWrites(&held.batch, &held.seq)) {
    held.applied_index = store_.applied().index;
    held_writes_.push_back(std::move(held));
  }
}

void Replica::FlushStoreWrites(const std::optional<LogPosition>& compact_to) {
  // The state's writes wait here until the majority commit covers the state
  // they leave: the engine holds committed state only, so a crash or a
  // failover never finds speculative state (async) on disk to undo, and undo
  // records live in memory. Under quorum and all the applied state never runs
  // ahead of the commit, and nothing waits.
  HoldWrites();
  WriteBatch batch;
  uint64_t seq = 0;
  while (!held_writes_.empty() && held_writes_.front().applied_index <= commit_index_) {
    batch.Append(std::move(held_writes_.front().batch));
    seq = std::max(seq, held_writes_.front().seq);
    flushed_index_ = held_writes_.front().applied_index;
    held_writes_.pop_front();
  }
  // Log entries may go once the state they produced is written: this batch
  // carries both, atomically (or follows the batch that wrote the state).
  if (compact_to) pending_compaction_ = *compact_to;
  if (pending_compaction_ && pending_compaction_->index <= flushed_index_) {
    LogPosition to = *pending_compaction_;
    pending_compaction_.reset();
    if (to.index >= log_first_index_) {
      // Point deletes for the usual handful of entries; a range delete for
      // many (range tombstones are costly when frequent).
      constexpr uint64_t kPointDeletesMax = 1024;
      if (to.index - log_first_index_ < kPointDeletesMax) {
        for (uint64_t i = log_first_index_; i <= to.index; ++i) batch.Delete(Cf::kLog, LogKey(i));
      } else {
        AddLogCompaction(to.index, &batch);
      }
      batch.Put(Cf::kMeta, kLogStartKey, EncodePosition(to));
      log_first_index_ = to.index + 1;
    }
  }
  if (batch.empty()) return;
  ++writes_in_flight_;
  host_->SubmitWrite(std::move(batch), false, [this, seq](const Status& s) {
    --writes_in_flight_;
    if (!s.ok()) {
      host_->OnFatal(s);
      return;
    }
    if (seq != 0) store_.WritesDone(seq);
  });
}

bool Replica::DecodeUndo(std::string_view in, UndoRecord* r) {
  if (in.empty() || in[0] != 1) return false;
  in.remove_prefix(1);
  uint64_t n = 0;
  if (!GetVarint64(&in, &r->term) || !GetVarint64(&in, &r->time_ms) ||
      !GetVarint64(&in, &r->origin) || !GetVarint64(&in, &r->request_id))
    return false;
  std::string_view data;
  if (!GetLengthPrefixed(&in, &data) || !GetVarint64(&in, &n)) return false;
  r->data = std::string(data);
  for (uint64_t i = 0; i < n; ++i) {
    // key, flags (1: had a prior value), prior value, value after the entry
    // (not needed to put the state back).
    std::string_view key, prior, after;
    if (!GetLengthPrefixed(&in, &key) || in.empty()) return false;
    uint8_t flags = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (!GetLengthPrefixed(&in, &prior) || !GetLengthPrefixed(&in, &after)) return false;
    r->items.push_back({std::string(key), (flags & 1) != 0, std::string(prior)});
  }
  return in.empty();
}

}  // namespace rkv
