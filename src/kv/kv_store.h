// The applied key-value state of a replica.
//
// The durable copy lives in the engine's data column family; applied writes
// the storage thread has not written yet are held in an overlay, so reads on
// the event loop always see exactly the applied state without waiting for the
// disk. The overlay holds only writes in flight; WritesDone() trims it.
//
// Also maintained incrementally, and persisted with every batch of writes:
// the applied log position, the key count (DBSIZE) and an order-independent
// digest of the state (equal on replicas that applied the same state).
//
// Not thread-safe: owned by one thread (the event loop, or the simulator).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/replica_core.h"
#include "core/stored_value.h"
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
  uint64_t key_count() const { return key_count_; }
  std::string digest() const;
  LogPosition applied() const { return applied_; }
  // Keys in scan order from `cursor` (0 = start): at least `count` keys when
  // that many remain, plus every key sharing the last one's hash. Returns the
  // cursor to continue from, 0 when done. The cursor is a position in hash
  // order, so keys present for a whole scan are returned at least once.
  uint64_t Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys);

  // --- writes, only while applying entries ---
  // `old` is the key's current stored bytes as returned by Get, or nullptr when
  // the key is absent (it keeps the key count and digest exact).
  void Put(std::string_view key, std::string stored, const std::string* old);
  void Delete(std::string_view key, const std::string& old);
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

  size_t overlay_size() const { return overlay_.size(); }

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
  static std::string_view UserKey(std::string_view data_key) { return data_key.substr(8); }

 private:
  struct OverlayEntry {
    bool present = false;
    std::string stored;
    uint64_t seq = 0;  // the batch that carries this write
  };
  void DigestAdd(std::string_view key, std::string_view stored, bool add);

  Engine* engine_;
  LogPosition applied_;
  uint64_t key_count_ = 0;
  uint64_t digest_[2] = {0, 0};
  std::string membership_;
  bool dirty_ = false;

  std::unordered_map<std::string, OverlayEntry> overlay_;
  std::deque<std::pair<uint64_t, std::vector<std::string>>> keys_by_seq_;
  std::vector<std::string> batch_keys_;  // keys written in the batch being built
  WriteBatch batch_;
  uint64_t next_seq_ = 1;     // the seq of the batch being built
  uint64_t written_seq_ = 0;  // every batch up to this is in the engine
  uint64_t flush_seq_ = 0;    // a FLUSHALL rides in this batch
  bool capturing_ = false;
  std::vector<UndoItem> undo_;
};

}  // namespace rkv
