#include "kv/kv_store.h"

#include <xxhash.h>

#include <algorithm>
#include <memory>

#include "core/assert.h"
#include "core/encoding.h"

namespace rkv {

namespace {
constexpr std::string_view kMetaStateKey = kMetaAppliedKey;
constexpr std::string_view kMembershipKey = kMetaMembershipKey;
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

void KvStore::SetDataKey(std::string_view key, std::string* out) {
  out->clear();
  PutFixed64BE(out, HashKey(key));
  out->append(key.data(), key.size());
}

std::string KvStore::DataKey(std::string_view key) {
  std::string out;
  out.reserve(8 + key.size());
  SetDataKey(key, &out);
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
  index_.Clear();
  batch_.Clear();
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
  // The whole state into memory, checked against the counters saved with it.
  std::unique_ptr<Iterator> it = engine_->NewIterator(Cf::kData);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view dk = it->key();
    if (dk.size() < 8) return Status::Corruption("a data key shorter than its hash prefix");
    index_.Set(UserKey(dk), it->value());
  }
  RKV_RETURN_IF_ERROR(it->status());
  if (index_.size() != key_count_)
    return Status::Corruption("the data holds " + std::to_string(index_.size()) +
                              " keys, its metadata says " + std::to_string(key_count_));
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
  std::string_view v;
  if (!index_.Find(key, &v)) return false;
  stored->assign(v);
  return true;
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
  if (item.had_prior) {
    Put(item.key, item.prior);
  } else {
    std::string_view current;
    if (index_.Find(item.key, &current)) Delete(item.key);
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

void KvStore::RecordUndo(std::string_view key) {
  for (const UndoItem& u : undo_)
    if (u.key == key) return;  // the first change records the value before the entry
  std::string_view old;
  bool had = index_.Find(key, &old);
  undo_.push_back({std::string(key), had, had ? std::string(old) : std::string()});
}

void KvStore::Put(std::string_view key, std::string_view stored) {
  if (capturing_) RecordUndo(key);
  std::string_view old;
  if (index_.Find(key, &old)) {
    DigestAdd(key, old, false);
  } else {
    ++key_count_;
  }
  DigestAdd(key, stored, true);
  SetDataKey(key, &data_key_);
  batch_.Put(Cf::kData, data_key_, stored);
  index_.Set(key, stored);
  dirty_ = true;
}

void KvStore::Delete(std::string_view key) {
  std::string_view old;
  if (!index_.Find(key, &old)) return;
  if (capturing_) RecordUndo(key);
  RKV_ASSERT(key_count_ > 0);
  --key_count_;
  DigestAdd(key, old, false);
  SetDataKey(key, &data_key_);
  batch_.Delete(Cf::kData, data_key_);
  index_.Erase(key);
  dirty_ = true;
}

void KvStore::Clear() {
  RKV_ASSERT_MSG(!capturing_, "FLUSHALL is a barrier entry and never applied speculatively");
  // The range delete follows the batch's earlier data writes, so it covers
  // them too (a batch is applied in order).
  batch_.DeleteRange(Cf::kData, std::string(8, '\0'), std::string(9, '\xff'));
  index_.Clear();
  key_count_ = 0;
  digest_[0] = digest_[1] = 0;
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
  *seq = next_seq_++;
  dirty_ = false;
  return true;
}

void KvStore::WritesDone(uint64_t seq) {
  RKV_ASSERT(seq > written_seq_);
  written_seq_ = seq;
}

}  // namespace rkv
