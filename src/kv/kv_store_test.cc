#include "kv/kv_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "kv/command_codec.h"
#include "kv/commands.h"
#include "storage/memory_engine.h"

namespace rkv {
namespace {

Entry Cmd(uint64_t index, std::vector<std::vector<std::string>> cmds) {
  std::vector<Argv> argvs;
  for (auto& c : cmds) argvs.emplace_back(c.begin(), c.end());
  Entry e;
  e.term = 1;
  e.index = index;
  EncodeCommands(argvs, &e.data);
  return e;
}

// Applies and optionally writes the batch to the engine.
void Apply(KvStore* s, Engine* engine, const Entry& e, bool write) {
  std::vector<Reply> replies;
  ApplyEntry(s, e, &replies);
  WriteBatch b;
  uint64_t seq;
  if (s->TakeWrites(&b, &seq) && write) {
    ASSERT_TRUE(engine->Write(b, false).ok());
    s->WritesDone(seq);
  }
}

TEST(KvStore, AppliedWritesAreReadBeforeTheyAreWritten) {
  MemoryEngine engine;
  KvStore s(&engine);
  std::vector<Reply> replies;
  ApplyEntry(&s, Cmd(1, {{"set", "k", "v1"}}), &replies);
  std::string stored;
  EXPECT_TRUE(s.Get("k", &stored));
  WriteBatch b;
  uint64_t seq;
  ASSERT_TRUE(s.TakeWrites(&b, &seq));
  ApplyEntry(&s, Cmd(2, {{"del", "k"}}), &replies);
  EXPECT_FALSE(s.Get("k", &stored)) << "a delete hides the engine's value";
  ASSERT_TRUE(engine.Write(b, false).ok());
  s.WritesDone(seq);
  EXPECT_FALSE(s.Get("k", &stored)) << "the later delete is still in flight";
  WriteBatch b2;
  ASSERT_TRUE(s.TakeWrites(&b2, &seq));
  ASSERT_TRUE(engine.Write(b2, false).ok());
  s.WritesDone(seq);
  EXPECT_FALSE(s.Get("k", &stored));
  EXPECT_EQ(s.key_count(), 0u);
}

TEST(KvStore, DigestDependsOnStateNotHistory) {
  MemoryEngine e1, e2;
  KvStore a(&e1), b(&e2);
  Apply(&a, &e1, Cmd(1, {{"set", "x", "1"}, {"set", "y", "2"}}), true);
  Apply(&b, &e2, Cmd(1, {{"set", "y", "0"}}), true);
  Apply(&b, &e2, Cmd(2, {{"set", "x", "1"}, {"set", "y", "2"}, {"set", "z", "3"}}), false);
  Apply(&b, &e2, Cmd(3, {{"del", "z"}}), true);
  EXPECT_EQ(a.digest(), b.digest());
  EXPECT_EQ(a.key_count(), 2u);
  EXPECT_EQ(b.key_count(), 2u);
  Apply(&b, &e2, Cmd(4, {{"append", "x", "!"}}), true);
  EXPECT_NE(a.digest(), b.digest());
}

TEST(KvStore, StateSurvivesReload) {
  MemoryEngine engine;
  {
    KvStore s(&engine);
    Apply(&s, &engine, Cmd(5, {{"set", "a", "1"}, {"incr", "n"}}), true);
  }
  KvStore s(&engine);
  ASSERT_TRUE(s.Load().ok());
  EXPECT_EQ(s.applied().index, 5u);
  EXPECT_EQ(s.key_count(), 2u);
  std::string stored;
  EXPECT_TRUE(s.Get("n", &stored));
}

TEST(KvStore, ScanReturnsEveryKeyOnceWrittenOrNot) {
  MemoryEngine engine;
  KvStore s(&engine);
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 300; ++i) sets.push_back({"set", "key" + std::to_string(i), "v"});
  Apply(&s, &engine, Cmd(1, sets), true);
  // More keys not written to the engine yet, and a delete of a written one.
  Apply(&s, &engine, Cmd(2, {{"set", "late", "v"}, {"del", "key7"}}), false);
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    std::vector<std::string> keys;
    cursor = s.Scan(cursor, 7, &keys);
    seen.insert(keys.begin(), keys.end());
    ++calls;
  } while (cursor != 0 && calls < 1000);
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_EQ(seen.count("late"), 1u);
  EXPECT_EQ(seen.count("key7"), 0u);
  EXPECT_GT(calls, 30);
}

TEST(KvStore, BarrierEntriesAreAppliedLikeCommands) {
  // FLUSHALL travels in a kBarrier entry (applied only once committed); the
  // state machine must still run it. A regression: it once skipped them.
  MemoryEngine engine;
  KvStore s(&engine);
  Apply(&s, &engine, Cmd(1, {{"set", "a", "1"}}), true);
  Entry flush = Cmd(2, {{"flushall"}});
  flush.kind = EntryKind::kBarrier;
  std::vector<Reply> r;
  ApplyEntry(&s, flush, &r);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].str, "OK");
  EXPECT_EQ(s.key_count(), 0u);
}

TEST(KvStore, FlushAllHidesEverythingAtOnce) {
  MemoryEngine engine;
  KvStore s(&engine);
  Apply(&s, &engine, Cmd(1, {{"set", "a", "1"}, {"set", "b", "2"}}), true);
  Apply(&s, &engine, Cmd(2, {{"set", "c", "3"}}), false);
  std::vector<Reply> r;
  ApplyEntry(&s, Cmd(3, {{"flushall"}, {"set", "d", "4"}}), &r);
  std::string stored;
  EXPECT_FALSE(s.Get("a", &stored));
  EXPECT_FALSE(s.Get("c", &stored));
  EXPECT_TRUE(s.Get("d", &stored));
  EXPECT_EQ(s.key_count(), 1u);
  WriteBatch b;
  uint64_t seq;
  ASSERT_TRUE(s.TakeWrites(&b, &seq));
  ASSERT_TRUE(engine.Write(b, false).ok());
  s.WritesDone(seq);
  std::vector<std::string> keys;
  EXPECT_EQ(s.Scan(0, 100, &keys), 0u);
  EXPECT_EQ(keys, std::vector<std::string>{"d"});
  // And the engine agrees: a reload finds the same state.
  KvStore reloaded(&engine);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.key_count(), 1u);
  EXPECT_EQ(reloaded.digest(), s.digest());
  EXPECT_TRUE(reloaded.Contains("d"));
}

TEST(KeyIndex, SetFindEraseAndReplaceInPlaceOrNot) {
  KeyIndex idx;
  EXPECT_TRUE(idx.Set("a", "1234"));
  EXPECT_FALSE(idx.Set("a", "12"));  // smaller: in place
  std::string_view v;
  ASSERT_TRUE(idx.Find("a", &v));
  EXPECT_EQ(v, "12");
  EXPECT_FALSE(idx.Set("a", std::string(1000, 'x')));  // larger: a new entry
  ASSERT_TRUE(idx.Find("a", &v));
  EXPECT_EQ(v.size(), 1000u);
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_TRUE(idx.Set(std::string("b\0c", 3), ""));  // binary key, empty value
  ASSERT_TRUE(idx.Find(std::string("b\0c", 3), &v));
  EXPECT_TRUE(v.empty());
  EXPECT_FALSE(idx.Find("b", &v));
  EXPECT_TRUE(idx.Erase("a"));
  EXPECT_FALSE(idx.Erase("a"));
  EXPECT_EQ(idx.size(), 1u);
}

// A prefetch is only a hint: over present, absent and repeated keys, on a
// table small or grown, in more than one chunk, nothing changes.
TEST(KeyIndex, PrefetchChangesNothing) {
  KeyIndex idx;
  std::vector<std::string_view> none = {"a", "b"};
  idx.Prefetch(none.data(), none.size());  // empty table
  idx.Prefetch(nullptr, 0);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("k" + std::to_string(i));
  for (const std::string& k : keys) idx.Set(k, "v" + k);
  std::vector<std::string_view> views(keys.begin(), keys.end());
  views.push_back("absent");
  views.push_back("k7");
  idx.Prefetch(views.data(), views.size());
  EXPECT_EQ(idx.size(), 1000u);
  for (const std::string& k : keys) {
    std::string_view v;
    ASSERT_TRUE(idx.Find(k, &v));
    EXPECT_EQ(v, "v" + k);
  }
}

// An entry of many clients' commands (as the server batches a turn's writes):
// each runs in order against the state the earlier ones left, with its own
// reply, and a command that is not valid answers an error without stopping
// the rest.
TEST(KvStore, ABatchAppliesInOrderWithAReplyEach) {
  MemoryEngine engine;
  KvStore s(&engine);
  std::vector<Reply> replies;
  ApplyEntry(&s,
             Cmd(1, {{"set", "a", "1"},
                     {"incr", "a"},
                     {"nosuch", "a"},
                     {"set", "b"},
                     {"mset", "b", "x", "c", "y"},
                     {"append", "b", "z"},
                     {"incr", "b"},
                     {"del", "c", "a"},
                     {"incr", "a"}}),
             &replies);
  ASSERT_EQ(replies.size(), 9u);
  EXPECT_EQ(replies[0].type, Reply::Type::kStatus);
  EXPECT_EQ(replies[1].integer, 2);
  EXPECT_EQ(replies[2].str, "ERR invalid command in log entry");
  EXPECT_EQ(replies[3].str, "ERR invalid command in log entry");
  EXPECT_EQ(replies[4].type, Reply::Type::kStatus);
  EXPECT_EQ(replies[5].integer, 2);
  EXPECT_EQ(replies[6].type, Reply::Type::kError);
  EXPECT_EQ(replies[7].integer, 2);
  EXPECT_EQ(replies[8].integer, 1);
  EXPECT_EQ(s.key_count(), 2u);
  EXPECT_EQ(s.applied().index, 1u);
}

// A resize moves a few buckets per Set or Erase (no pause proportional to the
// key count); meanwhile every operation sees the keys where they are, in the
// old table or the new, through growth and shrinking (checked against a map).
TEST(KeyIndex, ResizesIncrementallyAndLosesNothingMeanwhile) {
  KeyIndex idx;
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(7);
  bool saw_resize = false;
  size_t longest_resize = 0, current = 0;
  auto check_some = [&] {
    for (int i = 0; i < 20; ++i) {
      std::string k = "k" + std::to_string(rng() % 40000);
      std::string_view v;
      auto it = model.find(k);
      ASSERT_EQ(idx.Find(k, &v), it != model.end()) << k;
      if (it != model.end()) {
        ASSERT_EQ(v, it->second) << k;
      }
    }
  };
  // Grow to 30000 keys, then erase down to a few hundred, then grow again.
  for (int phase = 0; phase < 3; ++phase) {
    for (int i = 0; i < 60000; ++i) {
      std::string k = "k" + std::to_string(rng() % 40000);
      if (phase == 1) {
        EXPECT_EQ(idx.Erase(k), model.erase(k) == 1) << k;
      } else {
        std::string v = "v" + std::to_string(i);
        EXPECT_EQ(idx.Set(k, v), !model.count(k)) << k;
        model[k] = v;
      }
      ASSERT_EQ(idx.size(), model.size());
      if (idx.rehashing()) {
        saw_resize = true;
        longest_resize = std::max(longest_resize, ++current);
      } else {
        current = 0;
      }
      if (i % 97 == 0) check_some();
    }
  }
  EXPECT_TRUE(saw_resize);
  EXPECT_GT(longest_resize, 100u) << "a resize of thousands of keys was done at once";
  for (const auto& [k, v] : model) {
    std::string_view got;
    ASSERT_TRUE(idx.Find(k, &got)) << k;
    ASSERT_EQ(got, v);
  }
  std::vector<std::string_view> views;
  for (const auto& kv : model) views.push_back(kv.first);
  idx.Prefetch(views.data(), views.size());  // through both tables, if resizing
  idx.Clear();
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_FALSE(idx.rehashing());
}

// SCAN's promise while a resize is under way: each call is followed by a few
// writes, so most calls find the table between two sizes.
TEST(KeyIndex, ScanReturnsEveryStableKeyWhileResizing) {
  for (bool grow : {true, false}) {
    KeyIndex idx;
    std::set<std::string> stable;
    for (int i = 0; i < 3000; ++i) {
      std::string k = "stable" + std::to_string(i);
      idx.Set(k, "v");
      stable.insert(k);
    }
    if (!grow)
      for (int i = 0; i < 60000; ++i) idx.Set("churn" + std::to_string(i), "v");
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0, during_resize = 0, churn = 0;
    do {
      std::vector<std::string> keys;
      during_resize += idx.rehashing();
      cursor = idx.Scan(cursor, 5, &keys);
      seen.insert(keys.begin(), keys.end());
      // 60000 keys added or removed, 40 after each call, then a still table.
      for (int i = 0; i < 40 && churn < 60000; ++i, ++churn) {
        if (grow)
          idx.Set("churn" + std::to_string(churn), "v");
        else
          idx.Erase("churn" + std::to_string(churn));
      }
    } while (cursor != 0 && ++calls < 100000);
    ASSERT_EQ(cursor, 0u) << "the scan did not finish";
    EXPECT_GT(during_resize, 3) << (grow ? "grow" : "shrink");
    for (const std::string& k : stable)
      ASSERT_TRUE(seen.count(k)) << k << (grow ? " grow" : " shrink");
  }
}

// A scan begun on the larger table goes on through a shrink that starts
// between two calls: its cursor then has bits set above the new table's mask,
// and the buckets still ahead of it in reverse-binary order must all come.
// (Redis's dictScan once counted those bits in plain binary and skipped some:
// redis/redis#4906.)
TEST(KeyIndex, ScanFromTheLargerTableGoesOnThroughAShrink) {
  for (int first_calls = 1; first_calls <= 40; ++first_calls) {
    KeyIndex idx;
    std::set<std::string> stable;
    for (int i = 0; i < 300; ++i) {
      stable.insert("stable" + std::to_string(i));
      idx.Set("stable" + std::to_string(i), "v");
    }
    for (int i = 0; i < 30000; ++i) idx.Set("churn" + std::to_string(i), "v");
    while (idx.rehashing()) idx.Erase("absent");  // each call moves a few buckets
    std::set<std::string> seen;
    uint64_t cursor = 0;
    for (int c = 0; c < first_calls; ++c) {
      std::vector<std::string> keys;
      cursor = idx.Scan(cursor, 1, &keys);
      seen.insert(keys.begin(), keys.end());
    }
    ASSERT_NE(cursor, 0u);
    for (int i = 0; i < 30000 && !idx.rehashing(); ++i) idx.Erase("churn" + std::to_string(i));
    ASSERT_TRUE(idx.rehashing()) << "no shrink started";
    do {
      std::vector<std::string> keys;
      cursor = idx.Scan(cursor, 10, &keys);
      seen.insert(keys.begin(), keys.end());
    } while (cursor != 0);
    for (const std::string& k : stable)
      ASSERT_TRUE(seen.count(k)) << k << " after " << first_calls << " calls";
  }
}

// Redis's SCAN promise: a key present for the whole scan is returned at least
// once, even when the table grows or shrinks between calls.
TEST(KeyIndex, ScanSurvivesResizesBetweenCalls) {
  for (bool grow : {true, false}) {
    KeyIndex idx;
    std::set<std::string> stable;
    for (int i = 0; i < 2000; ++i) {
      std::string k = "stable" + std::to_string(i);
      idx.Set(k, "v");
      stable.insert(k);
    }
    if (!grow)
      for (int i = 0; i < 30000; ++i) idx.Set("churn" + std::to_string(i), "v");
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    do {
      std::vector<std::string> keys;
      cursor = idx.Scan(cursor, 10, &keys);
      seen.insert(keys.begin(), keys.end());
      // Between calls: the table doubles several times, or shrinks.
      if (++calls == 20) {
        for (int i = 0; i < 30000; ++i) {
          if (grow)
            idx.Set("churn" + std::to_string(i), "v");
          else
            idx.Erase("churn" + std::to_string(i));
        }
      }
    } while (cursor != 0 && calls < 100000);
    for (const std::string& k : stable)
      ASSERT_TRUE(seen.count(k)) << k << (grow ? " grow" : " shrink");
  }
}

TEST(CommandBatch, SeveralRequestsMakeTheEntryEncodeCommandsWouldMake) {
  std::string one, two, expected;
  EncodeCommand({"SET", "a", "1"}, &one);
  EncodeCommands({{"INCR", "n"}, {"GET", "a"}}, &two);
  CommandBatch batch;
  EXPECT_EQ(batch.Add(one), 1u);
  EXPECT_EQ(batch.Add(two), 2u);
  EXPECT_EQ(batch.Add(""), 0u) << "malformed: nothing added";
  EXPECT_EQ(batch.Add("\x07\x01"), 0u) << "unknown format: nothing added";
  EXPECT_EQ(batch.commands(), 3u);
  EncodeCommands({{"SET", "a", "1"}, {"INCR", "n"}, {"GET", "a"}}, &expected);
  EXPECT_EQ(batch.Take(), expected);
  EXPECT_TRUE(batch.empty());
  std::vector<Argv> decoded;
  EXPECT_TRUE(DecodeCommands(expected, &decoded));
  EXPECT_EQ(decoded.size(), 3u);

  // A command added as an argv encodes as EncodeCommand would.
  CommandBatch direct;
  direct.AddCommand({"SET", "a", "1"});
  direct.Add(two);
  EXPECT_EQ(direct.commands(), 3u);
  EXPECT_EQ(direct.Take(), expected);
}

TEST(CommandBatch, DecodingIntoKeptScratchGivesWhatDecodeCommandsGives) {
  std::string three, one;
  EncodeCommands({{"SET", "a", "1"}, {"INCR", "n"}, {"MSET", "x", "1", "y", "2"}}, &three);
  EncodeCommand({"DEL", "k"}, &one);
  std::vector<Argv> scratch;
  size_t n = 0;
  ASSERT_TRUE(DecodeCommandsReusing(three, &scratch, &n));
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(scratch[2], (Argv{"MSET", "x", "1", "y", "2"}));
  // A smaller entry next: its commands in the first elements, the rest stale.
  ASSERT_TRUE(DecodeCommandsReusing(one, &scratch, &n));
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(scratch[0], (Argv{"DEL", "k"}));
  EXPECT_GE(scratch.size(), 3u) << "elements kept for the next entry";
  std::vector<Argv> whole;
  ASSERT_TRUE(DecodeCommands(three, &whole));
  ASSERT_TRUE(DecodeCommandsReusing(three, &scratch, &n));
  EXPECT_EQ(std::vector<Argv>(scratch.begin(), scratch.begin() + static_cast<long>(n)), whole);
  // Malformed: false, and nothing counted.
  EXPECT_FALSE(DecodeCommandsReusing(three.substr(0, three.size() - 1), &scratch, &n));
  EXPECT_FALSE(DecodeCommands(three.substr(0, three.size() - 1), &whole));
  EXPECT_FALSE(DecodeCommandsReusing("", &scratch, &n));
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace rkv
