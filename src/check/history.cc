#include "check/history.h"

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

bool ValueToString(const nlohmann::json& v, std::optional<std::string>* out) {
  if (v.is_null()) {
    *out = std::nullopt;
  } else if (v.is_string()) {
    *out = v.get<std::string>();
  } else if (v.is_number_integer()) {
    *out = std::to_string(v.get<int64_t>());
  } else if (v.is_number_unsigned()) {
    *out = std::to_string(v.get<uint64_t>());
  } else if (v.is_number_float()) {
    *out = v.dump();
  } else {
    return false;
  }
  return true;
}

Status ParseLine(const std::string& line, size_t lineno, Event* e) {
  auto where = [lineno](const std::string& what) {
    return Status::Invalid("line " + std::to_string(lineno) + ": " + what);
  };
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return where("not a JSON object");
  std::string type = j.value("type", "");
  if (type == "invoke")
    e->type = EventType::kInvoke;
  else if (type == "ok")
    e->type = EventType::kOk;
  else if (type == "fail")
    e->type = EventType::kFail;
  else if (type == "info")
    e->type = EventType::kInfo;
  else if (type == "final")
    e->type = EventType::kFinal;
  else if (type == "rollback")
    e->type = EventType::kRollback;
  else
    return where("unknown type '" + type + "'");
  if (j.contains("key")) {
    if (!j["key"].is_string() && !j["key"].is_number()) return where("key must be a string");
    e->key = j["key"].is_string() ? j["key"].get<std::string>() : j["key"].dump();
  }
  if (j.contains("node") && j["node"].is_number_unsigned()) e->node = j["node"].get<uint64_t>();
  if (j.contains("term") && j["term"].is_number_unsigned()) e->term = j["term"].get<uint64_t>();
  if (j.contains("index") && j["index"].is_number_unsigned()) e->index = j["index"].get<uint64_t>();
  if (j.contains("command") && j["command"].is_array())
    for (const auto& a : j["command"])
      if (a.is_string()) e->command.push_back(a.get<std::string>());
  if (e->type == EventType::kFinal || e->type == EventType::kRollback) {
    if (j.contains("value") && !ValueToString(j["value"], &e->value))
      return where("value must be a string, a number or null");
    return Status::Ok();
  }
  if (!j.contains("client") || !j["client"].is_number_unsigned())
    return where("client must be a non-negative integer");
  e->client = j["client"].get<uint64_t>();
  if (!j.contains("time") || !j["time"].is_number()) return where("time must be a number");
  e->time = j["time"].is_number_unsigned() ? j["time"].get<uint64_t>()
                                           : static_cast<uint64_t>(j["time"].get<double>());
  std::string op = j.value("op", "");
  if (op == "read")
    e->op = OpType::kRead;
  else if (op == "write")
    e->op = OpType::kWrite;
  else if (op == "cas")
    e->op = OpType::kCas;
  else if (op == "append")
    e->op = OpType::kAppend;
  else if (op == "incr")
    e->op = OpType::kIncr;
  else
    return where("unknown op '" + op + "'");
  if (j.contains("value")) {
    const auto& v = j["value"];
    if (e->op == OpType::kCas) {
      if (!v.is_array() || v.size() != 2 || !ValueToString(v[0], &e->value) ||
          !ValueToString(v[1], &e->value2))
        return where("cas value must be [expected, new]");
    } else if (!ValueToString(v, &e->value)) {
      return where("value must be a string, a number or null");
    }
  }
  if (j.contains("result") && j["result"].is_number_integer())
    e->result = j["result"].get<int64_t>();
  if (j.contains("version") && j["version"].is_string())
    e->version = j["version"].get<std::string>();
  if (j.contains("session") && j["session"].is_number_unsigned())
    e->session = j["session"].get<uint64_t>();
  return Status::Ok();
}

}  // namespace

Result<History> ParseHistory(std::string_view text) {
  History h;
  size_t lineno = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++lineno;
    std::string line(text.substr(start, end - start));
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Event e;
    Status s = ParseLine(line, lineno, &e);
    if (!s.ok()) return s;
    h.events.push_back(std::move(e));
  }
  return h;
}

Result<History> ReadHistory(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseHistory(ss.str());
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
