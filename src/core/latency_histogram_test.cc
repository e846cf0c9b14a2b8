#include "core/latency_histogram.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(LatencyHistogram, CountsAboveABoundAndEstimatesQuantiles) {
  LatencyHistogram h;
  for (int i = 0; i < 98; ++i) h.Record(80'000);  // 80 us: the 100 us bucket
  h.Record(150'000'000);                          // 150 ms
  h.Record(7'000'000'000);                        // 7 s: +Inf
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.CountAbove(100), 2u);
  EXPECT_EQ(h.CountAbove(100000), 2u);
  EXPECT_EQ(h.CountAbove(250000), 1u);
  EXPECT_EQ(h.CountAbove(5000000), 1u);
  EXPECT_EQ(h.QuantileUs(0.5), 100.0);
  EXPECT_EQ(h.QuantileUs(0.99), 250000.0);
  EXPECT_EQ(h.buckets().back(), 1u);
  EXPECT_EQ(h.sum_ns(), 98ull * 80'000 + 150'000'000 + 7'000'000'000);
}

}  // namespace
}  // namespace rkv
