#include "core/encoding.h"

#include <gtest/gtest.h>

#include "core/crc32c.h"
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

// The SSE4.2 version (8 bytes at a time, then bytes) against the table, on
// every length around the word size and at every alignment, chained too.
TEST(Crc32c, HardwareAndPortableAgreeOnTheCheckValue) {
  EXPECT_EQ(rkv::Crc32c("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(rkv::Crc32cPortable("123456789"), 0xE3069283u);
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n + offset <= data.size(); n += (n < 40 ? 1 : 37)) {
      std::string_view s(data.data() + offset, n);
      ASSERT_EQ(rkv::Crc32c(s), rkv::Crc32cPortable(s)) << offset << " " << n;
      ASSERT_EQ(rkv::Crc32c(s.substr(n / 2), rkv::Crc32c(s.substr(0, n / 2))), rkv::Crc32c(s));
    }
  }
}
