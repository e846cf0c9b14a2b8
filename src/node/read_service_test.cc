#include "node/read_service.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

ReadConsistency Parse(std::vector<std::string_view> words, std::string* error = nullptr) {
  ReadConsistency c;
  std::string why;
  bool ok = ParseReadConsistency(words, &c, &why);
  if (error) *error = ok ? "" : why;
  return c;
}

TEST(ReadLevels, ParsesEachLevel) {
  EXPECT_EQ(Parse({"strong"}).level, ReadLevel::kStrong);
  EXPECT_EQ(Parse({"SESSION"}).level, ReadLevel::kSession);
  EXPECT_EQ(Parse({"eventual"}).level, ReadLevel::kEventual);
  ReadConsistency b = Parse({"bounded", "250"});
  EXPECT_EQ(b.level, ReadLevel::kBounded);
  EXPECT_EQ(b.bound_ms, 250u);
  EXPECT_EQ(Parse({"bounded:40"}).bound_ms, 40u);
  EXPECT_EQ(b.ToString(), "bounded 250");
}

TEST(ReadLevels, RefusesBadInputNamingIt) {
  std::string e;
  Parse({}, &e);
  EXPECT_NE(e.find("no read level"), std::string::npos);
  Parse({"bounded"}, &e);
  EXPECT_NE(e.find("needs a staleness bound"), std::string::npos);
  for (std::string_view bad : {"0", "-1", "x", "3600001", "99999999999999999999999"}) {
    Parse({"bounded", bad}, &e);
    EXPECT_NE(e.find("invalid staleness bound '" + std::string(bad) + "'"), std::string::npos)
        << bad;
  }
  Parse({"strong", "5"}, &e);
  EXPECT_NE(e.find("only bounded takes a number"), std::string::npos);
  Parse({"bounded:5", "6"}, &e);
  EXPECT_NE(e.find("too many words"), std::string::npos);
  Parse({"linearizable"}, &e);
  EXPECT_NE(e.find("unknown read level 'linearizable'"), std::string::npos);
}

TEST(SessionTokens, RoundTripAndRefuseGarbage) {
  LogPosition p;
  ASSERT_TRUE(DecodeSessionToken(EncodeSessionToken({7, 1032}), &p));
  EXPECT_EQ(p, (LogPosition{7, 1032}));
  for (std::string_view bad : {"", "7", "7.", ".5", "a.b", "7.5.1", "-1.5", "7 .5"})
    EXPECT_FALSE(DecodeSessionToken(bad, &p)) << bad;
}

TEST(SessionTokens, OrderIsTermThenIndex) {
  // Within one log, later entries have an equal or higher term: log order.
  EXPECT_TRUE(PositionAtLeast({3, 10}, {3, 10}));
  EXPECT_TRUE(PositionAtLeast({3, 11}, {3, 10}));
  EXPECT_FALSE(PositionAtLeast({3, 9}, {3, 10}));
  // A position of a later term passes one of an earlier term even at a lower
  // index: the earlier-term entry beyond it was rolled back.
  EXPECT_TRUE(PositionAtLeast({4, 8}, {3, 10}));
  // A replica still holding an older term's entries never passes a newer
  // leader's position, whatever its index.
  EXPECT_FALSE(PositionAtLeast({3, 50}, {4, 8}));
  EXPECT_EQ(MaxPosition({3, 50}, {4, 8}), (LogPosition{4, 8}));
}

}  // namespace
}  // namespace rkv
