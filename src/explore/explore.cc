#include "explore/explore.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "check/linearizable.h"
#include "check/session.h"

namespace rkv {

namespace {

// The read levels explore measures, strongest first, each a value the
// simulator's ParseSimConsistency accepts (the settings test holds it). Adding
// a level is one line here.
const char* const kExploreReadLevels[] = {"strong", "session", "bounded:250", "eventual"};
const AcksPolicy kExploreAcks[] = {AcksPolicy::kAsync, AcksPolicy::kOne, AcksPolicy::kQuorum,
                                   AcksPolicy::kAll};
const char* const kExploreFaults[] = {"none", "crash", "partition", "all"};

// What one run contributes to its cell.
struct RunFigures {
  ExploreCell sums;  // counts only
  std::vector<uint64_t> read_ns, write_ns;
  bool broken = false;
  std::string reproduce;
};

uint64_t Count(const CheckResult* c, const char* key) {
  if (!c) return 0;
  auto it = c->counts.find(key);
  return it == c->counts.end() ? 0 : it->second;
}

// Operations and their virtual latencies, straight from the history.
void Operations(const History& h, RunFigures* f) {
  std::unordered_map<uint64_t, const Event*> open;  // client -> its invocation
  for (const Event& e : h.events) {
    if (e.type == EventType::kInvoke) {
      ++f->sums.invoked;
      open[e.client] = &e;
      continue;
    }
    if (e.type != EventType::kOk && e.type != EventType::kFail && e.type != EventType::kInfo)
      continue;
    auto it = open.find(e.client);
    if (it == open.end()) continue;
    uint64_t ns = e.time - it->second->time;
    open.erase(it);
    if (e.type == EventType::kFail) ++f->sums.failed;
    if (e.type == EventType::kInfo) ++f->sums.info;
    if (e.type != EventType::kOk) continue;
    ++f->sums.ok;
    (e.op == OpType::kRead ? f->read_ns : f->write_ns).push_back(ns);
  }
}

RunFigures RunOne(const ExploreOptions& o, const ExploreSetting& s, const ExploreScenario& sc,
                  uint64_t seed) {
  SimConfig c = o.base;
  c.acks = s.acks;
  c.consistency = s.consistency;
  c.faults = sc.faults;
  c.seed = seed;
  SimResult r = RunSimulation(c);
  RunFigures f;
  f.sums.runs = 1;
  Operations(r.history, &f);
  const CheckResult* lost = FindCheck(r.checks, "lost-writes");
  f.sums.writes_acknowledged = Count(lost, "acknowledged");
  f.sums.lost = Count(lost, "lost");
  f.sums.lost_recorded = Count(lost, "recorded");
  f.sums.conflicts = Count(FindCheck(r.checks, "convergence"), "diverged");
  // The simulator checks strong histories itself; the others are checked here
  // (no counterexample: the verdict is the figure).
  const CheckResult* lin = FindCheck(r.checks, "linearizable");
  CheckResult own;
  if (!lin) {
    LinearizableOptions lo;
    lo.time_limit_ms = kExploreLinTimeLimitMs;
    lo.shrink_steps = 0;
    lo.threads = 1;
    own = CheckLinearizable(r.history, lo);
    lin = &own;
  }
  f.sums.non_linearizable = lin->verdict == CheckResult::Verdict::kFail;
  f.sums.linearizable_unknown = lin->verdict == CheckResult::Verdict::kUnknown;
  // The simulator runs the session checks except on strong histories (which
  // its linearizable check judges); those are checked here.
  if (!FindCheck(r.checks, "stale-reads"))
    for (CheckResult& x : CheckSessions(r.history, SessionChecks{true, true, true, true}))
      r.checks.push_back(std::move(x));
  f.sums.reads = Count(FindCheck(r.checks, "stale-reads"), "reads");
  f.sums.stale_reads = Count(FindCheck(r.checks, "stale-reads"), "violations");
  f.sums.read_your_writes = Count(FindCheck(r.checks, "read-your-writes"), "violations");
  f.sums.non_monotonic = Count(FindCheck(r.checks, "monotonic-reads"), "violations");
  f.sums.not_prefix = Count(FindCheck(r.checks, "consistent-prefix"), "violations");
  f.sums.not_prefix_within_read = Count(FindCheck(r.checks, "consistent-prefix"), "gaps");
  f.sums.stale_rolled_back = Count(FindCheck(r.checks, "stale-reads"), "rolled_back");
  f.sums.ryw_rolled_back = Count(FindCheck(r.checks, "read-your-writes"), "rolled_back");
  f.sums.non_monotonic_rolled_back = Count(FindCheck(r.checks, "monotonic-reads"), "rolled_back");
  f.sums.not_prefix_rolled_back = Count(FindCheck(r.checks, "consistent-prefix"), "rolled_back");
  f.broken = !r.ok;
  if (f.broken) f.reproduce = ReproduceCommand(c) + "\n      " + r.verdict;
  return f;
}

uint64_t Percentile(std::vector<uint64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

void AddInto(ExploreCell* cell, const RunFigures& f) {
  const ExploreCell& s = f.sums;
  cell->runs += s.runs;
  cell->invoked += s.invoked;
  cell->ok += s.ok;
  cell->failed += s.failed;
  cell->info += s.info;
  cell->reads += s.reads;
  cell->writes_acknowledged += s.writes_acknowledged;
  cell->lost += s.lost;
  cell->lost_recorded += s.lost_recorded;
  cell->stale_reads += s.stale_reads;
  cell->read_your_writes += s.read_your_writes;
  cell->non_monotonic += s.non_monotonic;
  cell->not_prefix += s.not_prefix;
  cell->not_prefix_within_read += s.not_prefix_within_read;
  cell->stale_rolled_back += s.stale_rolled_back;
  cell->ryw_rolled_back += s.ryw_rolled_back;
  cell->non_monotonic_rolled_back += s.non_monotonic_rolled_back;
  cell->not_prefix_rolled_back += s.not_prefix_rolled_back;
  cell->non_linearizable += s.non_linearizable;
  cell->linearizable_unknown += s.linearizable_unknown;
  cell->conflicts += s.conflicts;
  if (f.broken) {
    ++cell->broken_runs;
    if (cell->broken.size() < kExploreFailuresShownMax) cell->broken.push_back(f.reproduce);
  }
}

}  // namespace

std::string ExploreSetting::Name() const {
  return "acks=" + std::string(AcksPolicyName(acks)) + ", " + consistency + " reads";
}

std::vector<ExploreSetting> ExploreSettings() {
  std::vector<ExploreSetting> out;
  for (AcksPolicy a : kExploreAcks)
    for (const char* level : kExploreReadLevels) out.push_back({a, level});
  return out;
}

std::vector<ExploreScenario> ExploreScenarios() {
  std::vector<ExploreScenario> out;
  for (const char* name : kExploreFaults) {
    uint32_t faults = 0;
    std::string bad;
    ParseFaults(name, &faults, &bad);
    out.push_back({name, faults});
  }
  return out;
}

ExploreResult RunExplore(const ExploreOptions& options,
                         const std::function<void(uint64_t, uint64_t)>& progress) {
  ExploreResult result;
  result.options = options;
  ExploreOptions& o = result.options;
  if (o.settings.empty()) o.settings = ExploreSettings();
  if (o.scenarios.empty()) o.scenarios = ExploreScenarios();
  for (const ExploreScenario& sc : o.scenarios)
    for (const ExploreSetting& s : o.settings) {
      ExploreCell cell;
      cell.setting = s;
      cell.scenario = sc;
      result.cells.push_back(std::move(cell));
    }
  // Every run on its own, in any order; summed in a fixed order, so the
  // output does not depend on the threads.
  const uint64_t total = result.cells.size() * o.seeds;
  std::vector<RunFigures> runs(total);
  std::atomic<uint64_t> next{0}, done{0};
  std::mutex progress_mu;
  auto worker = [&] {
    for (uint64_t i = next++; i < total; i = next++) {
      const ExploreCell& cell = result.cells[i / o.seeds];
      runs[i] = RunOne(o, cell.setting, cell.scenario, o.first_seed + i % o.seeds);
      uint64_t d = ++done;
      if (progress) {
        std::lock_guard<std::mutex> l(progress_mu);
        progress(d, total);
      }
    }
  };
  unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < jobs && t < total; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  for (size_t c = 0; c < result.cells.size(); ++c) {
    ExploreCell& cell = result.cells[c];
    std::vector<uint64_t> reads, writes;
    for (uint64_t s = 0; s < o.seeds; ++s) {
      RunFigures& f = runs[c * o.seeds + s];
      AddInto(&cell, f);
      reads.insert(reads.end(), f.read_ns.begin(), f.read_ns.end());
      writes.insert(writes.end(), f.write_ns.begin(), f.write_ns.end());
    }
    std::vector<uint64_t> all = reads;
    all.insert(all.end(), writes.begin(), writes.end());
    cell.p50_ns = Percentile(all, 0.50);
    cell.p99_ns = Percentile(all, 0.99);
    cell.read_p50_ns = Percentile(reads, 0.50);
    cell.read_p99_ns = Percentile(reads, 0.99);
    cell.write_p50_ns = Percentile(writes, 0.50);
    cell.write_p99_ns = Percentile(writes, 0.99);
  }
  return result;
}

}  // namespace rkv
