// `replicakv bench`: the load generator's command line, progress line and
// result (human or --json). Exit code 0 when every operation succeeded, 1 when
// any failed or the run could not start, 2 on bad usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/load_generator.h"
#include "cli/parse_flags.h"

namespace rkv {

namespace {

using bench::BenchConfig;
using bench::System;
using bench::Workload;

// Parses "host:port[,host:port...]"; empty string on success, else the problem.
std::string ParseEndpoints(const std::string& text, std::vector<bench::Endpoint>* out) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) return "--addr: '" + item + "' is not host:port";
    bench::Endpoint e;
    e.host = item.substr(0, colon);
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
      e.host = e.host.substr(1, e.host.size() - 2);
    try {
      size_t used = 0;
      int port = std::stoi(item.substr(colon + 1), &used);
      if (used != item.size() - colon - 1 || port < 1 || port > 65535) throw std::out_of_range("");
      e.port = static_cast<uint16_t>(port);
    } catch (const std::exception&) {
      return "--addr: '" + item + "' has no valid port";
    }
    out->push_back(e);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return "";
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

nlohmann::json ResultJson(const BenchConfig& c, const std::string& addr,
                          const bench::BenchResult& r, bool with_histogram) {
  nlohmann::json j;
  j["system"] = bench::SystemName(c.system);
  j["workload"] = bench::WorkloadName(c.workload);
  j["addr"] = addr;
  j["clients"] = c.clients;
  j["pipeline"] = c.pipeline;
  j["threads"] = c.threads;
  if (c.workload == Workload::kLoad && c.system == System::kEtcd) j["batch"] = c.batch;
  if (c.workload == Workload::kSetWait) j["wait_replicas"] = c.wait_replicas;
  if (c.workload == Workload::kRange) j["serializable"] = c.serializable;
  if (!c.consistency.empty()) j["consistency"] = c.consistency;
  j["keys"] = c.keys;
  j["key_size"] = c.key_size;
  j["value_size"] = c.value_size;
  j["seed"] = c.seed;
  j["requests"] = c.requests;
  j["duration_ms"] = c.duration_ms;
  j["warmup_ms"] = c.warmup_ms;
  j["ok"] = r.ok;
  j["errors"] = r.errors;
  j["misses"] = r.misses;
  j["error_samples"] = r.error_samples;
  if (!r.fatal.empty()) j["fatal"] = r.fatal;
  j["elapsed_s"] = r.elapsed_s;
  j["ops_per_sec"] = r.OpsPerSecond();
  const bench::LatencyHistogram& h = r.latency;
  j["latency_ms"] = {{"count", h.count()},
                     {"min", Ms(h.min())},
                     {"mean", h.Mean() / 1e6},
                     {"p50", Ms(h.ValueAtPercentile(50))},
                     {"p90", Ms(h.ValueAtPercentile(90))},
                     {"p99", Ms(h.ValueAtPercentile(99))},
                     {"p999", Ms(h.ValueAtPercentile(99.9))},
                     {"max", Ms(h.max())}};
  if (with_histogram) {
    nlohmann::json buckets = nlohmann::json::array();
    for (auto [edge, count] : h.NonEmptyBuckets()) buckets.push_back({edge / 1000.0, count});
    j["histogram_us"] = buckets;  // [upper edge in µs, count]
  }
  return j;
}

}  // namespace

int RunBenchCommand(const std::vector<std::string>& args) {
  CLI::App app{
      "replicakv bench: a load generator for ReplicaKV, Redis (RESP) and etcd (v3 HTTP/JSON "
      "gateway), same keys, values and concurrency for all"};
  app.name("replicakv bench");
  BenchConfig c;
  std::string system = "resp", workload = "set", addr;
  int progress_ms = -1;
  bool json = false, histogram = false;
  app.add_option("--system", system, "resp (ReplicaKV, Redis) | etcd")
      ->check(CLI::IsMember({"resp", "etcd"}));
  app.add_option("--addr", addr, "host:port[,host:port...]; clients are spread round-robin")
      ->required();
  app.add_option("--workload", workload,
                 "resp: set | get | set-wait2 (SET then WAIT N 0) | load; "
                 "etcd: put | range | load (txn of --batch puts)")
      ->check(CLI::IsMember({"set", "get", "set-wait2", "put", "range", "load"}));
  app.add_option("--clients", c.clients, "concurrent connections (default 50)");
  app.add_option("--pipeline", c.pipeline, "operations in flight per connection (default 1)");
  app.add_option("--threads", c.threads, "event-loop threads (default 1)");
  app.add_option("--batch", c.batch, "etcd load: puts per transaction (default 128)");
  auto* requests = app.add_option("--requests", c.requests, "operations in all");
  app.add_option("--duration-ms", c.duration_ms, "run this long instead")->excludes(requests);
  app.add_option("--warmup-ms", c.warmup_ms, "run this long first without counting");
  app.add_option("--keys", c.keys, "key space: key numbers 0..keys-1 (default 100000)");
  app.add_option("--key-size", c.key_size, "bytes per key (default 16: key:000000012345)");
  app.add_option("--value-size", c.value_size, "bytes per value (default 100)");
  app.add_option("--seed", c.seed, "seed of the key choice (default 1)");
  app.add_option("--wait-replicas", c.wait_replicas, "set-wait2: WAIT for this many (default 2)");
  app.add_flag("--serializable", c.serializable, "etcd range: serializable (local) reads");
  app.add_option("--consistency", c.consistency,
                 "RESP: send RKV.CONSISTENCY <level> first on each connection (ReplicaKV: strong | "
                 "session | \"bounded MS\" | eventual)");
  app.add_option("--timeout-ms", c.timeout_ms, "a reply slower than this fails (default 10000)");
  app.add_option("--progress-ms", progress_ms,
                 "progress line period on stderr (default 1000 on a terminal, else off; 0 off)");
  app.add_flag("--json", json, "print the result as one JSON object");
  app.add_flag("--histogram", histogram, "with --json: include the latency histogram");
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv bench")) return *exit_code;
  c.system = system == "etcd" ? System::kEtcd : System::kResp;
  if (workload == "set") c.workload = Workload::kSet;
  if (workload == "get") c.workload = Workload::kGet;
  if (workload == "set-wait2") c.workload = Workload::kSetWait;
  if (workload == "put") c.workload = Workload::kPut;
  if (workload == "range") c.workload = Workload::kRange;
  if (workload == "load") c.workload = Workload::kLoad;
  std::string problem = ParseEndpoints(addr, &c.endpoints);
  if (problem.empty()) problem = bench::ValidateConfig(c);
  if (!problem.empty()) {
    std::cerr << "replicakv bench: " << problem << "\n";
    return 2;
  }
  bool tty = isatty(STDERR_FILENO);
  if (progress_ms < 0) progress_ms = tty ? 1000 : 0;

  uint64_t last_ok = 0;
  double last_t = 0;
  auto progress = [&](const bench::Progress& p) {
    double dt = p.elapsed_s - last_t;
    double rate = dt > 0 ? static_cast<double>(p.ok - last_ok) / dt : 0;
    last_ok = p.ok;
    last_t = p.elapsed_s;
    std::fprintf(stderr, "%s%s %s: %6.1f s %10llu ok %9.0f ops/s now %6llu errors%s",
                 tty ? "\r" : "", workload.c_str(), addr.c_str(), p.elapsed_s,
                 static_cast<unsigned long long>(p.ok), rate,
                 static_cast<unsigned long long>(p.errors), tty ? "   " : "\n");
    std::fflush(stderr);
  };
  bench::BenchResult r = bench::RunBench(c, progress_ms, progress);
  if (tty && progress_ms > 0) std::fprintf(stderr, "\n");

  if (json) {
    std::cout << ResultJson(c, addr, r, histogram).dump() << std::endl;
  } else {
    const bench::LatencyHistogram& h = r.latency;
    std::printf(
        "%s %s %s clients=%d pipeline=%d: %llu ok in %.2f s = %.0f ops/s; latency ms p50 %.3f "
        "p99 %.3f p99.9 %.3f max %.3f; errors %llu; misses %llu\n",
        bench::SystemName(c.system), workload.c_str(), addr.c_str(), c.clients, c.pipeline,
        static_cast<unsigned long long>(r.ok), r.elapsed_s, r.OpsPerSecond(),
        Ms(h.ValueAtPercentile(50)), Ms(h.ValueAtPercentile(99)), Ms(h.ValueAtPercentile(99.9)),
        Ms(h.max()), static_cast<unsigned long long>(r.errors),
        static_cast<unsigned long long>(r.misses));
  }
  if (!r.fatal.empty()) std::cerr << "replicakv bench: " << r.fatal << "\n";
  for (const std::string& s : r.error_samples) std::cerr << "replicakv bench: error: " << s << "\n";
  return r.fatal.empty() && r.errors == 0 ? 0 : 1;
}

}  // namespace rkv
