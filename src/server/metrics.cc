#include "server/metrics.h"

#include <cstdio>

namespace rkv {

void AppendHistogram(std::string* out, const std::string& name, const std::string& labels,
                     const LatencyHistogram& h) {
  std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  const auto& b = h.buckets();
  for (size_t i = 0; i < b.size(); ++i) {
    cumulative += b[i];
    char le[32];
    if (i < LatencyHistogram::kBoundsUs.size())
      std::snprintf(le, sizeof(le), "%g", LatencyHistogram::kBoundsUs[i] / 1e6);
    else
      std::snprintf(le, sizeof(le), "+Inf");
    *out += name + "_bucket{" + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%.9f", static_cast<double>(h.sum_ns()) / 1e9);
  *out += name + "_sum" + braces + " " + sum + "\n";
  *out += name + "_count" + braces + " " + std::to_string(h.count()) + "\n";
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
