// The explore table as text, markdown or JSON.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "explore/explore.h"

namespace rkv {

namespace {

struct Column {
  const char* title;
  std::string (*cell)(const ExploreCell&);
};

std::string Num(uint64_t n) { return std::to_string(n); }

std::string Ms(uint64_t p50_ns, uint64_t p99_ns) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f / %.1f", static_cast<double>(p50_ns) / 1e6,
                static_cast<double>(p99_ns) / 1e6);
  return buf;
}

std::string Unavailable(const ExploreCell& c) {
  char buf[64];
  double pct = c.invoked ? 100.0 * static_cast<double>(c.unavailable()) / c.invoked : 0.0;
  std::snprintf(buf, sizeof buf, "%llu (%.1f%%)", static_cast<unsigned long long>(c.unavailable()),
                pct);
  return buf;
}

std::string NonLinearizable(const ExploreCell& c) {
  std::string s = Num(c.non_linearizable) + "/" + Num(c.runs);
  if (c.linearizable_unknown) s += " (" + Num(c.linearizable_unknown) + " undecided)";
  return s;
}

// "n (k)": n found, k of them explained (recorded, or missing a write that
// was rolled back); "0" when none.
std::string Part(uint64_t n, uint64_t k) { return n ? Num(n) + " (" + Num(k) + ")" : Num(n); }

const Column kColumns[] = {
    {"lost writes (recorded)", [](const ExploreCell& c) { return Part(c.lost, c.lost_recorded); }},
    {"stale reads (rolled back)",
     [](const ExploreCell& c) { return Part(c.stale_reads, c.stale_rolled_back); }},
    {"read-your-writes (rolled back)",
     [](const ExploreCell& c) { return Part(c.read_your_writes, c.ryw_rolled_back); }},
    {"non-monotonic (rolled back)",
     [](const ExploreCell& c) { return Part(c.non_monotonic, c.non_monotonic_rolled_back); }},
    {"not a prefix (rolled back)",
     [](const ExploreCell& c) { return Part(c.not_prefix, c.not_prefix_rolled_back); }},
    {"non-linearizable", NonLinearizable},
    {"conflicts", [](const ExploreCell& c) { return Num(c.conflicts); }},
    {"unavailable", Unavailable},
    {"read ms p50 / p99", [](const ExploreCell& c) { return Ms(c.read_p50_ns, c.read_p99_ns); }},
    {"write ms p50 / p99", [](const ExploreCell& c) { return Ms(c.write_p50_ns, c.write_p99_ns); }},
};

std::string Preamble(const ExploreResult& r) {
  const ExploreOptions& o = r.options;
  const SimConfig& b = o.base;
  std::string runs = b.duration_ms ? std::to_string(b.duration_ms) + " virtual ms"
                                   : std::to_string(b.ops) + " operations";
  return std::to_string(b.nodes) + " nodes, " + std::to_string(b.clients) + " clients, " +
         std::to_string(b.keys) + " keys, " + runs + " per run; seeds " +
         std::to_string(o.first_seed) + ".." + std::to_string(o.first_seed + o.seeds - 1) +
         " for each setting and fault scenario, every figure summed over them";
}

std::vector<std::vector<std::string>> Rows(const ExploreResult& r, const std::string& scenario) {
  std::vector<std::vector<std::string>> rows;
  for (const ExploreCell& c : r.cells) {
    if (c.scenario.name != scenario) continue;
    std::vector<std::string> row = {c.setting.Name()};
    for (const Column& col : kColumns) row.push_back(col.cell(c));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Broken(const ExploreResult& r, const char* indent, const char* gap) {
  uint64_t broken = 0;
  for (const ExploreCell& c : r.cells) broken += c.broken_runs;
  if (broken == 0) return "";
  std::string s = "\n" + Num(broken) +
                  " runs broke a promise of their setting (the simulator failed them); "
                  "reproduce with:\n" +
                  gap;
  size_t shown = 0;
  for (const ExploreCell& c : r.cells)
    for (const std::string& b : c.broken)
      if (shown++ < kExploreFailuresShownMax) s += indent + b + "\n";
  return s;
}

std::string Text(const ExploreResult& r) {
  std::string out = "replicakv explore: " + Preamble(r) + "\n";
  std::vector<std::string> header = {"setting"};
  for (const Column& c : kColumns) header.push_back(c.title);
  for (const ExploreScenario& sc : r.options.scenarios) {
    std::vector<std::vector<std::string>> rows = Rows(r, sc.name);
    rows.insert(rows.begin(), header);
    std::vector<size_t> width(header.size(), 0);
    for (const auto& row : rows)
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    out += "\nfaults: " + sc.name + "\n";
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        size_t pad = width[i] - row[i].size();
        // The setting reads left to right, figures line up on the right.
        line += i == 0 ? row[i] + std::string(pad, ' ') : "  " + std::string(pad, ' ') + row[i];
      }
      out += line + "\n";
    }
  }
  return out + Broken(r, "  ", "");
}

std::string Markdown(const ExploreResult& r) {
  std::string out = Preamble(r) + ".\n";
  for (const ExploreScenario& sc : r.options.scenarios) {
    out += "\n**faults: " + sc.name + "**\n\n| setting |";
    std::string rule = "|---|";
    for (const Column& c : kColumns) {
      out += " " + std::string(c.title) + " |";
      rule += "---:|";
    }
    out += "\n" + rule + "\n";
    for (const auto& row : Rows(r, sc.name)) {
      out += "|";
      for (const std::string& cell : row) out += " " + cell + " |";
      out += "\n";
    }
  }
  return out + Broken(r, "    ", "\n");
}

std::string Json(const ExploreResult& r) {
  using nlohmann::json;
  const ExploreOptions& o = r.options;
  json cells = json::array();
  for (const ExploreCell& c : r.cells) {
    cells.push_back({{"acks", std::string(AcksPolicyName(c.setting.acks))},
                     {"consistency", c.setting.consistency},
                     {"faults", c.scenario.name},
                     {"runs", c.runs},
                     {"operations",
                      {{"invoked", c.invoked},
                       {"ok", c.ok},
                       {"fail", c.failed},
                       {"info", c.info},
                       {"unavailable", c.unavailable()}}},
                     {"writes_acknowledged", c.writes_acknowledged},
                     {"lost_writes", c.lost},
                     {"lost_writes_recorded", c.lost_recorded},
                     {"reads", c.reads},
                     {"stale_reads", c.stale_reads},
                     {"stale_reads_rolled_back", c.stale_rolled_back},
                     {"read_your_writes_violations", c.read_your_writes},
                     {"read_your_writes_rolled_back", c.ryw_rolled_back},
                     {"non_monotonic_reads", c.non_monotonic},
                     {"non_monotonic_rolled_back", c.non_monotonic_rolled_back},
                     {"not_prefix_reads", c.not_prefix},
                     {"not_prefix_rolled_back", c.not_prefix_rolled_back},
                     {"not_prefix_within_one_read", c.not_prefix_within_read},
                     {"non_linearizable_histories", c.non_linearizable},
                     {"linearizable_undecided", c.linearizable_unknown},
                     {"conflicts", c.conflicts},
                     {"latency_ms",
                      {{"p50", c.p50_ns / 1e6},
                       {"p99", c.p99_ns / 1e6},
                       {"read_p50", c.read_p50_ns / 1e6},
                       {"read_p99", c.read_p99_ns / 1e6},
                       {"write_p50", c.write_p50_ns / 1e6},
                       {"write_p99", c.write_p99_ns / 1e6}}},
                     {"broken_runs", c.broken_runs},
                     {"broken", c.broken}});
  }
  json doc = {{"nodes", o.base.nodes}, {"clients", o.base.clients},  {"keys", o.base.keys},
              {"ops", o.base.ops},     {"first_seed", o.first_seed}, {"seeds", o.seeds},
              {"cells", cells}};
  return doc.dump(2) + "\n";
}

}  // namespace

bool ParseExploreFormat(const std::string& s, ExploreFormat* out) {
  if (s == "table")
    *out = ExploreFormat::kTable;
  else if (s == "markdown")
    *out = ExploreFormat::kMarkdown;
  else if (s == "json")
    *out = ExploreFormat::kJson;
  else
    return false;
  return true;
}

std::string FormatExplore(const ExploreResult& r, ExploreFormat format) {
  switch (format) {
    case ExploreFormat::kTable:
      return Text(r);
    case ExploreFormat::kMarkdown:
      return Markdown(r);
    case ExploreFormat::kJson:
      return Json(r);
  }
  return "";
}

}  // namespace rkv
