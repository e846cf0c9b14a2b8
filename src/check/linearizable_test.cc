// The linearizability checker: the hand-made histories of tests/histories
// (verdicts and the exact operations each counterexample cites), limits that
// must give `unknown`, malformed histories, the value table's string
// identity, and random histories that are linearizable by construction
// (and stop being so when one read is changed).
#include "check/linearizable.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "check/lin_values.h"

namespace rkv {
namespace {

namespace fs = std::filesystem;

const std::string kHistories = std::string(RKV_SOURCE_DIR) + "/tests/histories";

// Invocation lines the counterexample cites ("invoked t=.. (line N)").
std::set<int> CitedLines(const CheckResult& r) {
  std::set<int> lines;
  std::regex re(R"(invoked t=\d+ \(line (\d+)\))");
  for (const std::string& d : r.details)
    for (std::sregex_iterator it(d.begin(), d.end(), re), end; it != end; ++it)
      lines.insert(std::stoi((*it)[1]));
  return lines;
}

std::map<std::string, std::set<int>> Manifest() {
  std::map<std::string, std::set<int>> m;
  std::ifstream f(kHistories + "/MANIFEST");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    in >> name;
    int n;
    while (in >> n) m[name].insert(n);
  }
  return m;
}

TEST(LinearizableHistories, EveryVerdictAsNamedAndEveryCounterexampleExact) {
  std::map<std::string, std::set<int>> manifest = Manifest();
  ASSERT_GE(manifest.size(), 10u);
  size_t checked = 0, failing = 0;
  for (const auto& entry : fs::directory_iterator(kHistories)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".jsonl") continue;
    bool expect_ok = name.find(".ok.") != std::string::npos;
    ASSERT_TRUE(expect_ok || name.find(".fail.") != std::string::npos) << name;
    Result<History> h = ReadHistory(entry.path().string());
    ASSERT_TRUE(h.ok()) << name << ": " << h.status().message();
    CheckResult r = CheckLinearizable(*h);
    ++checked;
    std::string shown = r.summary;
    for (const std::string& d : r.details) shown += "\n" + d;
    EXPECT_EQ(r.verdict, expect_ok ? CheckResult::Verdict::kOk : CheckResult::Verdict::kFail)
        << name << ": " << shown;
    // Reading the file in blocks judges the same as reading it whole.
    Result<CheckResult> streamed = CheckLinearizableFile(entry.path().string());
    ASSERT_TRUE(streamed.ok());
    EXPECT_EQ(streamed->summary, r.summary) << name;
    EXPECT_EQ(streamed->details, r.details) << name;
    if (expect_ok) continue;
    ++failing;
    ASSERT_TRUE(manifest.count(name)) << name << " needs a MANIFEST line: " << shown;
    EXPECT_EQ(CitedLines(r), manifest[name]) << name << ": " << shown;
  }
  EXPECT_GE(checked, 30u);
  EXPECT_EQ(failing, manifest.size()) << "every MANIFEST entry names a failing history";
}

std::string Line(uint64_t client, const char* type, const char* op, const std::string& key,
                 const std::string& value, uint64_t time) {
  std::string s = "{\"client\":" + std::to_string(client) + ",\"type\":\"" + type + "\",\"op\":\"" +
                  op + "\",\"key\":\"" + key + "\"";
  if (!value.empty()) s += ",\"value\":" + value;
  return s + ",\"time\":" + std::to_string(time) + "}\n";
}

// A long sequential history on one key: cheap to check, but more than the
// few steps between limit checks.
History LongSequential(size_t writes) {
  std::string text;
  uint64_t t = 0;
  for (size_t i = 0; i < writes; ++i) {
    std::string v = "\"v" + std::to_string(i) + "\"";
    text += Line(1, "invoke", "write", "k", v, ++t);
    text += Line(1, "ok", "write", "k", v, ++t);
    text += Line(1, "invoke", "read", "k", "", ++t);
    text += Line(1, "ok", "read", "k", v, ++t);
  }
  return *ParseHistory(text);
}

TEST(Linearizable, ExceedingALimitIsUnknownNeverOk) {
  History h = LongSequential(2000);
  ASSERT_TRUE(CheckLinearizable(h).ok());
  LinearizableOptions o;
  o.time_limit_ms = 0;
  CheckResult r = CheckLinearizable(h, o);
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kUnknown);
  EXPECT_EQ(r.counts.at("keys_unknown"), 1u);
  ASSERT_FALSE(r.details.empty());
  EXPECT_NE(r.details[0].find("key k: unknown"), std::string::npos) << r.details[0];
  EXPECT_NE(r.details[0].find("--time-limit-ms"), std::string::npos) << r.details[0];

  o = LinearizableOptions{};
  o.memory_limit_mb = 0;
  r = CheckLinearizable(h, o);
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kUnknown);
  ASSERT_FALSE(r.details.empty());
  EXPECT_NE(r.details[0].find("--memory-limit-mb"), std::string::npos) << r.details[0];
}

TEST(Linearizable, AFailingKeyWinsOverAnUnknownOne) {
  std::string text;
  uint64_t t = 1'000'000;
  for (
      const char* l :
      {"{\"client\":9,\"type\":\"invoke\",\"op\":\"write\",\"key\":\"a\",\"value\":\"1\",\"time\":"
       "1}\n",
       "{\"client\":9,\"type\":\"ok\",\"op\":\"write\",\"key\":\"a\",\"value\":\"1\",\"time\":2}\n",
       "{\"client\":9,\"type\":\"invoke\",\"op\":\"read\",\"key\":\"a\",\"time\":3}\n",
       "{\"client\":9,\"type\":\"ok\",\"op\":\"read\",\"key\":\"a\",\"value\":\"2\",\"time\":4}\n"})
    text += l;
  for (size_t i = 0; i < 2000; ++i) {
    text += Line(1, "invoke", "write", "k", "\"x\"", ++t);
    text += Line(1, "ok", "write", "k", "\"x\"", ++t);
  }
  LinearizableOptions o;
  o.time_limit_ms = 0;  // k gives up; a, with 2 operations, is decided first
  CheckResult r = CheckLinearizable(*ParseHistory(text), o);
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kFail) << r.summary;
  EXPECT_EQ(r.counts.at("keys_failed"), 1u);
  EXPECT_EQ(r.counts.at("keys_unknown"), 1u);
}

TEST(Linearizable, MalformedHistoryIsUnknownAndSaysWhy) {
  CheckResult r = CheckLinearizable(*ParseHistory(Line(3, "ok", "write", "k", "\"1\"", 5)));
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kUnknown);
  EXPECT_NE(r.summary.find("line 1: client 3 reports ok for an operation it never invoked"),
            std::string::npos)
      << r.summary;
  r = CheckLinearizable(*ParseHistory(Line(3, "invoke", "write", "k", "\"1\"", 5) +
                                      Line(3, "ok", "write", "k", "\"1\"", 4)));
  EXPECT_EQ(r.verdict, CheckResult::Verdict::kUnknown);
  EXPECT_NE(r.summary.find("line 2: time 4 is before line 1's 5"), std::string::npos) << r.summary;
  r = CheckLinearizable(*ParseHistory(Line(3, "invoke", "write", "k", "\"1\"", 5) +
                                      Line(3, "ok", "read", "k", "\"1\"", 6)));
  EXPECT_NE(r.summary.find("completes read on 'k' but invoked write on 'k'"), std::string::npos)
      << r.summary;
}

TEST(Linearizable, AnOperationOpenAtTheEndIsUnknown) {
  // The write never completed: it may have taken effect, so the read is fine.
  CheckResult r = CheckLinearizable(*ParseHistory(Line(1, "invoke", "write", "k", "\"1\"", 1) +
                                                  Line(2, "invoke", "read", "k", "", 2) +
                                                  Line(2, "ok", "read", "k", "\"1\"", 3)));
  EXPECT_TRUE(r.ok()) << r.summary;
  EXPECT_EQ(r.counts.at("info"), 1u);
}

// Clients doing random operations on a few registers; each operation takes
// effect at one instant between its invocation and its return, so the history
// is linearizable by construction. Some operations end in info (with or
// without having taken effect), some writes fail (without effect).
History RandomLinearizable(uint64_t seed, int keys, int clients, int ops) {
  std::mt19937_64 rng(seed);
  struct Client {
    bool busy = false, applied = false;
    std::string op, key, value, seen;
    bool seen_null = false;
    int64_t delta = 0, result = 0;
  };
  std::vector<Client> cs(clients);
  std::map<std::string, std::optional<std::string>> reg;
  std::string text;
  uint64_t t = 0, next_id = 0;
  std::vector<uint64_t> ids(clients);
  for (auto& id : ids) id = next_id++;
  int issued = 0;
  auto quote = [](const std::string& s) { return "\"" + s + "\""; };
  while (issued < ops ||
         std::any_of(cs.begin(), cs.end(), [](const Client& c) { return c.busy; })) {
    int i = static_cast<int>(rng() % clients);
    Client& c = cs[i];
    ++t;
    if (!c.busy) {
      if (issued >= ops) continue;
      ++issued;
      int k = static_cast<int>(rng() % keys);
      c = Client{};
      c.busy = true;
      c.key = "k" + std::to_string(k);
      int kind = static_cast<int>(rng() % 10);
      if (kind < 4) {
        c.op = "read";
        text += Line(ids[i], "invoke", "read", c.key, "", t);
      } else if (k % 2 == 0) {
        c.op = "append";
        c.value = " x" + std::to_string(ids[i]) + "." + std::to_string(t);
        text += Line(ids[i], "invoke", "append", c.key, quote(c.value), t);
      } else {
        c.op = "write";
        c.value = "v" + std::to_string(t);
        text += Line(ids[i], "invoke", "write", c.key, quote(c.value), t);
      }
    } else if (!c.applied && rng() % 2 == 0) {
      c.applied = true;
      auto& v = reg[c.key];
      if (c.op == "read") {
        c.seen_null = !v;
        c.seen = v.value_or("");
      } else if (c.op == "append") {
        v = v.value_or("") + c.value;
      } else {
        v = c.value;
      }
      if (c.op != "read" && rng() % 8 == 0) {  // took effect, outcome unknown
        text += Line(ids[i], "info", c.op.c_str(), c.key, quote(c.value), t);
        ids[i] = next_id++;
        c.busy = false;
      }
    } else if (c.applied || c.op != "read") {
      c.busy = false;
      if (!c.applied) {
        // Never applied: fail (certainly not) or info (unknown).
        bool info = rng() % 2 == 0;
        text += Line(ids[i], info ? "info" : "fail", c.op.c_str(), c.key, quote(c.value), t);
        if (info) ids[i] = next_id++;
        continue;
      }
      std::string v = c.op == "read" ? (c.seen_null ? "null" : quote(c.seen)) : quote(c.value);
      text += Line(ids[i], "ok", c.op.c_str(), c.key, v, t);
    }
  }
  return *ParseHistory(text);
}

TEST(Linearizable, RandomLinearizableHistoriesPassAndBreakWhenAReadLies) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    History h = RandomLinearizable(seed, 4, 6, 300);
    LinearizableOptions one;
    one.threads = 1;
    CheckResult r = CheckLinearizable(h, one);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.summary
                        << (r.details.empty() ? "" : "\n" + r.details[0]);
    // A read returns a value nobody wrote: that key, and only it, fails.
    size_t i = 0;
    while (i < h.events.size() &&
           !(h.events[i].op == OpType::kRead && h.events[i].type == EventType::kOk))
      ++i;
    ASSERT_LT(i, h.events.size());
    h.events[i].value = "never written";
    LinearizableOptions four;
    four.threads = 4;
    CheckResult bad = CheckLinearizable(h, four);
    EXPECT_EQ(bad.verdict, CheckResult::Verdict::kFail) << "seed " << seed;
    EXPECT_EQ(bad.counts.at("keys_failed"), 1u);
    EXPECT_NE(bad.summary.find("first: " + h.events[i].key), std::string::npos) << bad.summary;
    size_t invoked = i;
    while (h.events[invoked].type != EventType::kInvoke ||
           h.events[invoked].client != h.events[i].client)
      --invoked;
    EXPECT_EQ(CitedLines(bad), std::set<int>{static_cast<int>(invoked + 1)})
        << "the lying read alone: " << bad.details[1];
    // Same answer whatever the number of threads.
    EXPECT_EQ(CheckLinearizable(h, one).details, bad.details);
  }
}

TEST(Linearizable, ManyUnknownIncrementsStayCheap) {
  // 200 increments that timed out and never took effect, interleaved with
  // reads that see only the certain ones: the search must not try subsets.
  std::string text;
  uint64_t t = 0, client = 1000;
  int64_t value = 0;
  for (int i = 0; i < 200; ++i) {
    text += Line(client, "invoke", "incr", "c", "2", ++t);
    text += Line(client++, "info", "incr", "c", "2", ++t);
    text += Line(1, "invoke", "incr", "c", "1", ++t);
    ++value;
    text += "{\"client\":1,\"type\":\"ok\",\"op\":\"incr\",\"key\":\"c\",\"value\":1,\"result\":" +
            std::to_string(value) + ",\"time\":" + std::to_string(++t) + "}\n";
    text += Line(2, "invoke", "read", "c", "", ++t);
    text += Line(2, "ok", "read", "c", "\"" + std::to_string(value) + "\"", ++t);
  }
  CheckResult r = CheckLinearizable(*ParseHistory(text));
  EXPECT_TRUE(r.ok()) << r.summary;
  EXPECT_LT(r.counts.at("configurations"), 20'000u);
}

TEST(LinValueTable, OneIdPerStringHoweverItWasBuilt) {
  lin::ValueTable v;
  uint32_t ab = v.FromString(" a b");
  uint32_t a = v.FromString(" a");
  uint32_t a_b = v.Append(a, lin::MakePiece(" b"));
  EXPECT_EQ(ab, a_b);
  EXPECT_NE(v.FromString(" a c"), ab);
  EXPECT_EQ(v.Materialize(a_b), " a b");
  EXPECT_NE(v.FromString(""), lin::ValueTable::kAbsent);
  EXPECT_EQ(v.FromString(""), lin::ValueTable::kEmpty);
  uint32_t read = v.FromStringWithHint(" a b c d", ab, " a b");
  EXPECT_EQ(v.Materialize(read), " a b c d");
  EXPECT_EQ(v.parent(read), ab) << "only the new bytes were added";
  EXPECT_TRUE(v.IsPrefix(a, read));
  EXPECT_TRUE(v.IsPrefix(v.FromString(" a b c"), read));
  EXPECT_FALSE(v.IsPrefix(v.FromString(" a c"), read));
  EXPECT_TRUE(v.IsPrefix(lin::ValueTable::kAbsent, read));
  EXPECT_FALSE(v.IsPrefix(a, lin::ValueTable::kAbsent));
  EXPECT_TRUE(v.MatchesAt(read, 4, " c"));
  EXPECT_FALSE(v.MatchesAt(read, 4, " d"));
  EXPECT_FALSE(v.MatchesAt(read, 7, " d e"));
  EXPECT_EQ(v.Slice(read, 2, 3), " b ");
  EXPECT_EQ(v.Slice(read, 6, 100), " d");
}

TEST(LinValueTable, LongChainsFindBytesAtAnyOffset) {
  lin::ValueTable v;
  uint32_t s = lin::ValueTable::kEmpty;
  std::string expect;
  for (int i = 0; i < 5000; ++i) {
    std::string piece = " x" + std::to_string(i);
    s = v.Append(s, lin::MakePiece(piece));
    expect += piece;
  }
  EXPECT_EQ(v.Materialize(s), expect);
  for (size_t at : {0ul, 1ul, 777ul, expect.size() / 2, expect.size() - 5})
    EXPECT_EQ(v.Slice(s, at, 12), expect.substr(at, 12)) << at;
  EXPECT_EQ(v.FromString(expect), s);
}

TEST(LinValueTable, IntegersFollowRedis) {
  lin::ValueTable v;
  EXPECT_EQ(v.Integer(v.FromString("42")), 42);
  EXPECT_EQ(v.Integer(v.FromString("-7")), -7);
  EXPECT_EQ(v.Integer(v.FromString("0")), 0);
  EXPECT_EQ(v.Integer(v.FromString("9223372036854775807")), INT64_MAX);
  for (const char* bad : {"007", "-0", "+1", " 1", "1 ", "", "9223372036854775808", "1.0", "x"})
    EXPECT_FALSE(v.Integer(v.FromString(bad))) << bad;
}

}  // namespace
}  // namespace rkv
