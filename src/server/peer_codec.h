// Peer frames: core Messages ↔ protobuf, with validation. A frame from a
// peer is untrusted: every field is checked before it reaches a core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/replica_core.h"
#include "core/status.h"

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
};

// Appends a length-prefixed frame to *out.
void EncodeHelloFrame(const PeerHello& hello, std::string* out);
void EncodeMessagesFrame(const std::vector<Message>& messages, std::string* out);

struct DecodedFrame {
  bool has_hello = false;
  PeerHello hello;
  std::vector<Message> messages;
};
// Decodes one frame body (without its length prefix).
Status DecodeFrame(std::string_view body, DecodedFrame* out);

}  // namespace rkv
