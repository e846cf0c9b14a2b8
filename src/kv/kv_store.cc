#include "kv/kv_store.h"

#include <xxhash.h>

#include <algorithm>
#include <map>

#include "core/assert.h"
#include "core/encoding.h"

namespace rkv {

namespace {
constexpr std::string_view kMetaStateKey = "state_machine";
constexpr std::string_view kMembershipKey = "membership";
}  // namespace

std::vector<std::string> KvStore::SnapshotMetaKeys() {
  return {std::string(kMetaStateKey), std::string(kMembershipKey)};
}

void KvStore::SetMembership(std::string_view encoded) {
  membership_ = std::string(encoded);
  batch_.Put(Cf::kMeta, kMembershipKey, encoded);
  dirty_ = true;
}

KvStore::KvStore(Engine* engine) : engine_(engine) {}

std::string KvStore::DataKey(std::string_view key) {
  std::string out;
  out.reserve(8 + key.size());
  PutFixed64BE(&out, HashKey(key));
  out.append(key.data(), key.size());
  return out;
}

std::string_view KvStore::StateMetaKey() { return kMetaStateKey; }

bool KvStore::DecodeApplied(std::string_view meta, LogPosition* out) {
  uint64_t term = 0, index = 0;
  if (!GetFixed64BE(&meta, &term) || !GetFixed64BE(&meta, &index)) return false;
  *out = {term, index};
  return true;
}

Status KvStore::Load() {
  overlay_.clear();
  keys_by_seq_.clear();
  batch_keys_.clear();
  batch_.Clear();
  flush_seq_ = 0;
  written_seq_ = next_seq_ - 1;
  dirty_ = false;
  applied_ = {};
  key_count_ = 0;
  digest_[0] = digest_[1] = 0;
  membership_.clear();
  std::string m;
  Status ms = engine_->Get(Cf::kMeta, kMembershipKey, &m);
  if (ms.ok())
    membership_ = std::move(m);
  else if (ms.code() != Code::kNotFound)
    return ms;
  std::string meta;
  Status s = engine_->Get(Cf::kMeta, kMetaStateKey, &meta);
  if (s.code() == Code::kNotFound) return Status::Ok();
  RKV_RETURN_IF_ERROR(s);
  std::string_view in = meta;
  uint64_t v[5];
  for (uint64_t& x : v)
    if (!GetFixed64BE(&in, &x)) return Status::Corruption("state machine metadata is truncated");
  applied_ = {v[0], v[1]};
  key_count_ = v[2];
  digest_[0] = v[3];
  digest_[1] = v[4];
  return Status::Ok();
}

std::string KvStore::digest() const {
  std::string raw;
  PutFixed64BE(&raw, digest_[0]);
  PutFixed64BE(&raw, digest_[1]);
  return ToHex(raw);
}

void KvStore::DigestAdd(std::string_view key, std::string_view stored, bool add) {
  StoredValueView view;
  std::string_view payload = DecodeStoredValue(stored, &view) ? view.payload : stored;
  // The key's hash seeds the value's: (key, value) pairs hash apart even when
  // their concatenations are equal.
  XXH128_hash_t h = XXH3_128bits_withSeed(payload.data(), payload.size(), HashKey(key));
  if (add) {
    digest_[0] += h.low64;
    digest_[1] += h.high64;
  } else {
    digest_[0] -= h.low64;
    digest_[1] -= h.high64;
  }
}

bool KvStore::Get(std::string_view key, std::string* stored) {
  if (!overlay_.empty()) {
    auto it = overlay_.find(std::string(key));
    if (it != overlay_.end()) {
      if (!it->second.present) return false;
      *stored = it->second.stored;
      return true;
    }
  }
  if (flush_seq_ > written_seq_) return false;  // a FLUSHALL is not written yet
  Status s = engine_->Get(Cf::kData, DataKey(key), stored);
  if (s.ok()) return true;
  RKV_ASSERT_MSG(s.code() == Code::kNotFound, s.ToString().c_str());
  return false;
}

void KvStore::BeginUndo() {
  capturing_ = true;
  undo_.clear();
}

std::vector<KvStore::UndoItem> KvStore::EndUndo() {
  capturing_ = false;
  return std::move(undo_);
}

void KvStore::Restore(const UndoItem& item) {
  std::string current;
  bool present = Get(item.key, &current);
  if (item.had_prior) {
    Put(item.key, item.prior, present ? &current : nullptr);
  } else if (present) {
    Delete(item.key, current);
  }
}

void KvStore::AddRawPut(Cf cf, std::string_view key, std::string_view value) {
  batch_.Put(cf, key, value);
  dirty_ = true;
}

void KvStore::AddRawDelete(Cf cf, std::string_view key) {
  batch_.Delete(cf, key);
  dirty_ = true;
}

void KvStore::Put(std::string_view key, std::string stored, const std::string* old) {
  if (capturing_) {
    bool seen = false;
    for (const UndoItem& u : undo_) seen = seen || u.key == key;
    if (!seen) undo_.push_back({std::string(key), old != nullptr, old ? *old : std::string()});
  }
  if (old) {
    DigestAdd(key, *old, false);
  } else {
    ++key_count_;
  }
  DigestAdd(key, stored, true);
  batch_.Put(Cf::kData, DataKey(key), stored);
  OverlayEntry& e = overlay_[std::string(key)];
  e.present = true;
  e.stored = std::move(stored);
  e.seq = next_seq_;
  batch_keys_.emplace_back(key);
  dirty_ = true;
}

void KvStore::Delete(std::string_view key, const std::string& old) {
  RKV_ASSERT(key_count_ > 0);
  if (capturing_) {
    bool seen = false;
    for (const UndoItem& u : undo_) seen = seen || u.key == key;
    if (!seen) undo_.push_back({std::string(key), true, old});
  }
  --key_count_;
  DigestAdd(key, old, false);
  batch_.Delete(Cf::kData, DataKey(key));
  OverlayEntry& e = overlay_[std::string(key)];
  e.present = false;
  e.stored.clear();
  e.seq = next_seq_;
  batch_keys_.emplace_back(key);
  dirty_ = true;
}

void KvStore::Clear() {
  RKV_ASSERT_MSG(!capturing_, "FLUSHALL is a barrier entry and never applied speculatively");
  // Earlier writes in this batch are void; the range delete covers the engine.
  batch_.Clear();
  for (const std::string& k : batch_keys_) overlay_.erase(k);
  batch_keys_.clear();
  // Entries of batches in flight must stop hiding nothing: mark them deleted.
  for (auto& [k, e] : overlay_) {
    e.present = false;
    e.stored.clear();
    e.seq = next_seq_;
    batch_keys_.push_back(k);
  }
  batch_.DeleteRange(Cf::kData, std::string(8, '\0'), std::string(9, '\xff'));
  key_count_ = 0;
  digest_[0] = digest_[1] = 0;
  flush_seq_ = next_seq_;
  dirty_ = true;
}

bool KvStore::TakeWrites(WriteBatch* batch, uint64_t* seq) {
  if (!dirty_) return false;
  std::string meta;
  PutFixed64BE(&meta, applied_.term);
  PutFixed64BE(&meta, applied_.index);
  PutFixed64BE(&meta, key_count_);
  PutFixed64BE(&meta, digest_[0]);
  PutFixed64BE(&meta, digest_[1]);
  batch_.Put(Cf::kMeta, kMetaStateKey, meta);
  batch->Append(std::move(batch_));
  batch_.Clear();
  *seq = next_seq_;
  if (!batch_keys_.empty()) keys_by_seq_.emplace_back(next_seq_, std::move(batch_keys_));
  batch_keys_.clear();
  ++next_seq_;
  dirty_ = false;
  return true;
}

void KvStore::WritesDone(uint64_t seq) {
  RKV_ASSERT(seq > written_seq_);
  written_seq_ = seq;
  while (!keys_by_seq_.empty() && keys_by_seq_.front().first <= seq) {
    for (const std::string& k : keys_by_seq_.front().second) {
      auto it = overlay_.find(k);
      if (it != overlay_.end() && it->second.seq <= seq) overlay_.erase(it);
    }
    keys_by_seq_.pop_front();
  }
}

uint64_t KvStore::Scan(uint64_t cursor, size_t count, std::vector<std::string>* keys) {
  std::string start;
  PutFixed64BE(&start, cursor);
  // Overlay entries at or after the cursor, in data-key order.
  std::map<std::string, const OverlayEntry*> pending;
  for (const auto& [k, e] : overlay_) {
    std::string dk = DataKey(k);
    if (dk >= start) pending.emplace(std::move(dk), &e);
  }
  std::unique_ptr<Iterator> it;
  if (flush_seq_ <= written_seq_) {
    it = engine_->NewIterator(Cf::kData);
    it->Seek(start);
  }
  auto p = pending.begin();
  uint64_t last_hash = 0;
  bool have_last = false;
  for (;;) {
    bool engine_valid = it && it->Valid();
    if (!engine_valid && p == pending.end()) return 0;
    // The next data key in merged order; the overlay wins on equal keys.
    std::string dk;
    bool present;
    if (p != pending.end() && (!engine_valid || p->first <= it->key())) {
      if (engine_valid && p->first == it->key()) it->Next();
      dk = p->first;
      present = p->second->present;
      ++p;
    } else {
      dk.assign(it->key());
      present = true;
      it->Next();
    }
    uint64_t h = DecodeFixed64BE(dk.data());
    if (have_last && h != last_hash && keys->size() >= count) return h == 0 ? 0 : h;
    if (present) {
      keys->emplace_back(UserKey(dk));
      last_hash = h;
      have_last = true;
    }
  }
}

}  // namespace rkv
