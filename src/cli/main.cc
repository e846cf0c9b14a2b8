// replicakv: one binary for the node, local clusters, the demo and the testers.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/local_cluster.h"
#include "server/server.h"

namespace rkv {
int RunDemoCommand(const std::vector<std::string>& args);
int RunSimCommand(const std::vector<std::string>& args);
int RunCheckCommand(const std::vector<std::string>& args);
int RunExploreCommand(const std::vector<std::string>& args);
int RunConvertCommand(const std::vector<std::string>& args);
int RunBenchCommand(const std::vector<std::string>& args);
}  // namespace rkv

namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: replicakv <command> [flags]   (replicakv <command> --help for flags)\n"
               "\n"
               "  server    run one node\n"
               "  cluster   run a local cluster of real processes until Ctrl-C\n"
               "  demo      a narrated tour that starts a node, shows what it does, and exits\n"
               "  sim       run whole clusters in one thread under faults, deterministically\n"
               "  check     judge a history (JSON lines) with the consistency checkers\n"
               "  explore   the trade-off table: every setting under each fault, measured\n"
               "  convert   turn a Jepsen history (EDN or log lines) into JSON lines\n"
               "  bench     a load generator for ReplicaKV, Redis and etcd (HDR latencies)\n"
               "  version   print the version\n");
}

}  // namespace

// jemalloc's options, read from this symbol when it starts (linked in the
// Release build; unused under the sanitizers). Freed pages go back to the OS
// within a second, from jemalloc's own background thread, so RSS follows the
// live data even when the node is idle: after a 1M-key load 246 MB instead of
// ~330 MB per node, at the same write throughput (docs/PERFORMANCE.md).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "server") return rkv::RunServerCommand(args);
  if (cmd == "cluster") return rkv::RunClusterCommand(args);
  if (cmd == "demo") return rkv::RunDemoCommand(args);
  if (cmd == "sim") return rkv::RunSimCommand(args);
  if (cmd == "check") return rkv::RunCheckCommand(args);
  if (cmd == "explore") return rkv::RunExploreCommand(args);
  if (cmd == "convert") return rkv::RunConvertCommand(args);
  if (cmd == "bench") return rkv::RunBenchCommand(args);
  if (cmd == "version" || cmd == "--version") {
    std::printf("replicakv 0.1.0\n");
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    Usage(stdout);
    return 0;
  }
  std::fprintf(stderr, "replicakv: unknown command '%s'\n", cmd.c_str());
  Usage(stderr);
  return 2;
}
