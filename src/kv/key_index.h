// The applied state's keys and stored values, in memory: a chained hash table
// in the manner of Redis's dict, each entry one allocation holding its key and
// its stored bytes. Reads and the old-value lookup of every write come from
// here, never from the engine (which keeps the durable copy).
//
// SCAN walks buckets with Redis's reverse-binary cursor, so a key present for
// a whole scan is returned at least once even when the table grows or shrinks
// between calls. Resizing is done at once (not incrementally as Redis does):
// a pause proportional to the key count when the table doubles or shrinks.
//
// Not thread-safe: owned by the applied state's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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
  size_t memory_bytes() const { return entry_bytes_ + buckets_.size() * sizeof(void*); }

 private:
  struct Node;
  Node** Slot(std::string_view key, uint64_t hash) const;
  void Resize(size_t buckets);
  void MaybeShrink();
  static Node* NewNode(uint64_t hash, std::string_view key, std::string_view stored);
  static void FreeNode(Node* n);

  std::vector<Node*> buckets_;
  size_t size_ = 0;
  size_t entry_bytes_ = 0;
};

}  // namespace rkv
