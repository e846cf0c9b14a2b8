// Peer links over TCP (Asio, on the event loop). Each node dials every other
// member and sends on that outbound connection; it receives on the connections
// others dialled. Messages produced while handling one event are written as
// one frame. A link that is down, or a peer too slow to keep up, loses
// messages: the replication protocol retries, so the event loop never waits.
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
  std::string resp_address;  // learned from its hello
  uint64_t messages_sent = 0, messages_dropped = 0, bytes_sent = 0;
};

// Test-only faults on this node's outgoing peer traffic (POST /faults).
struct PeerFaults {
  std::set<NodeId> drop_to;
  std::set<NodeId> delay_to;
  uint64_t delay_ms = 0;
};

class PeerTransport {
 public:
  using Handler = std::function<void(Message)>;
  PeerTransport(asio::io_context& io, PeerHello self, std::map<NodeId, HostPort> peers,
                HostPort listen, Handler on_message);
  ~PeerTransport();

  rkv::Status Start();
  void Stop();
  // Queues a message for its destination; written at the end of this event.
  void Send(Message m);
  void SetFaults(PeerFaults faults) { faults_ = std::move(faults); }
  const PeerFaults& faults() const { return faults_; }

  std::vector<PeerLinkStatus> LinkStatus() const;
  std::string RespAddressOf(NodeId id) const;
  uint64_t messages_received() const { return messages_received_; }
  uint64_t frames_refused() const { return frames_refused_; }

 private:
  struct OutLink;
  class Inbound;
  void Connect(OutLink& link);
  void ScheduleReconnect(OutLink& link);
  void FlushLink(OutLink& link);
  void WriteLink(OutLink& link);
  void Accept();
  void Deliver(Message m);

  asio::io_context& io_;
  PeerHello self_;
  HostPort listen_;
  Handler on_message_;
  asio::ip::tcp::acceptor acceptor_;
  std::map<NodeId, std::unique_ptr<OutLink>> links_;
  std::set<std::shared_ptr<Inbound>> inbound_;
  std::map<NodeId, std::string> resp_addresses_;
  PeerFaults faults_;
  uint64_t messages_received_ = 0;
  uint64_t frames_refused_ = 0;
  bool stopped_ = false;
};

}  // namespace rkv
