// Peer links over TCP (Asio, on the event loop). Each node dials every other
// member and sends on that outbound connection; it receives on the connections
// others dialled. Messages produced while handling one event are written as
// one frame. A link that is down, or a peer too slow to keep up, loses
// messages: the replication protocol retries, so the event loop never waits.
// Links follow the membership (SetMembers). A node that is not a member yet
// reaches one with a short-lived join connection (SendJoin). A message to a
// node outside the membership (a removed node the leader must tell the log,
// see LeaderCore::AddDeparting) opens a link to the peer address its hello
// gave; such a link closes once unused for kDepartedLinkIdleMs.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/replica_core.h"
#include "server/config.h"
#include "server/peer_codec.h"

namespace rkv {

struct PeerLinkStatus {
  NodeId id = 0;
  std::string address;       // where we dial it
  bool connected = false;    // our outbound link is up
  bool member = true;        // false: a link to a node outside the membership
  std::string resp_address;  // learned from its hello
  uint64_t messages_sent = 0, messages_dropped = 0, bytes_sent = 0;
};

// Test-only faults on this node's outgoing peer traffic (POST /faults).
struct PeerFaults {
  std::set<NodeId> drop_to;
  std::set<NodeId> delay_to;
  uint64_t delay_ms = 0;
};

struct PeerHandlers {
  std::function<void(Message)> message;
  std::function<void(NodeId from, SnapshotChunkMsg)> chunk;
  std::function<void(NodeId from, SnapshotAckMsg)> ack;
  // A node that had no cluster id yet (it is joining) learned it.
  std::function<void(const std::string& cluster_id)> cluster_id;
  // A member's hello: whether its data directory is the one this node knew
  // (false, with *why, refuses the connection).
  std::function<bool(NodeId id, const std::string& node_uuid, std::string* why)> identity;
  // Read forwarding.
  std::function<void(NodeId from, ReadForwardMsg)> read;
  std::function<void(NodeId from, ReadReplyMsg)> read_reply;
};

class PeerTransport {
 public:
  PeerTransport(asio::io_context& io, PeerHello self, HostPort listen, PeerHandlers handlers);
  ~PeerTransport();

  rkv::Status Start();
  void Stop();
  // The members to keep links to (this node's own id is ignored).
  void SetMembers(const std::map<NodeId, HostPort>& members);
  // Queues a message for its destination; written at the end of this event.
  void Send(Message m);
  // Snapshot streaming: written at once; false if the link is down or its
  // backlog is full (the sender retries).
  bool SendChunk(NodeId to, const SnapshotChunkMsg& chunk);
  bool SendAck(NodeId to, const SnapshotAckMsg& ack);
  // Read forwarding: false if the link is down (the caller answers at once).
  // Subject to the test faults like core messages.
  bool SendRead(NodeId to, const ReadForwardMsg& m);
  bool SendReadReply(NodeId to, const ReadReplyMsg& m);
  // A join request to a member's peer address (this node is no member yet).
  void SendJoin(const HostPort& target, const Message& m);

  void SetFaults(PeerFaults faults) { faults_ = std::move(faults); }
  const PeerFaults& faults() const { return faults_; }
  const std::string& cluster_id() const { return self_.cluster_id; }

  std::vector<PeerLinkStatus> LinkStatus() const;
  // Nodes whose connections were refused, and why (the last time).
  const std::map<NodeId, std::string>& refused() const { return refused_; }
  std::string RespAddressOf(NodeId id) const;
  // Whether `id` is known not to be a member (false while no membership is known).
  bool OutsideMembership(NodeId id) const { return !members_.empty() && !members_.count(id); }
  uint64_t messages_received() const { return messages_received_; }
  uint64_t frames_refused() const { return frames_refused_; }

 private:
  struct OutLink;
  class Inbound;
  void Connect(const std::shared_ptr<OutLink>& link);
  void ScheduleReconnect(const std::shared_ptr<OutLink>& link);
  void FlushLink(const std::shared_ptr<OutLink>& link);
  void WriteLink(const std::shared_ptr<OutLink>& link);
  void Accept();
  void AddLink(NodeId id, const HostPort& addr, bool member = true);
  bool SendFrameBytes(NodeId to, std::string frame);

  asio::io_context& io_;
  PeerHello self_;
  HostPort listen_;
  PeerHandlers handlers_;
  asio::ip::tcp::acceptor acceptor_;
  std::map<NodeId, std::shared_ptr<OutLink>> links_;
  std::set<std::shared_ptr<Inbound>> inbound_;
  std::map<NodeId, std::string> resp_addresses_;
  std::map<NodeId, HostPort> peer_addresses_;  // from hellos: where to reach a non-member
  std::set<NodeId> members_;                   // as SetMembers last gave them
  std::map<NodeId, std::string> refused_;
  PeerFaults faults_;
  uint64_t messages_received_ = 0;
  uint64_t frames_refused_ = 0;
  bool stopped_ = false;
};

}  // namespace rkv
