// Runs one seeded simulation and reports what happened.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/checks.h"
#include "check/history.h"
#include "leader/mutations.h"
#include "leader/quorum.h"
#include "node/read_service.h"

namespace rkv {

enum SimFault : uint32_t {
  kFaultDelay = 1u << 0,
  kFaultLoss = 1u << 1,
  kFaultDup = 1u << 2,
  kFaultReorder = 1u << 3,
  kFaultPartition = 1u << 4,
  kFaultCrash = 1u << 5,
  kFaultPause = 1u << 6,
  kFaultSkew = 1u << 7,
  kFaultAll = 0xff,
};
// Parses "delay,loss,..." or "all" or "none".
bool ParseFaults(const std::string& s, uint32_t* out, std::string* bad);
std::string FaultsName(uint32_t faults);

struct SimConfig {
  std::string mode = "leader";
  AcksPolicy acks = AcksPolicy::kQuorum;
  // Reads at a level (node/read_service.h): strong | session | bounded:MS |
  // eventual. A client's session (its token) moves with it between nodes.
  std::string consistency = "strong";
  int nodes = 3;
  int clients = 5;
  int keys = 5;
  uint64_t ops = 2000;
  uint64_t duration_ms = 0;  // when set, the workload runs this long instead of `ops`
  // A client that hears nothing this long gives up: the operation is `info`
  // and the client continues under a new id.
  uint64_t client_timeout_ms = 3000;
  uint64_t seed = 1;
  uint32_t faults = 0;
  Mutations mutations;
  bool durability_sync = true;
  // Membership changes under faults: nodes join (as learners, then promoted)
  // and are removed, keeping 3 to 5 voters.
  bool membership = false;
  // Drains are deferred to a little later, as the server's event loop defers
  // them to the end of its turn: several messages and proposals then meet in
  // one Ready.
  bool batch_drains = false;
  // Log compaction, small so that snapshots happen in every run.
  uint64_t log_compact_entries = 150;
  uint64_t log_keep_entries = 20;
  uint64_t snapshot_lag_entries = 100;
};

struct SimStats {
  uint64_t invoked = 0, ok = 0, failed = 0, info = 0;
  uint64_t messages = 0, dropped = 0, duplicated = 0;
  uint64_t crashes = 0, partitions = 0, pauses = 0;
  uint64_t leaders_elected = 0, max_term = 0;
  uint64_t rolled_back = 0;
  uint64_t snapshots_sent = 0, snapshots_installed = 0, compactions = 0;
  uint64_t joins = 0, removals = 0;
  // Rollback records written by a node outside the membership: what a removed
  // node learned, after its removal, was replaced.
  uint64_t removed_node_rollbacks = 0;
  // Entries recorded as rolled back although the cluster had committed them
  // (known to the simulator): false reports of loss.
  uint64_t committed_entries_recorded = 0;
  uint64_t virtual_ns = 0;
  uint64_t events = 0;
  uint64_t heal_ns = 0;  // virtual time from healing to convergence
  // Reads: served where invoked, forwarded to the leader, answered -STALE.
  uint64_t reads_local = 0, reads_forwarded = 0, reads_stale = 0;
  // The worst true staleness of a served read (virtual ns): how long the
  // oldest majority-committed write it missed had been committed. Known
  // because the simulator sees every commit.
  uint64_t max_staleness_ns = 0;
};

struct SimResult {
  SimConfig config;
  SimStats stats;
  History history;
  std::vector<std::string> violations;  // invariant monitors
  bool converged = false;
  std::vector<CheckResult> checks;
  bool ok = false;
  std::string verdict;  // one line
};

SimResult RunSimulation(const SimConfig& config);
// Parses SimConfig::consistency; false (with *error naming it) when invalid.
bool ParseSimConsistency(const std::string& s, ReadConsistency* out, std::string* error);
// The staleness a bounded run may show: the bound, stretched by the slowest
// clock rate the faults allow (a node measures intervals on its own clock).
uint64_t AllowedStalenessNs(const SimConfig& c);
// Whether losing acknowledged writes (recorded as rolled back) is allowed.
bool LossAllowed(const SimConfig& c);
// Whether the history must be linearizable: strong reads under an acks
// setting that never loses an acknowledged write (quorum, all, one with at
// most 3 voters). Under the others the check runs and reports, without
// failing the run: a rolled-back write makes a history legitimately
// non-linearizable.
bool LinearizabilityRequired(const SimConfig& c);
// The guarantees the session level promises, as the checks that judge them
// (check/session.h).
inline constexpr const char* kSessionGuarantees[] = {"read-your-writes", "monotonic-reads",
                                                     "consistent-prefix"};
// Whether the session guarantees must hold: session reads, under every acks
// setting, for writes that are not rolled back (CONTRACTS.md §5). At bounded
// and eventual the session checks run and report without failing the run;
// strong reads are judged by the linearizable check instead.
bool SessionGuaranteesRequired(const SimConfig& c);
// A session check's reads that broke it other than by missing a write that
// was rolled back; a check that could not decide counts as broken.
uint64_t UnexplainedViolations(const CheckResult& r);
// The command line that reproduces a run.
std::string ReproduceCommand(const SimConfig& c);

}  // namespace rkv
