#include "storage/memory_engine.h"

#include "core/assert.h"
#include "core/encoding.h"

namespace rkv {

// Iterates without holding the engine's lock between calls: each step
// re-finds its place by key, so it never copies the table. Not a snapshot:
// writes made meanwhile may or may not be seen, which SCAN permits.
class MemoryIterator final : public Iterator {
 public:
  MemoryIterator(MemoryEngine* engine, Cf cf) : engine_(engine), cf_(cf) {}
  void Seek(std::string_view key) override { Load(key, /*after=*/false); }
  void SeekToFirst() override { Load("", false); }
  bool Valid() const override { return valid_; }
  void Next() override { Load(key_, /*after=*/true); }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  Status status() const override { return Status::Ok(); }

 private:
  void Load(std::string_view from, bool after) {
    std::string from_copy(from);
    valid_ = engine_->FindAtOrAfter(cf_, from_copy, after, &key_, &value_);
  }
  MemoryEngine* engine_;
  Cf cf_;
  bool valid_ = false;
  std::string key_, value_;
};

int64_t MemoryEngine::ApplyTo(Table* tables, const WriteBatch& batch) {
  int64_t delta = 0;
  WriteOp op;
  for (size_t at = 0; batch.Next(&at, &op);) {
    Table& t = tables[static_cast<int>(op.cf)];
    switch (op.kind) {
      case WriteOp::Kind::kPut: {
        auto [it, inserted] = t.try_emplace(std::string(op.key));
        if (inserted) delta += static_cast<int64_t>(op.key.size());
        delta += static_cast<int64_t>(op.value.size()) - static_cast<int64_t>(it->second.size());
        it->second = op.value;
        break;
      }
      case WriteOp::Kind::kDelete: {
        auto it = t.find(op.key);
        if (it != t.end()) {
          delta -= static_cast<int64_t>(it->first.size() + it->second.size());
          t.erase(it);
        }
        break;
      }
      case WriteOp::Kind::kDeleteRange: {
        auto it = t.lower_bound(op.key);
        auto end = t.lower_bound(op.value);
        while (it != end) {
          delta -= static_cast<int64_t>(it->first.size() + it->second.size());
          it = t.erase(it);
        }
        break;
      }
    }
  }
  return delta;
}

Status MemoryEngine::Write(const WriteBatch& batch, bool sync) {
  std::lock_guard lock(mu_);
  live_bytes_ += ApplyTo(live_, batch);
  if (track_unsynced_) {
    unsynced_.push_back(batch);
    if (sync) {
      for (const WriteBatch& b : unsynced_) ApplyTo(durable_, b);
      unsynced_.clear();
    }
  }
  return Status::Ok();
}

Status MemoryEngine::Get(Cf cf, std::string_view key, std::string* value) {
  std::lock_guard lock(mu_);
  const Table& t = live_[static_cast<int>(cf)];
  auto it = t.find(key);
  if (it == t.end()) return Status::NotFound("");
  value->assign(it->second);
  return Status::Ok();
}

std::unique_ptr<Iterator> MemoryEngine::NewIterator(Cf cf) {
  return std::make_unique<MemoryIterator>(this, cf);
}

bool MemoryEngine::FindAtOrAfter(Cf cf, const std::string& from, bool after, std::string* key,
                                 std::string* value) {
  std::lock_guard lock(mu_);
  const Table& t = live_[static_cast<int>(cf)];
  auto it = after ? t.upper_bound(from) : t.lower_bound(from);
  if (it == t.end()) return false;
  *key = it->first;
  *value = it->second;
  return true;
}

uint64_t MemoryEngine::ApproximateBytes() {
  std::lock_guard lock(mu_);
  return live_bytes_;
}

void MemoryEngine::Crash(size_t keep_unsynced) {
  std::lock_guard lock(mu_);
  RKV_ASSERT(track_unsynced_);
  for (size_t i = 0; i < keep_unsynced && i < unsynced_.size(); ++i)
    ApplyTo(durable_, unsynced_[i]);
  unsynced_.clear();
  live_bytes_ = 0;
  for (int i = 0; i < kCfCount; ++i) {
    live_[i] = durable_[i];
    for (const auto& [k, v] : live_[i]) live_bytes_ += k.size() + v.size();
  }
}

size_t MemoryEngine::unsynced_batches() const {
  std::lock_guard lock(mu_);
  return unsynced_.size();
}

namespace {
struct MemoryPin {
  std::map<std::string, std::string, std::less<>> meta, data;
};
}  // namespace

std::shared_ptr<const void> MemoryEngine::PinSnapshot() {
  std::lock_guard lock(mu_);
  auto pin = std::make_shared<MemoryPin>();
  pin->meta = live_[static_cast<int>(Cf::kMeta)];
  pin->data = live_[static_cast<int>(Cf::kData)];
  return pin;
}

Result<SnapshotImage> MemoryEngine::ExportSnapshot(const std::shared_ptr<const void>& p,
                                                   const std::vector<std::string>& meta_keys,
                                                   const std::string&) {
  const auto* pin = static_cast<const MemoryPin*>(p.get());
  SnapshotImage image;
  for (const std::string& k : meta_keys)
    if (auto it = pin->meta.find(k); it != pin->meta.end()) image.meta.emplace_back(k, it->second);
  for (const auto& [k, v] : pin->data) {
    PutLengthPrefixed(&image.inline_data, k);
    PutLengthPrefixed(&image.inline_data, v);
  }
  image.bytes = image.inline_data.size();
  return image;
}

Status MemoryEngine::ImportSnapshot(const SnapshotImage& image) {
  WriteBatch b;
  for (Cf cf : {Cf::kData, Cf::kLog, Cf::kUndo})
    b.DeleteRange(cf, std::string(), std::string(64, '\xff'));
  std::string_view in = image.inline_data;
  while (!in.empty()) {
    std::string_view k, v;
    if (!GetLengthPrefixed(&in, &k) || !GetLengthPrefixed(&in, &v))
      return Status::Corruption("snapshot data is malformed");
    b.Put(Cf::kData, k, v);
  }
  for (const auto& [k, v] : image.meta) b.Put(Cf::kMeta, k, v);
  return Write(b, true);
}

std::unique_ptr<Engine> NewMemoryEngine() { return std::make_unique<MemoryEngine>(false); }

}  // namespace rkv
