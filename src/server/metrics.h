// Counters and latency histograms for /metrics (Prometheus text format) and
// INFO. Updated and rendered on the event loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

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
  const std::array<uint64_t, kBoundsUs.size() + 1>& buckets() const { return buckets_; }

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

struct CommandStats {
  uint64_t calls = 0;
  uint64_t errors = 0;
  LatencyHistogram latency;
};

struct ServerMetrics {
  std::map<std::string, CommandStats, std::less<>> commands;  // by lower-case name
  uint64_t connections_received = 0;
  uint64_t connections_rejected = 0;
  uint64_t protocol_errors = 0;
  uint64_t commands_processed = 0;
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;

  // Entries are never removed: connections keep pointers to them.
  CommandStats& For(std::string_view name) {
    auto it = commands.find(name);
    if (it == commands.end()) it = commands.emplace(std::string(name), CommandStats{}).first;
    return it->second;
  }
};

// Appends one metric family in Prometheus text format.
void AppendCounter(std::string* out, const std::string& name, const std::string& help,
                   uint64_t value, const std::string& labels = "");
void AppendGauge(std::string* out, const std::string& name, const std::string& help, double value,
                 const std::string& labels = "");

}  // namespace rkv
