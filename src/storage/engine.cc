#include "storage/engine.h"

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

void WriteBatch::Put(Cf cf, std::string_view key, std::string_view value) {
  ops_.push_back({WriteOp::Kind::kPut, cf, std::string(key), std::string(value)});
  bytes_ += key.size() + value.size() + 8;
}

void WriteBatch::Delete(Cf cf, std::string_view key) {
  ops_.push_back({WriteOp::Kind::kDelete, cf, std::string(key), {}});
  bytes_ += key.size() + 8;
}

void WriteBatch::DeleteRange(Cf cf, std::string_view begin, std::string_view end) {
  ops_.push_back({WriteOp::Kind::kDeleteRange, cf, std::string(begin), std::string(end)});
  bytes_ += begin.size() + end.size() + 8;
}

void WriteBatch::Append(WriteBatch&& other) {
  if (ops_.empty()) {
    ops_ = std::move(other.ops_);
  } else {
    // No exact reserve here: group commit appends thousands of small batches,
    // and an exact reserve each time would make the merge quadratic.
    for (auto& op : other.ops_) ops_.push_back(std::move(op));
  }
  bytes_ += other.bytes_;
  other.Clear();
}

}  // namespace rkv
