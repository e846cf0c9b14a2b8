#include "storage/group_commit.h"

#include <pthread.h>

#include <chrono>

#include "core/limits.h"

namespace rkv {

GroupCommitWriter::GroupCommitWriter(Engine* engine) : engine_(engine) {
  thread_ = std::thread([this] { Run(); });
  // Named for top -H, /proc and scripts/profile_threads.
  pthread_setname_np(thread_.native_handle(), "rkv-storage");
}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void GroupCommitWriter::Submit(WriteBatch batch, bool sync, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(batch), sync, std::move(done), nullptr});
  }
  cv_.notify_one();
}

void GroupCommitWriter::SubmitTask(std::function<Status()> task, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({WriteBatch(), false, std::move(done), std::move(task)});
  }
  cv_.notify_one();
}

GroupCommitStats GroupCommitWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

size_t GroupCommitWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void GroupCommitWriter::Run() {
  std::vector<Pending> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (queue_.front().task) {
        // A task runs alone, after everything before it and before anything after.
        Pending p = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        Status s = p.task();
        if (p.done) p.done(s);
        continue;
      }
      // Everything that arrived while the previous write ran, within limits.
      size_t bytes = 0;
      while (
          !queue_.empty() && !queue_.front().task && group.size() < limits::kGroupCommitWritesMax &&
          (group.empty() || bytes + queue_.front().batch.bytes() <= limits::kGroupCommitBytesMax)) {
        bytes += queue_.front().batch.bytes();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    WriteBatch merged;
    bool sync = false;
    uint64_t bytes = 0;
    for (Pending& p : group) {
      sync = sync || p.sync;
      bytes += p.batch.bytes();
      merged.Append(std::move(p.batch));
    }
    auto start = std::chrono::steady_clock::now();
    Status s = merged.empty() ? Status::Ok() : engine_->Write(merged, sync);
    auto elapsed = std::chrono::steady_clock::now() - start;
    {
      std::lock_guard lock(mu_);
      stats_.writes += group.size();
      stats_.engine_writes += 1;
      stats_.syncs += sync ? 1 : 0;
      stats_.bytes += bytes;
      if (group.size() > stats_.max_group) stats_.max_group = group.size();
      if (sync)
        stats_.sync_latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
    }
    for (Pending& p : group)
      if (p.done) p.done(s);
    group.clear();
  }
}

}  // namespace rkv
