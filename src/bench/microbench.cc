// Micro-benchmarks of the hot path's parts (`make microbench`, Google
// Benchmark): RESP parsing, applying a SET to the in-memory state, a batch of
// key lookups with and without prefetching, a log
// append into each engine, one replicated write through three leader cores
// with no I/O, the linearizability checker on a simulator history, and what
// waking a sleeping thread costs on the same CPU and on another. They
// isolate what the end-to-end numbers of docs/PERFORMANCE.md mix together;
// run them before and after a change to the part they cover.
#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check/linearizable.h"
#include "core/replica_core.h"
#include "kv/command_codec.h"
#include "kv/commands.h"
#include "kv/key_index.h"
#include "kv/kv_store.h"
#include "leader/leader_core.h"
#include "resp/parser.h"
#include "sim/sim.h"
#include "storage/engine.h"
#include "storage/log_store.h"

namespace rkv {
namespace {

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012llu", static_cast<unsigned long long>(i));
  return buf;
}

// A pipeline of 16 SETs of 16-byte keys and 100-byte values, as redis-benchmark
// -P 16 sends them; parsed request by request as a connection does.
void BM_RespParsePipelinedSets(benchmark::State& state) {
  std::string input;
  const std::string value(100, 'x');
  for (int i = 0; i < 16; ++i) {
    std::string k = Key(i);
    input += "*3\r\n$3\r\nSET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n$100\r\n" +
             value + "\r\n";
  }
  std::vector<std::string_view> argv;
  std::string error;
  for (auto _ : state) {
    RespParser parser;
    int commands = 0;
    while (parser.Next(input, &argv, &error) == RespParser::Outcome::kCommand) ++commands;
    if (commands != 16) state.SkipWithError("parser did not return 16 commands");
    benchmark::DoNotOptimize(argv.data());
  }
  state.SetItemsProcessed(state.iterations() * 16);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_RespParsePipelinedSets);

// Applying one SET entry to the in-memory state (KeyIndex) and its write
// batch, over 100k keys, with the batch taken every 64 entries as the driver
// flushes it.
void BM_ApplySet(benchmark::State& state) {
  std::unique_ptr<Engine> engine = NewMemoryEngine();
  KvStore store(engine.get());
  if (!store.Load().ok()) return state.SkipWithError("load failed");
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < 100000; ++i) keys.push_back(Key(i));
  const std::string value(100, 'x');
  std::vector<Reply> replies;
  Entry e;
  e.term = 1;
  uint64_t i = 0;
  WriteBatch taken;
  uint64_t seq = 0;
  for (auto _ : state) {
    e.index = store.applied().index + 1;
    e.data.clear();
    EncodeCommand({"SET", keys[i % keys.size()], value}, &e.data);
    replies.clear();
    ApplyEntry(&store, e, &replies);
    if (++i % 64 == 0) {
      taken.Clear();
      store.TakeWrites(&taken, &seq);
      store.WritesDone(seq);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplySet);

// Lookups of 16 random keys among 1M, as applying an entry of 16 clients'
// writes does, each lookup waiting for the one before (as commands run one
// after the other); Arg(1) prefetches the 16 first (KeyIndex::Prefetch). The
// difference is the cache misses that overlap.
void BM_KeyIndexFindBatch(benchmark::State& state) {
  KeyIndex idx;
  std::vector<std::string> keys;
  const std::string value(110, 'x');
  for (uint64_t i = 0; i < 1000000; ++i) keys.push_back(Key(i));
  for (const std::string& k : keys) idx.Set(k, value);
  std::vector<std::string_view> batch(16);
  uint64_t next = 1;
  for (auto _ : state) {
    for (std::string_view& k : batch) {
      next = next * 6364136223846793005ULL + 1442695040888963407ULL;
      k = keys[(next >> 33) % keys.size()];
    }
    if (state.range(0)) idx.Prefetch(batch.data(), batch.size());
    std::string_view found = value;
    size_t at = 0;
    for (int i = 0; i < 16; ++i) {
      // The next key's position depends on the value found (found.size() is
      // always value.size()): it cannot start before this lookup is done.
      at = (at + found.size() - value.size()) & 15;
      if (!idx.Find(batch[at], &found)) return state.SkipWithError("key missing");
      ++at;
    }
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_KeyIndexFindBatch)->Arg(0)->Arg(1);

// One log entry (a SET's encoded command) appended to a write batch and
// written: the memory engine, RocksDB without a sync, RocksDB with one
// (Arg(1): an fdatasync per entry, what group commit amortizes).
void LogAppend(benchmark::State& state, Engine* engine, bool sync) {
  std::string data;
  EncodeCommand({"SET", Key(1), std::string(100, 'x')}, &data);
  std::vector<Entry> append(1);
  append[0].term = 1;
  append[0].data = data;
  uint64_t index = 0;
  WriteBatch batch;
  for (auto _ : state) {
    append[0].index = ++index;
    batch.Clear();
    AddLogWrites(std::nullopt, std::nullopt, append, &batch);
    if (!engine->Write(batch, sync).ok()) return state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LogAppendMemory(benchmark::State& state) {
  std::unique_ptr<Engine> engine = NewMemoryEngine();
  LogAppend(state, engine.get(), false);
}
BENCHMARK(BM_LogAppendMemory);

void BM_LogAppendRocksDb(benchmark::State& state) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("rkv-microbench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    EngineOptions options;
    options.dir = dir;
    auto engine = OpenRocksDbEngine(options);
    if (!engine.ok()) return state.SkipWithError(engine.status().ToString().c_str());
    LogAppend(state, engine->get(), state.range(0) != 0);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LogAppendRocksDb)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Three leader cores wired together in memory (persistence reported at once):
// one client write proposed at the leader until it is applied there, i.e. the
// protocol's own cost per write with no disk and no network.
class CoreCluster {
 public:
  explicit CoreCluster(AcksPolicy acks) {
    for (NodeId id = 1; id <= 3; ++id) {
      LeaderOptions o;
      o.id = id;
      o.voters = {1, 2, 3};
      o.acks = acks;
      o.seed = id;
      cores_[id] = std::make_unique<LeaderCore>(o, CoreRecovery{});
    }
    now_ns_ = 1;
    // Node 1's election timeout passes first; the others hear from it.
    cores_[1]->Tick(now_ns_ += 3000000000ULL);
    Stabilize();
  }

  bool leader_ready() const { return cores_.at(1)->role() == Role::kLeader; }

  // Proposes `batch` writes at node 1 and runs until all are applied there.
  bool Write(const std::string& data, int batch) {
    for (int i = 0; i < batch; ++i) {
      Request r;
      r.id = ++next_request_;
      r.data = data;
      cores_[1]->Propose(std::move(r));
    }
    applied_ = 0;
    Stabilize();
    return applied_ == static_cast<uint64_t>(batch);
  }

 private:
  void Stabilize() {
    for (bool moved = true; moved;) {
      moved = false;
      for (auto& [id, core] : cores_) {
        while (core->HasReady()) {
          moved = true;
          Ready rd = core->TakeReady();
          std::optional<LogPosition> persisted;
          if (!rd.append.empty())
            persisted = LogPosition{rd.append.back().term, rd.append.back().index};
          for (Message& m : rd.messages) queue_.push_back(std::move(m));
          for (Message& m : rd.messages_after_persist) queue_.push_back(std::move(m));
          for (const ApplyItem& a : rd.apply)
            if (id == 1 && a.request_id != 0) ++applied_;
          if (persisted) core->Persisted(*persisted);
        }
      }
      while (!queue_.empty()) {
        moved = true;
        Message m = std::move(queue_.front());
        queue_.pop_front();
        cores_[m.to]->Step(m);
      }
    }
  }

  std::map<NodeId, std::unique_ptr<LeaderCore>> cores_;
  std::deque<Message> queue_;
  uint64_t now_ns_ = 0, next_request_ = 0, applied_ = 0;
};

void BM_CoreReplicatedWrite(benchmark::State& state) {
  CoreCluster cluster(AcksPolicy::kQuorum);
  if (!cluster.leader_ready()) return state.SkipWithError("node 1 did not become leader");
  std::string data;
  EncodeCommand({"SET", Key(1), std::string(100, 'x')}, &data);
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state)
    if (!cluster.Write(data, batch)) return state.SkipWithError("a write was not applied");
  state.SetItemsProcessed(state.iterations() * batch);
}
// 1: a lone client; 16: writes arriving together, batched into one append.
BENCHMARK(BM_CoreReplicatedWrite)->Arg(1)->Arg(16);

// The linearizability checker on a simulator history (quorum, every fault,
// 10 clients over 100 keys): parsing excluded, the search only.
void BM_CheckLinearizable(benchmark::State& state) {
  SimConfig c;
  c.clients = 10;
  c.keys = 100;
  c.ops = static_cast<uint64_t>(state.range(0));
  c.faults = kFaultAll;
  c.seed = 1;
  SimResult r = RunSimulation(c);
  for (auto _ : state) {
    CheckResult res = CheckLinearizable(r.history);
    benchmark::DoNotOptimize(res);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c.ops));
}
BENCHMARK(BM_CheckLinearizable)->Arg(10000)->Unit(benchmark::kMillisecond);

// Two threads pinned to CPUs 0 and N hand a token back and forth, each
// sleeping in the kernel (a futex, as a condition variable or the storage
// thread's queue does) until woken: one iteration is two wake-ups. Arg 0: both
// on CPU 0; arg 1: on CPUs 0 and 1 — what a hand-off between an event loop and
// the storage thread, or between two processes over loopback, costs when the
// scheduler puts them apart. On this VM: 1.7-2.7 us against 83-105 us.
bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}
void BM_ThreadWakeRoundTrip(benchmark::State& state) {
  const int other = static_cast<int>(state.range(0));
  if (other >= static_cast<int>(std::thread::hardware_concurrency()))
    return state.SkipWithError("this machine has one CPU");
  std::atomic<int> turn{0};  // 1: the partner's turn, 0: ours, -1: stop
  std::thread partner([&] {
    PinToCpu(other);
    for (;;) {
      int t;
      while ((t = turn.load()) == 0) turn.wait(0);
      if (t < 0) return;
      turn.store(0);
      turn.notify_one();
    }
  });
  cpu_set_t before;
  pthread_getaffinity_np(pthread_self(), sizeof before, &before);
  if (!PinToCpu(0)) state.SkipWithError("cannot pin to CPU 0");
  for (auto _ : state) {
    turn.store(1);
    turn.notify_one();
    while (turn.load() != 0) turn.wait(1);
  }
  turn.store(-1);
  turn.notify_one();
  partner.join();
  pthread_setaffinity_np(pthread_self(), sizeof before, &before);
}
BENCHMARK(BM_ThreadWakeRoundTrip)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rkv

BENCHMARK_MAIN();
