// Streaming snapshots between nodes (the driver side of CoreReady's
// send_snapshot_to). The sender exports the pinned state on a thread of its
// own (SST files), then streams the files as one byte stream in CRC-checked
// chunks, at most a window of unacknowledged bytes in flight. The receiver
// stores the chunks, acknowledges what it holds, and when the stream is whole
// hands the image to the replica to install. Resuming after a cut link: the
// sender resends from the last acknowledged byte; a receiver that sees another
// snapshot id drops its partial copy and starts over.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "node/replica.h"
#include "server/peer_codec.h"
#include "server/peer_transport.h"
#include "storage/engine.h"

namespace rkv {

struct TransferStatus {
  std::string direction;  // send | receive
  NodeId peer = 0;
  std::string state;   // exporting | sending | receiving | installing | done | failed
  uint64_t bytes = 0;  // acknowledged (send) or stored (receive)
  uint64_t total = 0;
  uint64_t resumes = 0;  // times the stream restarted from an acknowledged offset
  double elapsed_ms = 0;
};

class SnapshotTransfer {
 public:
  SnapshotTransfer(asio::io_context& io, std::string data_dir, Engine* engine,
                   PeerTransport* transport, std::function<Replica*()> replica,
                   uint64_t bytes_per_sec);
  ~SnapshotTransfer();

  void Send(NodeId to, uint64_t term, std::shared_ptr<const void> pin);
  void OnAck(NodeId from, const SnapshotAckMsg& ack);
  void OnChunk(NodeId from, const SnapshotChunkMsg& chunk);
  // Resends after silence, gives up after long silence (call every ~100 ms).
  void Tick(uint64_t now_ns);
  std::vector<TransferStatus> Status() const;

 private:
  struct Outgoing;
  struct Incoming;
  void Pump(Outgoing& out);
  void Finish(NodeId to, bool ok, const std::string& why);
  bool ReadStream(Outgoing& out, uint64_t offset, size_t len, std::string* data);
  void Ack(NodeId to, const Incoming& in, bool done, bool failed, const std::string& error,
           bool resend = false);

  asio::io_context& io_;
  std::string dir_;
  Engine* engine_;
  PeerTransport* transport_;
  std::function<Replica*()> replica_;
  std::map<NodeId, std::unique_ptr<Outgoing>> out_;
  std::map<NodeId, std::unique_ptr<Incoming>> in_;
  std::vector<TransferStatus> finished_;  // the last few, for /status
  uint64_t next_id_;
  uint64_t bytes_per_sec_;
};

}  // namespace rkv
