#include "check/linearizable.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "check/lin_history.h"
#include "check/lin_search.h"
#include "core/encoding.h"

namespace rkv {

namespace {

using lin::KeyHistory;
using lin::SearchResult;
using Verdict = SearchResult::Verdict;
using Clock = std::chrono::steady_clock;

// Counterexamples show at most this many operations, and values cut to this.
constexpr size_t kShownOpsMax = 24;
constexpr size_t kShownValueBytes = 60;

struct KeyOutcome {
  std::string key;
  Verdict verdict = Verdict::kLinearizable;
  uint32_t ops = 0;
  uint64_t configurations = 0, unknown_dropped = 0, memory_bytes = 0;
  SearchResult failed;  // kept for the shrinker
  std::vector<std::string> explanation;
};

std::string Quote(const KeyHistory& k, uint32_t id) {
  std::optional<std::string> v = k.values.Render(id, kShownValueBytes);
  return v ? JsonQuote(*v) : "null";
}

std::string Describe(const KeyHistory& k, const lin::Op& o, bool relaxed) {
  bool certain = o.outcome != lin::Outcome::kInfo && !relaxed;
  switch (o.type) {
    case OpType::kRead:
      return "read -> " + Quote(k, o.a);
    case OpType::kWrite:
      return "write " + Quote(k, o.a);
    case OpType::kCas:
      return "cas " + Quote(k, o.a) + " -> " + Quote(k, o.b) +
             (o.outcome == lin::Outcome::kCasFailed ? " (failed: found another value)" : "");
    case OpType::kAppend: {
      std::string_view p = k.pieces[o.piece].bytes;
      return "append " + JsonQuote(p.size() > kShownValueBytes ? p.substr(0, kShownValueBytes) : p);
    }
    case OpType::kIncr:
      return "incr " + std::to_string(o.delta) +
             (certain && o.has_result ? " -> " + std::to_string(o.result) : "");
    case OpType::kNone:
      break;
  }
  return "?";
}

std::string Timing(const lin::Op& o) {
  std::string s =
      "invoked t=" + std::to_string(o.call_time) + " (line " + std::to_string(o.call_line) + "), ";
  if (o.ret_line == 0) return s + "never completed";
  const char* how = o.outcome == lin::Outcome::kInfo        ? "info"
                    : o.outcome == lin::Outcome::kCasFailed ? "fail"
                                                            : "ok";
  s += std::string(how) + " t=" + std::to_string(o.ret_time) + " (line " +
       std::to_string(o.ret_line) + ")";
  if (!o.version.empty()) s += ", version " + o.version;
  return s;
}

// Unknown operations are listed one by one only when they are this few.
constexpr size_t kShownUnknownMax = 8;

std::string OpLine(const KeyHistory& k, const lin::Choice& c) {
  const lin::Op& o = k.ops[c.op];
  std::string line = (c.relaxed ? "  ? " : "    ") + Describe(k, o, c.relaxed);
  if (line.size() < 34) line.resize(34, ' ');
  return line + "  client " + std::to_string(o.client) + " node " + std::to_string(o.node) + ", " +
         Timing(o);
}

// The counterexample as lines a person reads: the operations in invocation
// order; appends whose bytes make up the values read are listed one by one
// only when few (a read of a long string needs every append in it).
// "+ 189 incrs invoked between lines 114 and 3540 <what>".
std::string Summary(const KeyHistory& k, const std::vector<lin::Choice>& group, const char* what) {
  std::map<std::string, size_t> kinds;
  for (const lin::Choice& c : group) ++kinds[std::string(OpTypeName(k.ops[c.op].type))];
  std::string s;
  for (const auto& [name, n] : kinds)
    s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + name + (n > 1 ? "s" : "");
  return "    + " + s + " invoked between lines " +
         std::to_string(k.ops[group.front().op].call_line) + " and " +
         std::to_string(k.ops[group.back().op].call_line) + " " + what;
}

std::vector<std::string> Explain(const KeyHistory& k, std::vector<lin::Choice> sel) {
  std::sort(sel.begin(), sel.end(), [&](const lin::Choice& a, const lin::Choice& b) {
    return k.ops[a.op].call < k.ops[b.op].call;
  });
  std::vector<bool> seen = lin::AppendsSeen(k, sel);
  size_t seen_count = std::count(seen.begin(), seen.end(), true);
  size_t unsure_count = 0;
  for (size_t i = 0; i < sel.size(); ++i) unsure_count += sel[i].relaxed && !seen[i];
  std::vector<lin::Choice> shown, context, unsure;
  for (size_t i = 0; i < sel.size(); ++i) {
    if (seen[i] && seen_count > kShownUnknownMax)
      context.push_back(sel[i]);
    else if (sel[i].relaxed && unsure_count > kShownUnknownMax)
      unsure.push_back(sel[i]);
    else
      shown.push_back(sel[i]);
  }
  size_t relaxed =
      std::count_if(sel.begin(), sel.end(), [](const lin::Choice& c) { return c.relaxed; });
  std::vector<std::string> out;
  if (sel.size() == 1) {
    out.push_back("key " + k.key +
                  ": this operation alone cannot be ordered: at no point between its invocation "
                  "and its return could it have seen what it reports:");
  } else {
    out.push_back(
        "key " + k.key + ": no order of these " + std::to_string(sel.size()) +
        " operations respects real time (one that returned before another was "
        "invoked comes first) and explains what each saw" +
        (relaxed ? ", whether or not the " + std::to_string(relaxed) + " marked ? took effect:"
                 : ":"));
  }
  for (size_t i = 0; i < shown.size() && i < kShownOpsMax; ++i) out.push_back(OpLine(k, shown[i]));
  if (shown.size() > kShownOpsMax)
    out.push_back("    ... and " + std::to_string(shown.size() - kShownOpsMax) + " more");
  if (!context.empty()) {
    size_t marked = std::count_if(context.begin(), context.end(),
                                  [](const lin::Choice& c) { return c.relaxed; });
    out.push_back(Summary(k, context, "whose bytes make up the values read") +
                  (marked ? " (" + std::to_string(marked) + " of them marked ?)" : ""));
  }
  if (!unsure.empty())
    out.push_back(Summary(k, unsure, "marked ?, that may or may not have taken effect"));
  return out;
}

std::string LimitNote(const KeyOutcome& r, const LinearizableOptions& o) {
  std::string why = r.verdict == Verdict::kTimeLimit
                        ? "the search exceeded its time limit (" + std::to_string(o.time_limit_ms) +
                              " ms; --time-limit-ms)"
                    : r.verdict == Verdict::kMemoryLimit
                        ? "the search exceeded its memory limit (" +
                              std::to_string(o.memory_limit_mb) + " MB; --memory-limit-mb)"
                        : std::string("the search exceeded its step budget");
  return "key " + r.key + ": unknown — " + why + " after " + std::to_string(r.configurations) +
         " configurations over " + std::to_string(r.ops) + " operations";
}

KeyOutcome SearchKey(KeyHistory& k, const LinearizableOptions& o) {
  lin::Limits limits;
  limits.deadline = Clock::now() + std::chrono::milliseconds(o.time_limit_ms);
  limits.memory_bytes_max = o.memory_limit_mb << 20;
  SearchResult r = lin::Search(k, nullptr, limits);
  KeyOutcome out;
  out.key = k.key;
  out.verdict = r.verdict;
  out.ops = static_cast<uint32_t>(k.ops.size());
  out.configurations = r.configurations;
  out.unknown_dropped = r.unknown_dropped;
  out.memory_bytes = r.memory_bytes;
  if (r.verdict == Verdict::kNotLinearizable) out.failed = std::move(r);
  return out;
}

void ExplainKey(KeyHistory& k, KeyOutcome* r, const LinearizableOptions& o) {
  if (o.shrink_steps == 0 || o.shrink_time_limit_ms == 0) {
    r->explanation.push_back("key " + k.key + ": not linearizable (" +
                             std::to_string(k.ops.size()) +
                             " operations; no counterexample searched for)");
    return;
  }
  lin::Limits limits;
  limits.deadline = Clock::now() + std::chrono::milliseconds(o.shrink_time_limit_ms);
  limits.memory_bytes_max = o.memory_limit_mb << 20;
  limits.steps_max = o.shrink_steps;
  r->explanation = Explain(k, lin::Shrink(k, r->failed, limits));
}

// Runs fn(i) for i in `items` on up to `threads` threads.
template <typename Fn>
void Parallel(const std::vector<size_t>& items, unsigned threads, Fn fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t j = next++; j < items.size(); j = next++) fn(items[j]);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < items.size(); ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

CheckResult Summarize(std::vector<KeyOutcome>& out, const lin::BuildCounts& counts,
                      const LinearizableOptions& o) {
  CheckResult r;
  r.name = "linearizable";
  uint64_t failed = 0, unknown = 0, checked = 0, configurations = 0, dropped = 0;
  std::string first_failed;
  for (KeyOutcome& k : out) {
    checked += k.ops;
    configurations += k.configurations;
    dropped += k.unknown_dropped;
    if (k.verdict == Verdict::kNotLinearizable) {
      if (first_failed.empty()) first_failed = k.key;
      ++failed;
      if (k.explanation.empty())  // beyond the first few: named, not explained
        k.explanation.push_back("key " + k.key + ": not linearizable (" + std::to_string(k.ops) +
                                " operations)");
      for (std::string& line : k.explanation) r.details.push_back(std::move(line));
    } else if (k.verdict != Verdict::kLinearizable) {
      ++unknown;
    }
  }
  uint64_t info = counts.info + counts.open_at_end;
  r.counts = {{"keys", out.size()},
              {"ops", counts.ops},
              {"checked", checked},
              {"ok", counts.ok},
              {"info", info},
              {"fail", counts.fail},
              {"keys_failed", failed},
              {"keys_unknown", unknown},
              {"unknown_dropped", dropped},
              {"configurations", configurations}};
  std::string shape = std::to_string(counts.ops) + " operations on " + std::to_string(out.size()) +
                      " keys, " + std::to_string(info) + " of them info";
  if (failed > 0) {
    r.verdict = CheckResult::Verdict::kFail;
    r.summary = std::to_string(failed) + " of " + std::to_string(out.size()) +
                " keys not linearizable (first: " + first_failed + "); " + shape;
  } else if (unknown > 0) {
    r.verdict = CheckResult::Verdict::kUnknown;
    r.summary = std::to_string(unknown) + " of " + std::to_string(out.size()) +
                " keys could not be decided within the limits; " + shape;
  } else {
    r.summary = "every key linearizable; " + shape;
  }
  // Keys whose search gave up are named whatever the verdict.
  size_t named = 0;
  for (const KeyOutcome& k : out) {
    if (k.verdict == Verdict::kLinearizable || k.verdict == Verdict::kNotLinearizable) continue;
    if (named++ < kShownOpsMax) r.details.push_back(LimitNote(k, o));
  }
  if (named > kShownOpsMax)
    r.details.push_back("... and " + std::to_string(named - kShownOpsMax) + " more keys unknown");
  return r;
}

CheckResult Judge(std::vector<std::unique_ptr<KeyHistory>> keys, const lin::BuildCounts& counts,
                  const LinearizableOptions& o) {
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<KeyOutcome> out(keys.size());
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) order[i] = i;
  // Largest keys first, so one big key does not start last.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return keys[a]->ops.size() > keys[b]->ops.size(); });
  Parallel(order, threads, [&](size_t i) {
    out[i] = SearchKey(*keys[i], o);
    if (out[i].verdict != Verdict::kNotLinearizable) keys[i].reset();
  });
  // Explain the first failing keys (by name, so the output is deterministic).
  std::vector<size_t> failing;
  for (size_t i = 0; i < keys.size(); ++i)
    if (out[i].verdict == Verdict::kNotLinearizable && failing.size() < kLinCounterexamplesMax)
      failing.push_back(i);
  Parallel(failing, threads, [&](size_t i) { ExplainKey(*keys[i], &out[i], o); });

  return Summarize(out, counts, o);
}

}  // namespace

CheckResult CheckLinearizable(const History& h, const LinearizableOptions& options) {
  lin::HistoryBuilder builder;
  EventView view;
  for (size_t i = 0; i < h.events.size(); ++i) {
    ViewOf(h.events[i], h.lines.size() == h.events.size() ? h.lines[i] : i + 1, &view);
    Status s = builder.Add(view);
    if (!s.ok()) {
      CheckResult r;
      r.name = "linearizable";
      r.verdict = CheckResult::Verdict::kUnknown;
      r.summary = "cannot check a malformed history: " + s.message();
      return r;
    }
  }
  std::vector<std::unique_ptr<KeyHistory>> keys = builder.Finish();
  return Judge(std::move(keys), builder.counts(), options);
}

Result<CheckResult> CheckLinearizableFile(const std::string& path,
                                          const LinearizableOptions& options) {
  lin::HistoryBuilder builder;
  Status s = StreamHistoryFile(path, [&builder](const EventView& v) { return builder.Add(v); });
  if (!s.ok()) return s;
  std::vector<std::unique_ptr<KeyHistory>> keys = builder.Finish();
  return Judge(std::move(keys), builder.counts(), options);
}

}  // namespace rkv
