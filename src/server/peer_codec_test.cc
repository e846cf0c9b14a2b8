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

}  // namespace
}  // namespace rkv
