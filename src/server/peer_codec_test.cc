#include "server/peer_codec.h"

#include <gtest/gtest.h>

#include "proto/replicakv.pb.h"

namespace rkv {
namespace {

std::vector<Message> Sample() {
  std::vector<Message> ms;
  Message append;
  append.type = MsgType::kAppend;
  append.from = 1;
  append.to = 3;
  append.term = 7;
  append.log_term = 6;
  append.index = 300;  // a two-byte varint
  append.commit = 299;
  append.applied = 1ULL << 40;
  for (uint64_t i = 301; i <= 303; ++i) {
    Entry e;
    e.term = 7;
    e.index = i;
    e.kind = i == 301 ? EntryKind::kNoop : EntryKind::kCommand;
    e.origin = 2;
    e.request_id = i * 1000;
    if (i != 301) e.data = std::string(i == 302 ? 5 : 200, 'x');  // a two-byte length
    append.entries.push_back(e);
  }
  ms.push_back(append);
  Message resp;  // reject with a hint
  resp.type = MsgType::kAppendResp;
  resp.from = 3;
  resp.to = 1;
  resp.term = 7;
  resp.reject = true;
  resp.reject_hint = 12;
  ms.push_back(resp);
  Message empty;  // every field zero: still a message in the frame
  empty.type = MsgType::kPreVote;
  ms.push_back(empty);
  Message join;
  join.type = MsgType::kJoin;
  join.context = 4;
  join.data = "127.0.0.1:7104";
  ms.push_back(join);
  return ms;
}

// The hand-written encoder produces exactly protobuf's own serialization.
TEST(PeerCodec, MessagesFrameIsProtobufsBytes) {
  std::vector<Message> ms = Sample();
  proto::PeerFrame frame;
  for (const Message& m : ms) {
    proto::RaftMessage* p = frame.add_messages();
    p->set_type(static_cast<uint32_t>(m.type));
    p->set_from(m.from);
    p->set_to(m.to);
    p->set_term(m.term);
    p->set_log_term(m.log_term);
    p->set_index(m.index);
    p->set_commit(m.commit);
    p->set_applied(m.applied);
    p->set_context(m.context);
    p->set_reject_hint(m.reject_hint);
    p->set_reject(m.reject);
    p->set_data(m.data);
    for (const Entry& e : m.entries) {
      proto::LogEntry* pe = p->add_entries();
      pe->set_term(e.term);
      pe->set_index(e.index);
      pe->set_kind(static_cast<uint32_t>(e.kind));
      pe->set_origin(e.origin);
      pe->set_request_id(e.request_id);
      pe->set_data(e.data);
    }
  }
  std::string want = frame.SerializeAsString();
  std::string got = "prefix";
  EncodeMessagesFrame(ms, &got);
  ASSERT_EQ(got.size(), 6 + 4 + want.size());
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len = len << 8 | static_cast<uint8_t>(got[6 + i]);
  EXPECT_EQ(len, want.size());
  EXPECT_EQ(got.substr(10), want);
}

TEST(PeerCodec, MessagesRoundTrip) {
  std::vector<Message> ms = Sample();
  std::string bytes;
  EncodeMessagesFrame(ms, &bytes);
  DecodedFrame d;
  ASSERT_TRUE(DecodeFrame(std::string_view(bytes).substr(4), &d).ok());
  ASSERT_EQ(d.messages.size(), ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    const Message& a = ms[i];
    const Message& b = d.messages[i];
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.from, b.from);
    EXPECT_EQ(a.to, b.to);
    EXPECT_EQ(a.term, b.term);
    EXPECT_EQ(a.log_term, b.log_term);
    EXPECT_EQ(a.index, b.index);
    EXPECT_EQ(a.commit, b.commit);
    EXPECT_EQ(a.applied, b.applied);
    EXPECT_EQ(a.context, b.context);
    EXPECT_EQ(a.reject_hint, b.reject_hint);
    EXPECT_EQ(a.reject, b.reject);
    EXPECT_EQ(a.data, b.data);
    ASSERT_EQ(a.entries.size(), b.entries.size());
    for (size_t j = 0; j < a.entries.size(); ++j) {
      EXPECT_EQ(a.entries[j].term, b.entries[j].term);
      EXPECT_EQ(a.entries[j].index, b.entries[j].index);
      EXPECT_EQ(a.entries[j].kind, b.entries[j].kind);
      EXPECT_EQ(a.entries[j].origin, b.entries[j].origin);
      EXPECT_EQ(a.entries[j].request_id, b.entries[j].request_id);
      EXPECT_EQ(a.entries[j].data, b.entries[j].data);
    }
  }
}

// Every truncation and many corruptions of a valid frame decode to an error
// or to messages, never to a crash or an over-read (the sanitizer build runs
// this too); an unknown field is skipped, as protobuf does.
TEST(PeerCodec, MalformedFramesAreErrors) {
  std::string bytes;
  EncodeMessagesFrame(Sample(), &bytes);
  std::string_view body = std::string_view(bytes).substr(4);
  for (size_t n = 0; n < body.size(); ++n) {
    DecodedFrame d;
    Status s = DecodeFrame(body.substr(0, n), &d);
    if (n > 0 && n < body.size()) {
      EXPECT_FALSE(s.ok() && d.messages.size() == 4) << n;
    }
  }
  uint64_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string b(body);
    for (int k = 0; k < 3; ++k) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      b[(x >> 33) % b.size()] = static_cast<char>(x >> 56);
    }
    DecodedFrame d;
    (void)DecodeFrame(b, &d);
  }
  // A message with an unknown varint field 14 and an unknown bytes field 15.
  proto::PeerFrame frame;
  proto::RaftMessage* p = frame.add_messages();
  p->set_type(static_cast<uint32_t>(MsgType::kHeartbeat));
  p->set_term(3);
  std::string wire = frame.SerializeAsString();
  std::string extra;
  extra += static_cast<char>(14 << 3 | 0);
  extra += static_cast<char>(0x96);
  extra += static_cast<char>(0x01);
  extra += static_cast<char>(15 << 3 | 2);
  extra += static_cast<char>(2);
  extra += "ab";
  // Re-frame: tag, the message's new length, the message with the extra fields.
  std::string msg = p->SerializeAsString() + extra;
  std::string body2;
  body2 += static_cast<char>(2 << 3 | 2);
  body2 += static_cast<char>(msg.size());
  body2 += msg;
  DecodedFrame d;
  ASSERT_TRUE(DecodeFrame(body2, &d).ok());
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0].type, MsgType::kHeartbeat);
  EXPECT_EQ(d.messages[0].term, 3u);
  // A message type the protocol does not know is refused by name.
  p->set_type(99);
  DecodedFrame bad;
  Status s = DecodeFrame(frame.SerializeAsString(), &bad);
  EXPECT_EQ(s.message(), "peer message of unknown type 99");
}

// A frame with anything besides messages (the hello) goes through protobuf.
TEST(PeerCodec, HelloFrameStillDecodes) {
  PeerHello h;
  h.protocol_version = 1;
  h.cluster_id = "c";
  h.node_id = 2;
  h.peer_address = "127.0.0.1:7102";
  std::string bytes;
  EncodeHelloFrame(h, &bytes);
  DecodedFrame d;
  ASSERT_TRUE(DecodeFrame(std::string_view(bytes).substr(4), &d).ok());
  EXPECT_TRUE(d.has_hello);
  EXPECT_EQ(d.hello.node_id, 2u);
  EXPECT_EQ(d.hello.peer_address, "127.0.0.1:7102");
}

}  // namespace
}  // namespace rkv
