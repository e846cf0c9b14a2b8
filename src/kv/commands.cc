#include "kv/commands.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <unordered_map>

#include "core/assert.h"
#include "core/limits.h"
#include "core/stored_value.h"
#include "kv/glob.h"
#include "kv/numbers.h"

namespace rkv {

namespace {

const char* const kErrSyntax = "ERR syntax error";
const char* const kErrNotInteger = "ERR value is not an integer or out of range";
const char* const kErrNotFloat = "ERR value is not a valid float";
const char* const kErrWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
const char* const kErrTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// --- value access ---

enum class Lookup { kAbsent, kString, kWrongType };

// Reads `key`; on kString, *payload holds the string.
// The view stays valid until the next write to the state.
Lookup ReadString(KvStore* store, std::string_view key, std::string_view* payload) {
  std::string_view stored;
  if (!store->Find(key, &stored)) return Lookup::kAbsent;
  StoredValueView view;
  RKV_ASSERT_MSG(DecodeStoredValue(stored, &view), "undecodable stored value");
  if (view.type != ValueType::kString) return Lookup::kWrongType;
  *payload = view.payload;
  return Lookup::kString;
}

}  // namespace

bool AppendStringReply(KvStore& store, std::string_view key, std::string* out) {
  std::string_view payload;
  if (ReadString(&store, key, &payload) != Lookup::kString) return false;
  char header[24];
  header[0] = '$';
  char* end = std::to_chars(header + 1, header + sizeof(header) - 2, payload.size()).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(header, static_cast<size_t>(end - header));
  out->append(payload.data(), payload.size());
  out->append("\r\n", 2);
  return true;
}

namespace {

void WriteString(ApplyContext& ctx, std::string_view key, std::string_view payload) {
  // One buffer per thread: encoding a value allocates nothing once it is big enough.
  thread_local std::string stored;
  ValueVersion version;
  version.term = ctx.position.term;
  version.index = ctx.position.index;
  stored.clear();
  EncodeStoredValue(&stored, ValueType::kString, version, payload);
  ctx.store->Put(key, stored);
}

std::string ArityError(std::string_view name) {
  return "ERR wrong number of arguments for '" + ToLower(name) + "' command";
}

// --- SET and friends ---

struct SetOptions {
  bool nx = false, xx = false, get = false;
  bool expiry = false;  // EX/PX/EXAT/PXAT/KEEPTTL: not supported yet
};

std::optional<Reply> ParseSetOptions(const Argv& argv, SetOptions* o) {
  for (size_t i = 3; i < argv.size(); ++i) {
    std::string_view a = argv[i];
    bool has_next = i + 1 < argv.size();
    if (EqualsIgnoreCase(a, "nx") && !o->xx) {
      o->nx = true;
    } else if (EqualsIgnoreCase(a, "xx") && !o->nx) {
      o->xx = true;
    } else if (EqualsIgnoreCase(a, "get")) {
      o->get = true;
    } else if (EqualsIgnoreCase(a, "keepttl") && !o->expiry) {
      o->expiry = true;
    } else if ((EqualsIgnoreCase(a, "ex") || EqualsIgnoreCase(a, "px") ||
                EqualsIgnoreCase(a, "exat") || EqualsIgnoreCase(a, "pxat")) &&
               !o->expiry && has_next) {
      o->expiry = true;
      ++i;
    } else {
      return Reply::Error(kErrSyntax);
    }
  }
  if (o->expiry)
    return Reply::Error("ERR ReplicaKV does not support key expiry (EX, PX, EXAT, PXAT, KEEPTTL)");
  return std::nullopt;
}

std::optional<Reply> CheckSet(const Argv& argv) {
  SetOptions o;
  return ParseSetOptions(argv, &o);
}

Reply RunSet(ApplyContext& ctx, const Argv& argv) {
  SetOptions o;
  if (auto err = ParseSetOptions(argv, &o)) return *err;
  std::string_view old_payload;
  Lookup l = ReadString(ctx.store, argv[1], &old_payload);
  Reply get_reply;
  if (o.get) {
    if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
    get_reply = l == Lookup::kString ? Reply::Bulk(old_payload) : Reply::Nil();
  }
  bool found = l != Lookup::kAbsent;
  if ((o.nx && found) || (o.xx && !found)) return o.get ? get_reply : Reply::Nil();
  WriteString(ctx, argv[1], argv[2]);
  return o.get ? get_reply : Reply::Ok();
}

Reply RunSetNx(ApplyContext& ctx, const Argv& argv) {
  if (ctx.store->Contains(argv[1])) return Reply::Integer(0);
  WriteString(ctx, argv[1], argv[2]);
  return Reply::Integer(1);
}

Reply RunGetSet(ApplyContext& ctx, const Argv& argv) {
  std::string_view old;
  Lookup l = ReadString(ctx.store, argv[1], &old);
  if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
  Reply r = l == Lookup::kString ? Reply::Bulk(old) : Reply::Nil();
  WriteString(ctx, argv[1], argv[2]);
  return r;
}

Reply RunGetDel(ApplyContext& ctx, const Argv& argv) {
  std::string_view old;
  Lookup l = ReadString(ctx.store, argv[1], &old);
  if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
  if (l == Lookup::kAbsent) return Reply::Nil();
  Reply r = Reply::Bulk(old);
  ctx.store->Delete(argv[1]);
  return r;
}

Reply RunGet(ApplyContext& ctx, const Argv& argv) {
  std::string_view v;
  switch (ReadString(ctx.store, argv[1], &v)) {
    case Lookup::kAbsent:
      return Reply::Nil();
    case Lookup::kWrongType:
      return Reply::Error(kErrWrongType);
    case Lookup::kString:
      return Reply::Bulk(v);
  }
  return Reply::Nil();
}

Reply RunMGet(ApplyContext& ctx, const Argv& argv) {
  std::vector<Reply> out;
  out.reserve(argv.size() - 1);
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string_view v;
    out.push_back(ReadString(ctx.store, argv[i], &v) == Lookup::kString ? Reply::Bulk(v)
                                                                        : Reply::Nil());
  }
  return Reply::Array(std::move(out));
}

std::optional<Reply> CheckMSet(const Argv& argv) {
  if (argv.size() % 2 == 0) return Reply::Error(ArityError(argv[0]));
  return std::nullopt;
}

Reply RunMSet(ApplyContext& ctx, const Argv& argv) {
  if (auto err = CheckMSet(argv)) return *err;
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    WriteString(ctx, argv[i], argv[i + 1]);
  }
  return Reply::Ok();
}

Reply RunMSetNx(ApplyContext& ctx, const Argv& argv) {
  if (auto err = CheckMSet(argv)) return *err;
  for (size_t i = 1; i + 1 < argv.size(); i += 2)
    if (ctx.store->Contains(argv[i])) return Reply::Integer(0);
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    WriteString(ctx, argv[i], argv[i + 1]);
  }
  return Reply::Integer(1);
}

Reply RunDel(ApplyContext& ctx, const Argv& argv) {
  int64_t n = 0;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (ctx.store->Contains(argv[i])) {
      ctx.store->Delete(argv[i]);
      ++n;
    }
  }
  return Reply::Integer(n);
}

Reply RunExists(ApplyContext& ctx, const Argv& argv) {
  int64_t n = 0;
  for (size_t i = 1; i < argv.size(); ++i)
    if (ctx.store->Contains(argv[i])) ++n;
  return Reply::Integer(n);
}

Reply RunStrlen(ApplyContext& ctx, const Argv& argv) {
  std::string_view v;
  switch (ReadString(ctx.store, argv[1], &v)) {
    case Lookup::kAbsent:
      return Reply::Integer(0);
    case Lookup::kWrongType:
      return Reply::Error(kErrWrongType);
    case Lookup::kString:
      return Reply::Integer(static_cast<int64_t>(v.size()));
  }
  return Reply::Integer(0);
}

Reply RunType(ApplyContext& ctx, const Argv& argv) {
  std::string_view stored;
  if (!ctx.store->Find(argv[1], &stored)) return Reply::Status("none");
  StoredValueView view;
  RKV_ASSERT(DecodeStoredValue(stored, &view));
  switch (view.type) {
    case ValueType::kString:
      return Reply::Status("string");
    case ValueType::kCounter:
      return Reply::Status("counter");
    case ValueType::kSet:
      return Reply::Status("set");
    case ValueType::kSiblings:
      return Reply::Status("siblings");
  }
  return Reply::Status("none");
}

// --- counters ---

Reply IncrDecr(ApplyContext& ctx, std::string_view key, int64_t incr) {
  std::string_view v;
  Lookup l = ReadString(ctx.store, key, &v);
  if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
  int64_t value = 0;
  if (l == Lookup::kString && !ParseInt64(v, &value)) return Reply::Error(kErrNotInteger);
  if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
      (incr > 0 && value > 0 && incr > (LLONG_MAX - value)))
    return Reply::Error("ERR increment or decrement would overflow");
  value += incr;
  WriteString(ctx, key, FormatInt64(value));
  return Reply::Integer(value);
}

std::optional<Reply> CheckIncrBy(const Argv& argv) {
  int64_t incr;
  if (!ParseInt64(argv[2], &incr)) return Reply::Error(kErrNotInteger);
  return std::nullopt;
}

std::optional<Reply> CheckDecrBy(const Argv& argv) {
  int64_t incr;
  if (!ParseInt64(argv[2], &incr)) return Reply::Error(kErrNotInteger);
  if (incr == LLONG_MIN) return Reply::Error("ERR decrement would overflow");
  return std::nullopt;
}

Reply RunIncr(ApplyContext& ctx, const Argv& argv) { return IncrDecr(ctx, argv[1], 1); }
Reply RunDecr(ApplyContext& ctx, const Argv& argv) { return IncrDecr(ctx, argv[1], -1); }

Reply RunIncrBy(ApplyContext& ctx, const Argv& argv) {
  if (auto err = CheckIncrBy(argv)) return *err;
  int64_t incr;
  ParseInt64(argv[2], &incr);
  return IncrDecr(ctx, argv[1], incr);
}

Reply RunDecrBy(ApplyContext& ctx, const Argv& argv) {
  if (auto err = CheckDecrBy(argv)) return *err;
  int64_t incr;
  ParseInt64(argv[2], &incr);
  return IncrDecr(ctx, argv[1], -incr);
}

Reply RunIncrByFloat(ApplyContext& ctx, const Argv& argv) {
  std::string_view v;
  Lookup l = ReadString(ctx.store, argv[1], &v);
  if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
  long double value = 0, incr = 0;
  if (l == Lookup::kString && !ParseLongDouble(v, &value)) return Reply::Error(kErrNotFloat);
  if (!ParseLongDouble(argv[2], &incr)) return Reply::Error(kErrNotFloat);
  value += incr;
  if (std::isnan(value) || std::isinf(value))
    return Reply::Error("ERR increment would produce NaN or Infinity");
  std::string formatted = FormatLongDoubleHuman(value);
  WriteString(ctx, argv[1], formatted);
  return Reply::Bulk(formatted);
}

Reply RunAppend(ApplyContext& ctx, const Argv& argv) {
  std::string_view v;
  Lookup l = ReadString(ctx.store, argv[1], &v);
  if (l == Lookup::kWrongType) return Reply::Error(kErrWrongType);
  if (l == Lookup::kAbsent) {
    WriteString(ctx, argv[1], argv[2]);
    return Reply::Integer(static_cast<int64_t>(argv[2].size()));
  }
  if (v.size() + argv[2].size() > limits::kValueBytesMax) return Reply::Error(kErrTooBig);
  std::string value;
  value.reserve(v.size() + argv[2].size());
  value.append(v);
  value.append(argv[2]);
  int64_t len = static_cast<int64_t>(value.size());
  WriteString(ctx, argv[1], value);
  return Reply::Integer(len);
}

// --- keyspace ---

Reply RunDbSize(ApplyContext& ctx, const Argv&) {
  return Reply::Integer(static_cast<int64_t>(ctx.store->key_count()));
}

std::optional<Reply> CheckFlush(const Argv& argv) {
  if (argv.size() > 2) return Reply::Error(kErrSyntax);
  if (argv.size() == 2 && !EqualsIgnoreCase(argv[1], "sync") && !EqualsIgnoreCase(argv[1], "async"))
    return Reply::Error(kErrSyntax);
  return std::nullopt;
}

Reply RunFlush(ApplyContext& ctx, const Argv& argv) {
  if (auto err = CheckFlush(argv)) return *err;
  ctx.store->Clear();
  return Reply::Ok();
}

Reply RunScan(ApplyContext& ctx, const Argv& argv) {
  uint64_t cursor = 0;
  if (!ParseScanCursor(argv[1], &cursor)) return Reply::Error("ERR invalid cursor");
  int64_t count = 10;
  std::string_view pattern;
  bool has_pattern = false;
  std::string_view type;
  for (size_t i = 2; i < argv.size(); i += 2) {
    if (i + 1 >= argv.size()) return Reply::Error(kErrSyntax);
    if (EqualsIgnoreCase(argv[i], "count")) {
      if (!ParseInt64(argv[i + 1], &count)) return Reply::Error(kErrNotInteger);
      if (count < 1) return Reply::Error(kErrSyntax);
    } else if (EqualsIgnoreCase(argv[i], "match")) {
      pattern = argv[i + 1];
      has_pattern = !(pattern.size() == 1 && pattern[0] == '*');
    } else if (EqualsIgnoreCase(argv[i], "type")) {
      type = argv[i + 1];
    } else {
      return Reply::Error(kErrSyntax);
    }
  }
  size_t n = static_cast<size_t>(std::min<int64_t>(count, limits::kScanCountMax));
  std::vector<std::string> keys;
  uint64_t next = ctx.store->Scan(cursor, n, &keys);
  std::vector<Reply> out;
  for (std::string& k : keys) {
    if (has_pattern && !GlobMatch(pattern, k)) continue;
    if (!type.empty()) {
      ApplyContext read_ctx{ctx.store, {}};
      Argv targv{"type", k};
      if (!EqualsIgnoreCase(RunType(read_ctx, targv).str, type)) continue;
    }
    out.push_back(Reply::Bulk(k));
  }
  std::vector<Reply> reply;
  reply.push_back(Reply::Bulk(std::to_string(next)));
  reply.push_back(Reply::Array(std::move(out)));
  return Reply::Array(std::move(reply));
}

Reply RunKeys(ApplyContext& ctx, const Argv& argv) {
  std::vector<Reply> out;
  bool all = argv[1] == "*";
  uint64_t cursor = 0;
  do {
    std::vector<std::string> keys;
    cursor = ctx.store->Scan(cursor, 1024, &keys);
    for (std::string& k : keys)
      if (all || GlobMatch(argv[1], k)) out.push_back(Reply::Bulk(k));
  } while (cursor != 0);
  return Reply::Array(std::move(out));
}

Reply RunPing(ApplyContext&, const Argv& argv) {
  if (argv.size() > 2) return Reply::Error(ArityError(argv[0]));
  return argv.size() == 2 ? Reply::Bulk(argv[1]) : Reply::Status("PONG");
}

Reply RunEcho(ApplyContext&, const Argv& argv) { return Reply::Bulk(argv[1]); }

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadOnly;
constexpr uint32_t kF = kCmdFast;

std::vector<KvCommandSpec> BuildTable() {
  return {
      {"get", 2, kR | kF, 1, 1, 1, nullptr, RunGet},
      {"mget", -2, kR | kF, 1, -1, 1, nullptr, RunMGet},
      {"exists", -2, kR | kF, 1, -1, 1, nullptr, RunExists},
      {"strlen", 2, kR | kF, 1, 1, 1, nullptr, RunStrlen},
      {"type", 2, kR | kF, 1, 1, 1, nullptr, RunType},
      {"dbsize", 1, kR | kF, 0, 0, 0, nullptr, RunDbSize},
      {"scan", -2, kR, 0, 0, 0, nullptr, RunScan},
      {"keys", 2, kR, 0, 0, 0, nullptr, RunKeys},
      {"ping", -1, kF | kCmdStale, 0, 0, 0, nullptr, RunPing},
      {"echo", 2, kF | kCmdStale, 0, 0, 0, nullptr, RunEcho},
      {"set", -3, kW, 1, 1, 1, CheckSet, RunSet},
      {"setnx", 3, kW | kF, 1, 1, 1, nullptr, RunSetNx},
      {"getset", 3, kW | kF, 1, 1, 1, nullptr, RunGetSet},
      {"getdel", 2, kW | kF, 1, 1, 1, nullptr, RunGetDel},
      {"mset", -3, kW, 1, -1, 2, CheckMSet, RunMSet},
      {"msetnx", -3, kW, 1, -1, 2, CheckMSet, RunMSetNx},
      {"del", -2, kW, 1, -1, 1, nullptr, RunDel},
      {"incr", 2, kW | kF, 1, 1, 1, nullptr, RunIncr},
      {"decr", 2, kW | kF, 1, 1, 1, nullptr, RunDecr},
      {"incrby", 3, kW | kF, 1, 1, 1, CheckIncrBy, RunIncrBy},
      {"decrby", 3, kW | kF, 1, 1, 1, CheckDecrBy, RunDecrBy},
      {"incrbyfloat", 3, kW | kF, 1, 1, 1, nullptr, RunIncrByFloat},
      {"append", 3, kW, 1, 1, 1, nullptr, RunAppend},
      {"flushall", -1, kW, 0, 0, 0, CheckFlush, RunFlush},
      {"flushdb", -1, kW, 0, 0, 0, CheckFlush, RunFlush},
  };
}

}  // namespace

const std::vector<KvCommandSpec>& KvCommands() {
  static const std::vector<KvCommandSpec> table = BuildTable();
  return table;
}

const KvCommandSpec* FindKvCommandLowered(std::string_view lowered) {
  // Keys view the table's own (static) names.
  static const std::unordered_map<std::string_view, const KvCommandSpec*> index = [] {
    std::unordered_map<std::string_view, const KvCommandSpec*> m;
    for (const KvCommandSpec& c : KvCommands()) m.emplace(c.name, &c);
    return m;
  }();
  auto it = index.find(lowered);
  return it == index.end() ? nullptr : it->second;
}

const KvCommandSpec* FindKvCommand(std::string_view name) {
  char buf[16];  // lower-cased on the stack: this runs for every request
  std::string_view lowered = LowerCommandName(name, buf);
  return lowered.empty() ? nullptr : FindKvCommandLowered(lowered);
}

bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

std::vector<WrittenKey> WrittenKeys(const Argv& argv) {
  std::vector<WrittenKey> out;
  if (argv.empty()) return out;
  const KvCommandSpec* spec = FindKvCommand(argv[0]);
  if (spec == nullptr || !(spec->flags & kCmdWrite) || spec->first_key == 0) return out;
  std::string name(spec->name);
  int last = spec->last_key < 0 ? static_cast<int>(argv.size()) + spec->last_key : spec->last_key;
  for (int i = spec->first_key; i <= last && i < static_cast<int>(argv.size());
       i += spec->key_step) {
    WrittenKey w{std::string(argv[i]), std::nullopt};
    if (name == "mset" || name == "msetnx") {
      if (i + 1 < static_cast<int>(argv.size())) w.argument = std::string(argv[i + 1]);
    } else if (name == "incr") {
      w.argument = "1";
    } else if (name == "decr") {
      w.argument = "-1";
    } else if (name != "del" && name != "getdel" && argv.size() > 2) {
      w.argument = std::string(argv[2]);
    }
    out.push_back(std::move(w));
  }
  return out;
}

void ApplyEntry(KvStore* store, const Entry& entry, std::vector<Reply>* replies) {
  replies->clear();
  if (entry.kind == EntryKind::kCommand || entry.kind == EntryKind::kBarrier) {
    // Scratch kept from entry to entry: applying allocates nothing of its
    // own (the loop thread applies; the simulator runs its nodes in turn).
    thread_local std::vector<Argv> commands;
    thread_local std::vector<const KvCommandSpec*> specs;
    thread_local std::vector<std::string_view> keys;
    size_t count = 0;
    RKV_ASSERT_MSG(DecodeCommandsReusing(entry.data, &commands, &count), "undecodable log entry");
    specs.assign(count, nullptr);
    keys.clear();
    // An entry holding a turn's writes from many clients: their first keys'
    // cache misses are started together, before any command runs, instead of
    // each command waiting for its own (KeyIndex::Prefetch).
    const bool batch = count > 1;
    for (size_t i = 0; i < count; ++i) {
      const Argv& argv = commands[i];
      const KvCommandSpec* spec = FindKvCommand(argv.empty() ? "" : argv[0]);
      if (spec != nullptr && !ArityOk(spec->arity, argv.size())) spec = nullptr;
      specs[i] = spec;
      if (batch && spec != nullptr && spec->first_key > 0 &&
          static_cast<size_t>(spec->first_key) < argv.size())
        keys.push_back(argv[spec->first_key]);
    }
    store->Prefetch(keys.data(), keys.size());
    ApplyContext ctx{store, {entry.term, entry.index}};
    replies->reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (specs[i] == nullptr) {
        // Only validated commands enter the log; keep going deterministically.
        replies->push_back(Reply::Error("ERR invalid command in log entry"));
        continue;
      }
      replies->push_back(specs[i]->run(ctx, commands[i]));
    }
  }
  if (entry.kind == EntryKind::kConfig) store->SetMembership(entry.data);
  store->SetApplied({entry.term, entry.index});
}

}  // namespace rkv
