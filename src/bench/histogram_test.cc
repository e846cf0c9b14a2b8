#include "bench/histogram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rkv::bench {
namespace {

TEST(LatencyHistogram, BucketsKeepValuesWithinOnePercent) {
  for (uint64_t v :
       {0ULL, 1ULL, 255ULL, 256ULL, 257ULL, 1000ULL, 123456ULL, 1ULL << 30, (1ULL << 40) - 1}) {
    size_t b = LatencyHistogram::BucketOf(v);
    uint64_t edge = LatencyHistogram::BucketUpperEdge(b);
    EXPECT_GE(edge, v) << v;
    EXPECT_LE(static_cast<double>(edge - v), 0.008 * static_cast<double>(v) + 1) << v;
    EXPECT_LT(b, LatencyHistogram::kBucketCount);
  }
  // Buckets are ordered: a larger value never lands in an earlier bucket.
  size_t last = 0;
  for (uint64_t v = 1; v < (1ULL << 40); v = v * 3 / 2 + 1) {
    size_t b = LatencyHistogram::BucketOf(v);
    EXPECT_GE(b, last);
    last = b;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(UINT64_MAX), LatencyHistogram::kBucketCount - 1);
}

TEST(LatencyHistogram, PercentilesOfAUniformSpread) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 µs .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  auto near = [](uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= 0.01 * want;
  };
  EXPECT_TRUE(near(h.ValueAtPercentile(50), 50e6)) << h.ValueAtPercentile(50);
  EXPECT_TRUE(near(h.ValueAtPercentile(99), 99e6)) << h.ValueAtPercentile(99);
  EXPECT_TRUE(near(h.ValueAtPercentile(99.9), 99.9e6)) << h.ValueAtPercentile(99.9);
  EXPECT_EQ(h.ValueAtPercentile(100), 100000000u);
  EXPECT_NEAR(h.Mean(), 50.0005e6, 1);
}

TEST(LatencyHistogram, MergeAndEmpty) {
  LatencyHistogram a, b;
  EXPECT_EQ(a.ValueAtPercentile(99), 0u);
  EXPECT_EQ(a.min(), 0u);
  a.Record(10);
  b.Record(5000);
  b.Record(7);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 7u);
  EXPECT_EQ(a.max(), 5000u);
  EXPECT_EQ(a.ValueAtPercentile(50), 10u);
  EXPECT_EQ(a.NonEmptyBuckets().size(), 3u);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
}

}  // namespace
}  // namespace rkv::bench
