// Reads at a level (node/read_service.h) on the event loop: routing by
// RKV.READFROM, waiting for the read service's decision, and forwarding reads
// to another node over the peer links.
#include <spdlog/spdlog.h>

#include "kv/commands.h"
#include "resp/writer.h"
#include "server/client_conn.h"
#include "server/peer_transport.h"
#include "server/server_impl.h"

namespace rkv {

Reply RunReadCommands(KvStore* store, const std::vector<std::vector<std::string>>& commands,
                      bool exec) {
  ApplyContext ctx{store, {}};
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (const auto& cmd : commands) {
    Argv argv(cmd.begin(), cmd.end());
    const KvCommandSpec* spec = argv.empty() ? nullptr : FindKvCommand(argv[0]);
    if (spec == nullptr || (spec->flags & kCmdWrite)) {
      // Only from a peer's forwarded read (clients' commands were checked).
      replies.push_back(Reply::Error("ERR '" + (argv.empty() ? std::string() : cmd[0]) +
                                     "' cannot be part of a forwarded read"));
    } else if (!ArityOk(spec->arity, argv.size())) {
      replies.push_back(Reply::Error("ERR wrong number of arguments for '" +
                                     std::string(spec->name) + "' command"));
    } else {
      replies.push_back(spec->run(ctx, argv));
    }
  }
  if (exec) return Reply::Array(std::move(replies));
  return replies.empty() ? Reply::Error("ERR empty read") : std::move(replies[0]);
}

void ServerImpl::OnApplied() {
  if (reads_) reads_->OnApplied(MonotonicNowNs());
}

NodeId ServerImpl::ReadTarget(ReadFrom from) {
  if (from == ReadFrom::kNearest) return 0;
  Role role = replica_->role();
  if (role == Role::kStandalone) return 0;
  if (from == ReadFrom::kLeader) {
    if (role == Role::kLeader) return 0;
    NodeId leader = replica_->leader();
    return leader != 0 ? leader : kNoReadTarget;
  }
  // kFollower: here unless this node leads; then the most caught-up follower
  // that is online, else here (as MongoDB's secondaryPreferred).
  if (role != Role::kLeader) return 0;
  CoreStatus st = replica_->status();
  NodeId best = 0;
  uint64_t best_match = 0;
  for (const FollowerStatus& f : st.followers)
    if (f.state == "online" && (best == 0 || f.match_index > best_match)) {
      best = f.id;
      best_match = f.match_index;
    }
  return best;
}

void ServerImpl::AwaitRead(ClientConn* conn, uint64_t slot_seq, const ReadSpec& spec) {
  active_ = true;
  reads_->Read(spec, MonotonicNowNs(),
               [this, weak = conn->weak_from_this(), slot_seq](ReadDecision d) {
                 // Delivered from the loop: the decision may come before Read returns.
                 asio::post(io_, [weak, slot_seq, d = std::move(d)]() mutable {
                   if (auto c = weak.lock()) c->OnReadDecision(slot_seq, std::move(d));
                 });
               });
}

void ServerImpl::ForwardRead(ClientConn* conn, uint64_t slot_seq, NodeId to, ReadForwardMsg m) {
  active_ = true;
  uint64_t id = next_forward_id_++;
  m.id = id;
  std::weak_ptr<ClientConn> weak = conn->weak_from_this();
  if (!transport_ || !transport_->SendRead(to, m)) {
    asio::post(io_, [weak, slot_seq, to] {
      if (auto c = weak.lock())
        c->OnForwardedRead(slot_seq,
                           Status::TryAgain("cannot reach node " + std::to_string(to) +
                                            " to forward the read; retry"),
                           {});
    });
    return;
  }
  ++reads_forwarded_out_;
  uint64_t deadline = MonotonicNowNs() + config_.request_timeout_ms * 1'000'000ULL;
  forwarded_reads_.emplace(id, ForwardedRead{weak, slot_seq, to, deadline});
}

void ServerImpl::ServeForwardedRead(NodeId from, ReadForwardMsg m) {
  active_ = true;
  ++reads_forwarded_in_;
  ServeForwardedRead(from, std::make_shared<ReadForwardMsg>(std::move(m)));
}

void ServerImpl::ServeForwardedRead(NodeId from, std::shared_ptr<ReadForwardMsg> msg) {
  auto answer = [this, from, msg](const Reply& reply) {
    ReadReplyMsg r;
    r.id = msg->id;
    WriteReply(reply, msg->protocol, &r.reply);
    r.position = replica_->store().applied();
    transport_->SendReadReply(from, r);
  };
  if (reads_->CanServeNow(msg->spec, MonotonicNowNs())) {
    answer(RunReadCommands(&replica_->store(), msg->commands, msg->exec));
    return;
  }
  reads_->Read(msg->spec, MonotonicNowNs(), [this, from, msg, answer](ReadDecision d) {
    asio::post(io_, [this, from, msg, answer, d = std::move(d)] {
      if (d.kind == ReadDecision::Kind::kServe) {
        if (!reads_->StillServable(msg->spec, MonotonicNowNs())) {
          ServeForwardedRead(from, msg);  // stalled since the decision: decide again
          return;
        }
        answer(RunReadCommands(&replica_->store(), msg->commands, msg->exec));
      } else {
        // kForward cannot happen (may_forward is false for forwarded reads).
        std::string prefix = d.status.code() == Code::kStale ? "STALE " : "TRYAGAIN ";
        answer(Reply::Error(prefix + d.status.message()));
      }
    });
  });
}

void ServerImpl::OnReadReply(NodeId from, ReadReplyMsg m) {
  auto it = forwarded_reads_.find(m.id);
  if (it == forwarded_reads_.end() || it->second.to != from) return;  // late, or not ours
  ForwardedRead f = it->second;
  forwarded_reads_.erase(it);
  if (auto c = f.conn.lock()) c->OnForwardedRead(f.slot_seq, Status::Ok(), std::move(m));
}

void ServerImpl::TickReads(uint64_t now) {
  reads_->Tick(now);
  for (auto it = forwarded_reads_.begin(); it != forwarded_reads_.end();) {
    if (now < it->second.deadline_ns) {
      ++it;
      continue;
    }
    ForwardedRead f = it->second;
    it = forwarded_reads_.erase(it);
    if (auto c = f.conn.lock())
      c->OnForwardedRead(f.slot_seq,
                         Status::TryAgain("node " + std::to_string(f.to) +
                                          " did not answer the forwarded read in " +
                                          std::to_string(config_.request_timeout_ms) + " ms"),
                         {});
  }
}

}  // namespace rkv
