#include "kv/key_index.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/encoding.h"

namespace rkv {

namespace {

constexpr size_t kMinBuckets = 16;
// Per Set or Erase while resizing: buckets moved, and empty ones skipped at
// most. Four per insert finish a doubling before a quarter more keys arrive
// (the load factor stays below 1.25); the prefetch at the end of each step
// lets the next one's cache misses overlap. Sixteen per step measured no
// faster, with follower lag p99 a little higher in 4 of 4 paired runs (a
// pipelined turn of 800 new keys then moves 12,800 buckets, ~1.3 ms).
constexpr size_t kRehashBucketsPerStep = 4;
constexpr size_t kRehashEmptyVisitsMax = 40;
// How much of an entry's key a prefetch covers.
constexpr size_t kKeyBytesPrefetched = 16;

uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

}  // namespace

// One allocation: the header, then the key, then room for the stored bytes.
struct KeyIndex::Node {
  Node* next;
  uint64_t hash;
  uint32_t key_size;
  uint32_t value_size;
  uint32_t value_capacity;
  char* key() { return reinterpret_cast<char*>(this + 1); }
  char* value() { return key() + key_size; }
  std::string_view key_view() { return {key(), key_size}; }
  std::string_view value_view() { return {value(), value_size}; }
};

void KeyIndex::Table::Reset(size_t n) {
  std::free(slots_);
  slots_ = nullptr;
  size_ = 0;
  if (n == 0) return;
  slots_ = static_cast<Node**>(std::calloc(n, sizeof(Node*)));
  if (!slots_) throw std::bad_alloc();
  size_ = n;
}

KeyIndex::KeyIndex() { buckets_.Reset(kMinBuckets); }

KeyIndex::~KeyIndex() { FreeNodes(); }  // the tables free their arrays

KeyIndex::Node* KeyIndex::NewNode(uint64_t hash, std::string_view key, std::string_view stored) {
  void* mem = ::operator new(sizeof(Node) + key.size() + stored.size());
  Node* n = static_cast<Node*>(mem);
  n->next = nullptr;
  n->hash = hash;
  n->key_size = static_cast<uint32_t>(key.size());
  n->value_size = static_cast<uint32_t>(stored.size());
  n->value_capacity = static_cast<uint32_t>(stored.size());
  if (!key.empty()) std::memcpy(n->key(), key.data(), key.size());
  if (!stored.empty()) std::memcpy(n->value(), stored.data(), stored.size());
  return n;
}

void KeyIndex::FreeNode(Node* n) { ::operator delete(static_cast<void*>(n)); }

KeyIndex::Node** KeyIndex::Bucket(uint64_t hash) const {
  const size_t b = hash & (buckets_.size() - 1);
  if (b < rehash_next_) return const_cast<Node**>(&rehash_to_[hash & (rehash_to_.size() - 1)]);
  return const_cast<Node**>(&buckets_[b]);
}

KeyIndex::Node** KeyIndex::Slot(std::string_view key, uint64_t hash) const {
  Node** slot = Bucket(hash);
  while (*slot && ((*slot)->hash != hash || (*slot)->key_view() != key)) slot = &(*slot)->next;
  return slot;
}

bool KeyIndex::Find(std::string_view key, std::string_view* stored) const {
  Node* n = *Slot(key, HashKey(key));
  if (!n) return false;
  *stored = n->value_view();
  return true;
}

void KeyIndex::Prefetch(const std::string_view* keys, size_t count) const {
  // In chunks, about as many as a core keeps misses in flight: first every
  // bucket, then (with the buckets arriving) every chain's first entry.
  constexpr size_t kChunk = 16;
  Node** buckets[kChunk];
  for (size_t at = 0; at < count; at += kChunk) {
    const size_t n = std::min(kChunk, count - at);
    for (size_t i = 0; i < n; ++i) {
      buckets[i] = Bucket(HashKey(keys[at + i]));
      __builtin_prefetch(buckets[i]);
    }
    for (size_t i = 0; i < n; ++i)
      if (const Node* node = *buckets[i]) {
        // The header and the key, which a lookup compares: entries of 160
        // bytes (16-byte keys, 100-byte values) start mid-line every other
        // time, and then the key lies on the next line.
        __builtin_prefetch(node);
        __builtin_prefetch(reinterpret_cast<const char*>(node) + sizeof(Node) +
                           kKeyBytesPrefetched - 1);
      }
  }
}

bool KeyIndex::Set(std::string_view key, std::string_view stored) {
  RehashStep();
  uint64_t hash = HashKey(key);
  Node** slot = Slot(key, hash);
  if (Node* n = *slot) {
    if (stored.size() <= n->value_capacity) {
      // In place: the common case of a value rewritten at the same size.
      entry_bytes_ += stored.size();
      entry_bytes_ -= n->value_size;
      if (!stored.empty()) std::memmove(n->value(), stored.data(), stored.size());
      n->value_size = static_cast<uint32_t>(stored.size());
      return false;
    }
    Node* fresh = NewNode(hash, key, stored);
    fresh->next = n->next;
    entry_bytes_ += stored.size();
    entry_bytes_ -= n->value_capacity;
    *slot = fresh;
    FreeNode(n);
    return false;
  }
  Node* n = NewNode(hash, key, stored);
  *slot = n;
  ++size_;
  entry_bytes_ += sizeof(Node) + key.size() + stored.size();
  if (size_ > buckets_.size() && !rehashing()) StartResize(buckets_.size() * 2);
  return true;
}

bool KeyIndex::Erase(std::string_view key) {
  RehashStep();
  Node** slot = Slot(key, HashKey(key));
  Node* n = *slot;
  if (!n) return false;
  *slot = n->next;
  entry_bytes_ -= sizeof(Node) + n->key_size + n->value_capacity;
  FreeNode(n);
  --size_;
  MaybeShrink();
  return true;
}

void KeyIndex::FreeNodes() {
  for (Table* table : {&buckets_, &rehash_to_}) {
    for (size_t i = 0; i < table->size(); ++i) {
      for (Node* head = (*table)[i]; head;) {
        Node* next = head->next;
        FreeNode(head);
        head = next;
      }
      (*table)[i] = nullptr;
    }
  }
}

void KeyIndex::Clear() {
  Table fresh;
  fresh.Reset(kMinBuckets);  // may throw: nothing has changed yet
  FreeNodes();
  buckets_.swap(fresh);
  rehash_to_.Reset(0);
  rehash_next_ = 0;
  size_ = 0;
  entry_bytes_ = 0;
}

void KeyIndex::MaybeShrink() {
  // As Redis: shrink once less than a tenth of the buckets would be used.
  if (!rehashing() && buckets_.size() > kMinBuckets && size_ * 10 < buckets_.size()) {
    size_t n = kMinBuckets;
    while (n < size_) n *= 2;
    StartResize(n);
  }
}

void KeyIndex::StartResize(size_t buckets) {
  rehash_to_.Reset(buckets);
  rehash_next_ = 0;
  RehashStep();
}

void KeyIndex::RehashStep() {
  if (!rehashing()) return;
  const size_t mask = rehash_to_.size() - 1;
  size_t moved = 0, empty = 0;
  while (rehash_next_ < buckets_.size() && moved < kRehashBucketsPerStep &&
         empty < kRehashEmptyVisitsMax) {
    Node*& head = buckets_[rehash_next_++];
    if (!head) {
      ++empty;
      continue;
    }
    while (head) {
      Node* next = head->next;
      Node*& b = rehash_to_[head->hash & mask];
      head->next = b;
      b = head;
      head = next;
    }
    ++moved;
  }
  if (rehash_next_ == buckets_.size()) {
    buckets_.swap(rehash_to_);
    rehash_to_.Reset(0);
    rehash_next_ = 0;
    return;
  }
  // The next step reads the hashes of these buckets' first entries: each a
  // cache miss, which this step's prefetch overlaps with the work in between.
  const size_t ahead = std::min(buckets_.size(), rehash_next_ + 2 * kRehashBucketsPerStep);
  for (size_t i = rehash_next_; i < ahead; ++i)
    if (const Node* n = buckets_[i]) __builtin_prefetch(n);
}

uint64_t KeyIndex::Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys) const {
  if (size_ == 0) return 0;
  size_t added = 0;
  auto emit = [&](const Node* n) {
    for (; n; n = n->next) {
      keys->emplace_back(const_cast<Node*>(n)->key_view());
      ++added;
    }
  };
  // Redis's dictScan: visit bucket (cursor & mask), then increment the cursor's
  // reversed bits, so that the buckets a resize splits or merges are covered
  // whatever the table's size at the next call. While resizing, a key is in
  // the old table or the new one: visit the smaller table's bucket, then
  // every bucket of the larger one that it expands to.
  const Table* small = &buckets_;
  const Table* large = rehashing() ? &rehash_to_ : nullptr;
  if (large && large->size() < small->size()) std::swap(small, large);
  const uint64_t m0 = small->size() - 1;
  const uint64_t m1 = large ? large->size() - 1 : m0;
  // The reverse-binary increment of the cursor's bits under `mask`.
  auto next = [](uint64_t c, uint64_t mask) { return ReverseBits(ReverseBits(c | ~mask) + 1); };
  do {
    emit((*small)[cursor & m0]);
    if (!large) {
      cursor = next(cursor, m0);
      continue;
    }
    // The larger mask's extra bits are its top bits, which the reverse-binary
    // increment steps first; once they wrap, the carry steps the smaller
    // mask's bits. A cursor from a scan of the larger table (before a shrink)
    // may start with extra bits set: it goes on from there, in the same order
    // (a plain binary count of the extra bits skipped some: Redis #4906).
    do {
      emit((*large)[cursor & m1]);
      cursor = next(cursor, m1);
    } while (cursor & (m0 ^ m1));
  } while (cursor != 0 && added < count);
  return cursor;
}

}  // namespace rkv
