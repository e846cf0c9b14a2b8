#include "storage/log_store.h"

#include <algorithm>
#include <iterator>

#include "core/encoding.h"

namespace rkv {

namespace {
constexpr char kFormat = 1;
constexpr std::string_view kHardStateKey = "hard_state";
}  // namespace

std::string LogKey(uint64_t index) {
  std::string k;
  PutFixed64BE(&k, index);
  return k;
}

void EncodeLogRecord(const Entry& e, std::string* out) {
  out->clear();
  out->reserve(e.data.size() + 12);
  out->push_back(kFormat);
  out->push_back(static_cast<char>(e.kind));
  PutVarint64(out, e.term);
  PutVarint64(out, e.origin);
  PutVarint64(out, e.request_id);
  out->append(e.data);
}

bool DecodeLogRecord(uint64_t index, std::string_view bytes, Entry* out) {
  if (bytes.size() < 3 || bytes[0] != kFormat) return false;
  uint8_t kind = static_cast<uint8_t>(bytes[1]);
  if (kind > static_cast<uint8_t>(EntryKind::kBarrier)) return false;
  bytes.remove_prefix(2);
  out->kind = static_cast<EntryKind>(kind);
  out->index = index;
  if (!GetVarint64(&bytes, &out->term)) return false;
  if (!GetVarint64(&bytes, &out->origin)) return false;
  if (!GetVarint64(&bytes, &out->request_id)) return false;
  out->data.assign(bytes.data(), bytes.size());
  return true;
}

void AddLogWrites(const std::optional<HardState>& hard_state,
                  const std::optional<uint64_t>& truncate_from, const std::vector<Entry>& append,
                  WriteBatch* batch) {
  if (hard_state) {
    std::string v;
    PutFixed64BE(&v, hard_state->term);
    PutFixed64BE(&v, hard_state->vote);
    batch->Put(Cf::kMeta, kHardStateKey, v);
  }
  if (truncate_from) batch->DeleteRange(Cf::kLog, LogKey(*truncate_from), LogKey(UINT64_MAX));
  std::string record;
  for (const Entry& e : append) {
    EncodeLogRecord(e, &record);
    batch->Put(Cf::kLog, LogKey(e.index), record);
  }
}

void AddLogCompaction(uint64_t upto, WriteBatch* batch) {
  batch->DeleteRange(Cf::kLog, LogKey(0), LogKey(upto + 1));
}

bool TermStarts::CutFrom(uint64_t index) {
  bool changed = false;
  while (!starts_.empty() && starts_.back().first >= index) {
    starts_.pop_back();
    changed = true;
  }
  return changed;
}

bool TermStarts::Add(uint64_t index, uint64_t term) {
  // What started at or after `index` was cut or is overwritten.
  const bool changed = CutFrom(index);
  if (!starts_.empty() && starts_.back().second == term) return changed;
  starts_.emplace_back(index, term);
  if (starts_.size() > kMax) starts_.erase(starts_.begin());
  return true;
}

// Called for every Ready that writes the log: no copies, and nothing to do
// unless an entry starts a term or a truncation cuts one.
bool TermStarts::Observe(const std::optional<uint64_t>& truncate_from,
                         const std::vector<Entry>& append) {
  bool changed = truncate_from && CutFrom(*truncate_from);
  for (const Entry& e : append) {
    if (!starts_.empty() && starts_.back().second == e.term && starts_.back().first < e.index)
      continue;  // the common case: the same term goes on
    changed = Add(e.index, e.term) || changed;
  }
  return changed;
}

bool TermStarts::ObservePosition(const LogPosition& at) {
  if (at.index == 0 || TermAt(at.index) == at.term) return false;
  // Disagrees (or unknown): only what is known now holds.
  starts_.assign(1, {at.index, at.term});
  return true;
}

std::optional<uint64_t> TermStarts::TermAt(uint64_t index) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), index,
                             [](uint64_t i, const auto& s) { return i < s.first; });
  if (it == starts_.begin()) return std::nullopt;
  return std::prev(it)->second;
}

std::string TermStarts::Encode() const {
  std::string out;
  PutVarint64(&out, starts_.size());
  for (const auto& [index, term] : starts_) {
    PutVarint64(&out, index);
    PutVarint64(&out, term);
  }
  return out;
}

bool TermStarts::Decode(std::string_view in, TermStarts* out) {
  uint64_t n = 0;
  if (!GetVarint64(&in, &n) || n > kMax) return false;
  std::vector<std::pair<uint64_t, uint64_t>> starts;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t index = 0, term = 0;
    if (!GetVarint64(&in, &index) || !GetVarint64(&in, &term)) return false;
    if (!starts.empty() && (index <= starts.back().first || term <= starts.back().second))
      return false;
    starts.emplace_back(index, term);
  }
  if (!in.empty()) return false;
  out->starts_ = std::move(starts);
  return true;
}

Status LoadCoreState(Engine* engine, CoreRecovery* out) {
  std::string v;
  Status s = engine->Get(Cf::kMeta, kHardStateKey, &v);
  if (s.ok()) {
    std::string_view in = v;
    if (!GetFixed64BE(&in, &out->hard_state.term) || !GetFixed64BE(&in, &out->hard_state.vote))
      return Status::Corruption("hard state record is truncated");
  } else if (s.code() != Code::kNotFound) {
    return s;
  }
  out->log.clear();
  auto it = engine->NewIterator(Cf::kLog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("log key of wrong size");
    uint64_t index = DecodeFixed64BE(it->key().data());
    Entry e;
    if (!DecodeLogRecord(index, it->value(), &e))
      return Status::Corruption("log record " + std::to_string(index) + " is malformed");
    if (!out->log.empty() && index != out->log.back().index + 1)
      return Status::Corruption("log has a gap before index " + std::to_string(index));
    out->log.push_back(std::move(e));
  }
  return it->status();
}

}  // namespace rkv
