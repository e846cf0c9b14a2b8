#include "storage/sorted_memtable.h"

#include <rocksdb/memtablerep.h>
#include <rocksdb/slice.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/encoding.h"

namespace rkv {

namespace {

using rocksdb::KeyHandle;
using rocksdb::MemTableRep;
using rocksdb::Slice;

// One memtable entry as the vector holds it.
struct Element {
  uint64_t prefix;    // the user key's first 8 bytes, big-endian, zero-padded
  const char* entry;  // RocksDB's entry: varint32 length, internal key, value
};

// The internal key (user key, then 8 bytes of sequence and type) of an entry.
Slice InternalKeyOf(const char* entry) {
  // A varint32 takes at most 5 bytes, and the key's 8-byte footer follows it.
  std::string_view in(entry, 5);
  uint64_t size = 0;
  GetVarint64(&in, &size);
  return {in.data(), static_cast<size_t>(size)};
}

// Zero padding keeps the bytewise order: a smaller prefix is a smaller user
// key, and equal prefixes (a tie) need the whole comparison.
uint64_t PrefixOf(const Slice& internal_key) {
  const size_t user_key_size = internal_key.size() >= 8 ? internal_key.size() - 8 : 0;
  char bytes[8] = {};
  std::memcpy(bytes, internal_key.data(), std::min<size_t>(user_key_size, 8));
  return DecodeFixed64BE(bytes);
}

using Elements = std::vector<Element>;

class SortedIterator final : public MemTableRep::Iterator {
 public:
  SortedIterator(std::shared_ptr<const Elements> elements,
                 const MemTableRep::KeyComparator& compare)
      : elements_(std::move(elements)), compare_(compare), end_(elements_->size()), at_(end_) {}

  bool Valid() const override { return at_ < end_; }
  const char* key() const override { return (*elements_)[at_].entry; }
  void Next() override {
    ++at_;
    // A flush walks the entries in key order, which is not their order in
    // memory: start loading a few ahead.
    if (at_ + kAhead < end_) __builtin_prefetch((*elements_)[at_ + kAhead].entry);
  }
  void Prev() override { at_ = at_ == 0 ? end_ : at_ - 1; }
  // The first entry at or after the internal key.
  void Seek(const Slice& internal_key, const char* /*memtable_key*/) override {
    const uint64_t prefix = PrefixOf(internal_key);
    auto it = std::lower_bound(elements_->begin(), elements_->end(), internal_key,
                               [&](const Element& e, const Slice& target) {
                                 if (e.prefix != prefix) return e.prefix < prefix;
                                 return compare_(e.entry, target) < 0;
                               });
    at_ = static_cast<size_t>(it - elements_->begin());
  }
  // The last entry at or before the internal key.
  void SeekForPrev(const Slice& internal_key, const char* /*memtable_key*/) override {
    const uint64_t prefix = PrefixOf(internal_key);
    auto it = std::upper_bound(elements_->begin(), elements_->end(), internal_key,
                               [&](const Slice& target, const Element& e) {
                                 if (e.prefix != prefix) return prefix < e.prefix;
                                 return compare_(e.entry, target) > 0;
                               });
    const size_t after = static_cast<size_t>(it - elements_->begin());
    at_ = after == 0 ? end_ : after - 1;
  }
  void SeekToFirst() override { at_ = 0; }
  void SeekToLast() override { at_ = end_ == 0 ? end_ : end_ - 1; }

 private:
  static constexpr size_t kAhead = 8;
  std::shared_ptr<const Elements> elements_;
  const MemTableRep::KeyComparator& compare_;
  const size_t end_;
  size_t at_;
};

class SortedRep final : public MemTableRep {
 public:
  SortedRep(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), compare_(compare), elements_(std::make_shared<Elements>()) {}

  ~SortedRep() override {
    for (void* shell : arena_shells_) ::operator delete(shell);
  }

  void Insert(KeyHandle handle) override {
    const char* entry = static_cast<const char*>(handle);
    const Element e{PrefixOf(InternalKeyOf(entry)), entry};
    std::unique_lock lock(mu_);
    elements_->push_back(e);
    bytes_.store(elements_->capacity() * sizeof(Element), std::memory_order_relaxed);
  }

  bool Contains(const char* key) const override {
    std::shared_lock lock(mu_);
    return std::any_of(elements_->begin(), elements_->end(),
                       [&](const Element& e) { return compare_(e.entry, key) == 0; });
  }

  void MarkReadOnly() override {
    std::unique_lock lock(mu_);
    read_only_ = true;
  }

  // Called on every insert (RocksDB's should-flush check): no lock.
  size_t ApproximateMemoryUsage() override {
    return sizeof(*this) + bytes_.load(std::memory_order_relaxed);
  }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    std::shared_ptr<const Elements> view;
    {
      std::unique_lock lock(mu_);
      if (read_only_) {
        // A flush, or a reader of an immutable memtable: sorted in place, once.
        if (!sorted_) Sort(elements_.get());
        sorted_ = true;
        view = elements_;
      }
    }
    if (!view) {
      // Still written to: a sorted copy of what is there now.
      auto copy = std::make_shared<Elements>();
      {
        std::shared_lock lock(mu_);
        *copy = *elements_;
      }
      Sort(copy.get());
      view = std::move(copy);
    }
    if (arena == nullptr) return new SortedIterator(std::move(view), compare_);
    // RocksDB only destroys an iterator it asked to be placed in its arena,
    // never frees it, and the arena's interface is not public: the storage
    // is freed with the memtable, which outlives its iterators.
    void* shell = ::operator new(sizeof(SortedIterator));
    {
      std::lock_guard lock(shells_mu_);
      arena_shells_.push_back(shell);
    }
    return new (shell) SortedIterator(std::move(view), compare_);
  }

 private:
  void Sort(Elements* elements) const {
    std::sort(elements->begin(), elements->end(), [this](const Element& a, const Element& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return compare_(a.entry, b.entry) < 0;
    });
  }

  const KeyComparator& compare_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<Elements> elements_;  // guarded by mu_
  std::atomic<size_t> bytes_{0};
  bool read_only_ = false;  // guarded by mu_
  bool sorted_ = false;     // guarded by mu_
  std::mutex shells_mu_;
  std::vector<void*> arena_shells_;  // guarded by shells_mu_
};

class SortedMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  const char* Name() const override { return "ReplicaKvSortedMemTable"; }
  using MemTableRepFactory::CreateMemTableRep;
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& compare,
                                 rocksdb::Allocator* allocator, const rocksdb::SliceTransform*,
                                 rocksdb::Logger*) override {
    return new SortedRep(compare, allocator);
  }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewSortedMemTableFactory() {
  return std::make_shared<SortedMemTableFactory>();
}

}  // namespace rkv
