// `replicakv explore`: every replication setting against each fault scenario
// over a fixed set of seeds, judged by the checkers. Every figure comes from a
// run's history through src/check, never from what the setting claims.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "leader/quorum.h"
#include "sim/sim.h"

namespace rkv {

// Seeds per cell by default: 32 cells of 2000-operation runs take ~10 s on 2 cores.
constexpr uint64_t kExploreSeedsDefault = 10;
constexpr uint64_t kExploreSeedsMax = 100000;
// The linearizable check of one key of one run; beyond it the run counts as
// undecided (shown, never as linearizable).
constexpr uint64_t kExploreLinTimeLimitMs = 20'000;
constexpr size_t kExploreFailuresShownMax = 10;

struct ExploreSetting {
  AcksPolicy acks = AcksPolicy::kQuorum;
  std::string consistency;   // a SimConfig::consistency value
  std::string Name() const;  // "acks=quorum, strong reads"
};

struct ExploreScenario {
  std::string name;  // a --faults value
  uint32_t faults = 0;
};

// Acks policies × read levels (strong, session, bounded:250, eventual: values
// of SimConfig::consistency, as ParseSimConsistency accepts them).
std::vector<ExploreSetting> ExploreSettings();
std::vector<ExploreScenario> ExploreScenarios();

struct ExploreOptions {
  uint64_t seeds = kExploreSeedsDefault;
  uint64_t first_seed = 1;
  unsigned jobs = 0;  // runs at once; 0: one per core
  SimConfig base;  // nodes, clients, keys, ops; acks, consistency, faults and seed are set per run
  std::vector<ExploreSetting> settings;    // empty: ExploreSettings()
  std::vector<ExploreScenario> scenarios;  // empty: ExploreScenarios()
};

// One setting under one fault scenario, summed over the seeds.
struct ExploreCell {
  ExploreSetting setting;
  ExploreScenario scenario;
  uint64_t runs = 0;
  uint64_t invoked = 0, ok = 0, failed = 0, info = 0;  // operations, from the histories
  uint64_t reads = 0;                                  // ok reads the session checks judged
  uint64_t writes_acknowledged = 0, lost = 0, lost_recorded = 0;
  uint64_t stale_reads = 0, read_your_writes = 0, non_monotonic = 0, not_prefix = 0;
  uint64_t not_prefix_within_read = 0;  // of not_prefix: a gap or disorder inside one read
  // Of each, the reads whose missed write a rollback record holds: the
  // session promises hold for writes not rolled back (CONTRACTS.md §5).
  uint64_t stale_rolled_back = 0, ryw_rolled_back = 0, non_monotonic_rolled_back = 0,
           not_prefix_rolled_back = 0;
  uint64_t non_linearizable = 0, linearizable_unknown = 0;  // histories
  uint64_t conflicts = 0;  // keys whose replicas' final values differ
  uint64_t p50_ns = 0, p99_ns = 0, read_p50_ns = 0, read_p99_ns = 0, write_p50_ns = 0,
           write_p99_ns = 0;  // of ok operations, virtual time
  // Runs that broke a promise of their setting (the simulator's verdict),
  // as the commands that reproduce them.
  uint64_t broken_runs = 0;
  std::vector<std::string> broken;
  // Operations that did not succeed: fail and info (and any never completed).
  uint64_t unavailable() const { return invoked - ok; }
};

struct ExploreResult {
  ExploreOptions options;
  std::vector<ExploreCell> cells;  // scenario-major, settings in order
};

// `progress(done, total)` is called after each run, from any thread.
ExploreResult RunExplore(const ExploreOptions& options,
                         const std::function<void(uint64_t, uint64_t)>& progress = {});

enum class ExploreFormat { kTable, kMarkdown, kJson };
bool ParseExploreFormat(const std::string& s, ExploreFormat* out);
std::string FormatExplore(const ExploreResult& r, ExploreFormat format);

}  // namespace rkv
