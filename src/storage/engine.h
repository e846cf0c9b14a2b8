// A storage engine: ordered key-value column families with atomic batches.
// Thread safety: every method may be called from any thread; a batch is applied
// atomically and becomes visible to readers all at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rkv {

enum class Cf : uint8_t { kMeta = 0, kLog, kData, kUndo, kHints, kFeed };
inline constexpr int kCfCount = 6;
std::string_view CfName(Cf cf);

// The meta records the state machine writes with the entries it applies
// (kv/kv_store.cc). Like the data family they are derived from the log, which
// an engine may use: the RocksDB engine syncs them only where they are
// needed (rocksdb_engine.cc, Write).
inline constexpr std::string_view kMetaAppliedKey = "state_machine";
inline constexpr std::string_view kMetaMembershipKey = "membership";

// One operation of a batch, as views into the batch's buffer.
struct WriteOp {
  enum class Kind : uint8_t { kPut, kDelete, kDeleteRange };
  Kind kind = Kind::kPut;
  Cf cf = Cf::kData;
  std::string_view key;    // kDeleteRange: begin (inclusive)
  std::string_view value;  // kDeleteRange: end (exclusive)
};

// Operations in one flat buffer ([kind][cf][key size][value size][key][value]
// each): building a batch and merging batches (group commit) allocate only
// when the buffer grows, never per operation.
class WriteBatch {
 public:
  void Put(Cf cf, std::string_view key, std::string_view value) {
    Add(WriteOp::Kind::kPut, cf, key, value);
  }
  void Delete(Cf cf, std::string_view key) { Add(WriteOp::Kind::kDelete, cf, key, {}); }
  void DeleteRange(Cf cf, std::string_view begin, std::string_view end) {
    Add(WriteOp::Kind::kDeleteRange, cf, begin, end);
  }
  void Append(WriteBatch&& other);
  void Clear() {
    rep_.clear();
    count_ = 0;
  }

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  size_t bytes() const { return rep_.size(); }

  // Iteration: for (size_t at = 0; batch.Next(&at, &op);) ...
  bool Next(size_t* at, WriteOp* op) const;

 private:
  void Add(WriteOp::Kind kind, Cf cf, std::string_view key, std::string_view value);
  std::string rep_;
  size_t count_ = 0;
};

class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual void Seek(std::string_view key) = 0;
  virtual void SeekToFirst() = 0;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;
};

// A consistent copy of the applied state for a snapshot: the data column
// family (as SST files, or encoded inline for the memory engine) and selected
// metadata records, all as of one instant. Never the node's own term, vote or
// identity.
struct SnapshotImage {
  std::vector<std::pair<std::string, std::string>> meta;  // meta column family records
  std::vector<std::string> files;  // paths of SST files holding the data column family
  std::string inline_data;         // memory engine: the data column family, encoded
  uint64_t bytes = 0;              // total size of files and inline data
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Applies `batch`; with sync, it is durable when this returns OK, and so is
  // every earlier write. Readers see a batch all at once. After a crash the
  // engine holds a prefix of the writes (for the RocksDB engine: the log
  // family's and the rest's prefixes may end at different writes of a batch
  // that was not synced, never in a way that loses log records the state
  // still needs — see rocksdb_engine.cc, Write).
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;
  // NotFound when absent.
  virtual Status Get(Cf cf, std::string_view key, std::string* value) = 0;
  // An iterator over a consistent view of one column family.
  virtual std::unique_ptr<Iterator> NewIterator(Cf cf) = 0;
  // Approximate bytes used on disk (or in memory) by all column families.
  virtual uint64_t ApproximateBytes() = 0;
  virtual std::string_view name() const = 0;

  // Pins the current state (cheap; call it where the state is known to be
  // the one wanted). The pin keeps that state readable until released.
  virtual std::shared_ptr<const void> PinSnapshot() = 0;
  // Writes the pinned state's data column family and the meta records named
  // in `meta_keys` (absent ones are skipped) into `dir` (created; the memory
  // engine keeps it inline instead). May run on any thread.
  virtual Result<SnapshotImage> ExportSnapshot(const std::shared_ptr<const void>& pin,
                                               const std::vector<std::string>& meta_keys,
                                               const std::string& dir) = 0;
  // Replaces the data column family with the image's, writes its meta records
  // and empties the log and undo column families. Files are moved, not copied.
  // Not atomic: callers mark an install in progress (see node/replica.cc).
  virtual Status ImportSnapshot(const SnapshotImage& image) = 0;
};

struct EngineOptions {
  std::string dir;  // data directory (RocksDB); ignored by the memory engine
  // Small: the applied state is read from memory (kv/key_index.h); the engine
  // is read at start, for snapshots and for the log.
  uint64_t block_cache_bytes = 8ULL << 20;
  // Per column family memtable (RocksDB): the size at which it is flushed.
  uint64_t write_buffer_bytes = 32ULL << 20;
  // The log family in RocksDB, as data directories written before it had
  // files of its own (storage/log_files.h) hold it: for tests of the move.
  bool log_in_rocksdb = false;
  // Size of each log segment file (tests use small ones).
  uint64_t log_segment_bytes = 16ULL << 20;
};

Result<std::unique_ptr<Engine>> OpenRocksDbEngine(const EngineOptions& options);
std::unique_ptr<Engine> NewMemoryEngine();

}  // namespace rkv
