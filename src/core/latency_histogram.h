// A fixed-bucket latency histogram (Prometheus-style cumulative buckets when
// rendered): commands' durations (server/metrics.h) and storage syncs
// (storage/group_commit.h). Not thread-safe; owners lock or copy it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rkv {

class LatencyHistogram {
 public:
  // Bucket upper bounds in microseconds; the last bucket is +Inf.
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      25,    50,    100,   250,    500,    1000,   2500,    5000,
      10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};
  void Record(uint64_t ns);
  uint64_t count() const { return count_; }
  uint64_t sum_ns() const { return sum_ns_; }
  // Upper bound (µs) of the bucket holding quantile q (0..1); an estimate.
  double QuantileUs(double q) const;
  // How many took longer than `bound_us`, which must be one of kBoundsUs.
  uint64_t CountAbove(uint64_t bound_us) const;
  const std::array<uint64_t, kBoundsUs.size() + 1>& buckets() const { return buckets_; }

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

}  // namespace rkv
