// `replicakv explore`: the trade-off table of the replication settings.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/parse_flags.h"
#include "explore/explore.h"

namespace rkv {

int RunExploreCommand(const std::vector<std::string>& args) {
  CLI::App app{
      "replicakv explore: every replication setting under each fault scenario, over fixed "
      "seeds, judged by the checkers"};
  app.name("replicakv explore");
  ExploreOptions o;
  std::string format = "table";
  bool list = false;
  app.add_option("--seeds", o.seeds, "seeds per setting and fault scenario (default 10)")
      ->check(CLI::Range(uint64_t{1}, kExploreSeedsMax));
  app.add_option("--seed", o.first_seed, "the first seed (default 1)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app.add_option("--format", format, "table | markdown | json")
      ->check(CLI::IsMember({"table", "markdown", "json"}));
  app.add_option("--ops", o.base.ops, "operations per run (default 2000)")
      ->check(CLI::Range(uint64_t{10}, uint64_t{1'000'000}));
  app.add_option("--jobs", o.jobs, "runs at once (default: one per core)")
      ->check(CLI::Range(0u, 256u));
  app.add_flag("--list", list,
               "print the settings (acks and read level) and fault scenarios, one a line, and "
               "exit");
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv explore")) return *exit_code;
  if (list) {
    for (const ExploreSetting& s : ExploreSettings())
      std::printf("setting %s %s\n", std::string(AcksPolicyName(s.acks)).c_str(),
                  s.consistency.c_str());
    for (const ExploreScenario& s : ExploreScenarios()) std::printf("faults %s\n", s.name.c_str());
    return 0;
  }
  ExploreFormat f = ExploreFormat::kTable;
  ParseExploreFormat(format, &f);
  auto start = std::chrono::steady_clock::now();
  bool tty = isatty(STDERR_FILENO);
  ExploreResult r = RunExplore(o, [&](uint64_t done, uint64_t total) {
    if (tty)
      std::fprintf(stderr, "\rexplore: %llu/%llu runs", (unsigned long long)done,
                   (unsigned long long)total);
  });
  if (tty) std::fprintf(stderr, "\r");
  std::fputs(FormatExplore(r, f).c_str(), stdout);
  uint64_t broken = 0;
  for (const ExploreCell& c : r.cells) broken += c.broken_runs;
  std::fprintf(stderr, "explore: %llu runs in %.1f s\n",
               (unsigned long long)(r.cells.size() * o.seeds),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return broken == 0 ? 0 : 1;
}

}  // namespace rkv
