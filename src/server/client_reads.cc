// A connection's reads at its level (RKV.CONSISTENCY), routed by RKV.READFROM,
// and the session token (RKV.SESSION) that carries read-your-writes and
// monotonic reads across connections and nodes. See node/read_service.h.
#include "kv/commands.h"
#include "server/client_conn.h"
#include "server/server_impl.h"

namespace rkv {

bool ClientConn::TryReadNow(Slot& slot, const KvCommandSpec* spec, const Argv& argv) {
  if (server_->ReadTarget(read_from_) != 0) return false;
  if (!server_->reads().CanServeNow(CurrentReadSpec(), MonotonicNowNs())) return false;
  KvStore& store = server_->replica().store();
  // GET of a string, the commonest read, is rendered from the stored bytes
  // straight into the output (no Reply, no copy of the value in between).
  static const KvCommandSpec* const kGet = FindKvCommand("get");
  if (spec == kGet && AppendStringReply(store, argv[1], ReplyBuffer(slot))) {
    Finished(slot, false);
  } else {
    ApplyContext ctx{&store, {}};
    FinishReply(slot, spec->run(ctx, argv));
  }
  AdvanceToken(store.applied());
  return true;
}

void ClientConn::StartRead(Slot& slot, uint64_t seq, std::vector<std::vector<std::string>> commands,
                           bool exec) {
  slot.transaction = std::move(commands);
  slot.exec = exec;
  NodeId target = server_->ReadTarget(read_from_);
  if (target == ServerImpl::kNoReadTarget) {
    slot.transaction.clear();
    FinishReply(slot, Reply::Error("TRYAGAIN no leader is known to read from; retry the read"));
    return;
  }
  SetState(slot, static_cast<int>(Slot::State::kReadInFlight));
  if (target != 0) {
    Forward(slot, seq, target);
    return;
  }
  ReadSpec spec = CurrentReadSpec();
  if (server_->reads().CanServeNow(spec, MonotonicNowNs())) {
    ServeRead(slot);
    return;
  }
  server_->AwaitRead(this, seq, spec);
}

void ClientConn::ServeRead(Slot& slot) {
  KvStore& store = server_->replica().store();
  Reply reply = RunReadCommands(&store, slot.transaction, slot.exec);
  slot.transaction.clear();
  FinishReply(slot, reply);
  AdvanceToken(store.applied());
}

void ClientConn::Forward(Slot& slot, uint64_t seq, NodeId to) {
  ReadForwardMsg m;
  m.spec = CurrentReadSpec();
  m.spec.may_forward = false;
  m.protocol = slot.protocol;
  m.exec = slot.exec;
  m.commands = std::move(slot.transaction);
  slot.transaction.clear();
  server_->ForwardRead(this, seq, to, std::move(m));
}

void ClientConn::OnReadDecision(uint64_t slot_seq, ReadDecision d) {
  if (closed_ || slot_seq < front_seq_ || slot_seq - front_seq_ >= slots_.size()) return;
  Slot& slot = slots_[slot_seq - front_seq_];
  if (slot.state != Slot::State::kReadInFlight) return;
  switch (d.kind) {
    case ReadDecision::Kind::kServe:
      if (!server_->reads().StillServable(CurrentReadSpec(), MonotonicNowNs())) {
        server_->AwaitRead(this, slot_seq, CurrentReadSpec());  // no longer fresh: again
        return;
      }
      ServeRead(slot);
      break;
    case ReadDecision::Kind::kForward: {
      NodeId leader = server_->replica().leader();
      if (leader == 0 || leader == server_->config().id) {
        slot.transaction.clear();
        FinishReply(slot, Reply::Error("TRYAGAIN no leader is known to forward the read to"));
      } else {
        Forward(slot, slot_seq, leader);
        return;  // still in flight
      }
      break;
    }
    case ReadDecision::Kind::kFail: {
      slot.transaction.clear();
      std::string prefix = d.status.code() == Code::kStale     ? "STALE "
                           : d.status.code() == Code::kTimeout ? "TIMEOUT "
                                                               : "TRYAGAIN ";
      FinishReply(slot, Reply::Error(prefix + d.status.message()));
      break;
    }
  }
  Pump();
  DeferFlush();
}

void ClientConn::OnForwardedRead(uint64_t slot_seq, const Status& status, ReadReplyMsg reply) {
  if (closed_ || slot_seq < front_seq_ || slot_seq - front_seq_ >= slots_.size()) return;
  Slot& slot = slots_[slot_seq - front_seq_];
  if (slot.state != Slot::State::kReadInFlight) return;
  if (!status.ok()) {
    FinishReply(slot, Reply::Error("TRYAGAIN " + status.message()));
  } else {
    // An error reply (-STALE from the other node) carries its position too,
    // but only a served read advances the session.
    bool error = !reply.reply.empty() && reply.reply[0] == '-';
    if (!error) AdvanceToken(reply.position);
    Finish(slot, std::move(reply.reply), error);
  }
  Pump();
  DeferFlush();
}

Reply ClientConn::ConsistencyCommand(const Argv& argv) {
  if (argv.size() == 1) return Reply::Bulk(consistency_.ToString());
  std::vector<std::string_view> words(argv.begin() + 1, argv.end());
  ReadConsistency c;
  std::string why;
  if (!ParseReadConsistency(words, &c, &why)) return Reply::Error("ERR " + why);
  consistency_ = c;
  return Reply::Ok();
}

Reply ClientConn::SessionCommand(const Argv& argv) {
  if (argv.size() == 1) return Reply::Bulk(EncodeSessionToken(token_));
  if (argv.size() > 2)
    return Reply::Error("ERR wrong number of arguments for 'rkv.session' command");
  LogPosition p;
  if (!DecodeSessionToken(argv[1], &p))
    return Reply::Error("ERR invalid session token '" + std::string(argv[1].substr(0, 64)) +
                        "': expected TERM.INDEX as RKV.SESSION shows it");
  // Adopting never weakens what this connection already saw.
  AdvanceToken(p);
  return Reply::Ok();
}

Reply ClientConn::ReadFromCommand(const Argv& argv) {
  if (argv.size() == 1) return Reply::Bulk(std::string(ReadFromName(read_from_)));
  if (argv.size() > 2)
    return Reply::Error("ERR wrong number of arguments for 'rkv.readfrom' command");
  ReadFrom r;
  if (!ParseReadFrom(argv[1], &r))
    return Reply::Error("ERR invalid read routing '" + std::string(argv[1].substr(0, 64)) +
                        "': expected leader, follower or nearest");
  read_from_ = r;
  return Reply::Ok();
}

}  // namespace rkv
