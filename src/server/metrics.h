// Counters and latency histograms for /metrics (Prometheus text format) and
// INFO. Updated and rendered on the event loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "core/latency_histogram.h"

namespace rkv {

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

// Appends one histogram's _bucket, _sum and _count lines (seconds); the
// caller writes the family's HELP and TYPE lines once.
void AppendHistogram(std::string* out, const std::string& name, const std::string& labels,
                     const LatencyHistogram& h);

// Appends one metric family in Prometheus text format.
void AppendCounter(std::string* out, const std::string& name, const std::string& help,
                   uint64_t value, const std::string& labels = "");
void AppendGauge(std::string* out, const std::string& name, const std::string& help, double value,
                 const std::string& labels = "");

}  // namespace rkv
