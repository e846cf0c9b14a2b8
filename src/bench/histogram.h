// An HDR-style latency histogram: log-linear buckets (128 linear sub-buckets
// per power of two), so every recorded value is kept within 0.8% of its true
// value from 1 ns to about 18 minutes, in a fixed 35 KiB of counters. Recording
// is O(1) with no allocation; percentiles walk the buckets once.
// Not thread-safe: each load-generator thread keeps its own and they are merged.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace rkv::bench {

class LatencyHistogram {
 public:
  // Values below this are exact; above it each power of two has kSubBuckets buckets.
  static constexpr uint64_t kExactBelow = 256;
  static constexpr uint64_t kSubBuckets = 128;
  // The largest power of two covered; larger values land in the last bucket
  // (max() still reports them exactly).
  static constexpr int kTopExponent = 40;  // 2^40 ns ≈ 18 minutes
  static constexpr size_t kBucketCount = kExactBelow + (kTopExponent - 8 + 1) * kSubBuckets;
  static_assert(kExactBelow == 2 * kSubBuckets, "the first log bucket continues the exact range");

  void Record(uint64_t value_ns);
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double Mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest recorded value v such that at least `percentile`% of the
  // values are <= v, reported as the upper edge of its bucket (never above max).
  // 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;
  // (bucket upper edge in ns, count) for every non-empty bucket, ascending.
  std::vector<std::pair<uint64_t, uint64_t>> NonEmptyBuckets() const;

  static size_t BucketOf(uint64_t value_ns);
  static uint64_t BucketUpperEdge(size_t bucket);

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace rkv::bench
