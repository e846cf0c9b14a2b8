#include "check/session_model.h"

#include <algorithm>
#include <charconv>

#include "core/encoding.h"

namespace rkv::sess {

namespace {

// Values in reports are cut to this many bytes.
constexpr size_t kShownValueBytes = 60;

std::string LinePrefix(uint64_t line) { return "line " + std::to_string(line) + ": "; }

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool ParsePos(std::string_view s, Pos* out) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos) return false;
  std::optional<int64_t> t = ParseInt(s.substr(0, dot)), i = ParseInt(s.substr(dot + 1));
  if (!t || !i || *t < 0 || *i < 0) return false;
  *out = Pos{static_cast<uint64_t>(*t), static_cast<uint64_t>(*i), true};
  return true;
}

bool IsSpacedToken(const std::string& t) {
  return t.size() > 1 && t[0] == ' ' && t.find(' ', 1) == std::string::npos;
}

// Whole-token occurrences: " x1" is not found inside " x12".
size_t FindToken(const std::string& s, const std::string& token, size_t from) {
  for (size_t p = s.find(token, from); p != std::string::npos; p = s.find(token, p + 1)) {
    size_t end = p + token.size();
    if (end == s.size() || s[end] == ' ') return p;
  }
  return std::string::npos;
}

void Remember(std::unordered_map<std::string, uint32_t>* m, const std::string& v, uint32_t op) {
  auto [it, inserted] = m->try_emplace(v, op);
  if (!inserted) it->second = kAmbiguous;
}

}  // namespace

std::string PosString(const Pos& p) {
  return p.known ? std::to_string(p.term) + "." + std::to_string(p.index) : "?";
}

Status Model::Build(const History& h) {
  uint64_t last_time = 0, last_time_line = 0;
  for (size_t i = 0; i < h.events.size(); ++i) {
    const Event& e = h.events[i];
    uint64_t line = h.lines.size() == h.events.size() ? h.lines[i] : i + 1;
    if (e.type == EventType::kRollback) {
      rolled_back_at_.insert({e.term, e.index});
      RolledBackWrites& w = rolled_back_[e.key];
      w.positions.push_back({e.term, e.index});
      // The command's arguments name the write exactly; the value is what the
      // write left, which for an append holds earlier tokens too.
      if (e.command.size() >= 3)
        w.arguments.insert(w.arguments.end(), e.command.begin() + 2, e.command.end());
      else if (e.value)
        w.values.push_back(*e.value);
      continue;
    }
    if (e.type == EventType::kFinal) continue;
    if (e.time < last_time)
      return Status::Invalid(LinePrefix(line) + "time " + std::to_string(e.time) +
                             " is before line " + std::to_string(last_time_line) + "'s " +
                             std::to_string(last_time) + " (events must be in time order)");
    last_time = e.time;
    last_time_line = line;
    Status s = e.type == EventType::kInvoke ? Invoke(e, i, line) : Complete(e, i, line);
    if (!s.ok()) return s;
  }
  open_.clear();  // still open: unknown, as info
  Index();
  return Status::Ok();
}

Status Model::Invoke(const Event& e, uint64_t position, uint64_t line) {
  if (auto open = open_.find(e.client); open != open_.end())
    return Status::Invalid(LinePrefix(line) + "client " + std::to_string(e.client) +
                           " invokes again while its operation from line " +
                           std::to_string(ops_[open->second].call_line) + " is open");
  if (e.op == OpType::kNone) return Status::Invalid(LinePrefix(line) + "an invoke needs an op");
  if (e.op != OpType::kRead && !e.value && !(e.op == OpType::kCas && e.value2))
    return Status::Invalid(LinePrefix(line) + std::string(OpTypeName(e.op)) + " needs a value");
  auto [kit, new_key] = key_ids_.try_emplace(e.key, static_cast<uint32_t>(keys_.size()));
  if (new_key) {
    keys_.emplace_back();
    keys_.back().name = e.key;
  }
  auto& sessions = e.session ? named_sessions_ : client_sessions_;
  uint64_t sid = e.session ? *e.session : e.client;
  auto [sit, new_session] = sessions.try_emplace(sid, static_cast<uint32_t>(session_names_.size()));
  if (new_session)
    session_names_.push_back((e.session ? "session " : "client ") + std::to_string(sid));
  Op op;
  op.type = e.op;
  op.key = kit->second;
  op.session = sit->second;
  op.client = e.client;
  op.node = e.node;
  op.value = e.op == OpType::kRead ? std::nullopt : e.value;
  op.value2 = e.value2;
  op.call = position;
  op.call_time = e.time;
  op.call_line = line;
  open_[e.client] = static_cast<uint32_t>(ops_.size());
  steps_.push_back({static_cast<uint32_t>(ops_.size()), false});
  ops_.push_back(std::move(op));
  return Status::Ok();
}

Status Model::Complete(const Event& e, uint64_t position, uint64_t line) {
  auto open = open_.find(e.client);
  if (open == open_.end())
    return Status::Invalid(LinePrefix(line) + "client " + std::to_string(e.client) + " reports " +
                           std::string(EventTypeName(e.type)) +
                           " for an operation it never invoked");
  Op& op = ops_[open->second];
  if (op.type != e.op || keys_[op.key].name != e.key)
    return Status::Invalid(LinePrefix(line) + "client " + std::to_string(e.client) + " completes " +
                           std::string(OpTypeName(e.op)) + " on '" + e.key + "' but invoked " +
                           std::string(OpTypeName(op.type)) + " on '" + keys_[op.key].name +
                           "' (line " + std::to_string(op.call_line) + ")");
  steps_.push_back({open->second, true});
  open_.erase(open);
  op.ret = position;
  op.ret_time = e.time;
  op.ret_line = line;
  if (e.node) op.node = e.node;
  op.outcome = e.type == EventType::kOk     ? Outcome::kOk
               : e.type == EventType::kFail ? Outcome::kFail
                                            : Outcome::kInfo;
  if (op.ok()) {
    if (!e.version.empty()) ParsePos(e.version, &op.pos);
    if (op.type == OpType::kRead) op.value = e.value;
    if (op.type == OpType::kIncr) op.result = e.result;
  }
  if (!op.ok()) op.ret = op.outcome == Outcome::kFail ? position : kNever;
  return Status::Ok();
}

// Which write each value names, what kind each key is, writes by position.
void Model::Index() {
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    const Op& o = ops_[i];
    if (!o.IsWrite()) continue;
    Key& k = keys_[o.key];
    k.has_writes = true;
    k.append_only = k.append_only && o.type == OpType::kAppend;
    std::optional<int64_t> delta = o.type == OpType::kIncr && o.value ? ParseInt(*o.value) : 0;
    k.counter_only = k.counter_only && o.type == OpType::kIncr && delta && *delta > 0;
    if (o.type == OpType::kWrite && o.value) Remember(&k.writer, *o.value, i);
    if (o.type == OpType::kCas && o.value2) Remember(&k.writer, *o.value2, i);
    if (o.type == OpType::kAppend && o.value) {
      Remember(&k.appender, *o.value, i);
      k.spaced = k.spaced && IsSpacedToken(*o.value);
    }
    if (o.pos.known) k.by_pos.push_back(i);
  }
  for (Key& k : keys_)
    std::sort(k.by_pos.begin(), k.by_pos.end(),
              [this](uint32_t a, uint32_t b) { return Before(ops_[a].pos, ops_[b].pos); });
}

View Model::Observe(uint32_t read) const {
  const Op& r = ops_[read];
  const Key& k = keys_[r.key];
  View v;
  if (!r.value) {
    v.absent = true;
    return v;
  }
  const std::string& s = *r.value;
  if (auto it = k.writer.find(s); it != k.writer.end() && it->second != kAmbiguous)
    v.writer = it->second;
  if (k.counter_only && k.has_writes) v.number = ParseInt(s);
  if (!k.append_only || k.appender.empty()) return v;
  auto hold = [&](uint32_t a, size_t at) {
    if (a == kAmbiguous || !v.token_set.insert(a).second) return;  // first occurrences only
    v.tokens.push_back(a);
    v.token_at.push_back(at);
  };
  if (k.spaced) {
    // Each token is a space and what follows up to the next space.
    for (size_t p = s.find(' '); p != std::string::npos;) {
      size_t next = s.find(' ', p + 1);
      auto it = k.appender.find(s.substr(p, next == std::string::npos ? next : next - p));
      if (it != k.appender.end()) hold(it->second, p);
      p = next;
    }
  } else {
    std::vector<std::pair<size_t, uint32_t>> found;
    for (const auto& [token, a] : k.appender)
      if (size_t p = FindToken(s, token, 0); p != std::string::npos) found.push_back({p, a});
    std::sort(found.begin(), found.end());
    for (const auto& [p, a] : found) hold(a, p);
  }
  return v;
}

bool Model::RolledBack(uint32_t w) const {
  const Op& o = ops_[w];
  if (o.pos.known) return rolled_back_at_.count({o.pos.term, o.pos.index}) > 0;
  auto it = rolled_back_.find(keys_[o.key].name);
  if (it == rolled_back_.end() || !o.value) return false;
  if (o.type != OpType::kAppend && o.type != OpType::kWrite) return false;
  const RolledBackWrites& r = it->second;
  if (std::find(r.arguments.begin(), r.arguments.end(), *o.value) != r.arguments.end()) return true;
  for (const std::string& v : r.values)
    if (o.type == OpType::kAppend ? FindToken(v, *o.value, 0) != std::string::npos : v == *o.value)
      return true;
  return false;
}

bool Model::HeldRolledBack(uint32_t read) const {
  const Op& o = ops_[read];
  if (!o.pos.known) return false;
  auto it = rolled_back_.find(keys_[o.key].name);
  if (it == rolled_back_.end()) return false;
  for (const auto& [term, index] : it->second.positions)
    if (term == o.pos.term && index <= o.pos.index) return true;
  return false;
}

bool Model::HeldOwnLaterRolledBackWrite(uint32_t read, uint32_t missed) const {
  const Op& r = ops_[read];
  const Op& m = ops_[missed];
  if (!r.pos.known || m.ret == kNever) return false;
  // Linear in the history, but only for the few reads that broke a promise.
  for (uint32_t w = 0; w < ops_.size(); ++w) {
    const Op& o = ops_[w];
    if (o.session != r.session || o.type == OpType::kRead || !o.ok() || !o.pos.known ||
        o.call < m.ret || o.ret >= r.call)
      continue;
    if (o.pos.term == r.pos.term && o.pos.index <= r.pos.index && RolledBack(w)) return true;
  }
  return false;
}

bool Model::Precedes(uint32_t a, uint32_t b) const {
  if (a == b) return false;
  const Op& x = ops_[a];
  const Op& y = ops_[b];
  return Before(x.pos, y.pos) || (x.ok() && x.ret < y.call);
}

std::string Model::Quote(const std::optional<std::string>& v) const {
  if (!v) return "null";
  if (v->size() <= kShownValueBytes) return JsonQuote(*v);
  size_t half = kShownValueBytes / 2;
  return JsonQuote(v->substr(0, half)) + "…(" + std::to_string(v->size()) + " bytes)…" +
         JsonQuote(v->substr(v->size() - half));
}

std::string Model::Line(uint32_t i) const {
  const Op& o = ops_[i];
  std::string what;
  switch (o.type) {
    case OpType::kRead:
      what = "read " + keys_[o.key].name + " -> " + Quote(o.value);
      break;
    case OpType::kWrite:
      what = "write " + keys_[o.key].name + " " + Quote(o.value);
      break;
    case OpType::kAppend:
      what = "append " + keys_[o.key].name + " " + Quote(o.value);
      break;
    case OpType::kCas:
      what = "cas " + keys_[o.key].name + " " + Quote(o.value) + " -> " + Quote(o.value2);
      break;
    case OpType::kIncr:
      what = "incr " + keys_[o.key].name + " " + (o.value ? *o.value : "?") +
             (o.result ? " -> " + std::to_string(*o.result) : "");
      break;
    case OpType::kNone:
      what = "?";
  }
  std::string line = "    " + what;
  if (line.size() < 38) line.resize(38, ' ');
  line += "  " + session_names_[o.session];
  if (session_names_[o.session] != "client " + std::to_string(o.client))
    line += " client " + std::to_string(o.client);
  line += " node " + std::to_string(o.node) + ", invoked t=" + std::to_string(o.call_time) +
          " (line " + std::to_string(o.call_line) + "), ";
  if (o.ret_line == 0) return line + "never completed";
  line += std::string(o.ok()                        ? "ok"
                      : o.outcome == Outcome::kFail ? "fail"
                                                    : "info") +
          " t=" + std::to_string(o.ret_time) + " (line " + std::to_string(o.ret_line) + ")";
  if (o.pos.known) line += ", version " + PosString(o.pos);
  return line;
}

}  // namespace rkv::sess
