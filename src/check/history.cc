#include "check/history.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "check/history_stream.h"
#include "core/encoding.h"

namespace rkv {

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kInvoke:
      return "invoke";
    case EventType::kOk:
      return "ok";
    case EventType::kFail:
      return "fail";
    case EventType::kInfo:
      return "info";
    case EventType::kFinal:
      return "final";
    case EventType::kRollback:
      return "rollback";
  }
  return "?";
}

std::string_view OpTypeName(OpType t) {
  switch (t) {
    case OpType::kRead:
      return "read";
    case OpType::kWrite:
      return "write";
    case OpType::kCas:
      return "cas";
    case OpType::kAppend:
      return "append";
    case OpType::kIncr:
      return "incr";
    case OpType::kNone:
      return "";
  }
  return "?";
}

namespace {

namespace dom = simdjson::dom;

// Bytes read per block when streaming a file; a longer line grows the buffer.
constexpr size_t kReadBlockBytes = 16u << 20;
static_assert(EventLineParser::kPadding >= simdjson::SIMDJSON_PADDING);

}  // namespace

struct EventLineParser::Impl {
  // The DOM parser picks the best kernel for the CPU at run time (the
  // on-demand API would be fixed at compile time to the baseline's).
  dom::parser parser;
  // Numbers (value, value2, key) as strings need storage the views can borrow.
  std::string scratch[3];
};

EventLineParser::EventLineParser() : impl_(std::make_unique<Impl>()) {}
EventLineParser::~EventLineParser() = default;

namespace {

std::string NumberText(dom::element v) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  if (!v.get_int64().get(i)) return std::to_string(i);
  if (!v.get_uint64().get(u)) return std::to_string(u);
  if (v.get_double().get(d)) return {};
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, ec == std::errc() ? p : buf);
}

// A scalar as the string it compares as: null -> nullopt, a number as its
// decimal string, a string as is. False for anything else.
bool ScalarString(dom::element v, std::string* scratch, std::optional<std::string_view>* out) {
  switch (v.type()) {
    case dom::element_type::NULL_VALUE:
      *out = std::nullopt;
      return true;
    case dom::element_type::STRING: {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      *out = s;
      return true;
    }
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      *scratch = NumberText(v);
      *out = *scratch;
      return true;
    default:
      return false;
  }
}

bool Unsigned(dom::element v, uint64_t* out) { return !v.get_uint64().get(*out); }

// The fields of one object, before they are checked against each other.
struct RawFields {
  std::string_view type, op;
  bool has_client = false, client_ok = false, has_time = false, time_ok = false;
  bool has_value = false, value_ok = false, value_is_array = false;
  size_t value_items = 0;
  bool key_ok = true;
};

void ReadValue(dom::element v, std::string* scratch, RawFields* f, EventView* e) {
  f->has_value = true;
  dom::array a;
  if (v.get_array().get(a)) {
    f->value_ok = ScalarString(v, &scratch[0], &e->value);
    return;
  }
  f->value_is_array = true;
  f->value_ok = true;
  for (dom::element item : a) {
    std::optional<std::string_view> s;
    if (!ScalarString(item, &scratch[f->value_items < 2 ? f->value_items : 1], &s))
      f->value_ok = false;
    if (f->value_items == 0) e->value = s;
    if (f->value_items == 1) e->value2 = s;
    ++f->value_items;
  }
}

void ReadField(std::string_view k, dom::element v, std::string* scratch, RawFields* f,
               EventView* e) {
  if (k == "type") {
    if (v.get_string().get(f->type)) f->type = "<not a string>";
  } else if (k == "op") {
    if (v.get_string().get(f->op)) f->op = "<not a string>";
  } else if (k == "key") {
    std::optional<std::string_view> s;
    f->key_ok = (v.is_string() || v.is_number()) && ScalarString(v, &scratch[2], &s) && s;
    if (f->key_ok) e->key = *s;
  } else if (k == "client") {
    f->has_client = true;
    f->client_ok = Unsigned(v, &e->client);
  } else if (k == "time") {
    f->has_time = true;
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    f->time_ok = true;
    if (!v.get_uint64().get(u))
      e->time = u;
    else if (!v.get_int64().get(i))
      e->time = static_cast<uint64_t>(i);
    else if (!v.get_double().get(d))
      e->time = static_cast<uint64_t>(d);
    else
      f->time_ok = false;
  } else if (k == "value") {
    ReadValue(v, scratch, f, e);
  } else if (k == "result") {
    int64_t i = 0;
    if (!v.get_int64().get(i)) e->result = i;
  } else if (k == "version") {
    std::string_view s;
    if (!v.get_string().get(s)) e->version = s;
  } else if (k == "session") {
    uint64_t s = 0;
    if (Unsigned(v, &s)) e->session = s;
  } else if (k == "node") {
    Unsigned(v, &e->node);
  } else if (k == "term") {
    Unsigned(v, &e->term);
  } else if (k == "index") {
    Unsigned(v, &e->index);
  } else if (k == "command") {
    dom::array a;
    if (!v.get_array().get(a))
      for (dom::element item : a) {
        std::string_view s;
        if (!item.get_string().get(s)) e->command.push_back(s);
      }
  }
}

bool ParseEventType(std::string_view s, EventType* t) {
  static constexpr std::pair<std::string_view, EventType> kTypes[] = {
      {"invoke", EventType::kInvoke}, {"ok", EventType::kOk},
      {"fail", EventType::kFail},     {"info", EventType::kInfo},
      {"final", EventType::kFinal},   {"rollback", EventType::kRollback}};
  for (const auto& [name, type] : kTypes)
    if (s == name) {
      *t = type;
      return true;
    }
  return false;
}

bool ParseOpType(std::string_view s, OpType* t) {
  static constexpr std::pair<std::string_view, OpType> kOps[] = {{"read", OpType::kRead},
                                                                 {"write", OpType::kWrite},
                                                                 {"cas", OpType::kCas},
                                                                 {"append", OpType::kAppend},
                                                                 {"incr", OpType::kIncr}};
  for (const auto& [name, op] : kOps)
    if (s == name) {
      *t = op;
      return true;
    }
  return false;
}

// Checks the fields against each other, in the order the messages promise.
Status Validate(const RawFields& f, EventView* e) {
  if (!ParseEventType(f.type, &e->type))
    return Status::Invalid("unknown type '" + std::string(f.type) + "'");
  if (!f.key_ok) return Status::Invalid("key must be a string");
  if (e->type == EventType::kFinal || e->type == EventType::kRollback) {
    if (f.has_value && (!f.value_ok || f.value_is_array))
      return Status::Invalid("value must be a string, a number or null");
    return Status::Ok();
  }
  if (!f.has_client || !f.client_ok)
    return Status::Invalid("client must be a non-negative integer");
  if (!f.has_time || !f.time_ok) return Status::Invalid("time must be a number");
  if (!ParseOpType(f.op, &e->op)) return Status::Invalid("unknown op '" + std::string(f.op) + "'");
  if (f.has_value) {
    if (e->op == OpType::kCas) {
      if (!f.value_is_array || f.value_items != 2 || !f.value_ok)
        return Status::Invalid("cas value must be [expected, new]");
    } else if (f.value_is_array || !f.value_ok) {
      return Status::Invalid("value must be a string, a number or null");
    }
  }
  return Status::Ok();
}

}  // namespace

Status EventLineParser::Parse(std::string_view line, size_t capacity, uint64_t lineno,
                              EventView* e) {
  auto where = [lineno](const std::string& what) {
    return Status::Invalid("line " + std::to_string(lineno) + ": " + what);
  };
  (void)capacity;  // the caller guarantees kPadding bytes after the line
  e->type = EventType::kInvoke;
  e->op = OpType::kNone;
  e->client = e->time = e->node = e->term = e->index = 0;
  e->key = e->version = {};
  e->value = e->value2 = std::nullopt;
  e->result = std::nullopt;
  e->session = std::nullopt;
  e->command.clear();
  e->line = lineno;
  dom::element doc;
  dom::object obj;
  if (impl_->parser.parse(line.data(), line.size(), false).get(doc) || doc.get_object().get(obj))
    return where("not a JSON object");
  RawFields f;
  for (dom::key_value_pair field : obj) ReadField(field.key, field.value, impl_->scratch, &f, e);
  Status s = Validate(f, e);
  if (!s.ok()) return where(s.message());
  return Status::Ok();
}

namespace {

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Event ToEvent(const EventView& v) {
  Event e;
  e.type = v.type;
  e.op = v.op;
  e.client = v.client;
  e.key = std::string(v.key);
  if (v.value) e.value = std::string(*v.value);
  if (v.value2) e.value2 = std::string(*v.value2);
  e.result = v.result;
  e.time = v.time;
  e.node = v.node;
  e.version = std::string(v.version);
  e.session = v.session;
  e.term = v.term;
  e.index = v.index;
  for (std::string_view c : v.command) e.command.emplace_back(c);
  return e;
}

}  // namespace

Status StreamHistoryText(std::string_view text, const std::function<Status(const EventView&)>& fn) {
  EventLineParser parser;
  EventView view;
  std::string padded;
  uint64_t lineno = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++lineno;
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (Blank(line)) continue;
    padded.assign(line);
    padded.resize(line.size() + EventLineParser::kPadding);
    RKV_RETURN_IF_ERROR(
        parser.Parse(std::string_view(padded.data(), line.size()), padded.size(), lineno, &view));
    RKV_RETURN_IF_ERROR(fn(view));
  }
  return Status::Ok();
}

namespace {

// Reads and parses the file on the calling thread, calling `fn` per event.
Status ParseFile(const std::string& path, const std::function<Status(const EventView&)>& fn) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IoError("cannot read " + path);
  EventLineParser parser;
  EventView view;
  std::vector<char> buf(kReadBlockBytes + EventLineParser::kPadding);
  size_t have = 0;  // bytes of buf holding file data
  uint64_t lineno = 0;
  bool eof = false;
  Status status;
  while (status.ok()) {
    if (!eof) {
      if (buf.size() - have < kReadBlockBytes / 2 + EventLineParser::kPadding)
        buf.resize(buf.size() * 2);
      size_t n = std::fread(buf.data() + have, 1, buf.size() - have - EventLineParser::kPadding, f);
      have += n;
      if (n == 0) eof = true;
    }
    std::memset(buf.data() + have, ' ', EventLineParser::kPadding);
    size_t start = 0;
    while (status.ok()) {
      const char* nl =
          static_cast<const char*>(std::memchr(buf.data() + start, '\n', have - start));
      if (!nl && !eof) break;  // a partial line: read more first
      size_t end = nl ? static_cast<size_t>(nl - buf.data()) : have;
      if (start >= have) break;
      ++lineno;
      std::string_view line(buf.data() + start, end - start);
      size_t capacity = have + EventLineParser::kPadding - start;
      start = end + 1;
      if (Blank(line)) continue;
      status = parser.Parse(line, capacity, lineno, &view);
      if (status.ok()) status = fn(view);
    }
    if (eof) break;
    start = std::min(start, have);
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
  }
  bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (status.ok() && read_error) return Status::IoError("error reading " + path);
  return status;
}

// Events parsed by one thread and handed to another: the views' bytes copied
// into one arena per batch (offsets, since the arena grows while it fills).
struct Packed {
  EventView v;  // string views empty; the offsets below say where they are
  uint64_t key_at = 0, value_at = 0, value2_at = 0, version_at = 0, command_at = 0;
  uint32_t key_len = 0, value_len = 0, value2_len = 0, version_len = 0, commands = 0;
};
struct Batch {
  std::vector<Packed> events;
  std::string arena;
  std::vector<std::pair<uint64_t, uint32_t>> command_parts;
  Status status;  // set on the last batch
  bool last = false;
};
// A batch is handed over at this size; at most kPipelineBatches wait, so the
// memory stays bounded however large the file.
constexpr size_t kBatchBytes = 4u << 20;
constexpr size_t kBatchEvents = 8192;
constexpr size_t kPipelineBatches = 4;

uint64_t Put(std::string* arena, std::string_view s) {
  uint64_t at = arena->size();
  arena->append(s);
  return at;
}

void Pack(const EventView& v, Batch* b) {
  Packed p;
  p.v.type = v.type;
  p.v.op = v.op;
  p.v.client = v.client;
  p.v.result = v.result;
  p.v.time = v.time;
  p.v.node = v.node;
  p.v.session = v.session;
  p.v.term = v.term;
  p.v.index = v.index;
  p.v.line = v.line;
  p.key_at = Put(&b->arena, v.key);
  p.key_len = static_cast<uint32_t>(v.key.size());
  if (v.value) {
    p.v.value = std::string_view();
    p.value_at = Put(&b->arena, *v.value);
    p.value_len = static_cast<uint32_t>(v.value->size());
  }
  if (v.value2) {
    p.v.value2 = std::string_view();
    p.value2_at = Put(&b->arena, *v.value2);
    p.value2_len = static_cast<uint32_t>(v.value2->size());
  }
  p.version_at = Put(&b->arena, v.version);
  p.version_len = static_cast<uint32_t>(v.version.size());
  p.command_at = b->command_parts.size();
  p.commands = static_cast<uint32_t>(v.command.size());
  for (std::string_view c : v.command)
    b->command_parts.push_back({Put(&b->arena, c), static_cast<uint32_t>(c.size())});
  b->events.push_back(std::move(p));
}

void Unpack(const Batch& b, const Packed& p, EventView* v) {
  std::string_view a(b.arena);
  std::vector<std::string_view> command = std::move(v->command);
  *v = p.v;
  v->key = a.substr(p.key_at, p.key_len);
  if (p.v.value) v->value = a.substr(p.value_at, p.value_len);
  if (p.v.value2) v->value2 = a.substr(p.value2_at, p.value2_len);
  v->version = a.substr(p.version_at, p.version_len);
  command.clear();
  for (uint32_t i = 0; i < p.commands; ++i) {
    auto [at, len] = b.command_parts[p.command_at + i];
    command.push_back(a.substr(at, len));
  }
  v->command = std::move(command);
}

// A bounded queue of batches between the parsing thread and the caller's.
class BatchQueue {
 public:
  // False when the consumer has stopped (no one will take it).
  bool Push(Batch b) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return q_.size() < kPipelineBatches || stopped_; });
    if (stopped_) return false;
    q_.push_back(std::move(b));
    cv_.notify_all();
    return true;
  }
  Batch Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty(); });
    Batch b = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return b;
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> l(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> q_;
  bool stopped_ = false;
};

}  // namespace

// Parsing (simdjson, and copying the file's bytes) runs on a second thread
// while `fn` runs on this one: on two cores, loading a large history takes
// about as long as the slower of the two instead of their sum.
Status StreamHistoryFile(const std::string& path,
                         const std::function<Status(const EventView&)>& fn) {
  BatchQueue queue;
  std::thread parser([&] {
    Batch b;
    Status s = ParseFile(path, [&](const EventView& v) {
      Pack(v, &b);
      if (b.arena.size() < kBatchBytes && b.events.size() < kBatchEvents) return Status::Ok();
      if (!queue.Push(std::move(b))) return Status::Internal("stopped");
      b = Batch{};
      return Status::Ok();
    });
    b.status = s;
    b.last = true;
    queue.Push(std::move(b));
  });
  Status status;
  EventView view;
  for (bool last = false; !last && status.ok();) {
    Batch b = queue.Pop();
    last = b.last;
    for (size_t i = 0; i < b.events.size() && status.ok(); ++i) {
      Unpack(b, b.events[i], &view);
      status = fn(view);
    }
    if (status.ok() && b.last) status = b.status;
  }
  queue.Stop();
  parser.join();
  return status;
}

void ViewOf(const Event& e, uint64_t line, EventView* v) {
  v->type = e.type;
  v->op = e.op;
  v->client = e.client;
  v->key = e.key;
  v->value = e.value ? std::optional<std::string_view>(*e.value) : std::nullopt;
  v->value2 = e.value2 ? std::optional<std::string_view>(*e.value2) : std::nullopt;
  v->result = e.result;
  v->time = e.time;
  v->node = e.node;
  v->version = e.version;
  v->session = e.session;
  v->term = e.term;
  v->index = e.index;
  v->command.assign(e.command.begin(), e.command.end());
  v->line = line;
}

Result<History> ParseHistory(std::string_view text) {
  History h;
  Status s = StreamHistoryText(text, [&h](const EventView& v) {
    h.events.push_back(ToEvent(v));
    h.lines.push_back(v.line);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return h;
}

Result<History> ReadHistory(const std::string& path) {
  History h;
  Status s = StreamHistoryFile(path, [&h](const EventView& v) {
    h.events.push_back(ToEvent(v));
    h.lines.push_back(v.line);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return h;
}

std::string FormatEvent(const Event& e) {
  auto val = [](const std::optional<std::string>& v) {
    return v ? JsonQuote(*v) : std::string("null");
  };
  std::string s = "{";
  if (e.type == EventType::kFinal || e.type == EventType::kRollback) {
    s += "\"type\":\"" + std::string(EventTypeName(e.type)) +
         "\",\"node\":" + std::to_string(e.node) + ",\"key\":" + JsonQuote(e.key) +
         ",\"value\":" + val(e.value);
    if (e.type == EventType::kRollback) {
      s += ",\"term\":" + std::to_string(e.term) + ",\"index\":" + std::to_string(e.index);
      s += ",\"command\":[";
      for (size_t i = 0; i < e.command.size(); ++i) s += (i ? "," : "") + JsonQuote(e.command[i]);
      s += "]";
    }
    return s + "}";
  }
  s += "\"client\":" + std::to_string(e.client) + ",\"type\":\"" +
       std::string(EventTypeName(e.type)) + "\",\"op\":\"" + std::string(OpTypeName(e.op)) +
       "\",\"key\":" + JsonQuote(e.key);
  if (e.op == OpType::kCas) {
    s += ",\"value\":[" + val(e.value) + "," + val(e.value2) + "]";
  } else if (e.op == OpType::kIncr && e.value) {
    s += ",\"value\":" + *e.value;
  } else if (e.op != OpType::kRead || e.type != EventType::kInvoke) {
    s += ",\"value\":" + val(e.value);
  }
  if (e.result) s += ",\"result\":" + std::to_string(*e.result);
  s += ",\"time\":" + std::to_string(e.time) + ",\"node\":" + std::to_string(e.node);
  if (!e.version.empty()) s += ",\"version\":\"" + e.version + "\"";
  if (e.session) s += ",\"session\":" + std::to_string(*e.session);
  return s + "}";
}

}  // namespace rkv
