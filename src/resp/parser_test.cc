#include "resp/parser.h"

#include <gtest/gtest.h>

#include "resp/writer.h"

namespace rkv {
namespace {

// Feeds `input` in chunks of `chunk` bytes; returns the requests (or the error).
std::vector<std::vector<std::string>> ParseAll(const std::string& input, size_t chunk,
                                               std::string* error = nullptr) {
  RespParser p;
  std::string buf;
  std::vector<std::vector<std::string>> out;
  std::vector<std::string_view> argv;
  std::string err;
  for (size_t off = 0; off < input.size(); off += chunk) {
    buf.append(input, off, chunk);
    for (;;) {
      auto o = p.Next(buf, &argv, &err);
      if (o == RespParser::Outcome::kNeedMore) break;
      if (o == RespParser::Outcome::kError) {
        if (error) *error = err;
        return out;
      }
      if (!argv.empty()) out.emplace_back(argv.begin(), argv.end());
    }
    size_t n = p.consumable();
    buf.erase(0, n);
    p.Consumed(n);
  }
  return out;
}

TEST(RespParser, MultibulkInAnyChunking) {
  std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n*1\r\n$4\r\nPING\r\n";
  for (size_t chunk : {1, 2, 3, 7, 100}) {
    auto reqs = ParseAll(in, chunk);
    ASSERT_EQ(reqs.size(), 2u) << chunk;
    EXPECT_EQ(reqs[0], (std::vector<std::string>{"SET", "k", "a\r\nbc"}));
    EXPECT_EQ(reqs[1], (std::vector<std::string>{"PING"}));
  }
}

TEST(RespParser, InlineWithQuotesAndEscapes) {
  auto reqs = ParseAll("SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\nPING\n\r\n", 5);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0], (std::vector<std::string>{"SET", "a b", "c'd", "A\n"}));
  EXPECT_EQ(reqs[1], (std::vector<std::string>{"PING"}));
}

TEST(RespParser, ErrorsMatchRedis) {
  std::string err;
  ParseAll("*abc\r\n", 100, &err);
  EXPECT_EQ(err, "ERR Protocol error: invalid multibulk length");
  ParseAll("*1\r\nfoo\r\n", 100, &err);
  EXPECT_EQ(err, "ERR Protocol error: expected '$', got 'f'");
  ParseAll("*1\r\n$-3\r\n", 100, &err);
  EXPECT_EQ(err, "ERR Protocol error: invalid bulk length");
  ParseAll("*1\r\n$536870913\r\n", 100, &err);
  EXPECT_EQ(err, "ERR Protocol error: invalid bulk length");
  ParseAll("SET \"a\r\n", 100, &err);
  EXPECT_EQ(err, "ERR Protocol error: unbalanced quotes in request");
  ParseAll(std::string(70000, 'a'), 4096, &err);
  EXPECT_EQ(err, "ERR Protocol error: too big inline request");
  ParseAll("*" + std::string(70000, '1'), 4096, &err);
  EXPECT_EQ(err, "ERR Protocol error: too big mbulk count string");
}

TEST(RespParser, EmptyAndNegativeCountsAreSkipped) {
  auto reqs = ParseAll("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 3);
  ASSERT_EQ(reqs.size(), 1u);
}

TEST(RespParser, ManyArgumentsParsedIncrementally) {
  std::string in = "*20003\r\n$4\r\nMSET\r\n";
  for (int i = 0; i < 10001; ++i) in += "$1\r\nk\r\n$1\r\nv\r\n";
  auto reqs = ParseAll(in, 16384);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].size(), 20003u);
}

TEST(RespWriter, Resp2AndResp3Shapes) {
  std::string out;
  WriteReply(Reply::Nil(), 2, &out);
  WriteReply(Reply::Nil(), 3, &out);
  WriteReply(Reply::Map({Reply::Bulk("a"), Reply::Integer(1)}), 2, &out);
  WriteReply(Reply::Map({Reply::Bulk("a"), Reply::Integer(1)}), 3, &out);
  WriteReply(Reply::Error("ERR bad\r\nline"), 2, &out);
  EXPECT_EQ(out, "$-1\r\n_\r\n*2\r\n$1\r\na\r\n:1\r\n%1\r\n$1\r\na\r\n:1\r\n-ERR bad  line\r\n");
}

}  // namespace
}  // namespace rkv
