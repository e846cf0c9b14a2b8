#include "server/metrics.h"

#include <cstdio>

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

void AppendCounter(std::string* out, const std::string& name, const std::string& help,
                   uint64_t value, const std::string& labels) {
  if (labels.empty() || out->find("# HELP " + name + " ") == std::string::npos) {
    *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
  }
  *out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
}

void AppendGauge(std::string* out, const std::string& name, const std::string& help, double value,
                 const std::string& labels) {
  if (labels.empty() || out->find("# HELP " + name + " ") == std::string::npos) {
    *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  *out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
}

}  // namespace rkv
