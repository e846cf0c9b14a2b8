#include "core/latency_histogram.h"

#include <cstddef>

namespace rkv {

void LatencyHistogram::Record(uint64_t ns) {
  uint64_t us = ns / 1000;
  size_t i = 0;
  while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
  ++buckets_[i];
  ++count_;
  sum_ns_ += ns;
}

double LatencyHistogram::QuantileUs(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return i < kBoundsUs.size() ? static_cast<double>(kBoundsUs[i]) : 1e7;
  }
  return 1e7;
}

uint64_t LatencyHistogram::CountAbove(uint64_t bound_us) const {
  uint64_t n = 0;
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (i == kBoundsUs.size() || kBoundsUs[i] > bound_us) n += buckets_[i];
  return n;
}

}  // namespace rkv
