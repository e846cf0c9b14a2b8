// Internal to src/server: the event-loop side of a node.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "kv/command_codec.h"
#include "node/read_service.h"
#include "node/replica.h"
#include "server/client_poller.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/peer_codec.h"
#include "storage/engine.h"
#include "storage/group_commit.h"

namespace rkv {

class ClientConn;
struct KvCommandSpec;
class AdminHttp;
class PeerTransport;
class SnapshotTransfer;

uint64_t MonotonicNowNs();
uint64_t WallNowMs();

// Runs read-only commands on the applied state (one command, or an EXEC's
// list whose replies form one array). Unknown commands and writes get an
// error reply: forwarded reads come from peers and are checked here.
Reply RunReadCommands(KvStore* store, const std::vector<std::vector<std::string>>& commands,
                      bool exec);

class ServerImpl final : public ReplicaHost {
 public:
  explicit ServerImpl(ServerConfig config);
  ~ServerImpl() override;

  // Opens storage, binds every listener. Errors are reported, not thrown.
  Status Start();
  // Runs the event loop until RequestStop (or a signal).
  void Run();
  // Thread-safe.
  void RequestStop();

  // --- ReplicaHost ---
  void SubmitWrite(WriteBatch batch, bool sync, std::function<void(const Status&)> done) override;
  void Send(Message m) override;
  void OnOutcome(uint64_t request_id, RequestOutcome outcome) override;
  void OnFatal(const Status& status) override;
  Status RecordRollback(const RollbackBatch& batch) override;
  uint64_t WallClockMs() override { return WallNowMs(); }
  void SubmitTask(std::function<Status()> task, std::function<void(const Status&)> done) override;
  void SendSnapshot(NodeId to, uint64_t term, std::shared_ptr<const void> pin) override;
  void OnMembership(const std::string& encoded) override;
  void OnApplied() override;
  bool DeferDrain(std::function<void()> drain) override;

  // --- for client connections (loop thread) ---
  // Proposes a request on behalf of a connection's slot.
  void Propose(ClientConn* conn, uint64_t slot_seq, RequestKind kind, std::string data,
               bool barrier = false);
  // A client write of one command, encoded straight into the turn's batch.
  void ProposeCommand(ClientConn* conn, uint64_t slot_seq, const Argv& command);
  // WAIT: answers the slot with the number of followers holding `index`
  // once `replicas` do, or when `timeout_ms` passes (0: no timeout).
  void Wait(ClientConn* conn, uint64_t slot_seq, uint64_t index, uint64_t replicas,
            uint64_t timeout_ms);
  // Runs conn->RunDeferredFlush() after the loop's current handlers. One
  // posted handler flushes every connection of the turn: a commit answering
  // 50 clients posted 50 handlers, each an allocation (Asio recycles only a
  // few) and a pass through the scheduler.
  void DeferClientFlush(std::shared_ptr<ClientConn> conn);
  // Followers whose log holds `index` (0 unless this node leads).
  uint64_t ReplicasHolding(uint64_t index);
  // --- reads at a level (server_reads.cc) ---
  ReadService& reads() { return *reads_; }
  // Where a connection's read runs under routing `from`: 0 here, another
  // node's id to forward it to, or kNoReadTarget (no leader is known).
  static constexpr NodeId kNoReadTarget = ~NodeId{0};
  NodeId ReadTarget(ReadFrom from);
  // The read service's decision on a connection's read, delivered to
  // conn->OnReadDecision from the event loop (never from within this call).
  void AwaitRead(ClientConn* conn, uint64_t slot_seq, const ReadSpec& spec);
  // Hands a read to node `to`; the answer, or a -TRYAGAIN when none comes in
  // time, is delivered to conn->OnForwardedRead (never from within this call).
  void ForwardRead(ClientConn* conn, uint64_t slot_seq, NodeId to, ReadForwardMsg m);

  // POST /faults (loop thread): applies a JSON fault request; returns an error text or "".
  std::string ApplyFaults(const std::string& json);
  PeerTransport* transport() { return transport_.get(); }
  SnapshotTransfer* transfer() { return transfer_.get(); }
  void ConnectionClosed(uint64_t conn_id);
  Replica& replica() { return *replica_; }
  const ServerConfig& config() const { return config_; }
  ServerMetrics& metrics() { return metrics_; }
  // A data command's metrics entry, looked up once per command, not per request.
  CommandStats* KvCommandStats(const KvCommandSpec* spec);
  size_t connected_clients() const { return conns_.size(); }
  const std::unordered_map<uint64_t, std::weak_ptr<ClientConn>>& connections() const {
    return conns_;
  }
  uint64_t start_ms() const { return start_ms_; }
  asio::io_context& io() { return io_; }
  ClientPoller& client_poller() { return client_poller_; }

  // Views rendered on the loop thread (status.cc).
  std::string StatusJson();
  std::string InfoText(std::string_view section);
  std::string MetricsText();

  // Runs fn on the loop thread and waits up to timeout for its result.
  // Used by the admin HTTP threads. Empty result on timeout.
  std::string CallOnLoop(std::function<std::string()> fn);

 private:
  void Accept();
  void ScheduleTick();
  void CheckSlowStorage(uint64_t now);
  Status OpenStorage();
  Status WritePidFile();

  // First: destroyed last. One thread runs it (the hint lets Asio skip some
  // locking); the storage thread only posts to it, which stays thread-safe.
  asio::io_context io_{1};
  ServerConfig config_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<GroupCommitWriter> writer_;  // after engine_: drains before it closes
  std::unique_ptr<Replica> replica_;
  asio::ip::tcp::acceptor acceptor_;
  ClientPoller client_poller_;
  asio::steady_timer tick_timer_;
  asio::signal_set signals_;
  std::unique_ptr<AdminHttp> admin_;
  std::unique_ptr<PeerTransport> transport_;
  std::unique_ptr<SnapshotTransfer> transfer_;  // after transport_: destroyed before it
  uint64_t next_join_ns_ = 0;
  uint64_t next_storage_check_ns_ = 0;
  // Ticks slow down once the node has been idle a while (ScheduleTick).
  bool Idle(uint64_t now);
  bool active_ = true;  // a request, read or replication message since the last tick
  uint64_t busy_until_ns_ = 0;
  uint64_t slow_syncs_seen_ = 0;
  void MaybeAskToJoin(uint64_t now);
  std::string cluster_id_;
  // This data directory's identity, and the ones this node has seen for its
  // peers (persisted): a node id that returns with another lost its data.
  std::string node_uuid_;
  std::map<NodeId, std::string> peer_uuids_;
  bool CheckPeerIdentity(NodeId id, const std::string& uuid, std::string* why);
  void SavePeerUuids();
  uint64_t boot_ = 0;  // incremented at every start: request ids stay unique across restarts

  struct Waiter {
    std::weak_ptr<ClientConn> conn;
    uint64_t slot_seq;
    uint64_t index;
    uint64_t replicas;
    uint64_t deadline_ns;  // 0: none
  };
  std::vector<Waiter> waiters_;

  std::unique_ptr<ReadService> reads_;
  struct ForwardedRead {
    std::weak_ptr<ClientConn> conn;
    uint64_t slot_seq;
    NodeId to;
    uint64_t deadline_ns;
  };
  std::unordered_map<uint64_t, ForwardedRead> forwarded_reads_;
  uint64_t next_forward_id_ = 1;
  uint64_t reads_forwarded_out_ = 0, reads_forwarded_in_ = 0;
  void ServeForwardedRead(NodeId from, ReadForwardMsg m);
  void ServeForwardedRead(NodeId from, std::shared_ptr<ReadForwardMsg> msg);
  void OnReadReply(NodeId from, ReadReplyMsg m);
  void TickReads(uint64_t now);
  void CheckWaiters();
  void LogRoleChanges();
  Role last_role_ = Role::kStandalone;
  uint64_t last_term_ = 0;
  NodeId last_leader_ = 0;

  // One client request of a proposed entry: its commands' replies are
  // `commands` consecutive replies of the entry's.
  struct RequestPart {
    std::weak_ptr<ClientConn> conn;
    uint64_t slot_seq;
    size_t commands;
  };
  struct PendingRequest {
    std::weak_ptr<ClientConn> conn;
    uint64_t slot_seq;
    std::vector<RequestPart> parts;  // set: several requests in one entry
  };
  // Client writes of this event-loop turn, proposed as one entry when the
  // turn ends (or a bound is reached): per-entry costs — log record, append
  // encoding, core bookkeeping, apply item — paid once for all of them.
  void ProposeWriteBatch();
  void Batched(ClientConn* conn, uint64_t slot_seq, size_t commands);
  CommandBatch write_batch_;
  std::vector<RequestPart> write_batch_parts_;
  bool write_batch_posted_ = false;
  std::vector<std::shared_ptr<ClientConn>> flush_due_, flushing_;  // DeferClientFlush
  std::unordered_map<uint64_t, PendingRequest> requests_;
  std::unordered_map<uint64_t, std::weak_ptr<ClientConn>> conns_;           // open ones
  std::unordered_map<uint64_t, std::shared_ptr<ClientConn>> strong_conns_;  // owners
  uint64_t next_request_id_ = 1;
  uint64_t next_conn_id_ = 1;
  uint64_t start_ms_ = 0;
  ServerMetrics metrics_;
  std::vector<CommandStats*> kv_command_stats_;  // by position in KvCommands()
  bool stopping_ = false;
};

}  // namespace rkv
