#include "check/checks.h"

#include <set>

#include "check/linearizable.h"
#include "check/session.h"

namespace rkv {

const CheckResult* FindCheck(const std::vector<CheckResult>& results, std::string_view name) {
  for (const CheckResult& r : results)
    if (r.name == name) return &r;
  return nullptr;
}

std::string_view VerdictName(CheckResult::Verdict v) {
  switch (v) {
    case CheckResult::Verdict::kOk:
      return "ok";
    case CheckResult::Verdict::kFail:
      return "FAIL";
    case CheckResult::Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace {

// Tokens are matched whole: " x1" must not be found inside " x12".
bool ContainsToken(const std::string& s, const std::string& token) {
  for (size_t pos = s.find(token); pos != std::string::npos; pos = s.find(token, pos + 1)) {
    size_t end = pos + token.size();
    if (end == s.size() || s[end] == ' ') return true;
  }
  return false;
}

size_t TokenOccurrences(const std::string& s, const std::string& token) {
  size_t n = 0;
  for (size_t pos = s.find(token); pos != std::string::npos;
       pos = s.find(token, pos + token.size())) {
    size_t end = pos + token.size();
    if (end == s.size() || s[end] == ' ') ++n;
  }
  return n;
}

}  // namespace

CheckResult CheckLostWrites(const History& h) {
  CheckResult r;
  r.name = "lost-writes";
  // key -> node -> final value
  std::map<std::string, std::map<uint64_t, std::optional<std::string>>> finals;
  std::map<std::string, std::vector<std::string>> rollbacks;  // key -> rolled-back values
  // key -> rolled-back increments, once per log position (several replicas
  // may record the same divergent entry)
  std::map<std::string, std::map<std::pair<uint64_t, uint64_t>, int64_t>> rolled_back_deltas;
  std::map<std::string, std::vector<const Event*>> appends;  // acknowledged appends
  std::map<std::string, int64_t> incr_ok, incr_maybe;
  std::set<std::string> counter_keys;
  for (const Event& e : h.events) {
    if (e.type == EventType::kFinal) finals[e.key][e.node] = e.value;
    if (e.type == EventType::kRollback && e.value) rollbacks[e.key].push_back(*e.value);
    if (e.type == EventType::kRollback && e.command.size() >= 2) {
      const std::string& c = e.command[0];
      int64_t d = 0;
      if ((c == "incrby" || c == "INCRBY") && e.command.size() >= 3)
        d = std::strtoll(e.command[2].c_str(), nullptr, 10);
      if ((c == "decrby" || c == "DECRBY") && e.command.size() >= 3)
        d = -std::strtoll(e.command[2].c_str(), nullptr, 10);
      if (c == "incr" || c == "INCR") d = 1;
      if (c == "decr" || c == "DECR") d = -1;
      if (d != 0) rolled_back_deltas[e.key][{e.term, e.index}] = d;
    }
    if (e.op == OpType::kAppend && e.type == EventType::kOk && e.value)
      appends[e.key].push_back(&e);
    if (e.op == OpType::kIncr && e.value) {
      int64_t d = std::strtoll(e.value->c_str(), nullptr, 10);
      counter_keys.insert(e.key);
      if (e.type == EventType::kOk) incr_ok[e.key] += d;
      if (e.type == EventType::kOk || e.type == EventType::kInfo) incr_maybe[e.key] += d;
    }
  }
  uint64_t lost = 0, recorded = 0, duplicated = 0, acknowledged = 0;
  for (const auto& [key, list] : appends) {
    for (const Event* e : list) {
      ++acknowledged;
      bool missing = false;
      for (const auto& [node, value] : finals[key]) {
        size_t n = value ? TokenOccurrences(*value, *e->value) : 0;
        if (n == 0) missing = true;
        if (n > 1) {
          ++duplicated;
          if (r.details.size() < 10)
            r.details.push_back("duplicated: key " + key + " holds acknowledged token '" +
                                *e->value + "' " + std::to_string(n) + " times on node " +
                                std::to_string(node));
        }
      }
      if (finals[key].empty()) missing = true;
      if (!missing) continue;
      ++lost;
      bool in_rollback = false;
      for (const std::string& v : rollbacks[key])
        in_rollback = in_rollback || ContainsToken(v, *e->value);
      if (in_rollback) ++recorded;
      if (r.details.size() < 10)
        r.details.push_back("lost: " + FormatEvent(*e) +
                            (in_rollback ? "  (recorded in a rollback file)"
                                         : "  (NOT in any rollback record: lost silently)"));
    }
  }
  for (const std::string& key : counter_keys) {
    for (const auto& [node, value] : finals[key]) {
      int64_t v = value ? std::strtoll(value->c_str(), nullptr, 10) : 0;
      acknowledged += 1;
      if (v < incr_ok[key]) {
        ++lost;
        int64_t recorded_amount = 0;
        for (const auto& [pos, d] : rolled_back_deltas[key]) recorded_amount += d;
        bool in_rollback = recorded_amount >= incr_ok[key] - v;
        if (in_rollback) ++recorded;
        if (r.details.size() < 10)
          r.details.push_back("lost: counter " + key + " is " + std::to_string(v) + " on node " +
                              std::to_string(node) + ", below the " + std::to_string(incr_ok[key]) +
                              " acknowledged" +
                              (in_rollback ? "  (the difference is recorded in rollback files)"
                                           : "  (NOT covered by rollback records: lost silently)"));
      } else if (v > incr_maybe[key]) {
        ++duplicated;
        if (r.details.size() < 10)
          r.details.push_back("duplicated: counter " + key + " is " + std::to_string(v) +
                              " on node " + std::to_string(node) +
                              ", above every increment that may have happened (" +
                              std::to_string(incr_maybe[key]) + ")");
      }
    }
  }
  r.counts = {{"lost", lost},
              {"recorded", recorded},
              {"unrecorded", lost - recorded},
              {"duplicated", duplicated},
              {"acknowledged", acknowledged}};
  r.verdict =
      lost == 0 && duplicated == 0 ? CheckResult::Verdict::kOk : CheckResult::Verdict::kFail;
  r.summary = std::to_string(lost) + " of " + std::to_string(acknowledged) +
              " acknowledged writes lost (" + std::to_string(recorded) +
              " of them recorded as rolled back), " + std::to_string(duplicated) + " duplicated";
  return r;
}

CheckResult CheckConvergence(const History& h) {
  CheckResult r;
  r.name = "convergence";
  std::map<std::string, std::map<uint64_t, std::optional<std::string>>> finals;
  std::set<uint64_t> nodes;
  for (const Event& e : h.events) {
    if (e.type != EventType::kFinal) continue;
    finals[e.key][e.node] = e.value;
    nodes.insert(e.node);
  }
  uint64_t diverged = 0;
  for (const auto& [key, by_node] : finals) {
    std::set<std::optional<std::string>> distinct;
    for (uint64_t n : nodes) {
      auto it = by_node.find(n);
      distinct.insert(it == by_node.end() ? std::nullopt : it->second);
    }
    if (distinct.size() <= 1) continue;
    ++diverged;
    if (r.details.size() < 10) {
      std::string d = "key " + key + " differs:";
      for (uint64_t n : nodes) {
        auto it = by_node.find(n);
        std::optional<std::string> v = it == by_node.end() ? std::nullopt : it->second;
        d += " node " + std::to_string(n) + "=" + (v ? "'" + *v + "'" : std::string("absent"));
      }
      r.details.push_back(d);
    }
  }
  r.counts = {{"keys", finals.size()}, {"diverged", diverged}, {"replicas", nodes.size()}};
  if (nodes.empty()) {
    r.verdict = CheckResult::Verdict::kUnknown;
    r.summary = "no final events: nothing to compare";
  } else {
    r.verdict = diverged == 0 ? CheckResult::Verdict::kOk : CheckResult::Verdict::kFail;
    r.summary = std::to_string(diverged) + " of " + std::to_string(finals.size()) +
                " keys differ across " + std::to_string(nodes.size()) + " replicas";
  }
  return r;
}

Result<std::vector<CheckResult>> RunChecks(const History& h, const std::string& names,
                                           const LinearizableOptions* lin) {
  std::vector<std::string> list;
  SessionChecks session;
  size_t start = 0;
  while (start <= names.size()) {
    size_t comma = names.find(',', start);
    std::string name =
        names.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool* flag = name == "read-your-writes"    ? &session.read_your_writes
                 : name == "monotonic-reads"   ? &session.monotonic_reads
                 : name == "consistent-prefix" ? &session.consistent_prefix
                 : name == "stale-reads"       ? &session.stale_reads
                                               : nullptr;
    if (flag) *flag = true;
    if (!flag && name != "lost-writes" && name != "convergence" && name != "linearizable")
      return Status::Invalid("--checks: unknown check '" + name +
                             "' (available: " + std::string(kCheckNames) + ")");
    list.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  // The session checks share one pass over the history.
  std::vector<CheckResult> sessions = CheckSessions(h, session);
  std::vector<CheckResult> out;
  for (const std::string& name : list) {
    if (name == "lost-writes") {
      out.push_back(CheckLostWrites(h));
    } else if (name == "convergence") {
      out.push_back(CheckConvergence(h));
    } else if (name == "linearizable") {
      out.push_back(CheckLinearizable(h, lin ? *lin : LinearizableOptions{}));
    } else {
      for (const CheckResult& r : sessions)
        if (r.name == name) out.push_back(r);
    }
  }
  return out;
}

}  // namespace rkv
