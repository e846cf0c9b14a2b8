#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rkv::bench {

size_t LatencyHistogram::BucketOf(uint64_t v) {
  if (v < kExactBelow) return static_cast<size_t>(v);
  int exponent = 63 - std::countl_zero(v);  // >= 8
  if (exponent > kTopExponent) return kBucketCount - 1;
  uint64_t mantissa = v >> (exponent - 7);  // in [128, 256)
  return kExactBelow + static_cast<size_t>(exponent - 8) * kSubBuckets + (mantissa - kSubBuckets);
}

uint64_t LatencyHistogram::BucketUpperEdge(size_t bucket) {
  if (bucket < kExactBelow) return bucket;
  size_t rel = bucket - kExactBelow;
  int exponent = static_cast<int>(rel / kSubBuckets) + 8;
  uint64_t mantissa = kSubBuckets + rel % kSubBuckets;
  return ((mantissa + 1) << (exponent - 7)) - 1;
}

void LatencyHistogram::Record(uint64_t v) {
  ++counts_[BucketOf(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  double p = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value asked for, 1-based; at least the first value.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpperEdge(i), max_);
  }
  return max_;
}

std::vector<std::pair<uint64_t, uint64_t>> LatencyHistogram::NonEmptyBuckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < kBucketCount; ++i)
    if (counts_[i]) out.emplace_back(std::min(BucketUpperEdge(i), max_), counts_[i]);
  return out;
}

}  // namespace rkv::bench
