#include "check/session.h"

#include <algorithm>
#include <map>

#include "check/session_model.h"

namespace rkv {

namespace {

using sess::Before;
using sess::kNone;
using sess::Model;
using sess::Op;
using sess::PosString;
using sess::View;

// Violations explained operation by operation, per check; the rest are counted.
constexpr size_t kShownViolationsMax = 5;

// Why a read's state provably lacks a write: `write` is missing, and `via`
// (when set) is the write whose value the read returned instead.
struct Miss {
  uint32_t write = kNone;
  std::string why;
  uint32_t via = kNone;
};

// A set of writes to one key, kept as the few extremes that decide whether a
// read's state lacks one of them (README: "what a read provably lacks").
class WriteSet {
 public:
  void Add(const Model& m, uint32_t w) {
    const Op& o = m.op(w);
    last_ = w;
    if (o.pos.known && (max_pos_ == kNone || Before(m.op(max_pos_).pos, o.pos))) max_pos_ = w;
    if (max_call_ == kNone || m.op(max_call_).call < o.call) max_call_ = w;
    if (o.type == OpType::kAppend && token_set_.insert(w).second) tokens_.push_back(w);
    if (o.type == OpType::kIncr && o.result &&
        (max_result_ == kNone || *m.op(max_result_).result < *o.result))
      max_result_ = w;
  }
  bool empty() const { return last_ == kNone; }

  std::optional<Miss> MissedBy(const Model& m, uint32_t read, const View& v) const {
    if (empty()) return std::nullopt;
    const Op& r = m.op(read);
    const sess::Key& k = m.key(r.key);
    if (max_pos_ != kNone && Before(r.pos, m.op(max_pos_).pos))
      return Miss{max_pos_, "it was served at version " + PosString(r.pos) +
                                ", before that write's " + PosString(m.op(max_pos_).pos)};
    if (v.absent) return Miss{last_, "it found the key absent"};
    if (k.append_only)
      for (size_t i = tokens_.size(); i-- > 0;)
        if (!v.token_set.count(tokens_[i]))
          return Miss{tokens_[i], "its value lacks " + m.Token(tokens_[i])};
    if (v.writer != kNone) {
      const Op& w1 = m.op(v.writer);
      std::string read = "it read " + m.Quote(r.value);
      if (max_pos_ != kNone && Before(w1.pos, m.op(max_pos_).pos))
        return Miss{max_pos_,
                    read + ", written at version " + PosString(w1.pos) + ", before that write's " +
                        PosString(m.op(max_pos_).pos),
                    v.writer};
      if (w1.ok() && w1.ret < m.op(max_call_).call)
        return Miss{max_call_, read + ", whose write returned before that write was invoked",
                    v.writer};
    }
    if (k.counter_only && v.number && max_result_ != kNone && *v.number < *m.op(max_result_).result)
      return Miss{max_result_, "it read " + std::to_string(*v.number) + ", below the " +
                                   std::to_string(*m.op(max_result_).result) +
                                   " that incr returned"};
    return std::nullopt;
  }

 private:
  uint32_t last_ = kNone, max_pos_ = kNone, max_call_ = kNone, max_result_ = kNone;
  std::vector<uint32_t> tokens_;
  std::unordered_set<uint32_t> token_set_;
};

struct Violation {
  uint32_t read = kNone;
  std::string header;
  std::vector<uint32_t> ops;  // shown in invocation order
  uint32_t missed = kNone;    // the write the read lacks, when it is one
  // Explained by a rollback in another way: an earlier read's state held a
  // write that was rolled back (a counter that went down).
  bool rolled_back = false;
};

class Report {
 public:
  explicit Report(std::string name) { result_.name = std::move(name); }
  void Add(const Model& m, Violation v) {
    ++violations_;
    // Explained, not excused: the promises hold for writes not rolled back.
    if (v.missed != kNone && m.RolledBack(v.missed)) {
      ++rolled_back_;
      if (!v.header.empty() && v.header.back() == ':') v.header.pop_back();
      v.header += " (that write was rolled back: a rollback record holds it):";
    } else if (v.rolled_back) {
      ++rolled_back_;
      if (!v.header.empty() && v.header.back() == ':') v.header.pop_back();
      v.header += " (the earlier read's state held a write that was rolled back):";
    } else if (v.read != kNone && v.missed != kNone &&
               m.HeldOwnLaterRolledBackWrite(v.read, v.missed)) {
      ++rolled_back_;
      if (!v.header.empty() && v.header.back() == ':') v.header.pop_back();
      v.header += " (its state held this session's own later write, which was rolled back):";
    }
    if (shown_ >= kShownViolationsMax) return;
    ++shown_;
    std::erase(v.ops, kNone);
    std::sort(v.ops.begin(), v.ops.end());
    v.ops.erase(std::unique(v.ops.begin(), v.ops.end()), v.ops.end());
    std::sort(v.ops.begin(), v.ops.end(),
              [&](uint32_t a, uint32_t b) { return m.op(a).call < m.op(b).call; });
    result_.details.push_back(v.header);
    for (uint32_t o : v.ops) result_.details.push_back(m.Line(o));
  }
  uint64_t violations() const { return violations_; }
  uint64_t rolled_back() const { return rolled_back_; }
  CheckResult& result() { return result_; }

 private:
  CheckResult result_;
  uint64_t violations_ = 0, rolled_back_ = 0;
  size_t shown_ = 0;
};

// The write with the greatest position in each of two keys, so that the best
// one on a key other than a given one is at hand.
struct TopTwo {
  uint32_t first = kNone, second = kNone;
  void Add(const Model& m, uint32_t w, bool by_index_only) {
    auto better = [&](uint32_t a, uint32_t b) {  // a beats b
      if (b == kNone) return true;
      return by_index_only ? m.op(a).pos.index > m.op(b).pos.index
                           : Before(m.op(b).pos, m.op(a).pos);
    };
    auto same_key = [&](uint32_t a) { return a != kNone && m.op(a).key == m.op(w).key; };
    if (same_key(first)) {
      if (better(w, first)) first = w;
    } else if (same_key(second)) {
      if (better(w, second)) second = w;
      if (better(second, first)) std::swap(first, second);
    } else if (better(w, first)) {
      second = first;
      first = w;
    } else if (better(w, second)) {
      second = w;
    }
  }
  uint32_t OtherThan(const Model& m, uint32_t key) const {
    if (first != kNone && m.op(first).key != key) return first;
    return second;
  }
};

class Checker {
 public:
  Checker(const Model& m, const SessionChecks& which)
      : m_(m),
        which_(which),
        ryw_("read-your-writes"),
        mr_("monotonic-reads"),
        cp_("consistent-prefix"),
        stale_("stale-reads"),
        acked_(m.key_count()),
        observer_(m.session_count()),
        seen_pos_(m.session_count()),
        seen_term_(m.session_count()) {}

  void Run() {
    for (const Model::Step& s : m_.steps()) {
      const Op& o = m_.op(s.op);
      if (o.type == OpType::kRead && o.ok())
        s.completion ? ReadReturned(s.op) : ReadInvoked(s.op);
      else if (s.completion && o.ok())
        WriteAcknowledged(s.op);
    }
  }
  std::vector<CheckResult> Results();

 private:
  using SessionKey = std::pair<uint32_t, uint32_t>;

  void WriteAcknowledged(uint32_t w) {
    const Op& o = m_.op(w);
    acked_[o.key].Add(m_, w);
    own_[{o.session, o.key}].Add(m_, w);
  }
  void ReadInvoked(uint32_t r) {
    View v = m_.Observe(r);
    ++reads_;
    if (which_.stale_reads) CheckStale(r, v);
    if (which_.read_your_writes) CheckReadYourWrites(r, v);
    if (which_.monotonic_reads) CheckMonotonic(r, v);
    if (which_.consistent_prefix) CheckPrefix(r, v);
    views_.emplace(r, std::move(v));
  }
  void ReadReturned(uint32_t r);

  void CheckStale(uint32_t r, const View& v);
  void CheckReadYourWrites(uint32_t r, const View& v);
  void CheckMonotonic(uint32_t r, const View& v);
  void CheckPrefix(uint32_t r, const View& v);
  std::optional<Violation> BeyondOwnVersion(uint32_t r, const View& v);
  std::optional<Violation> OutOfOrder(uint32_t r, const View& v);
  std::optional<Violation> SameTermGap(uint32_t r, const View& v);
  std::optional<Violation> PrefixDisagrees(uint32_t r, const View& v);
  std::optional<Violation> BeforeSeenElsewhere(uint32_t r, const View& v);
  bool SeenBySession(uint32_t session, uint32_t w) const { return observer_[session].count(w) > 0; }
  std::string Who(uint32_t r) const {
    const Op& o = m_.op(r);
    return m_.SessionName(o.session) + ", key " + m_.key(o.key).name;
  }

  const Model& m_;
  SessionChecks which_;
  Report ryw_, mr_, cp_, stale_;
  uint64_t reads_ = 0, gaps_ = 0, going_back_ = 0;
  std::vector<WriteSet> acked_;                                     // by key
  std::map<SessionKey, WriteSet> own_, seen_;                       // by session and key
  std::map<SessionKey, std::pair<int64_t, uint32_t>> seen_number_;  // counters: highest read
  std::vector<std::unordered_map<uint32_t, uint32_t>> observer_;    // write -> first read seeing it
  std::vector<TopTwo> seen_pos_;                                    // by session
  std::vector<std::map<uint64_t, TopTwo>> seen_term_;               // by session, then term
  // Appends: the bytes before each one's first occurrence, as the first read
  // holding it returned them (a hash, their length, that read).
  struct Prefix {
    uint64_t hash;
    size_t bytes;
    uint32_t read;
  };
  std::unordered_map<uint32_t, Prefix> prefix_;
  std::unordered_map<uint32_t, View> views_;  // reads between invocation and return
};

void Checker::ReadReturned(uint32_t r) {
  auto it = views_.find(r);
  const View& v = it->second;
  const Op& o = m_.op(r);
  SessionKey sk{o.session, o.key};
  v.ForEachObserved([&](uint32_t w) {
    seen_[sk].Add(m_, w);
    observer_[o.session].try_emplace(w, r);
    if (!m_.op(w).pos.known) return;
    seen_pos_[o.session].Add(m_, w, false);
    seen_term_[o.session][m_.op(w).pos.term].Add(m_, w, true);
  });
  if (v.number) {
    auto [n, inserted] = seen_number_.try_emplace(sk, *v.number, r);
    if (!inserted && n->second.first < *v.number) n->second = {*v.number, r};
  }
  views_.erase(it);
}

void Checker::CheckStale(uint32_t r, const View& v) {
  std::optional<Miss> miss = acked_[m_.op(r).key].MissedBy(m_, r, v);
  if (!miss) return;
  stale_.Add(m_, {r,
                  "  " + Who(r) + ": a read missed a write acknowledged before it was invoked — " +
                      miss->why + ":",
                  {miss->write, miss->via, r},
                  miss->write});
}

void Checker::CheckReadYourWrites(uint32_t r, const View& v) {
  auto it = own_.find({m_.op(r).session, m_.op(r).key});
  if (it == own_.end()) return;
  std::optional<Miss> miss = it->second.MissedBy(m_, r, v);
  if (!miss) return;
  ryw_.Add(m_,
           {r,
            "  " + Who(r) + ": a read missed the session's own earlier write — " + miss->why + ":",
            {miss->write, miss->via, r},
            miss->write});
}

void Checker::CheckMonotonic(uint32_t r, const View& v) {
  const Op& o = m_.op(r);
  SessionKey sk{o.session, o.key};
  if (auto it = seen_.find(sk); it != seen_.end()) {
    if (std::optional<Miss> miss = it->second.MissedBy(m_, r, v)) {
      mr_.Add(m_, {r,
                   "  " + Who(r) + ": a read missed a write an earlier read of the session saw — " +
                       miss->why + ":",
                   {miss->write, observer_[o.session].at(miss->write), miss->via, r},
                   miss->write});
      return;
    }
  }
  auto n = seen_number_.find(sk);
  if (n == seen_number_.end() || !v.number) return;
  auto [before, earlier] = n->second;
  if (*v.number >= before) return;
  mr_.Add(m_, {r,
               "  " + Who(r) + ": a counter read went down — it read " + std::to_string(*v.number) +
                   " after the session had read " + std::to_string(before) + ":",
               {earlier, r},
               kNone,
               m_.HeldRolledBack(earlier)});
}

void Checker::CheckPrefix(uint32_t r, const View& v) {
  std::optional<Violation> found = BeyondOwnVersion(r, v);
  if (!found) found = OutOfOrder(r, v);
  if (!found) found = SameTermGap(r, v);
  if (!found) found = PrefixDisagrees(r, v);
  if (found) ++gaps_;
  if (!found && (found = BeforeSeenElsewhere(r, v))) ++going_back_;
  if (found) cp_.Add(m_, std::move(*found));
}

// A read whose version is before a write its value holds.
std::optional<Violation> Checker::BeyondOwnVersion(uint32_t r, const View& v) {
  const Op& o = m_.op(r);
  uint32_t beyond = kNone;
  v.ForEachObserved([&](uint32_t w) {
    if (beyond == kNone && Before(o.pos, m_.op(w).pos)) beyond = w;
  });
  if (beyond == kNone) return std::nullopt;
  return Violation{r,
                   "  " + Who(r) + ": a read holds a write from beyond its own version " +
                       PosString(o.pos) + " (that write's is " + PosString(m_.op(beyond).pos) +
                       "):",
                   {beyond, r}};
}

// Appends held in an order the log cannot have: a later one first.
std::optional<Violation> Checker::OutOfOrder(uint32_t r, const View& v) {
  uint32_t max_pos = kNone, max_call = kNone;
  for (uint32_t a : v.tokens) {
    const Op& x = m_.op(a);
    if (max_pos != kNone && Before(x.pos, m_.op(max_pos).pos))
      return Violation{r,
                       "  " + Who(r) + ": a read holds " + m_.Token(max_pos) + " (version " +
                           PosString(m_.op(max_pos).pos) + ") before " + m_.Token(a) +
                           " (version " + PosString(x.pos) + "):",
                       {a, max_pos, r}};
    if (max_call != kNone && x.ok() && x.ret < m_.op(max_call).call)
      return Violation{r,
                       "  " + Who(r) + ": a read holds " + m_.Token(max_call) + " before " +
                           m_.Token(a) + ", though " + m_.Token(a) +
                           " was acknowledged before the other was invoked:",
                       {a, max_call, r}};
    if (x.pos.known && (max_pos == kNone || Before(m_.op(max_pos).pos, x.pos))) max_pos = a;
    if (max_call == kNone || m_.op(max_call).call < x.call) max_call = a;
  }
  return std::nullopt;
}

// An append held without an earlier entry of the same term on its key: two
// logs holding the same (term, index) agree on everything before it.
std::optional<Violation> Checker::SameTermGap(uint32_t r, const View& v) {
  std::map<uint64_t, uint32_t> latest;  // term -> held append with the highest index
  for (uint32_t a : v.tokens) {
    const sess::Pos& p = m_.op(a).pos;
    if (!p.known) continue;
    auto [it, inserted] = latest.try_emplace(p.term, a);
    if (!inserted && m_.op(it->second).pos.index < p.index) it->second = a;
  }
  const std::vector<uint32_t>& by_pos = m_.key(m_.op(r).key).by_pos;
  for (const auto& [term, b] : latest) {
    auto first = std::lower_bound(by_pos.begin(), by_pos.end(), term,
                                  [&](uint32_t w, uint64_t t) { return m_.op(w).pos.term < t; });
    for (auto it = first; it != by_pos.end() && *it != b; ++it) {
      const Op& a = m_.op(*it);
      if (a.pos.term != term || a.type != OpType::kAppend) continue;
      if (v.token_set.count(*it) || SeenBySession(m_.op(r).session, *it)) continue;
      return Violation{r,
                       "  " + Who(r) + ": a read holds " + m_.Token(b) + " (version " +
                           PosString(m_.op(b).pos) + ") but not " + m_.Token(*it) + " (version " +
                           PosString(a.pos) + "), an earlier entry of the same term:",
                       {*it, b, r},
                       *it};
    }
  }
  return std::nullopt;
}

uint64_t HashStep(uint64_t h, unsigned char c) { return (h ^ c) * 0x100000001b3ULL; }

// Every read holding an append holds the same bytes before it: in one log,
// what precedes an entry never changes.
std::optional<Violation> Checker::PrefixDisagrees(uint32_t r, const View& v) {
  if (v.tokens.empty()) return std::nullopt;
  const std::string& s = *m_.op(r).value;
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t hashed = 0;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    for (; hashed < v.token_at[i]; ++hashed) h = HashStep(h, s[hashed]);
    auto [it, inserted] = prefix_.try_emplace(v.tokens[i], Prefix{h, hashed, r});
    if (inserted || (it->second.hash == h && it->second.bytes == hashed)) continue;
    // Name an append one of the two holds before this one and the other does not.
    uint32_t other = it->second.read;
    View w = m_.Observe(other);
    auto before = [](const View& x, uint32_t a) {
      std::unordered_set<uint32_t> out;
      for (size_t j = 0; j < x.tokens.size() && x.tokens[j] != a; ++j) out.insert(x.tokens[j]);
      return out;
    };
    std::unordered_set<uint32_t> mine = before(v, v.tokens[i]), theirs = before(w, v.tokens[i]);
    std::string why = "they hold the same appends before it in another order";
    std::vector<uint32_t> ops = {other, r, v.tokens[i]};
    uint32_t missed = kNone;
    for (uint32_t a : theirs)
      if (!mine.count(a)) {
        why = "this one lacks " + m_.Token(a) + ", which the other holds before it";
        ops.push_back(a);
        missed = a;
        break;
      }
    if (ops.size() == 3)
      for (uint32_t a : mine)
        if (!theirs.count(a)) {
          why = "this one holds " + m_.Token(a) + " before it, the other does not";
          ops.push_back(a);
          break;
        }
    return Violation{r,
                     "  " + Who(r) + ": two reads disagree on what precedes " +
                         m_.Token(v.tokens[i]) + " — " + why + ":",
                     ops, missed};
  }
  return std::nullopt;
}

// The session saw a write on another key; this read's state is from before
// it, or lacks an earlier entry of that write's term.
std::optional<Violation> Checker::BeforeSeenElsewhere(uint32_t r, const View& v) {
  const Op& o = m_.op(r);
  uint32_t w = seen_pos_[o.session].OtherThan(m_, o.key);
  if (w != kNone && Before(o.pos, m_.op(w).pos)) {
    return Violation{r,
                     "  " + Who(r) + ": the session saw a write to " + m_.key(m_.op(w).key).name +
                         " at version " + PosString(m_.op(w).pos) +
                         "; this later read was served at version " + PosString(o.pos) +
                         ", before it:",
                     {w, observer_[o.session].at(w), r},
                     w};
  }
  const std::vector<uint32_t>& by_pos = m_.key(o.key).by_pos;
  for (const auto& [term, top] : seen_term_[o.session]) {
    uint32_t seen = top.OtherThan(m_, o.key);
    if (seen == kNone) continue;
    WriteSet earlier;  // this key's writes earlier in the seen write's term
    auto first = std::lower_bound(by_pos.begin(), by_pos.end(), term,
                                  [&](uint32_t x, uint64_t t) { return m_.op(x).pos.term < t; });
    for (auto it = first; it != by_pos.end() && m_.op(*it).pos.term == term &&
                          m_.op(*it).pos.index < m_.op(seen).pos.index;
         ++it)
      if (!SeenBySession(o.session, *it)) earlier.Add(m_, *it);
    std::optional<Miss> miss = earlier.MissedBy(m_, r, v);
    if (!miss) continue;
    return Violation{
        r,
        "  " + Who(r) + ": the session saw a write to " + m_.key(m_.op(seen).key).name +
            " at version " + PosString(m_.op(seen).pos) +
            "; this later read lacks an earlier entry of that term — " + miss->why + ":",
        {miss->write, seen, observer_[o.session].at(seen), miss->via, r},
        miss->write};
  }
  return std::nullopt;
}

std::vector<CheckResult> Checker::Results() {
  auto n_of = [](uint64_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::string sessions = n_of(m_.session_count(), "session");
  std::string shape = n_of(reads_, "read") + ", " + sessions;
  auto finish = [&](Report& rep, const std::string& failed, const std::string& held) {
    CheckResult r = std::move(rep.result());
    uint64_t n = rep.violations();
    r.verdict = n == 0 ? CheckResult::Verdict::kOk : CheckResult::Verdict::kFail;
    r.summary = n == 0 ? held + " (" + shape + ")"
                       : std::to_string(n) + " of " + n_of(reads_, "read") + " " + failed + " (" +
                             sessions + ")";
    if (n > kShownViolationsMax)
      r.details.push_back("  ... and " + std::to_string(n - kShownViolationsMax) + " more");
    r.counts = {{"reads", reads_},
                {"sessions", m_.session_count()},
                {"violations", n},
                {"rolled_back", rep.rolled_back()}};
    if (n > 0 && rep.rolled_back() > 0)
      r.summary +=
          "; " + std::to_string(rep.rolled_back()) + " of them missed a write that was rolled back";
    return r;
  };
  std::vector<CheckResult> out;
  if (which_.read_your_writes)
    out.push_back(finish(ryw_, "missed a write their own session made earlier",
                         "every read saw its session's earlier writes"));
  if (which_.monotonic_reads)
    out.push_back(finish(mr_, "missed a write an earlier read of their session saw",
                         "no read went back on what its session had read"));
  if (which_.consistent_prefix) {
    out.push_back(finish(cp_,
                         "saw a state that is not a prefix of the log (" + std::to_string(gaps_) +
                             " within one read, " + std::to_string(going_back_) +
                             " from before a write their session saw on another key)",
                         "every read saw a prefix of the log"));
    out.back().counts["gaps"] = gaps_;
    out.back().counts["going_back"] = going_back_;
  }
  if (which_.stale_reads)
    out.push_back(finish(stale_, "missed a write acknowledged before they were invoked",
                         "no read missed a write acknowledged before it"));
  return out;
}

}  // namespace

std::vector<CheckResult> CheckSessions(const History& h, const SessionChecks& which) {
  sess::Model m;
  Status s = m.Build(h);
  if (!s.ok()) {
    std::vector<CheckResult> out;
    auto unknown = [&](const char* name) {
      CheckResult r;
      r.name = name;
      r.verdict = CheckResult::Verdict::kUnknown;
      r.summary = "cannot check a malformed history: " + s.message();
      out.push_back(std::move(r));
    };
    if (which.read_your_writes) unknown("read-your-writes");
    if (which.monotonic_reads) unknown("monotonic-reads");
    if (which.consistent_prefix) unknown("consistent-prefix");
    if (which.stale_reads) unknown("stale-reads");
    return out;
  }
  Checker c(m, which);
  c.Run();
  return c.Results();
}

}  // namespace rkv
