// The log's term starts (storage/log_store.h): which term an index holds,
// kept past compaction, cut by truncations, stored and read back.
#include <gtest/gtest.h>

#include "core/encoding.h"
#include "storage/log_store.h"

namespace rkv {
namespace {

std::vector<Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t i = from; i <= to; ++i) {
    Entry e;
    e.index = i;
    e.term = term;
    out.push_back(e);
  }
  return out;
}

TEST(TermStarts, TellTheTermOfEveryIndexSinceTheFirstStart) {
  TermStarts t;
  EXPECT_FALSE(t.TermAt(1));
  EXPECT_TRUE(t.Observe(std::nullopt, Entries(1, 10, 1)));
  EXPECT_FALSE(t.Observe(std::nullopt, Entries(11, 20, 1))) << "same term: nothing new to store";
  EXPECT_TRUE(t.Observe(std::nullopt, Entries(21, 30, 3)));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.TermAt(1), 1u);
  EXPECT_EQ(t.TermAt(20), 1u);
  EXPECT_EQ(t.TermAt(21), 3u);
  EXPECT_EQ(t.TermAt(1000), 3u) << "the last term goes on (the caller bounds the index)";
  EXPECT_FALSE(t.TermAt(0));
}

TEST(TermStarts, ATruncationForgetsTheTermsItCut) {
  TermStarts t;
  t.Observe(std::nullopt, Entries(1, 10, 1));
  t.Observe(std::nullopt, Entries(11, 20, 2));
  t.Observe(std::nullopt, Entries(21, 30, 3));
  // A new leader of term 4 replaces everything from 15 on.
  EXPECT_TRUE(t.Observe(15, Entries(15, 16, 4)));
  EXPECT_EQ(t.TermAt(14), 2u);
  EXPECT_EQ(t.TermAt(15), 4u);
  EXPECT_EQ(t.TermAt(25), 4u);
  // An append over entries without a truncation (a log that ended there
  // after a crash) also overwrites.
  EXPECT_TRUE(t.Observe(std::nullopt, Entries(12, 12, 5)));
  EXPECT_EQ(t.TermAt(11), 2u);
  EXPECT_EQ(t.TermAt(12), 5u);
  EXPECT_EQ(t.size(), 3u);
}

TEST(TermStarts, APositionThatDisagreesLeavesOnlyWhatItSays) {
  TermStarts t;
  t.Observe(std::nullopt, Entries(1, 10, 1));
  t.Observe(std::nullopt, Entries(11, 20, 2));
  EXPECT_FALSE(t.ObservePosition({2, 15})) << "agrees: kept";
  EXPECT_EQ(t.TermAt(5), 1u);
  EXPECT_TRUE(t.ObservePosition({3, 15}));
  EXPECT_FALSE(t.TermAt(14)) << "nothing before the position is known any more";
  EXPECT_EQ(t.TermAt(15), 3u);
  TermStarts empty;
  EXPECT_TRUE(empty.ObservePosition({7, 100}));
  EXPECT_EQ(empty.TermAt(100), 7u);
  EXPECT_FALSE(empty.ObservePosition({0, 0}));
}

TEST(TermStarts, KeepTheLastTermsOnly) {
  TermStarts t;
  for (uint64_t term = 1; term <= TermStarts::kMax + 10; ++term)
    t.Observe(std::nullopt, Entries(term * 10, term * 10 + 9, term));
  EXPECT_EQ(t.size(), TermStarts::kMax);
  EXPECT_FALSE(t.TermAt(10 * 10)) << "the oldest starts are dropped";
  EXPECT_EQ(t.TermAt((TermStarts::kMax + 10) * 10), TermStarts::kMax + 10);
}

TEST(TermStarts, RoundTripAndRejectWhatIsNotAList) {
  TermStarts t;
  t.Observe(std::nullopt, Entries(1, 3, 1));
  t.Observe(std::nullopt, Entries(4, 6, 9));
  TermStarts back;
  ASSERT_TRUE(TermStarts::Decode(t.Encode(), &back));
  EXPECT_EQ(back.TermAt(3), 1u);
  EXPECT_EQ(back.TermAt(4), 9u);
  EXPECT_EQ(back.Encode(), t.Encode());
  const std::string good = t.Encode();
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(TermStarts::Decode(good.substr(0, n), &back)) << "cut at " << n;
  EXPECT_FALSE(TermStarts::Decode(good + "x", &back)) << "trailing bytes";
  std::string unordered;
  PutVarint64(&unordered, 2);
  for (uint64_t v : {5, 2, 4, 3}) PutVarint64(&unordered, v);  // index 4 after 5
  EXPECT_FALSE(TermStarts::Decode(unordered, &back));
  std::string too_many;
  PutVarint64(&too_many, TermStarts::kMax + 1);
  EXPECT_FALSE(TermStarts::Decode(too_many, &back));
  EXPECT_EQ(back.TermAt(4), 9u) << "a rejected list leaves the old one";
}

}  // namespace
}  // namespace rkv
