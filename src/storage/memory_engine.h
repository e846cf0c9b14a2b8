// The in-memory engine: used by the simulator and `--storage memory`.
// It can model a crash: writes not covered by a sync are lost, except an
// optional prefix of them (a write-ahead log loses only a suffix).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace rkv {

class MemoryEngine final : public Engine {
 public:
  // track_unsynced: remember unsynced writes so Crash() can drop them.
  explicit MemoryEngine(bool track_unsynced = false) : track_unsynced_(track_unsynced) {}

  Status Write(const WriteBatch& batch, bool sync) override;
  Status Get(Cf cf, std::string_view key, std::string* value) override;
  std::unique_ptr<Iterator> NewIterator(Cf cf) override;
  uint64_t ApproximateBytes() override;
  std::string_view name() const override { return "memory"; }
  std::shared_ptr<const void> PinSnapshot() override;
  Result<SnapshotImage> ExportSnapshot(const std::shared_ptr<const void>& pin,
                                       const std::vector<std::string>& meta_keys,
                                       const std::string& dir) override;
  Status ImportSnapshot(const SnapshotImage& image) override;

  // Simulates a crash: the state becomes the last synced state plus the first
  // `keep_unsynced` unsynced batches. Requires track_unsynced.
  void Crash(size_t keep_unsynced);
  size_t unsynced_batches() const;

  // For iterators: the first entry at (or after, when `after`) `from`.
  bool FindAtOrAfter(Cf cf, const std::string& from, bool after, std::string* key,
                     std::string* value);

 private:
  using Table = std::map<std::string, std::string, std::less<>>;
  // Returns the change in stored bytes.
  static int64_t ApplyTo(Table* tables, const WriteBatch& batch);

  mutable std::mutex mu_;
  bool track_unsynced_;
  Table live_[kCfCount];
  Table durable_[kCfCount];           // only with track_unsynced_
  std::vector<WriteBatch> unsynced_;  // only with track_unsynced_
  uint64_t live_bytes_ = 0;           // keys and values of live_
};

}  // namespace rkv
