#include "node/replica.h"

#include "core/assert.h"
#include "kv/commands.h"
#include "storage/log_store.h"

namespace rkv {

Result<std::unique_ptr<Replica>> Replica::Open(ReplicaHost* host, Engine* engine,
                                               const CoreFactory& make_core) {
  std::unique_ptr<Replica> r(new Replica(host, engine));
  RKV_RETURN_IF_ERROR(r->store_.Load());
  CoreRecovery recovery;
  RKV_RETURN_IF_ERROR(LoadCoreState(engine, &recovery));
  recovery.applied = r->store_.applied();
  if (!recovery.log.empty()) r->log_first_index_ = recovery.log.front().index;
  r->core_ = make_core(std::move(recovery));
  r->Drain();
  return r;
}

void Replica::Tick(uint64_t now_ns) {
  core_->Tick(now_ns);
  Drain();
}

void Replica::Step(const Message& m) {
  core_->Step(m);
  Drain();
}

void Replica::Propose(Request r) {
  core_->Propose(std::move(r));
  Drain();
}

void Replica::Drain() {
  if (draining_) return;  // a callback made synchronously by the host
  draining_ = true;
  while (core_->HasReady()) Process(core_->TakeReady());
  draining_ = false;
}

void Replica::Process(Ready rd) {
  // 1. Persist. Whatever must wait for durability waits for this write's
  // callback; writes complete in order, so an empty write also orders
  // messages behind earlier persists.
  bool log_writes = rd.hard_state || rd.truncate_from || !rd.append.empty();
  if (log_writes || !rd.messages_after_persist.empty()) {
    WriteBatch batch;
    AddLogWrites(rd.hard_state, rd.truncate_from, rd.append, &batch);
    std::optional<LogPosition> persisted;
    if (!rd.append.empty()) persisted = LogPosition{rd.append.back().term, rd.append.back().index};
    ++writes_in_flight_;
    host_->SubmitWrite(std::move(batch), rd.sync && log_writes,
                       [this, persisted, after = std::move(rd.messages_after_persist)](
                           const Status& s) mutable {
                         --writes_in_flight_;
                         if (!s.ok()) {
                           host_->OnFatal(s);
                           return;
                         }
                         for (Message& m : after) host_->Send(std::move(m));
                         if (persisted) core_->Persisted(*persisted);
                         Drain();
                       });
  }
  // 2. Messages that need not wait.
  for (Message& m : rd.messages) host_->Send(std::move(m));
  // 3. The state machine.
  RKV_ASSERT_MSG(!rd.rollback_after, "rollback is not supported by this build yet");
  for (ApplyItem& item : rd.apply) {
    ApplyEntry(&store_, item.entry, &replies_scratch_);
    if (item.request_id != 0) {
      RequestOutcome o;
      o.kind = RequestOutcome::Kind::kApplied;
      o.replies = std::move(replies_scratch_);
      o.position = {item.entry.term, item.entry.index};
      host_->OnOutcome(item.request_id, std::move(o));
    }
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
  FlushStoreWrites(rd.compact_upto);
}

void Replica::FlushStoreWrites(const std::optional<uint64_t>& compact_upto) {
  WriteBatch batch;
  uint64_t seq = 0;
  bool has_store_writes = store_.TakeWrites(&batch, &seq);
  // Log entries may go once the state they produced is written: this batch
  // carries both, atomically.
  if (compact_upto && *compact_upto >= log_first_index_) {
    // Point deletes for the usual handful of entries; a range delete for many
    // (range tombstones are costly when frequent).
    constexpr uint64_t kPointDeletesMax = 1024;
    if (*compact_upto - log_first_index_ < kPointDeletesMax) {
      for (uint64_t i = log_first_index_; i <= *compact_upto; ++i)
        batch.Delete(Cf::kLog, LogKey(i));
    } else {
      AddLogCompaction(*compact_upto, &batch);
    }
    log_first_index_ = *compact_upto + 1;
  }
  if (batch.empty()) return;
  ++writes_in_flight_;
  host_->SubmitWrite(std::move(batch), false, [this, seq, has_store_writes](const Status& s) {
    --writes_in_flight_;
    if (!s.ok()) {
      host_->OnFatal(s);
      return;
    }
    if (has_store_writes) store_.WritesDone(seq);
  });
}

}  // namespace rkv
