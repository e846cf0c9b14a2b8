#include "storage/engine.h"

#include <cstring>

namespace rkv {

std::string_view CfName(Cf cf) {
  switch (cf) {
    case Cf::kMeta:
      return "meta";
    case Cf::kLog:
      return "log";
    case Cf::kData:
      return "data";
    case Cf::kUndo:
      return "undo";
    case Cf::kHints:
      return "hints";
    case Cf::kFeed:
      return "feed";
  }
  return "unknown";
}

namespace {
constexpr size_t kOpHeader = 10;  // kind, cf, key size (4), value size (4)

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
}  // namespace

void WriteBatch::Add(WriteOp::Kind kind, Cf cf, std::string_view key, std::string_view value) {
  size_t at = rep_.size();
  rep_.resize(at + kOpHeader + key.size() + value.size());
  char* p = rep_.data() + at;
  p[0] = static_cast<char>(kind);
  p[1] = static_cast<char>(cf);
  PutU32(p + 2, static_cast<uint32_t>(key.size()));
  PutU32(p + 6, static_cast<uint32_t>(value.size()));
  if (!key.empty()) std::memcpy(p + kOpHeader, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + kOpHeader + key.size(), value.data(), value.size());
  ++count_;
}

bool WriteBatch::Next(size_t* at, WriteOp* op) const {
  if (*at + kOpHeader > rep_.size()) return false;
  const char* p = rep_.data() + *at;
  uint32_t klen = GetU32(p + 2), vlen = GetU32(p + 6);
  op->kind = static_cast<WriteOp::Kind>(p[0]);
  op->cf = static_cast<Cf>(p[1]);
  op->key = std::string_view(p + kOpHeader, klen);
  op->value = std::string_view(p + kOpHeader + klen, vlen);
  *at += kOpHeader + klen + vlen;
  return true;
}

void WriteBatch::Append(WriteBatch&& other) {
  if (rep_.empty()) {
    rep_.swap(other.rep_);
    count_ = other.count_;
  } else {
    rep_.append(other.rep_);  // amortized: the buffer grows geometrically
    count_ += other.count_;
  }
  other.Clear();
}

}  // namespace rkv
