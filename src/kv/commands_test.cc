#include "kv/commands.h"

#include <gtest/gtest.h>

#include "kv/glob.h"
#include "kv/numbers.h"
#include "storage/memory_engine.h"

namespace rkv {
namespace {

class Commands : public ::testing::Test {
 protected:
  Reply Run(std::vector<std::string> argv) {
    Argv a(argv.begin(), argv.end());
    const KvCommandSpec* spec = FindKvCommand(a[0]);
    EXPECT_NE(spec, nullptr);
    EXPECT_TRUE(ArityOk(spec->arity, a.size()));
    ApplyContext ctx{&store_, {1, ++index_}};
    return spec->run(ctx, a);
  }
  MemoryEngine engine_;
  KvStore store_{&engine_};
  uint64_t index_ = 0;
};

TEST_F(Commands, SetConditionsAndGet) {
  EXPECT_EQ(Run({"SET", "k", "a", "XX"}).type, Reply::Type::kNil);
  EXPECT_EQ(Run({"SET", "k", "a", "NX"}).str, "OK");
  EXPECT_EQ(Run({"SET", "k", "b", "NX"}).type, Reply::Type::kNil);
  Reply old = Run({"SET", "k", "c", "GET"});
  EXPECT_EQ(old.type, Reply::Type::kBulk);
  EXPECT_EQ(old.str, "a");
  EXPECT_EQ(Run({"SET", "k", "c", "NX", "XX"}).str, "ERR syntax error");
  EXPECT_EQ(Run({"GET", "k"}).str, "c");
  EXPECT_TRUE(Run({"SET", "k", "c", "EX", "10"}).is_error());
}

TEST_F(Commands, CountersFollowRedis) {
  EXPECT_EQ(Run({"INCR", "n"}).integer, 1);
  EXPECT_EQ(Run({"INCRBY", "n", "41"}).integer, 42);
  EXPECT_EQ(Run({"DECRBY", "n", "2"}).integer, 40);
  EXPECT_EQ(Run({"INCRBY", "n", "x"}).str, "ERR value is not an integer or out of range");
  Run({"SET", "big", "9223372036854775807"});
  EXPECT_EQ(Run({"INCR", "big"}).str, "ERR increment or decrement would overflow");
  EXPECT_EQ(Run({"DECRBY", "n", "-9223372036854775808"}).str, "ERR decrement would overflow");
  Run({"SET", "s", " 1"});
  EXPECT_EQ(Run({"INCR", "s"}).str, "ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "10.5"}).str, "10.5");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "0.1"}).str, "10.6");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "-10.6"}).str, "0");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "abc"}).str, "ERR value is not a valid float");
  EXPECT_EQ(Run({"INCRBYFLOAT", "f", "inf"}).str, "ERR increment would produce NaN or Infinity");
}

TEST_F(Commands, AppendStrlenMsetDel) {
  EXPECT_EQ(Run({"APPEND", "a", "x1"}).integer, 2);
  EXPECT_EQ(Run({"APPEND", "a", " x2"}).integer, 5);
  EXPECT_EQ(Run({"STRLEN", "a"}).integer, 5);
  EXPECT_EQ(Run({"MSET", "p", "1", "q"}).str, "ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(Run({"MSET", "p", "1", "q", "2"}).str, "OK");
  EXPECT_EQ(Run({"MSETNX", "p", "9", "r", "3"}).integer, 0);
  Reply m = Run({"MGET", "p", "q", "r"});
  ASSERT_EQ(m.elements.size(), 3u);
  EXPECT_EQ(m.elements[1].str, "2");
  EXPECT_EQ(m.elements[2].type, Reply::Type::kNil);
  EXPECT_EQ(Run({"EXISTS", "p", "p", "r"}).integer, 2);
  EXPECT_EQ(Run({"DEL", "p", "q", "r"}).integer, 2);
  EXPECT_EQ(Run({"DBSIZE"}).integer, 1);
}

TEST_F(Commands, ScanValidatesLikeRedis) {
  EXPECT_EQ(Run({"SCAN", "x"}).str, "ERR invalid cursor");
  EXPECT_EQ(Run({"SCAN", "0", "COUNT", "0"}).str, "ERR syntax error");
  EXPECT_EQ(Run({"SCAN", "0", "COUNT"}).str, "ERR syntax error");
  Run({"SET", "user:1", "a"});
  Run({"SET", "other", "b"});
  Reply r = Run({"SCAN", "0", "MATCH", "user:*", "COUNT", "100"});
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[0].str, "0");
  ASSERT_EQ(r.elements[1].elements.size(), 1u);
  EXPECT_EQ(r.elements[1].elements[0].str, "user:1");
}

TEST(Numbers, ParseLikeRedis) {
  int64_t v;
  EXPECT_TRUE(ParseInt64("-9223372036854775808", &v));
  EXPECT_FALSE(ParseInt64("9223372036854775808", &v));
  EXPECT_FALSE(ParseInt64("01", &v));
  EXPECT_FALSE(ParseInt64("-0", &v));
  EXPECT_FALSE(ParseInt64("+1", &v));
  EXPECT_FALSE(ParseInt64("", &v));
  EXPECT_EQ(FormatLongDoubleHuman(3.0L), "3");
  EXPECT_EQ(FormatLongDoubleHuman(-0.0L), "0");
}

TEST(Glob, MatchesRedisPatterns) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("user:*", "user:42"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  // A hostile pattern finishes quickly (no exponential backtracking).
  EXPECT_FALSE(GlobMatch(std::string(50, '*') + "b", std::string(10000, 'a')));
}

}  // namespace
}  // namespace rkv
