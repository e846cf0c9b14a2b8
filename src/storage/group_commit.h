// Group commit: a storage thread that writes every batch submitted while the
// previous write ran as one engine write, with one sync when any of them asked
// for one. Callers (the event loop) never wait on a disk sync; they get a
// callback, run on the storage thread, once their batch is written.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "core/latency_histogram.h"
#include "storage/engine.h"

namespace rkv {

struct GroupCommitStats {
  uint64_t writes = 0;         // batches submitted and written
  uint64_t engine_writes = 0;  // engine writes (groups)
  uint64_t syncs = 0;          // engine writes with sync
  uint64_t bytes = 0;
  uint64_t max_group = 0;         // most batches in one group
  LatencyHistogram sync_latency;  // of each synced write
};

class GroupCommitWriter {
 public:
  using Done = std::function<void(const Status&)>;

  explicit GroupCommitWriter(Engine* engine);
  // Writes everything already submitted, then stops the thread.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Thread-safe. Batches are written in submission order; `done` runs on the
  // storage thread after the batch is written (and synced, if `sync`).
  void Submit(WriteBatch batch, bool sync, Done done);
  // Runs `task` on the storage thread after everything submitted before it
  // and before anything submitted after; `done` gets its status.
  void SubmitTask(std::function<Status()> task, Done done);

  GroupCommitStats stats() const;
  size_t queued() const;

 private:
  struct Pending {
    WriteBatch batch;
    bool sync;
    Done done;
    std::function<Status()> task;  // set: run alone, in order
  };
  void Run();

  Engine* engine_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  GroupCommitStats stats_;
  std::thread thread_;
};

}  // namespace rkv
