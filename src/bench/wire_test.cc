#include "bench/wire.h"

#include <gtest/gtest.h>

namespace rkv::bench {
namespace {

TEST(BenchWire, KeysMatchRedisBenchmarkFormat) {
  char key[16];
  FormatKey(12345, 16, key);
  EXPECT_EQ(std::string(key, 16), "key:000000012345");
  EXPECT_EQ(MinKeySize(100000), 9u);  // key:99999
  EXPECT_EQ(MinKeySize(1), 5u);
  EXPECT_EQ(MakeValue(3), "xxx");
}

TEST(BenchWire, Base64) {
  for (auto [in, want] : std::initializer_list<std::pair<const char*, const char*>>{
           {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}}) {
    std::string out;
    Base64Encode(in, &out);
    EXPECT_EQ(out, want);
    EXPECT_EQ(out.size(), Base64Size(std::string_view(in).size()));
  }
}

TEST(BenchWire, RespCommandAndReplies) {
  std::string out;
  AppendRespCommand({"SET", "k", "v1"}, &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n");

  std::string replies =
      "+OK\r\n$3\r\nabc\r\n$-1\r\n-ERR bad\r\n:2\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n_\r\n";
  size_t pos = 0, used = 0;
  RespReplyInfo info;
  auto next = [&] {
    ScanResult r = ScanRespReply(replies.data() + pos, replies.size() - pos, &used, &info);
    if (r == ScanResult::kComplete) pos += used;
    return r;
  };
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_EQ(info.type, '+');
  EXPECT_EQ(info.text, "OK");
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_EQ(info.type, '$');
  EXPECT_FALSE(info.is_nil);
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_TRUE(info.is_nil);
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_TRUE(info.is_error);
  EXPECT_EQ(info.text, "ERR bad");
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_EQ(info.integer, 2);
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_EQ(info.type, '*');
  ASSERT_EQ(next(), ScanResult::kComplete);
  EXPECT_TRUE(info.is_nil);
  EXPECT_EQ(pos, replies.size());

  // Every proper prefix of a reply is incomplete, never malformed.
  std::string bulk = "$5\r\nhello\r\n";
  for (size_t n = 0; n < bulk.size(); ++n)
    EXPECT_EQ(ScanRespReply(bulk.data(), n, &used, &info), ScanResult::kIncomplete) << n;
  EXPECT_EQ(ScanRespReply("?x\r\n", 4, &used, &info), ScanResult::kMalformed);
  EXPECT_EQ(ScanRespReply(":1x\r\n", 5, &used, &info), ScanResult::kMalformed);
}

TEST(BenchWire, HttpResponses) {
  std::string out;
  AppendHttpPost("127.0.0.1:2379", "/v3/kv/put", "{}", &out);
  EXPECT_EQ(out,
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: "
            "application/json\r\nContent-Length: 2\r\n\r\n{}");

  std::string two =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 5\r\n\r\n{\"a\"}"
      "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  size_t used = 0;
  HttpResponseInfo info;
  ASSERT_EQ(ScanHttpResponse(two.data(), two.size(), &used, &info), ScanResult::kComplete);
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.body, "{\"a\"}");
  std::string_view rest(two.data() + used, two.size() - used);
  for (size_t n = 0; n < rest.size(); ++n)
    EXPECT_EQ(ScanHttpResponse(rest.data(), n, &used, &info), ScanResult::kIncomplete) << n;
  ASSERT_EQ(ScanHttpResponse(rest.data(), rest.size(), &used, &info), ScanResult::kComplete);
  EXPECT_EQ(used, rest.size());
  EXPECT_EQ(info.status, 400);
  EXPECT_TRUE(info.chunked);

  std::string no_length = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody";
  EXPECT_EQ(ScanHttpResponse(no_length.data(), no_length.size(), &used, &info),
            ScanResult::kMalformed);
  std::string junk = "SSH-2.0-OpenSSH\r\n\r\n";
  EXPECT_EQ(ScanHttpResponse(junk.data(), junk.size(), &used, &info), ScanResult::kMalformed);
}

}  // namespace
}  // namespace rkv::bench
