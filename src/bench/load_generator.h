// The load generator behind `replicakv bench`: closed-loop clients, each on its
// own connection, driven by epoll on one thread (or a few), with a binding per
// system — RESP for ReplicaKV and Redis, etcd v3's HTTP/JSON gateway for etcd —
// and the same keys, values and concurrency for all. Each client sends
// `pipeline` operations at once and sends the next batch when every reply of
// this one is in (redis-benchmark's model); an operation's latency runs from
// its batch's send to its reply.
//
// Errors are counted, never hidden: an error reply, a short WAIT, a non-200
// HTTP status, a closed connection or a reply that does not arrive within the
// timeout each count, and the first few are kept as samples.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/histogram.h"

namespace rkv::bench {

// Bounds on what one run may ask for.
inline constexpr int kClientsMax = 1000;
inline constexpr int kPipelineMax = 1024;
inline constexpr int kThreadsMax = 16;
// etcd's --max-txn-ops default: a load transaction carries at most this many puts.
inline constexpr int kEtcdTxnOpsMax = 128;
inline constexpr size_t kErrorSamplesMax = 5;
inline constexpr size_t kValueBytesMax = 1 << 20;

enum class System { kResp, kEtcd };

enum class Workload {
  kSet,      // RESP SET key value
  kGet,      // RESP GET key
  kSetWait,  // RESP SET key value, then WAIT <wait_replicas> 0 on the same connection
  kPut,      // etcd POST /v3/kv/put
  kRange,    // etcd POST /v3/kv/range (linearizable unless serializable)
  kLoad,  // every key below `keys` once, in order: RESP SET (pipelined) or etcd txn of `batch` puts
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

struct BenchConfig {
  System system = System::kResp;
  Workload workload = Workload::kSet;
  std::vector<Endpoint> endpoints;  // clients are spread over these round-robin
  int clients = 50;
  int pipeline = 1;
  int threads = 1;
  int batch = kEtcdTxnOpsMax;  // puts per etcd load transaction
  uint64_t requests = 0;       // operations in all; 0 = run for duration_ms
  uint64_t duration_ms = 0;
  uint64_t warmup_ms = 0;  // run, but do not count, this long first
  uint64_t keys = 100000;
  size_t key_size = 16;
  size_t value_size = 100;
  uint64_t seed = 1;
  int wait_replicas = 2;
  bool serializable = false;  // etcd range: serve from the member's local state
  // RESP: sent as RKV.CONSISTENCY <level> on each connection before the run
  // (ReplicaKV's per-connection read level); empty = the server's default.
  std::string consistency;
  int timeout_ms = 10000;  // a reply slower than this fails its connection
  int connect_timeout_ms = 2000;
};

struct Progress {
  double elapsed_s = 0;  // since the measured part began (negative during warm-up)
  uint64_t ok = 0;
  uint64_t errors = 0;
};

struct BenchResult {
  uint64_t ok = 0;      // operations that succeeded (for load: keys written)
  uint64_t errors = 0;  // operations that failed, however
  uint64_t misses = 0;  // reads that found no value (counted in ok)
  double elapsed_s = 0;
  LatencyHistogram latency;  // per request (for an etcd load: per transaction)
  std::vector<std::string> error_samples;
  std::string fatal;  // set when the run could not start (e.g. a connect failed)
  double OpsPerSecond() const { return elapsed_s > 0 ? ok / elapsed_s : 0.0; }
};

// Checks a configuration; returns an empty string or the problem, naming the flag.
std::string ValidateConfig(const BenchConfig& config);

// Runs the workload. `progress`, if set, is called on the calling thread about
// every progress_ms while it runs.
BenchResult RunBench(const BenchConfig& config, int progress_ms,
                     const std::function<void(const Progress&)>& progress);

const char* WorkloadName(Workload w);
const char* SystemName(System s);

}  // namespace rkv::bench
