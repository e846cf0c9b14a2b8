// Peer frames: core Messages ↔ protobuf, with validation. A frame from a
// peer is untrusted: every field is checked before it reaches a core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/replica_core.h"
#include "core/status.h"
#include "node/read_service.h"

namespace rkv {

inline constexpr uint32_t kPeerProtocolVersion = 1;
// The largest frame accepted from a peer (a batch of appends).
inline constexpr uint32_t kPeerFrameBytesMax = 64u << 20;

struct PeerHello {
  uint32_t protocol_version = kPeerProtocolVersion;
  std::string cluster_id;
  NodeId node_id = 0;
  std::string resp_address;
  std::string admin_address;
  std::string peer_address;
  std::string node_uuid;
};

// Appends a length-prefixed frame to *out.
void EncodeHelloFrame(const PeerHello& hello, std::string* out);
void EncodeMessagesFrame(const std::vector<Message>& messages, std::string* out);

// Snapshot streaming (server/snapshot_transfer.h).
struct SnapshotManifestMsg {
  std::vector<std::pair<std::string, uint64_t>> files;  // name, size, in stream order
  std::vector<std::pair<std::string, std::string>> meta;
  bool inline_data = false;
};

struct SnapshotChunkMsg {
  uint64_t snapshot_id = 0;
  uint64_t term = 0;
  uint64_t offset = 0;
  uint64_t total = 0;
  std::string data;
  uint32_t crc32c = 0;
  bool has_manifest = false;
  SnapshotManifestMsg manifest;
};

struct SnapshotAckMsg {
  uint64_t snapshot_id = 0;
  uint64_t received = 0;
  bool done = false;
  bool failed = false;
  std::string error;
  bool resend = false;
};

// Read forwarding (node/read_service.h).
inline constexpr size_t kForwardedReadCommandsMax = 1024 * 1024;  // as MULTI's queue
struct ReadForwardMsg {
  uint64_t id = 0;
  ReadSpec spec;  // may_forward is always false at the receiver
  int protocol = 2;
  bool exec = false;
  std::vector<std::vector<std::string>> commands;
};

struct ReadReplyMsg {
  uint64_t id = 0;
  std::string reply;
  LogPosition position;
};

void EncodeReadForwardFrame(const ReadForwardMsg& m, std::string* out);
void EncodeReadReplyFrame(const ReadReplyMsg& m, std::string* out);

struct DecodedFrame {
  bool has_hello = false;
  PeerHello hello;
  std::vector<Message> messages;
  std::vector<SnapshotChunkMsg> chunks;
  std::vector<SnapshotAckMsg> acks;
  std::vector<ReadForwardMsg> reads;
  std::vector<ReadReplyMsg> read_replies;
};

void EncodeChunkFrame(const SnapshotChunkMsg& chunk, std::string* out);
void EncodeAckFrame(const SnapshotAckMsg& ack, std::string* out);
// Decodes one frame body (without its length prefix).
Status DecodeFrame(std::string_view body, DecodedFrame* out);

}  // namespace rkv
