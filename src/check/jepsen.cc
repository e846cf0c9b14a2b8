#include "check/jepsen.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace rkv {

namespace {

// Nesting deeper than this is not a history operation.
constexpr int kEdnDepthMax = 32;

// Just enough EDN for Jepsen's operations.
struct Edn {
  enum class Kind {
    kNil,
    kBool,
    kInt,
    kFloat,
    kString,
    kKeyword,
    kSymbol,
    kVector,
    kMap
  } kind = Kind::kNil;
  std::string text;  // numbers as written, strings unescaped, keywords without ':'
  int64_t integer = 0;
  std::vector<Edn> items;  // vector (and list, set) items; map: key, value, key, value...

  const Edn* Get(std::string_view keyword) const {
    for (size_t i = 0; i + 1 < items.size(); i += 2)
      if (items[i].kind == Kind::kKeyword && items[i].text == keyword) return &items[i + 1];
    return nullptr;
  }
};

class EdnReader {
 public:
  explicit EdnReader(std::string_view s) : s_(s) {}
  bool Read(Edn* out, int depth = 0);
  std::string_view rest() const { return s_.substr(i_); }
  const std::string& error() const { return error_; }

 private:
  void SkipSpace() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ';') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
        ++i_;
      } else {
        break;
      }
    }
  }
  bool Fail(const std::string& what) {
    error_ = what + " at column " + std::to_string(i_ + 1);
    return false;
  }
  bool ReadSeq(char close, Edn* out, int depth);
  bool ReadString(Edn* out);
  bool ReadAtom(Edn* out);

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

bool EdnReader::Read(Edn* out, int depth) {
  if (depth > kEdnDepthMax) return Fail("nesting too deep");
  SkipSpace();
  if (i_ >= s_.size()) return Fail("missing value");
  char c = s_[i_];
  if (c == '{') {
    ++i_;
    out->kind = Edn::Kind::kMap;
    return ReadSeq('}', out, depth);
  }
  if (c == '[' || c == '(') {
    ++i_;
    out->kind = Edn::Kind::kVector;
    return ReadSeq(c == '[' ? ']' : ')', out, depth);
  }
  if (c == '#') {
    ++i_;
    if (i_ < s_.size() && s_[i_] == '{') {  // a set
      ++i_;
      out->kind = Edn::Kind::kVector;
      return ReadSeq('}', out, depth);
    }
    Edn tag;  // a tagged value (#inst "...", #jepsen.history.Op{...}): keep the value
    if (!ReadAtom(&tag)) return false;
    return Read(out, depth + 1);
  }
  if (c == '"') return ReadString(out);
  return ReadAtom(out);
}

bool EdnReader::ReadSeq(char close, Edn* out, int depth) {
  for (;;) {
    SkipSpace();
    if (i_ >= s_.size()) return Fail(std::string("missing '") + close + "'");
    if (s_[i_] == close) {
      ++i_;
      if (out->kind == Edn::Kind::kMap && out->items.size() % 2 != 0)
        return Fail("a map needs an even number of forms");
      return true;
    }
    out->items.emplace_back();
    if (!Read(&out->items.back(), depth + 1)) return false;
  }
}

bool EdnReader::ReadString(Edn* out) {
  out->kind = Edn::Kind::kString;
  for (++i_; i_ < s_.size(); ++i_) {
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      return true;
    }
    if (c == '\\' && i_ + 1 < s_.size()) {
      char e = s_[++i_];
      out->text += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
    } else {
      out->text += c;
    }
  }
  return Fail("unterminated string");
}

bool EdnReader::ReadAtom(Edn* out) {
  size_t start = i_;
  while (i_ < s_.size() &&
         std::string_view(" \t\r\n,;{}[]()\"").find(s_[i_]) == std::string_view::npos)
    ++i_;
  std::string_view t = s_.substr(start, i_ - start);
  if (t.empty()) return Fail("unexpected '" + std::string(1, s_[i_]) + "'");
  if (t == "nil") return out->kind = Edn::Kind::kNil, true;
  if (t == "true" || t == "false") {
    out->kind = Edn::Kind::kBool;
    out->text = std::string(t);
    return true;
  }
  if (t[0] == ':') {
    out->kind = Edn::Kind::kKeyword;
    out->text = std::string(t.substr(1));
    return true;
  }
  bool numeric = (t[0] >= '0' && t[0] <= '9') ||
                 ((t[0] == '-' || t[0] == '+') && t.size() > 1 && t[1] >= '0' && t[1] <= '9');
  if (!numeric) {
    out->kind = Edn::Kind::kSymbol;
    out->text = std::string(t);
    return true;
  }
  std::string_view digits = t[0] == '+' ? t.substr(1) : t;
  if (!digits.empty() && digits.back() == 'N') digits.remove_suffix(1);  // bigint suffix
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out->integer);
  if (ec == std::errc() && p == digits.data() + digits.size()) {
    out->kind = Edn::Kind::kInt;
    out->text = std::to_string(out->integer);
    return true;
  }
  out->kind = Edn::Kind::kFloat;
  out->text = std::string(t);
  return true;
}

// A scalar as the string §6 compares (nullopt for nil); false for a collection.
bool ScalarText(const Edn& v, std::optional<std::string>* out) {
  switch (v.kind) {
    case Edn::Kind::kNil:
      *out = std::nullopt;
      return true;
    case Edn::Kind::kVector:
    case Edn::Kind::kMap:
      return false;
    default:
      *out = v.text;
      return true;
  }
}

// One operation line, however it was written.
struct JepsenOp {
  Edn process, type, f, value;
  bool has_value = false;
  std::optional<uint64_t> time;
};

class Converter {
 public:
  explicit Converter(const JepsenOptions& o) : o_(o) {}
  // False when the line is not an operation of a client (skipped).
  Result<bool> Add(const JepsenOp& op, uint64_t lineno);
  History Take() { return std::move(h_); }

 private:
  Status Value(const JepsenOp& op, OpType f, Event* e, uint64_t lineno);

  const JepsenOptions& o_;
  History h_;
  std::optional<bool> timed_;  // whether lines carry :time (decided by the first)
};

bool ParseF(const std::string& f, OpType* out) {
  if (f == "read")
    *out = OpType::kRead;
  else if (f == "write")
    *out = OpType::kWrite;
  else if (f == "cas")
    *out = OpType::kCas;
  else if (f == "append")
    *out = OpType::kAppend;
  else if (f == "incr" || f == "add")
    *out = OpType::kIncr;
  else
    return false;
  return true;
}

Status Converter::Value(const JepsenOp& op, OpType f, Event* e, uint64_t lineno) {
  auto bad = [&](const std::string& what) {
    return Status::Invalid("line " + std::to_string(lineno) + ": " + what);
  };
  const Edn* v = op.has_value ? &op.value : nullptr;
  e->key = o_.key;
  // Keyed (jepsen.independent): [k v], and for cas [k [old new]].
  if (v && v->kind == Edn::Kind::kVector && v->items.size() == 2 &&
      (f != OpType::kCas || v->items[1].kind == Edn::Kind::kVector)) {
    std::optional<std::string> k;
    if (!ScalarText(v->items[0], &k) || !k) return bad("the key of [k v] must be a scalar");
    e->key = *k;
    v = &v->items[1];
  }
  if (f == OpType::kCas) {
    if (!v || v->kind != Edn::Kind::kVector || v->items.size() != 2 ||
        !ScalarText(v->items[0], &e->value) || !ScalarText(v->items[1], &e->value2))
      return bad("a cas value must be [old new] (or [k [old new]])");
    return Status::Ok();
  }
  if (v && !ScalarText(*v, &e->value))
    return bad("the value of :" + op.f.text + " must be a scalar or [k v]");
  return Status::Ok();
}

Result<bool> Converter::Add(const JepsenOp& op, uint64_t lineno) {
  auto bad = [&](const std::string& what) {
    return Status::Invalid("line " + std::to_string(lineno) + ": " + what);
  };
  if (op.process.kind == Edn::Kind::kKeyword && op.process.text == "nemesis") return false;
  if (op.process.kind != Edn::Kind::kInt || op.process.integer < 0)
    return bad("the process must be a non-negative integer or :nemesis");
  Event e;
  e.client = static_cast<uint64_t>(op.process.integer);
  const std::string& t = op.type.text;
  if (op.type.kind != Edn::Kind::kKeyword) return bad("the type must be a keyword");
  if (t == "invoke")
    e.type = EventType::kInvoke;
  else if (t == "ok")
    e.type = EventType::kOk;
  else if (t == "fail")
    e.type = EventType::kFail;
  else if (t == "info")
    e.type = EventType::kInfo;
  else
    return bad("unsupported type :" + t + " (invoke, ok, fail, info)");
  if (op.f.kind != Edn::Kind::kKeyword || !ParseF(op.f.text, &e.op))
    return bad("unsupported :f " +
               (op.f.kind == Edn::Kind::kKeyword ? ":" + op.f.text : op.f.text) +
               " (read, write, cas, append, incr, add)");
  RKV_RETURN_IF_ERROR(Value(op, e.op, &e, lineno));
  if (e.op == OpType::kRead && e.type == EventType::kInvoke) e.value.reset();
  if (!timed_) timed_ = op.time.has_value();
  if (*timed_ != op.time.has_value())
    return bad(*timed_ ? "no :time, though earlier lines carry one"
                       : ":time, though earlier lines carry none");
  e.time = op.time ? *op.time : lineno;
  h_.events.push_back(std::move(e));
  h_.lines.push_back(lineno);
  return true;
}

Result<bool> EdnLine(std::string_view line, uint64_t lineno, Converter* c) {
  auto bad = [&](const std::string& what) {
    return Status::Invalid("line " + std::to_string(lineno) + ": " + what);
  };
  EdnReader r(line);
  Edn m;
  if (!r.Read(&m)) return bad("not EDN: " + r.error());
  if (m.kind != Edn::Kind::kMap) return bad("expected a map {:process ..., :type ..., :f ...}");
  JepsenOp op;
  const Edn *process = m.Get("process"), *type = m.Get("type"), *f = m.Get("f");
  if (!process || !type || !f) return bad("a map needs :process, :type and :f");
  op.process = *process;
  op.type = *type;
  op.f = *f;
  if (const Edn* v = m.Get("value")) {
    op.value = *v;
    op.has_value = true;
  }
  if (const Edn* t = m.Get("time")) {
    if (t->kind != Edn::Kind::kInt || t->integer < 0)
      return bad(":time must be a non-negative integer");
    op.time = static_cast<uint64_t>(t->integer);
  }
  return c->Add(op, lineno);
}

// "... jepsen.util - 0 :invoke :write 3" (or "jepsen.util: 0\t:invoke\t:write\t3").
Result<bool> LogLine(std::string_view line, uint64_t lineno, Converter* c) {
  size_t at = line.find("jepsen.util");
  if (at == std::string_view::npos) return false;
  std::string_view rest = line.substr(at + std::string_view("jepsen.util").size());
  size_t sep = rest.find_first_not_of(" \t");
  if (sep == std::string_view::npos || (rest[sep] != '-' && rest[sep] != ':'))
    return Status::Invalid("line " + std::to_string(lineno) +
                           ": expected 'jepsen.util - PROCESS :TYPE :F VALUE'");
  EdnReader r(rest.substr(sep + 1));
  JepsenOp op;
  if (!r.Read(&op.process) || !r.Read(&op.type) || !r.Read(&op.f))
    return Status::Invalid("line " + std::to_string(lineno) +
                           ": expected 'jepsen.util - PROCESS :TYPE :F VALUE': " + r.error());
  // The value may be missing on nemesis lines; anything after it (an error) is ignored.
  EdnReader probe(r.rest());
  Edn v;
  if (probe.Read(&v)) {
    op.value = std::move(v);
    op.has_value = true;
  }
  return c->Add(op, lineno);
}

}  // namespace

Result<History> ConvertJepsen(std::string_view text, const JepsenOptions& options) {
  Converter c(options);
  JepsenFormat format = options.format;
  uint64_t lineno = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++lineno;
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    if (format == JepsenFormat::kAuto)
      format = line[first] == '{' ? JepsenFormat::kEdn : JepsenFormat::kLog;
    Result<bool> r =
        format == JepsenFormat::kEdn ? EdnLine(line, lineno, &c) : LogLine(line, lineno, &c);
    if (!r.ok()) return r.status();
  }
  return c.Take();
}

Result<History> ReadJepsen(const std::string& path, const JepsenOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ConvertJepsen(ss.str(), options);
}

}  // namespace rkv
