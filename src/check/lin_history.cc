#include "check/lin_history.h"

#include <algorithm>
#include <charconv>

namespace rkv::lin {

namespace {

std::string Line(uint64_t line) { return "line " + std::to_string(line) + ": "; }

std::optional<int64_t> ParseDelta(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Status HistoryBuilder::Add(const EventView& e) {
  ++counts_.events;
  if (e.type == EventType::kFinal || e.type == EventType::kRollback) return Status::Ok();
  // The real-time order is the order of the lines; a time that goes back
  // means the file is not in that order, and the check would judge a
  // different history than the one recorded.
  if (e.time < last_time_)
    return Status::Invalid(Line(e.line) + "time " + std::to_string(e.time) + " is before line " +
                           std::to_string(last_time_line_) + "'s " + std::to_string(last_time_) +
                           " (events must be in time order)");
  last_time_ = e.time;
  last_time_line_ = e.line;
  return e.type == EventType::kInvoke ? Invoke(e) : Complete(e);
}

Status HistoryBuilder::Invoke(const EventView& e) {
  auto open = open_.find(e.client);
  if (open != open_.end())
    return Status::Invalid(
        Line(e.line) + "client " + std::to_string(e.client) +
        " invokes again while its operation from line " +
        std::to_string(keys_[open->second.key].history->ops[open->second.op].call_line) +
        " is open");
  auto [it, inserted] = key_index_.try_emplace(std::string(e.key), keys_.size());
  if (inserted) {
    keys_.emplace_back();
    keys_.back().history = std::make_unique<KeyHistory>();
    keys_.back().history->key = std::string(e.key);
  }
  KeyHistory& k = *keys_[it->second].history;
  Op op;
  op.type = e.op;
  op.call = position_++;
  op.call_time = e.time;
  op.client = e.client;
  op.node = e.node;
  op.call_line = e.line;
  auto need_value = [&](const char* what) {
    return Status::Invalid(Line(e.line) + std::string(OpTypeName(e.op)) + " needs " + what);
  };
  switch (e.op) {
    case OpType::kRead:
      break;
    case OpType::kWrite:
      if (!e.value) return need_value("a value");
      op.a = k.values.FromString(*e.value);
      break;
    case OpType::kCas:
      if (!e.value2) return need_value("[expected, new] with a new value that is not null");
      op.a = e.value ? k.values.FromString(*e.value) : ValueTable::kAbsent;
      op.b = k.values.FromString(*e.value2);
      break;
    case OpType::kAppend:
      if (!e.value) return need_value("a value");
      op.piece = static_cast<uint32_t>(k.piece_at.size());
      k.piece_at.push_back(k.piece_bytes.size());
      k.piece_bytes.append(*e.value);
      k.pieces.push_back(MakePiece(*e.value));  // bytes re-pointed in Finish
      break;
    case OpType::kIncr: {
      std::optional<int64_t> d = e.value ? ParseDelta(*e.value) : std::nullopt;
      if (!d) return need_value("an integer delta");
      op.delta = *d;
      break;
    }
    case OpType::kNone:
      return Status::Invalid(Line(e.line) + "an invoke needs an op");
  }
  open_[e.client] = Open{it->second, static_cast<uint32_t>(k.ops.size())};
  k.ops.push_back(std::move(op));
  ++counts_.ops;
  return Status::Ok();
}

uint32_t HistoryBuilder::InternRead(KeyState& ks, std::string_view s) {
  uint32_t id = ks.history->values.FromStringWithHint(s, ks.last_read, ks.last_read_bytes);
  // Reads of an appended-to key mostly extend the previous one: copy only what is new.
  if (s.size() >= ks.last_read_bytes.size() &&
      s.compare(0, ks.last_read_bytes.size(), ks.last_read_bytes) == 0)
    ks.last_read_bytes.append(s.substr(ks.last_read_bytes.size()));
  else
    ks.last_read_bytes.assign(s);
  ks.last_read = id;
  return id;
}

Status HistoryBuilder::Complete(const EventView& e) {
  auto open = open_.find(e.client);
  if (open == open_.end())
    return Status::Invalid(Line(e.line) + "client " + std::to_string(e.client) + " reports " +
                           std::string(EventTypeName(e.type)) +
                           " for an operation it never invoked");
  KeyState& ks = keys_[open->second.key];
  Op& op = ks.history->ops[open->second.op];
  if (op.type != e.op || ks.history->key != e.key)
    return Status::Invalid(Line(e.line) + "client " + std::to_string(e.client) + " completes " +
                           std::string(OpTypeName(e.op)) + " on '" + std::string(e.key) +
                           "' but invoked " + std::string(OpTypeName(op.type)) + " on '" +
                           ks.history->key + "' (line " + std::to_string(op.call_line) + ")");
  open_.erase(open);
  op.ret_time = e.time;
  op.ret_line = e.line;
  op.version = std::string(e.version);
  if (e.node) op.node = e.node;
  uint64_t position = position_++;
  if (e.type == EventType::kOk) {
    ++counts_.ok;
    op.ret = position;
    if (op.type == OpType::kRead) op.a = e.value ? InternRead(ks, *e.value) : ValueTable::kAbsent;
    if (op.type == OpType::kIncr && e.result) {
      op.has_result = true;
      op.result = *e.result;
      op.b = ks.history->values.FromString(std::to_string(*e.result));
    }
  } else if (e.type == EventType::kFail) {
    ++counts_.fail;
    if (op.type == OpType::kCas) {
      op.outcome = Outcome::kCasFailed;
      op.ret = position;
    } else {
      op.dropped = true;  // certainly not applied: it never happened
      ++ks.history->failed_dropped;
    }
  } else {
    ++counts_.info;
    op.outcome = Outcome::kInfo;
    if (op.type == OpType::kRead) {
      op.dropped = true;  // an unknown read says nothing
      ++ks.history->info_reads_dropped;
    }
  }
  return Status::Ok();
}

std::vector<std::unique_ptr<KeyHistory>> HistoryBuilder::Finish() {
  for (auto& [client, open] : open_) {
    Op& op = keys_[open.key].history->ops[open.op];
    op.outcome = Outcome::kInfo;
    if (op.type == OpType::kRead) op.dropped = true;
    ++counts_.open_at_end;
  }
  open_.clear();
  std::vector<std::unique_ptr<KeyHistory>> out;
  for (KeyState& ks : keys_) {
    KeyHistory& k = *ks.history;
    for (size_t i = 0; i < k.pieces.size(); ++i) {
      size_t end = i + 1 < k.piece_at.size() ? k.piece_at[i + 1] : k.piece_bytes.size();
      k.pieces[i].bytes =
          std::string_view(k.piece_bytes).substr(k.piece_at[i], end - k.piece_at[i]);
    }
    std::erase_if(k.ops, [](const Op& op) { return op.dropped; });
    out.push_back(std::move(ks.history));
  }
  keys_.clear();
  key_index_.clear();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->key < b->key; });
  return out;
}

}  // namespace rkv::lin
