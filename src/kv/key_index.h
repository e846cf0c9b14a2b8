// The applied state's keys and stored values, in memory: a chained hash table
// in the manner of Redis's dict, each entry one allocation holding its key and
// its stored bytes. Reads and the old-value lookup of every write come from
// here, never from the engine (which keeps the durable copy).
//
// SCAN walks buckets with Redis's reverse-binary cursor, so a key present for
// a whole scan is returned at least once even when the table grows or shrinks
// between calls, also while it is being resized.
//
// Resizing is incremental, as Redis's: the new table fills a few buckets at a
// time, on each Set and Erase, while lookups go to the old table's buckets not
// yet moved and to the new table for the rest. Doubling at once paused the
// applied state's thread in proportion to the key count (25 ms at 512k keys
// here, every entry's node a cache miss): follower lag spikes under a load
// of new keys (PERFORMANCE.md).
//
// Not thread-safe: owned by the applied state's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkv {

class KeyIndex {
 public:
  KeyIndex();
  ~KeyIndex();
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;

  size_t size() const { return size_; }
  // The stored bytes of `key`, valid until the next change to the index.
  bool Find(std::string_view key, std::string_view* stored) const;
  // Starts loading the buckets and entries of `keys` into the cache, so that
  // the lookups that follow (a log entry's batch of writes) wait for memory
  // about once for all of them rather than once each. A lookup that misses
  // the cache is two dependent loads, each ~250 ns on these virtual machines
  // (nested page walks; PERFORMANCE.md); prefetches overlap them.
  void Prefetch(const std::string_view* keys, size_t count) const;
  // Inserts or replaces; true when the key was new.
  bool Set(std::string_view key, std::string_view stored);
  // True when the key was there.
  bool Erase(std::string_view key);
  void Clear();
  // Appends the keys of the buckets from `cursor` on until at least `count`
  // keys were added (or the table is done); returns the cursor to go on
  // from, 0 when done.
  uint64_t Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys) const;
  // Bytes held by entries and buckets (allocator overhead not included).
  size_t memory_bytes() const {
    return entry_bytes_ + (buckets_.size() + rehash_to_.size()) * sizeof(void*);
  }
  bool rehashing() const { return !rehash_to_.empty(); }

 private:
  struct Node;
  // The bucket that holds (or would hold) a key of this hash.
  Node** Bucket(uint64_t hash) const;
  Node** Slot(std::string_view key, uint64_t hash) const;
  void StartResize(size_t buckets);
  // Moves a few of the old table's buckets into the new one.
  void RehashStep();
  void MaybeShrink();
  void FreeNodes();  // of both tables, leaving their buckets empty
  static Node* NewNode(uint64_t hash, std::string_view key, std::string_view stored);
  static void FreeNode(Node* n);

  // A bucket array from calloc: a large one comes as fresh zeroed pages, so
  // starting a resize makes no pass over it (zeroing 8 MB paused ~4 ms here).
  class Table {
   public:
    Table() = default;
    ~Table() { std::free(slots_); }
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    void Reset(size_t n);  // n empty buckets (0: none, nothing held)
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    Node*& operator[](size_t i) const { return slots_[i]; }
    void swap(Table& o) {
      std::swap(slots_, o.slots_);
      std::swap(size_, o.size_);
    }

   private:
    Node** slots_ = nullptr;
    size_t size_ = 0;
  };

  Table buckets_;
  // While resizing: the new table, and the first of buckets_ not yet moved
  // into it (those below are empty).
  Table rehash_to_;
  size_t rehash_next_ = 0;
  size_t size_ = 0;
  size_t entry_bytes_ = 0;
};

}  // namespace rkv
