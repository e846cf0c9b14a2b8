// Jepsen histories as ReplicaKV events: EDN maps (plain and keyed), log lines,
// nemesis lines skipped, errors naming the line; and the samples in
// tests/histories/jepsen judged as their names say.
#include "check/jepsen.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "check/linearizable.h"

namespace rkv {
namespace {

std::vector<std::string> Lines(const History& h) {
  std::vector<std::string> out;
  for (const Event& e : h.events) out.push_back(FormatEvent(e));
  return out;
}

TEST(Jepsen, EdnPlainAndKeyedOperations) {
  Result<History> h = ConvertJepsen(
      "{:process 0, :type :invoke, :f :write, :value 3, :time 100}\n"
      "{:type :info, :f :start, :process :nemesis, :time 150}\n"
      "{:process 0, :type :ok, :f :write, :value 3, :time 200}\n"
      "{:process 3, :type :invoke, :f :read, :value [:k1 nil], :time 300}\n"
      "{:process 3, :type :ok, :f :read, :value [:k1 \"a b\"], :time 400}\n"
      "{:process 4, :type :invoke, :f :cas, :value [2 [1 2]], :time 500}\n"
      "{:process 4, :type :fail, :f :cas, :value [2 [1 2]], :time 600}\n"
      "{:process 5, :type :invoke, :f :cas, :value [nil 9], :time 700}\n"
      "{:process 5, :type :info, :f :cas, :value [nil 9], :time 800, :error \"timed out\"}\n",
      JepsenOptions{});
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(
      Lines(*h),
      (std::vector<std::string>{
          R"({"client":0,"type":"invoke","op":"write","key":"k","value":"3","time":100,"node":0})",
          R"({"client":0,"type":"ok","op":"write","key":"k","value":"3","time":200,"node":0})",
          R"({"client":3,"type":"invoke","op":"read","key":"k1","time":300,"node":0})",
          R"({"client":3,"type":"ok","op":"read","key":"k1","value":"a b","time":400,"node":0})",
          R"({"client":4,"type":"invoke","op":"cas","key":"2","value":["1","2"],"time":500,"node":0})",
          R"({"client":4,"type":"fail","op":"cas","key":"2","value":["1","2"],"time":600,"node":0})",
          R"({"client":5,"type":"invoke","op":"cas","key":"k","value":[null,"9"],"time":700,"node":0})",
          R"({"client":5,"type":"info","op":"cas","key":"k","value":[null,"9"],"time":800,"node":0})"}));
  EXPECT_EQ(h->lines, (std::vector<uint64_t>{1, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Jepsen, WithoutTimeTheLineIsTheTime) {
  JepsenOptions o;
  o.key = "reg";
  Result<History> h = ConvertJepsen(
      "{:process 0, :type :invoke, :f :add, :value 2}\n\n"
      "{:process 0, :type :ok, :f :add, :value 2}\n",
      o);
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ(h->events.size(), 2u);
  EXPECT_EQ(h->events[0].time, 1u);
  EXPECT_EQ(h->events[1].time, 3u);
  EXPECT_EQ(h->events[1].op, OpType::kIncr);
  EXPECT_EQ(h->events[1].key, "reg");
}

TEST(Jepsen, LogLines) {
  Result<History> h = ConvertJepsen(
      "INFO  jepsen.core - some other message\n"
      "INFO  jepsen.util - 0 :invoke :cas [1 2]\n"
      "2017-03-01 10:00:00,005{GMT}\tINFO\t[jepsen nemesis] jepsen.util: "
      ":nemesis\t:info\t:start\tnil\n"
      "2017-03-01 10:00:00,009{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:info\t:cas\t[1 "
      "2]\t:timed-out\n"
      "INFO  jepsen.util - 7 :invoke :read nil\n"
      "INFO  jepsen.util - 7 :ok :read nil\n",
      JepsenOptions{});
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(
      Lines(*h),
      (std::vector<std::string>{
          R"({"client":0,"type":"invoke","op":"cas","key":"k","value":["1","2"],"time":2,"node":0})",
          R"({"client":0,"type":"info","op":"cas","key":"k","value":["1","2"],"time":4,"node":0})",
          R"({"client":7,"type":"invoke","op":"read","key":"k","time":5,"node":0})",
          R"({"client":7,"type":"ok","op":"read","key":"k","value":null,"time":6,"node":0})"}));
}

TEST(Jepsen, UnsupportedLinesNameTheLine) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :invoke, :f :txn, "
       ":value [[:r 1 nil]]}\n",
       "line 2: unsupported :f :txn"},
      {"{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok :f}\n",
       "line 2: not EDN"},
      {"{:process 0, :type :invoke, :f :write, :value 1, :time 5}\n{:process 0, :type :ok, :f "
       ":write, :value 1}\n",
       "line 2: no :time, though earlier lines carry one"},
      {"{:process 0, :type :invoke, :f :cas, :value 1}\n", "line 1: a cas value must be [old new]"},
      {"{:process -1, :type :invoke, :f :read}\n", "line 1: the process must be"},
      {"{:process 0, :type :begin, :f :read}\n", "line 1: unsupported type :begin"},
      {"INFO  jepsen.util - 0 :invoke\n",
       "line 1: expected 'jepsen.util - PROCESS :TYPE :F VALUE'"},
  };
  for (const Case& c : cases) {
    Result<History> h = ConvertJepsen(c.text, JepsenOptions{});
    ASSERT_FALSE(h.ok()) << c.text;
    EXPECT_NE(h.status().message().find(c.message), std::string::npos)
        << c.text << " -> " << h.status().message();
  }
}

TEST(Jepsen, SamplesAreJudgedAsNamed) {
  std::string dir = std::string(RKV_SOURCE_DIR) + "/tests/histories/jepsen";
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    Result<History> h = ReadJepsen(entry.path().string(), JepsenOptions{});
    ASSERT_TRUE(h.ok()) << name << ": " << h.status().message();
    CheckResult r = CheckLinearizable(*h);
    bool expect_ok = name.find(".ok.") != std::string::npos;
    EXPECT_EQ(r.ok(), expect_ok) << name << ": " << r.summary;
    ++checked;
  }
  EXPECT_GE(checked, 6u);
}

TEST(Jepsen, CounterexamplesCiteTheJepsenFilesLines) {
  std::string path = std::string(RKV_SOURCE_DIR) + "/tests/histories/jepsen/register.fail.log";
  Result<History> h = ReadJepsen(path, JepsenOptions{});
  ASSERT_TRUE(h.ok());
  CheckResult r = CheckLinearizable(*h);
  ASSERT_EQ(r.details.size(), 2u);
  EXPECT_NE(r.details[1].find("read -> \"2\""), std::string::npos) << r.details[1];
  EXPECT_NE(r.details[1].find("(line 5)"), std::string::npos) << r.details[1];
}

}  // namespace
}  // namespace rkv
