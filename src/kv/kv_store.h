// The applied state of a replica.
//
// All of it is held in memory (kv/key_index.h): every read, and the old-value
// lookup of every write, is served from there. The durable copy lives in the
// engine's data column family; applied writes are handed to the storage thread
// in batches (TakeWrites) and Load() rebuilds the memory copy from the engine
// at start and after a snapshot is installed.
//
// Also maintained incrementally, and persisted with every batch of writes:
// the applied log position, the key count (DBSIZE) and an order-independent
// digest of the state (equal on replicas that applied the same state).
//
// Not thread-safe: owned by one thread (the event loop, or the simulator).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/replica_core.h"
#include "core/stored_value.h"
#include "kv/key_index.h"
#include "storage/engine.h"

namespace rkv {

class KvStore {
 public:
  explicit KvStore(Engine* engine);

  // Loads the applied position, key count, digest and membership from the
  // engine, forgetting anything held in memory (after a snapshot install).
  Status Load();
  // The applied position recorded in a state-machine meta record (as a
  // snapshot carries it); false if malformed.
  static bool DecodeApplied(std::string_view meta_record, LogPosition* out);
  static std::string_view StateMetaKey();

  // --- reads ---
  // The stored bytes of `key` (core/stored_value.h), or false when absent.
  bool Get(std::string_view key, std::string* stored);
  // The same without a copy: valid until the next write to the state.
  bool Find(std::string_view key, std::string_view* stored) const {
    return index_.Find(key, stored);
  }
  // See KeyIndex::Prefetch: before a batch of lookups.
  void Prefetch(const std::string_view* keys, size_t count) const { index_.Prefetch(keys, count); }
  bool Contains(std::string_view key) const {
    std::string_view v;
    return index_.Find(key, &v);
  }
  uint64_t key_count() const { return key_count_; }
  size_t memory_bytes() const { return index_.memory_bytes(); }
  std::string digest() const;
  LogPosition applied() const { return applied_; }
  // Keys from `cursor` (0 = start), Redis SCAN style: at least `count` keys
  // when that many remain; returns the cursor to continue from, 0 when done.
  // A key present for a whole scan is returned at least once.
  uint64_t Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys) {
    return index_.Scan(cursor, count, keys);
  }

  // --- writes, only while applying entries ---
  void Put(std::string_view key, std::string_view stored);
  void Delete(std::string_view key);
  void Clear();
  void SetApplied(LogPosition pos) {
    applied_ = pos;
    dirty_ = true;
  }
  // The cluster membership as of the applied position (encoded; single leader).
  void SetMembership(std::string_view encoded);
  const std::string& membership() const { return membership_; }
  // The meta records a snapshot carries: the applied position, counters and
  // digest, and the membership.
  static std::vector<std::string> SnapshotMetaKeys();

  // Moves the writes applied since the last call (with the applied position
  // and counters) into `batch`. False when nothing changed.
  bool TakeWrites(WriteBatch* batch, uint64_t* seq);
  // The batch `seq` (and all before it) is written to the engine.
  void WritesDone(uint64_t seq);

  // --- undo, for entries applied before they were majority-committed ---
  struct UndoItem {
    std::string key;
    bool had_prior = false;
    std::string prior;  // stored bytes before the entry
  };
  // Between BeginUndo and EndUndo, the first change to each key records the
  // key's previous stored value.
  void BeginUndo();
  std::vector<UndoItem> EndUndo();
  // Sets `key` back to a recorded previous value.
  void Restore(const UndoItem& item);
  // Raw writes carried in the next batch (undo records, counters).
  void AddRawPut(Cf cf, std::string_view key, std::string_view value);
  void AddRawDelete(Cf cf, std::string_view key);

  static std::string DataKey(std::string_view key);
  static void SetDataKey(std::string_view key, std::string* out);  // reuses out's buffer
  static std::string_view UserKey(std::string_view data_key) { return data_key.substr(8); }

 private:
  void DigestAdd(std::string_view key, std::string_view stored, bool add);
  void RecordUndo(std::string_view key);

  Engine* engine_;
  KeyIndex index_;
  LogPosition applied_;
  uint64_t key_count_ = 0;
  uint64_t digest_[2] = {0, 0};
  std::string membership_;
  bool dirty_ = false;

  WriteBatch batch_;
  std::string data_key_;   // DataKey's bytes for batch_, built in place (no allocation per write)
  uint64_t next_seq_ = 1;  // the seq of the batch being built
  uint64_t written_seq_ = 0;  // every batch up to this is in the engine
  bool capturing_ = false;
  std::vector<UndoItem> undo_;
};

}  // namespace rkv
