// `replicakv sim` and `replicakv check`.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "check/checks.h"
#include "check/jepsen.h"
#include "check/linearizable.h"
#include "cli/parse_flags.h"
#include "sim/sim.h"

namespace rkv {

namespace {

std::string SeedPath(const std::string& path, uint64_t seed, bool many) {
  if (!many) return path;
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return path + "." + std::to_string(seed);
  return path.substr(0, dot) + "." + std::to_string(seed) + path.substr(dot);
}

bool WriteHistory(const History& h, const std::string& path) {
  std::ofstream f(path, std::ios::trunc);
  for (const Event& e : h.events) f << FormatEvent(e) << "\n";
  return static_cast<bool>(f);
}

const char* const kSessionCheckNames[] = {"read-your-writes", "monotonic-reads",
                                          "consistent-prefix", "stale-reads"};

uint64_t Count(const CheckResult& r, const char* key) {
  auto it = r.counts.find(key);
  return it == r.counts.end() ? 0 : it->second;
}

// Whether a run fails when this check fails (lost writes and convergence
// always, in the form the setting allows).
bool Promised(const SimConfig& c, const std::string& check) {
  if (check == "linearizable") return LinearizabilityRequired(c);
  if (check == "stale-reads") return false;  // what linearizable covers, where promised
  for (const char* g : kSessionGuarantees)
    if (check == g) return SessionGuaranteesRequired(c);
  return true;
}

}  // namespace

int RunSimCommand(const std::vector<std::string>& args) {
  CLI::App app{"replicakv sim: whole clusters in one thread, under faults, checked"};
  app.name("replicakv sim");
  SimConfig c;
  std::string acks = "quorum", faults = "none", history;
  std::vector<std::string> mutations;
  uint64_t seeds = 0;
  uint64_t seed = 1;
  bool verbose = false;
  app.add_option("--mode", c.mode, "replication family: leader")->check(CLI::IsMember({"leader"}));
  app.add_option("--acks", acks, "async | one | quorum | all")
      ->check(CLI::IsMember({"async", "one", "quorum", "all"}));
  app.add_option("--consistency", c.consistency,
                 "reads: strong (read-index) | session (the client's token) | bounded:MS | "
                 "eventual (local replica)")
      ->check([](const std::string& v) {
        ReadConsistency rc;
        std::string why;
        return ParseSimConsistency(v, &rc, &why) ? std::string() : why;
      });
  app.add_option("--nodes", c.nodes, "replicas (1-9)")->check(CLI::Range(1, 9));
  app.add_option("--clients", c.clients, "concurrent clients")->check(CLI::Range(1, 1000));
  app.add_option("--keys", c.keys, "keys the workload uses")->check(CLI::Range(1, 100000));
  auto* ops = app.add_option("--ops", c.ops, "operations to invoke (default 2000)")
                  ->check(CLI::Range(1, 100000000));
  app.add_option("--duration-ms", c.duration_ms, "run the workload this long (virtual) instead")
      ->check(CLI::Range(1, 3600000))
      ->excludes(ops);
  app.add_option("--client-timeout-ms", c.client_timeout_ms,
                 "a client gives up (info) after this long without an answer")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3'600'000}));
  auto* seed_opt = app.add_option("--seed", seed, "the seed (with --seeds: the first)");
  app.add_option("--seeds", seeds, "run this many seeds: S0..S0+N-1")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--faults", faults,
                 "delay,loss,dup,reorder,partition,crash,pause,skew | all | none");
  app.add_option("--history", history, "write the history (JSON lines) here");
  app.add_option("--mutation", mutations, "break the protocol on purpose (test only)");
  app.add_flag("--verbose", verbose, "print every check's details");
  app.add_flag("--membership", c.membership,
               "change membership under faults: nodes join (learner, then voter) and are removed");
  app.add_flag("--batch-drains", c.batch_drains,
               "defer each node's drain by up to 1 ms, as the server defers it to the end of its "
               "event-loop turn, so several inputs meet in one Ready");
  (void)seed_opt;
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv sim")) return *exit_code;
  ParseAcksPolicy(acks, &c.acks);
  std::string bad;
  if (!ParseFaults(faults, &c.faults, &bad)) {
    std::cerr << "replicakv sim: --faults: unknown fault '" << bad
              << "' (delay, loss, dup, reorder, partition, crash, pause, skew, all, none)\n";
    return 2;
  }
  for (const std::string& m : mutations) {
    if (!c.mutations.Set(m)) {
      std::cerr << "replicakv sim: --mutation: unknown mutation '" << m << "'\n";
      return 2;
    }
  }
  bool many = seeds > 0;
  uint64_t count = many ? seeds : 1;
  uint64_t failures = 0;
  uint64_t total_virtual = 0;
  SimStats totals;
  uint64_t lost_total = 0, recorded_total = 0, not_linearizable = 0;
  // Reads that broke each session check, and of them those explained by a
  // rolled-back write, over all seeds.
  std::map<std::string, uint64_t> session_violations, session_rolled_back;
  auto wall_start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    c.seed = seed + i;
    SimResult r = RunSimulation(c);
    const CheckResult& lost = r.checks[0];
    lost_total += lost.counts.at("lost");
    recorded_total += lost.counts.at("recorded");
    const CheckResult* lin = FindCheck(r.checks, "linearizable");
    if (lin && !lin->ok()) ++not_linearizable;
    for (const char* name : kSessionCheckNames)
      if (const CheckResult* sc = FindCheck(r.checks, name)) {
        session_violations[name] += Count(*sc, "violations");
        session_rolled_back[name] += Count(*sc, "rolled_back");
      }
    total_virtual += r.stats.virtual_ns;
    totals.invoked += r.stats.invoked;
    totals.ok += r.stats.ok;
    totals.failed += r.stats.failed;
    totals.info += r.stats.info;
    totals.crashes += r.stats.crashes;
    totals.partitions += r.stats.partitions;
    totals.leaders_elected += r.stats.leaders_elected;
    totals.rolled_back += r.stats.rolled_back;
    totals.reads_forwarded += r.stats.reads_forwarded;
    totals.reads_stale += r.stats.reads_stale;
    totals.max_staleness_ns = std::max(totals.max_staleness_ns, r.stats.max_staleness_ns);
    if (!r.ok) ++failures;
    if (!history.empty() && !WriteHistory(r.history, SeedPath(history, c.seed, many))) {
      std::cerr << "replicakv sim: cannot write " << SeedPath(history, c.seed, many) << "\n";
      return 1;
    }
    if (!many || !r.ok || verbose) {
      std::printf("seed %llu: %s acks=%s nodes=%d clients=%d keys=%d faults=%s%s\n",
                  static_cast<unsigned long long>(c.seed), c.mode.c_str(),
                  std::string(AcksPolicyName(c.acks)).c_str(), c.nodes, c.clients, c.keys,
                  FaultsName(c.faults).c_str(), c.mutations.any() ? " (mutated)" : "");
      std::printf(
          "  ops: %llu invoked, %llu ok, %llu fail, %llu info; %llu leaders elected, last term "
          "%llu\n",
          (unsigned long long)r.stats.invoked, (unsigned long long)r.stats.ok,
          (unsigned long long)r.stats.failed, (unsigned long long)r.stats.info,
          (unsigned long long)r.stats.leaders_elected, (unsigned long long)r.stats.max_term);
      std::printf(
          "  faults: %llu messages (%llu dropped, %llu duplicated), %llu crashes, %llu partitions, "
          "%llu pauses\n",
          (unsigned long long)r.stats.messages, (unsigned long long)r.stats.dropped,
          (unsigned long long)r.stats.duplicated, (unsigned long long)r.stats.crashes,
          (unsigned long long)r.stats.partitions, (unsigned long long)r.stats.pauses);
      if (r.stats.snapshots_sent || r.stats.joins || r.stats.removals)
        std::printf(
            "  log: %llu snapshots sent, %llu installed; membership: %llu joins, %llu removals, "
            "%llu rollback records by removed nodes\n",
            (unsigned long long)r.stats.snapshots_sent,
            (unsigned long long)r.stats.snapshots_installed, (unsigned long long)r.stats.joins,
            (unsigned long long)r.stats.removals,
            (unsigned long long)r.stats.removed_node_rollbacks);
      std::printf(
          "  virtual time %.2f s (healed and converged in %.2f s); %llu writes rolled back "
          "(%llu committed entries among them)\n",
          r.stats.virtual_ns / 1e9, r.stats.heal_ns / 1e9, (unsigned long long)r.stats.rolled_back,
          (unsigned long long)r.stats.committed_entries_recorded);
      std::printf(
          "  reads (%s): %llu served where invoked, %llu forwarded to the leader, %llu -STALE; "
          "worst staleness %.1f ms%s\n",
          c.consistency.c_str(), (unsigned long long)r.stats.reads_local,
          (unsigned long long)r.stats.reads_forwarded, (unsigned long long)r.stats.reads_stale,
          r.stats.max_staleness_ns / 1e6,
          AllowedStalenessNs(c)
              ? (" (allowed " + std::to_string(AllowedStalenessNs(c) / 1000000) + " ms)").c_str()
              : "");
      for (const CheckResult& cr : r.checks) {
        bool promised = Promised(c, cr.name);
        std::printf("  check %s: %s — %s%s\n", cr.name.c_str(),
                    std::string(VerdictName(cr.verdict)).c_str(), cr.summary.c_str(),
                    cr.ok() || promised ? "" : " (reported: not promised here)");
        // What a setting does not promise is a figure: its proof on request.
        if ((!cr.ok() && promised) || verbose)
          for (const std::string& d : cr.details) std::printf("      %s\n", d.c_str());
      }
      for (const std::string& v : r.violations) std::printf("  violation: %s\n", v.c_str());
      if (LossAllowed(c) && lost.counts.at("lost") > 0 && r.ok)
        std::printf(
            "  (acks=%s may lose acknowledged writes at failover; every one lost here is recorded "
            "in a rollback file)\n",
            std::string(AcksPolicyName(c.acks)).c_str());
      std::printf("  result: %s\n", r.verdict.c_str());
      if (!r.ok) std::printf("  reproduce: %s\n", ReproduceCommand(c).c_str());
    }
  }
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (many) {
    std::string lin_note = c.consistency == "strong" ? "; " + std::to_string(not_linearizable) +
                                                           " histories not linearizable"
                                                     : "";
    std::printf(
        "seeds %llu..%llu: %llu run, %llu failed; %llu ops (%llu ok, %llu fail, %llu info); "
        "%llu crashes, %llu partitions, %llu leaders elected; %llu acknowledged writes lost "
        "(%llu recorded as rolled back)%s\n",
        (unsigned long long)seed, (unsigned long long)(seed + count - 1), (unsigned long long)count,
        (unsigned long long)failures, (unsigned long long)totals.invoked,
        (unsigned long long)totals.ok, (unsigned long long)totals.failed,
        (unsigned long long)totals.info, (unsigned long long)totals.crashes,
        (unsigned long long)totals.partitions, (unsigned long long)totals.leaders_elected,
        (unsigned long long)lost_total, (unsigned long long)recorded_total, lin_note.c_str());
    std::printf("reads (%s): %llu forwarded, %llu -STALE; worst staleness %.1f ms\n",
                c.consistency.c_str(), (unsigned long long)totals.reads_forwarded,
                (unsigned long long)totals.reads_stale, totals.max_staleness_ns / 1e6);
    if (!session_violations.empty()) {  // the session checks ran (not on strong reads)
      std::string line = "session checks (" + c.consistency + " reads, " +
                         (SessionGuaranteesRequired(c) ? "promised" : "not promised") + "):";
      for (const char* name : kSessionCheckNames)
        line += std::string(name == kSessionCheckNames[0] ? " " : ", ") +
                std::to_string(session_violations[name]) + " reads broke " + name + " (" +
                std::to_string(session_rolled_back[name]) + " missed a rolled-back write)";
      std::printf("%s\n", line.c_str());
    }
  }
  std::fprintf(stderr, "wall %.2f s for %.1f virtual s (%.0fx real time)\n", wall,
               total_virtual / 1e9, wall > 0 ? total_virtual / 1e9 / wall : 0.0);
  return failures == 0 ? 0 : 1;
}

int RunCheckCommand(const std::vector<std::string>& args) {
  CLI::App app{"replicakv check: judge a history (JSON lines, or Jepsen's with --from)"};
  app.name("replicakv check");
  std::string file, checks = "lost-writes,convergence", from = "json";
  LinearizableOptions lin;
  app.add_option("file", file, "history file")->required();
  app.add_option("--checks", checks, std::string("comma-separated: ") + kCheckNames);
  app.add_option("--from", from, "the file's format: json (CONTRACTS §6) | edn | jepsen-log")
      ->check(CLI::IsMember({"json", "edn", "jepsen-log"}));
  app.add_option("--time-limit-ms", lin.time_limit_ms,
                 "linearizable: search time per key before the verdict is unknown")
      ->check(CLI::Range(uint64_t{1}, uint64_t{86'400'000}));
  app.add_option("--memory-limit-mb", lin.memory_limit_mb,
                 "linearizable: search memory per key before the verdict is unknown")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'048'576}));
  app.add_option("--shrink-time-limit-ms", lin.shrink_time_limit_ms,
                 "linearizable: time to find a small counterexample per failing key")
      ->check(CLI::Range(uint64_t{0}, uint64_t{86'400'000}));
  app.add_option("--shrink-steps", lin.shrink_steps,
                 "linearizable: search steps to find a small counterexample (0: none)");
  app.add_option("--threads", lin.threads, "linearizable: keys checked at once (0: one per core)")
      ->check(CLI::Range(0u, 1024u));
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv check")) return *exit_code;
  auto start = std::chrono::steady_clock::now();
  std::vector<CheckResult> results;
  auto fail_reading = [&](const Status& s) {
    std::cerr << "replicakv check: " << file << ": " << s.message() << "\n";
    return s.code() == Code::kInvalidArgument ? 1 : 2;
  };
  if (checks == "linearizable" && from == "json") {
    // Alone, it reads the file in blocks instead of holding the whole history.
    auto r = CheckLinearizableFile(file, lin);
    if (!r.ok()) return fail_reading(r.status());
    results.push_back(std::move(*r));
  } else {
    Result<History> h = from == "json"
                            ? ReadHistory(file)
                            : ReadJepsen(file, JepsenOptions{from == "edn" ? JepsenFormat::kEdn
                                                                           : JepsenFormat::kLog});
    if (!h.ok()) return fail_reading(h.status());
    auto r = RunChecks(*h, checks, &lin);
    if (!r.ok()) {
      std::cerr << "replicakv check: " << r.status().message() << "\n";
      return 2;
    }
    results = std::move(*r);
  }
  bool ok = true;
  for (const CheckResult& r : results) {
    std::printf("%s: %s — %s\n", r.name.c_str(), std::string(VerdictName(r.verdict)).c_str(),
                r.summary.c_str());
    for (const std::string& d : r.details) std::printf("    %s\n", d.c_str());
    ok = ok && r.ok();
  }
  std::fprintf(stderr, "checked in %.3f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return ok ? 0 : 1;
}

}  // namespace rkv
