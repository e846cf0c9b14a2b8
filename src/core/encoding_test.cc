#include "core/encoding.h"

#include <gtest/gtest.h>

#include "core/stored_value.h"

namespace rkv {
namespace {

TEST(Encoding, VarintRoundTripsAndRejectsTruncation) {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 127, 128, 300, 1ULL << 35, UINT64_MAX}) {
    std::string s;
    PutVarint64(&s, v);
    std::string_view in = s;
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
    std::string_view cut(s.data(), s.size() - 1);
    EXPECT_FALSE(GetVarint64(&cut, &out)) << v;
  }
  std::string overlong(11, '\xff');
  std::string_view in = overlong;
  uint64_t out;
  EXPECT_FALSE(GetVarint64(&in, &out));
}

TEST(Encoding, BigEndianSortsLikeNumbers) {
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(DecodeFixed64BE(b.data()), 256u);
}

TEST(StoredValue, RoundTripsVersionMetadata) {
  std::string bytes;
  ValueVersion v{7, 1032, 99, "ctx"};
  EncodeStoredValue(&bytes, ValueType::kString, v, "payload");
  StoredValueView view;
  ASSERT_TRUE(DecodeStoredValue(bytes, &view));
  EXPECT_EQ(view.type, ValueType::kString);
  EXPECT_EQ(view.version.term, 7u);
  EXPECT_EQ(view.version.index, 1032u);
  EXPECT_EQ(view.version.hlc, 99u);
  EXPECT_EQ(view.version.context, "ctx");
  EXPECT_EQ(view.payload, "payload");
}

TEST(StoredValue, RejectsUnknownFormatAndType) {
  StoredValueView view;
  EXPECT_FALSE(DecodeStoredValue("", &view));
  EXPECT_FALSE(DecodeStoredValue(std::string("\x02\x00", 2), &view));
  EXPECT_FALSE(DecodeStoredValue(std::string("\x01\x09\x00\x00\x00\x00", 6), &view));
}

}  // namespace
}  // namespace rkv
