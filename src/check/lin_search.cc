#include "check/lin_search.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace rkv::lin {

namespace {

using Clock = std::chrono::steady_clock;

// How often (in search steps) the time and memory limits are looked at.
constexpr uint64_t kLimitCheckSteps = 1024;
constexpr int64_t kNoBound = INT64_MAX;

// An operation as the search sees it.
struct SOp {
  OpType type = OpType::kNone;
  Outcome outcome = Outcome::kOk;
  uint32_t a = 0, b = 0;
  int64_t delta = 0;
  bool has_result = false;
  int64_t result = 0;
  const Piece* piece = nullptr;
  uint64_t call = 0, ret = kNever;
  uint32_t src = 0;          // index into KeyHistory::ops
  uint32_t cls = 0;          // interchangeable unknown operations share a class
  int64_t bound = kNoBound;  // monotone counters: the highest level this op can still see
};

struct Prepared {
  std::vector<SOp> ops;
  uint64_t finite = 0;  // operations with a return
  uint64_t unknown_dropped = 0;
  bool monotone_counter = false;
  bool grows_only = false;  // reads and appends only: every state is a prefix of every later one
};

bool IsObservationOnly(const Op& o) {
  return o.type == OpType::kRead || o.outcome == Outcome::kCasFailed;
}

// Which tokens occur somewhere in the strings of `reads`. An occurrence ends
// inside one node's piece of a read's chain, so each piece is searched with
// the bytes just before it.
std::vector<bool> TokensOccurring(const ValueTable& v, const std::vector<uint32_t>& reads,
                                  const std::vector<std::string_view>& tokens) {
  std::vector<bool> found(tokens.size());
  std::unordered_map<std::string_view, std::vector<size_t>> by_bytes;
  std::vector<size_t> lengths;
  size_t longest = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    by_bytes[tokens[i]].push_back(i);
    longest = std::max(longest, tokens[i].size());
    if (std::find(lengths.begin(), lengths.end(), tokens[i].size()) == lengths.end())
      lengths.push_back(tokens[i].size());
  }
  std::unordered_set<uint32_t> visited;
  for (uint32_t r : reads) {
    for (uint32_t x = r; x != ValueTable::kAbsent && v.length(x) > 0 && visited.insert(x).second;
         x = v.parent(x)) {
      std::string window = longest > 1 ? v.Tail(v.parent(x), longest - 1) : std::string();
      size_t start = window.size();
      window.append(v.piece(x));
      std::string_view w(window);
      for (size_t end = start + 1; end <= w.size(); ++end)
        for (size_t len : lengths) {
          if (len > end) continue;
          auto it = by_bytes.find(w.substr(end - len, len));
          if (it != by_bytes.end())
            for (size_t i : it->second) found[i] = true;
        }
    }
  }
  return found;
}

// Unknown operations that cannot have mattered are dropped: keeping them is
// correct but makes the search try them at every step. Each rule is exact (a
// history is linearizable with the operation iff it is without it).
void DropIrrelevantUnknowns(KeyHistory& k, Prepared* p) {
  auto& ops = p->ops;
  uint64_t last_ret = 0;
  bool reads_writes_only = true, reads_appends_only = true;
  for (const SOp& o : ops) {
    if (o.ret != kNever) last_ret = std::max(last_ret, o.ret);
    if (o.type != OpType::kRead && o.type != OpType::kWrite) reads_writes_only = false;
    if (o.type != OpType::kRead && o.type != OpType::kAppend) reads_appends_only = false;
  }
  std::vector<bool> drop(ops.size());
  std::vector<uint32_t> reads;
  for (const SOp& o : ops)
    if (o.type == OpType::kRead) reads.push_back(o.a);
  // Invoked after every certain operation returned: it can go last, where
  // nothing sees it.
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].ret == kNever && ops[i].call > last_ret) drop[i] = true;
  if (reads_writes_only) {
    // A write nobody read: between it and the next write no read can sit.
    std::unordered_set<uint32_t> read_values(reads.begin(), reads.end());
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i].ret == kNever && !read_values.count(ops[i].a)) drop[i] = true;
  }
  if (reads_appends_only) {
    // An append whose bytes no read contains: every read after it would.
    std::vector<std::string_view> tokens;
    std::vector<size_t> which;
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i].ret == kNever && !drop[i]) {
        tokens.push_back(ops[i].piece->bytes);
        which.push_back(i);
      }
    std::vector<bool> seen = TokensOccurring(k.values, reads, tokens);
    for (size_t j = 0; j < which.size(); ++j)
      if (!seen[j]) drop[which[j]] = true;
  }
  size_t out = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (drop[i]) {
      ++p->unknown_dropped;
      continue;
    }
    ops[out++] = ops[i];
  }
  ops.resize(out);
}

int64_t Level(ValueTable& v, uint32_t s) {
  if (s == ValueTable::kAbsent) return -1;
  return v.Integer(s).value_or(kNoBound);
}

// A key of reads and positive increments only: its value never goes down, so
// a configuration above what a pending read saw is dead.
void MarkMonotoneCounter(KeyHistory& k, Prepared* p) {
  for (const SOp& o : p->ops)
    if (!(o.type == OpType::kRead || (o.type == OpType::kIncr && o.delta > 0))) return;
  p->monotone_counter = true;
  for (SOp& o : p->ops) {
    if (o.ret == kNever) continue;
    if (o.type == OpType::kRead) o.bound = Level(k.values, o.a);
    if (o.type == OpType::kIncr && o.has_result) o.bound = o.result - o.delta;
  }
}

void MarkGrowsOnly(Prepared* p) {
  for (const SOp& o : p->ops)
    if (o.type != OpType::kRead && o.type != OpType::kAppend) return;
  p->grows_only = true;
}

// On a monotone counter an operation that returned before another was invoked
// is linearized first, at a level no higher: if it left the counter above
// what the later one saw, nothing can order them. Returns the later one (an
// index into p.ops), found in O(n log n) before any search.
std::optional<uint32_t> LevelGoesDown(const Prepared& p) {
  if (!p.monotone_counter) return std::nullopt;
  struct Obs {
    uint32_t i;
    int64_t after;
  };
  std::vector<Obs> by_ret;
  for (uint32_t i = 0; i < p.ops.size(); ++i) {
    const SOp& o = p.ops[i];
    if (o.ret == kNever || o.bound == kNoBound) continue;
    by_ret.push_back({i, o.type == OpType::kIncr ? o.result : o.bound});
  }
  std::sort(by_ret.begin(), by_ret.end(),
            [&](const Obs& x, const Obs& y) { return p.ops[x.i].ret < p.ops[y.i].ret; });
  size_t next = 0;
  int64_t high = INT64_MIN;
  for (uint32_t i = 0; i < p.ops.size(); ++i) {  // in invocation order
    const SOp& y = p.ops[i];
    for (; next < by_ret.size() && p.ops[by_ret[next].i].ret < y.call; ++next)
      high = std::max(high, by_ret[next].after);
    if (y.ret != kNever && y.bound != kNoBound && y.bound < high) return i;
  }
  return std::nullopt;
}

Prepared Prepare(KeyHistory& k, const std::vector<Choice>* selection) {
  Prepared p;
  auto add = [&](uint32_t i, bool relaxed) {
    const Op& o = k.ops[i];
    bool unknown = relaxed || o.outcome == Outcome::kInfo;
    if (unknown && IsObservationOnly(o)) return;  // relaxing an observation removes it
    SOp s;
    s.type = o.type;
    s.outcome = unknown ? Outcome::kInfo : o.outcome;
    s.a = o.a;
    s.b = o.b;
    s.delta = o.delta;
    s.has_result = !unknown && o.has_result;
    s.result = o.result;
    s.piece = o.type == OpType::kAppend ? &k.pieces[o.piece] : nullptr;
    s.call = o.call;
    s.ret = unknown ? kNever : o.ret;
    s.src = i;
    p.ops.push_back(s);
  };
  if (selection) {
    for (const Choice& c : *selection) add(c.op, c.relaxed);
    std::sort(p.ops.begin(), p.ops.end(),
              [](const SOp& x, const SOp& y) { return x.call < y.call; });
  } else {
    for (uint32_t i = 0; i < k.ops.size(); ++i) add(i, false);
  }
  DropIrrelevantUnknowns(k, &p);
  MarkMonotoneCounter(k, &p);
  MarkGrowsOnly(&p);
  // Classes: each certain operation its own; unknown ones by what they do.
  std::map<std::tuple<int, uint32_t, uint32_t, int64_t, std::string_view>, uint32_t> classes;
  for (uint32_t i = 0; i < p.ops.size(); ++i) {
    SOp& o = p.ops[i];
    if (o.ret != kNever) {
      o.cls = i;
      ++p.finite;
      continue;
    }
    auto key = std::make_tuple(static_cast<int>(o.type), o.a, o.b, o.delta,
                               o.piece ? o.piece->bytes : std::string_view());
    auto [it, inserted] =
        classes.try_emplace(key, static_cast<uint32_t>(p.ops.size() + classes.size()));
    o.cls = it->second;
  }
  return p;
}

// The model: one register holding a string or nothing.
bool Step(ValueTable& v, const SOp& op, uint32_t s, uint32_t* out) {
  bool unknown = op.outcome == Outcome::kInfo;
  switch (op.type) {
    case OpType::kRead:
      *out = s;
      return s == op.a;
    case OpType::kWrite:
      *out = op.a;
      return true;
    case OpType::kCas:
      *out = s;
      if (op.outcome == Outcome::kCasFailed) return s != op.a;
      if (s == op.a) *out = op.b;
      return s == op.a || unknown;  // an unknown cas may have found another value
    case OpType::kAppend:
      *out = v.Append(s == ValueTable::kAbsent ? ValueTable::kEmpty : s, *op.piece);
      return true;
    case OpType::kIncr: {
      *out = s;
      std::optional<int64_t> cur = s == ValueTable::kAbsent ? 0 : v.Integer(s);
      int64_t next = 0;
      // Redis refuses to increment a non-integer or to overflow: nothing changes.
      if (!cur || __builtin_add_overflow(*cur, op.delta, &next)) return unknown;
      if (op.has_result) {
        *out = op.b;
        return next == op.result;
      }
      *out = v.FromString(std::to_string(next));
      return true;
    }
    case OpType::kNone:
      break;
  }
  return false;
}

// Configurations already explored: (first pending return, state, the classes
// of the operations invoked before it and not yet linearized). This names the
// set of linearized operations exactly (every one invoked before that return
// and not pending), with interchangeable unknown operations identified, in a
// few words instead of a bitset over the whole history.
class ConfigCache {
 public:
  ConfigCache() : slots_(1024, 0) {}
  // True when the configuration is new (and now remembered).
  bool Insert(const std::vector<uint32_t>& key) {
    uint64_t h = Hash(key);
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      uint64_t s = slots_[i];
      if (s == 0) {
        slots_[i] = arena_.size() + 1;
        arena_.push_back(static_cast<uint32_t>(h));
        arena_.push_back(static_cast<uint32_t>(h >> 32));
        arena_.push_back(static_cast<uint32_t>(key.size()));
        arena_.insert(arena_.end(), key.begin(), key.end());
        ++count_;
        return true;
      }
      if (Equal(s - 1, h, key)) return false;
    }
  }
  uint64_t size() const { return count_; }
  uint64_t memory_bytes() const { return arena_.capacity() * 4 + slots_.capacity() * 8; }

 private:
  static uint64_t Hash(const std::vector<uint32_t>& key) {
    uint64_t h = 0x243f6a8885a308d3ull ^ key.size();
    for (uint32_t w : key) {
      h = (h ^ w) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 29;
    }
    return h | 1;
  }
  bool Equal(uint64_t at, uint64_t h, const std::vector<uint32_t>& key) const {
    if (arena_[at] != static_cast<uint32_t>(h) ||
        arena_[at + 1] != static_cast<uint32_t>(h >> 32) || arena_[at + 2] != key.size())
      return false;
    return std::equal(key.begin(), key.end(), arena_.begin() + at + 3);
  }
  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (uint64_t s : old) {
      if (s == 0) continue;
      uint64_t h = arena_[s - 1] | (uint64_t{arena_[s]} << 32);
      size_t i = h & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<uint32_t> arena_;  // per entry: hash (2 words), length, key
  std::vector<uint64_t> slots_;  // arena offset + 1; 0 = empty
  uint64_t count_ = 0;
};

// Call and return entries of every operation in history order, as a doubly
// linked list the search lifts operations out of and puts back (Lowe).
struct EntryList {
  std::vector<uint32_t> next, prev, op, match;  // match: a call's return entry (0: none)
  std::vector<uint64_t> pos;
  std::vector<uint8_t> is_call;
  uint32_t tail = 0;

  explicit EntryList(const std::vector<SOp>& ops) {
    std::vector<std::pair<uint64_t, uint32_t>> order;  // (position, op*2 + is_return)
    for (uint32_t i = 0; i < ops.size(); ++i) {
      order.push_back({ops[i].call, i * 2});
      if (ops[i].ret != kNever) order.push_back({ops[i].ret, i * 2 + 1});
    }
    std::sort(order.begin(), order.end());
    size_t n = order.size();
    tail = static_cast<uint32_t>(n + 1);
    next.resize(n + 2);
    prev.resize(n + 2);
    op.resize(n + 2);
    match.resize(n + 2);
    pos.resize(n + 2);
    is_call.resize(n + 2);
    std::vector<uint32_t> call_entry(ops.size());
    for (uint32_t e = 1; e <= n; ++e) {
      auto [p, code] = order[e - 1];
      op[e] = code / 2;
      pos[e] = p;
      is_call[e] = code % 2 == 0;
      if (is_call[e])
        call_entry[op[e]] = e;
      else
        match[call_entry[op[e]]] = e;
    }
    for (uint32_t e = 0; e <= n; ++e) {
      next[e] = e + 1;
      prev[e + 1] = e;
    }
  }
  void Unlink(uint32_t e) {
    next[prev[e]] = next[e];
    prev[next[e]] = prev[e];
  }
  void Relink(uint32_t e) {
    next[prev[e]] = e;
    prev[next[e]] = e;
  }
  void Lift(uint32_t call) {
    Unlink(call);
    if (match[call]) Unlink(match[call]);
  }
  void Unlift(uint32_t call) {
    if (match[call]) Relink(match[call]);
    Relink(call);
  }
};

class Searcher {
 public:
  Searcher(KeyHistory& k, Prepared& p, const Limits& limits)
      : k_(k), p_(p), limits_(limits), list_(p.ops) {
    // Unknown operations of one class are interchangeable: only the earliest
    // not yet linearized is tried (the others lead to the same configurations,
    // and trying each would cost a key of every pending operation).
    size_t n = p_.ops.size();
    for (uint32_t i = 0; i < n; ++i) {
      if (p_.ops[i].ret != kNever) continue;
      size_t c = p_.ops[i].cls - n;
      if (c >= class_members_.size()) class_members_.resize(c + 1);
      class_members_[c].push_back(i);
    }
    class_next_.assign(class_members_.size(), 0);
    if (p_.monotone_counter) {
      // bound_after_[i]: the lowest bound among operations i.. (in call order).
      bound_after_.assign(p_.ops.size() + 1, kNoBound);
      for (size_t i = p_.ops.size(); i-- > 0;)
        bound_after_[i] = std::min(bound_after_[i + 1], p_.ops[i].bound);
    }
    if (p_.grows_only) {
      // The reads not yet linearized, in call order (lifted and put back
      // with their operations): the first one guides which append comes next.
      size_t n = p_.ops.size();
      read_next_.assign(n + 2, 0);
      read_prev_.assign(n + 2, 0);
      uint32_t last = static_cast<uint32_t>(n);  // the head
      for (uint32_t i = 0; i < n; ++i) {
        if (p_.ops[i].type != OpType::kRead) continue;
        read_next_[last] = i;
        read_prev_[i] = last;
        last = i;
      }
      read_next_[last] = static_cast<uint32_t>(n + 1);
      read_prev_[n + 1] = last;
      for (const SOp& o : p_.ops)
        if (o.piece) longest_piece_ = std::max(longest_piece_, o.piece->bytes.size());
      // read_after_[i]: the first read among operations i.. (in call order).
      read_after_.assign(p_.ops.size() + 1, UINT32_MAX);
      for (size_t i = p_.ops.size(); i-- > 0;)
        read_after_[i] =
            p_.ops[i].type == OpType::kRead ? static_cast<uint32_t>(i) : read_after_[i + 1];
    }
  }
  SearchResult Run();

 private:
  bool MakeKey(uint32_t state, std::vector<uint32_t>* key);
  bool OverLimits(SearchResult* r);

  KeyHistory& k_;
  Prepared& p_;
  const Limits& limits_;
  EntryList list_;
  ConfigCache cache_;
  std::vector<int64_t> bound_after_;
  std::vector<uint32_t> read_after_;
  std::vector<uint32_t> read_next_, read_prev_;       // grows-only keys: reads not yet linearized
  std::vector<std::vector<uint32_t>> class_members_;  // unknown operations by class, in call order
  std::vector<size_t> class_next_;                    // each class's first not yet linearized

  bool IsClassLeader(uint32_t i) const {
    const SOp& o = p_.ops[i];
    if (o.ret != kNever) return true;
    size_t c = o.cls - p_.ops.size();
    return class_members_[c][class_next_[c]] == i;
  }
  // Lifts (or puts back) an operation with everything that tracks it.
  void Lift(uint32_t e) {
    uint32_t i = list_.op[e];
    list_.Lift(e);
    if (p_.grows_only && p_.ops[i].type == OpType::kRead) LiftRead(i);
    if (p_.ops[i].ret == kNever) ++class_next_[p_.ops[i].cls - p_.ops.size()];
  }
  void Unlift(uint32_t e) {
    uint32_t i = list_.op[e];
    if (p_.ops[i].ret == kNever) --class_next_[p_.ops[i].cls - p_.ops.size()];
    if (p_.grows_only && p_.ops[i].type == OpType::kRead) UnliftRead(i);
    list_.Unlift(e);
  }

  // An append can come next only if the first read still to come holds its
  // bytes right after the state (the state is always a prefix of that read).
  // Those bytes are looked up once per configuration, not once per append tried.
  bool AppendFits(const SOp& op, uint32_t state) {
    uint32_t first = read_next_[p_.ops.size()];
    if (first == p_.ops.size() + 1) return true;
    uint32_t read = p_.ops[first].a;
    if (read == ValueTable::kAbsent) return false;
    uint64_t at = state == ValueTable::kAbsent ? 0 : k_.values.length(state);
    if (read != window_read_ || at != window_at_) {
      window_ = k_.values.Slice(read, at, longest_piece_);
      window_read_ = read;
      window_at_ = at;
    }
    std::string_view t = op.piece->bytes;
    return t.size() <= window_.size() && std::string_view(window_).substr(0, t.size()) == t;
  }
  std::string window_;
  uint32_t window_read_ = ValueTable::kAbsent;
  uint64_t window_at_ = 0;
  size_t longest_piece_ = 0;
  void LiftRead(uint32_t i) {
    read_next_[read_prev_[i]] = read_next_[i];
    read_prev_[read_next_[i]] = read_prev_[i];
  }
  void UnliftRead(uint32_t i) {
    read_next_[read_prev_[i]] = i;
    read_prev_[read_next_[i]] = i;
  }
};

// The key of the configuration after a lift; false when the state is already
// one that some operation still to come cannot see: above what it saw on a
// monotone counter, or not a prefix of what it read on a key that only grows.
// (Those orders would fail later anyway; this cuts them before they multiply.)
bool Searcher::MakeKey(uint32_t state, std::vector<uint32_t>* key) {
  key->clear();
  key->push_back(state);
  key->push_back(0);
  int64_t bound = kNoBound;
  bool prefix_ok = true;
  uint32_t e = list_.next[0];
  for (; e != list_.tail && list_.is_call[e]; e = list_.next[e]) {
    const SOp& o = p_.ops[list_.op[e]];
    key->push_back(o.cls);
    bound = std::min(bound, o.bound);
    if (p_.grows_only && o.type == OpType::kRead && prefix_ok)
      prefix_ok = k_.values.IsPrefix(state, o.a);
  }
  uint32_t first_ret_op = e == list_.tail ? UINT32_MAX : list_.op[e];
  (*key)[1] = first_ret_op;
  if (!prefix_ok) return false;
  if ((p_.monotone_counter || p_.grows_only) && first_ret_op != UINT32_MAX) {
    // Every operation invoked after that return is still to come.
    uint64_t at = p_.ops[first_ret_op].ret;
    size_t after = std::upper_bound(p_.ops.begin(), p_.ops.end(), at,
                                    [](uint64_t v, const SOp& o) { return v < o.call; }) -
                   p_.ops.begin();
    if (p_.monotone_counter) bound = std::min(bound, bound_after_[after]);
    if (p_.grows_only && read_after_[after] != UINT32_MAX &&
        !k_.values.IsPrefix(state, p_.ops[read_after_[after]].a))
      return false;
  }
  if (p_.monotone_counter && Level(k_.values, state) > bound) return false;
  std::sort(key->begin() + 2, key->end());
  return true;
}

bool Searcher::OverLimits(SearchResult* r) {
  if (r->steps >= limits_.steps_max) {
    r->verdict = SearchResult::Verdict::kStepLimit;
    return true;
  }
  if (Clock::now() > limits_.deadline) {
    r->verdict = SearchResult::Verdict::kTimeLimit;
    return true;
  }
  r->memory_bytes = cache_.memory_bytes() + k_.values.memory_bytes();
  if (r->memory_bytes > limits_.memory_bytes_max) {
    r->verdict = SearchResult::Verdict::kMemoryLimit;
    return true;
  }
  return false;
}

SearchResult Searcher::Run() {
  SearchResult r;
  r.verdict = SearchResult::Verdict::kLinearizable;
  struct Frame {
    uint32_t entry;
    uint32_t state;
  };
  std::vector<Frame> stack;
  std::vector<uint32_t> key;
  uint32_t state = ValueTable::kAbsent;
  uint64_t finite_left = p_.finite;
  uint64_t blocked_pos = 0;
  uint32_t e = list_.next[0];
  while (finite_left > 0) {
    if (++r.steps % kLimitCheckSteps == 0 && OverLimits(&r)) break;
    if (list_.is_call[e]) {
      const SOp& op = p_.ops[list_.op[e]];
      uint32_t next_state;
      if (IsClassLeader(list_.op[e]) &&
          (!p_.grows_only || op.type != OpType::kAppend || AppendFits(op, state)) &&
          Step(k_.values, op, state, &next_state)) {
        Lift(e);
        if (MakeKey(next_state, &key) && cache_.Insert(key)) {
          stack.push_back({e, state});
          state = next_state;
          if (op.ret != kNever) --finite_left;
          e = list_.next[0];
          continue;
        }
        Unlift(e);
      }
      e = list_.next[e];
      continue;
    }
    // A return entry: its operation was not linearized, and nothing before it
    // can be linearized now. Undo the last choice.
    if (list_.pos[e] >= blocked_pos) {
      blocked_pos = list_.pos[e];
      r.blocked_op = p_.ops[list_.op[e]].src;
    }
    if (stack.empty()) {
      r.verdict = SearchResult::Verdict::kNotLinearizable;
      break;
    }
    Frame f = stack.back();
    stack.pop_back();
    Unlift(f.entry);
    state = f.state;
    if (p_.ops[list_.op[f.entry]].ret != kNever) ++finite_left;
    e = list_.next[f.entry];
  }
  r.configurations = cache_.size();
  r.memory_bytes = std::max(r.memory_bytes, cache_.memory_bytes() + k_.values.memory_bytes());
  return r;
}

}  // namespace

SearchResult Search(KeyHistory& k, const std::vector<Choice>* selection, const Limits& limits) {
  Prepared p = Prepare(k, selection);
  SearchResult r;
  if (p.finite == 0) {
    r.verdict = SearchResult::Verdict::kLinearizable;
  } else if (std::optional<uint32_t> down = LevelGoesDown(p)) {
    r.verdict = SearchResult::Verdict::kNotLinearizable;
    r.blocked_op = p.ops[*down].src;
  } else {
    Searcher s(k, p, limits);
    r = s.Run();
  }
  r.unknown_dropped = p.unknown_dropped;
  for (const SOp& o : p.ops) r.used.push_back({o.src, o.outcome == Outcome::kInfo});
  return r;
}

namespace {

// A candidate counterexample whose search takes more than this many times the
// steps of the search that found the failure (or kShrinkTestStepsMin) is
// passed over: relaxing operations can make a search much harder (unknown
// increments multiply the sums a read may see), and one such candidate must
// not eat the budget of all the others.
constexpr uint64_t kShrinkTestStepsFactor = 4;
constexpr uint64_t kShrinkTestStepsMin = 1'000'000;
// Pinned changes retried one by one at the end, at most.
constexpr size_t kShrinkFinalTriesMax = 64;

// Shrinking runs many searches under one budget (steps and time).
class Budget {
 public:
  Budget(const Limits& l, uint64_t failed_steps)
      : limits_(l),
        per_test_(std::max(kShrinkTestStepsMin, failed_steps * kShrinkTestStepsFactor)) {}
  bool exhausted() const { return steps_ >= limits_.steps_max || Clock::now() > limits_.deadline; }
  // Whether the selection still fails (a search over its limits does not count).
  bool StillFails(KeyHistory& k, const std::vector<Choice>& sel, std::vector<Choice>* used) {
    if (exhausted()) return false;
    Limits l = limits_;
    l.steps_max = std::min(per_test_, limits_.steps_max - steps_);
    SearchResult r = Search(k, &sel, l);
    steps_ += r.steps;
    if (r.verdict != SearchResult::Verdict::kNotLinearizable) return false;
    *used = std::move(r.used);
    return true;
  }

 private:
  const Limits& limits_;
  uint64_t per_test_;
  uint64_t steps_ = 0;
};

// Removing an operation from a counterexample: an observation goes, an
// operation that changes the value becomes unknown. Both admit more orders.
std::vector<Choice> Without(const KeyHistory& k, const std::vector<Choice>& sel,
                            const std::vector<size_t>& remove) {
  std::vector<Choice> out = sel;
  for (size_t i : remove) out[i].relaxed = true;
  std::erase_if(out, [&](const Choice& c) { return c.relaxed && IsObservationOnly(k.ops[c.op]); });
  return out;
}

std::vector<size_t> Removable(const KeyHistory& k, const std::vector<Choice>& sel,
                              const std::unordered_set<uint32_t>& pinned) {
  std::vector<size_t> items;
  for (size_t i = 0; i < sel.size(); ++i)
    if (!sel[i].relaxed && k.ops[sel[i].op].outcome != Outcome::kInfo && !pinned.count(sel[i].op))
      items.push_back(i);
  return items;
}

// Whether an operation reports something about the value (a read, a cas, an
// increment's result), as opposed to only changing it.
bool Observes(const Op& o) {
  return o.type == OpType::kRead || o.type == OpType::kCas ||
         (o.type == OpType::kIncr && o.has_result);
}

// An operation that only changes the value, relaxed but still needed (the
// search could not drop it: a read saw its effect), gains nothing from being
// relaxed and makes every later search try it at each step. It goes back to
// what it was, which only removes orders, so the selection still fails; and
// it stays (pinned).
void Unrelax(const KeyHistory& k, std::vector<Choice>* sel, std::unordered_set<uint32_t>* pinned) {
  for (Choice& c : *sel) {
    const Op& o = k.ops[c.op];
    if (c.relaxed && o.outcome == Outcome::kOk && !Observes(o)) {
      c.relaxed = false;
      pinned->insert(c.op);
    }
  }
}

// Pinned changes (see Unrelax) that no read left in `sel` observes: a write
// whose value none of them read, an append whose bytes none of them hold.
std::vector<size_t> UnobservedPinned(const KeyHistory& k, const std::vector<Choice>& sel,
                                     const std::unordered_set<uint32_t>& pinned) {
  std::unordered_set<uint32_t> read_values;
  for (const Choice& c : sel)
    if (k.ops[c.op].type == OpType::kRead) read_values.insert(k.ops[c.op].a);
  std::vector<bool> seen = AppendsSeen(k, sel);
  std::vector<size_t> out;
  for (size_t i = 0; i < sel.size(); ++i) {
    const Op& o = k.ops[sel[i].op];
    if (!pinned.count(sel[i].op)) continue;
    if ((o.type == OpType::kWrite && !read_values.count(o.a)) ||
        (o.type == OpType::kAppend && !seen[i]))
      out.push_back(i);
  }
  return out;
}

// The history cut at position `at`: later invocations go, and operations
// still running then become unknown. A cut admits every order the whole
// history admits (restricted to it), so a failing cut proves the whole fails;
// and a later cut fails whenever an earlier one does.
std::vector<Choice> Cut(const KeyHistory& k, const std::vector<Choice>& sel, uint64_t at) {
  std::vector<Choice> out;
  for (const Choice& c : sel) {
    const Op& o = k.ops[c.op];
    if (o.call > at) continue;
    bool running = c.relaxed || o.ret == kNever || o.ret > at;
    if (running && IsObservationOnly(o)) continue;
    out.push_back({c.op, running});
  }
  return out;
}

// On a counter that only goes up, the usual failure is a value seen going
// down: X saw (or left) level a and returned before Y was invoked, and Y saw
// level b < a. Those two, with every increment invoked before Y returned made
// unknown (they may have produced a), are a counterexample. Empty if there is
// no such pair.
std::vector<Choice> CounterWitness(KeyHistory& k, const std::vector<Choice>& sel) {
  struct Obs {
    uint32_t op;
    int64_t before, after;  // the level it saw, the level it left
  };
  std::vector<Obs> obs;
  for (const Choice& c : sel) {
    const Op& o = k.ops[c.op];
    bool incr = o.type == OpType::kIncr;
    if (!(o.type == OpType::kRead || (incr && o.delta > 0))) return {};
    if (c.relaxed || o.outcome != Outcome::kOk) continue;
    if (incr && o.has_result) obs.push_back({c.op, o.result - o.delta, o.result});
    if (!incr) {
      std::optional<int64_t> v = o.a == ValueTable::kAbsent ? -1 : k.values.Integer(o.a);
      if (v) obs.push_back({c.op, *v, *v});
    }
  }
  std::vector<Obs> by_ret = obs;
  std::sort(by_ret.begin(), by_ret.end(),
            [&](const Obs& x, const Obs& y) { return k.ops[x.op].ret < k.ops[y.op].ret; });
  size_t next = 0;
  const Obs* high = nullptr;  // the highest level left by an observation returned so far
  for (const Obs& y : obs) {  // in invocation order
    for (; next < by_ret.size() && k.ops[by_ret[next].op].ret < k.ops[y.op].call; ++next)
      if (!high || by_ret[next].after > high->after) high = &by_ret[next];
    if (!high || y.before >= high->after) continue;
    std::vector<Choice> out{{high->op, false}, {y.op, false}};
    for (const Choice& c : sel)
      if (k.ops[c.op].type == OpType::kIncr && c.op != high->op && c.op != y.op &&
          k.ops[c.op].call < k.ops[y.op].ret)
        out.push_back({c.op, true});
    return out;
  }
  return {};
}

}  // namespace

std::vector<Choice> Shrink(KeyHistory& k, const SearchResult& failed, const Limits& limits) {
  std::vector<Choice> best = failed.used;
  Budget budget(limits, failed.steps);
  std::vector<Choice> used;
  std::vector<Choice> counter = CounterWitness(k, best);
  if (!counter.empty() && budget.StillFails(k, counter, &used)) return used;
  // The earliest failing cut, by bisection over the returns.
  std::vector<uint64_t> rets;
  for (const Choice& c : best)
    if (!c.relaxed) rets.push_back(k.ops[c.op].ret);
  std::sort(rets.begin(), rets.end());
  size_t lo = 0, hi = rets.empty() ? 0 : rets.size() - 1;
  while (lo < hi && !budget.exhausted()) {
    size_t mid = lo + (hi - lo) / 2;
    if (budget.StillFails(k, Cut(k, failed.used, rets[mid]), &used)) {
      hi = mid;
      best = used;
    } else {
      lo = mid + 1;
    }
  }
  // Delta debugging (Zeller): remove chunks while the rest still fails.
  std::unordered_set<uint32_t> pinned;
  Unrelax(k, &best, &pinned);
  size_t n = 2;
  while (!budget.exhausted()) {
    std::vector<size_t> items = Removable(k, best, pinned);
    if (items.size() < 1) break;
    n = std::min(n, items.size());
    size_t chunk = (items.size() + n - 1) / n;
    bool reduced = false;
    for (size_t start = 0; start < items.size() && !reduced; start += chunk) {
      std::vector<size_t> remove(items.begin() + start,
                                 items.begin() + std::min(items.size(), start + chunk));
      if (budget.StillFails(k, Without(k, best, remove), &used)) {
        best = used;
        Unrelax(k, &best, &pinned);
        n = std::max<size_t>(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= items.size()) break;
      n = std::min(items.size(), n * 2);
    }
  }
  // Changes pinned while a read of them was still there may have outlived
  // that read: try without those nothing left observes, together and then
  // one by one.
  std::vector<size_t> stale = UnobservedPinned(k, best, pinned);
  if (!stale.empty() && budget.StillFails(k, Without(k, best, stale), &used)) {
    best = used;
  } else {
    for (size_t i = 0; i < stale.size() && i < kShrinkFinalTriesMax; ++i) {
      uint32_t op = best[stale[i]].op;
      auto at = std::find_if(best.begin(), best.end(), [&](const Choice& c) { return c.op == op; });
      if (at != best.end() &&
          budget.StillFails(k, Without(k, best, {size_t(at - best.begin())}), &used))
        best = used;
    }
  }
  Unrelax(k, &best, &pinned);
  return best;
}

std::vector<bool> AppendsSeen(const KeyHistory& k, const std::vector<Choice>& sel) {
  std::vector<uint32_t> reads;
  std::vector<std::string_view> tokens;
  for (const Choice& c : sel) {
    const Op& o = k.ops[c.op];
    if (o.type == OpType::kRead) reads.push_back(o.a);
    if (o.type == OpType::kAppend) tokens.push_back(k.pieces[o.piece].bytes);
  }
  std::vector<bool> seen = TokensOccurring(k.values, reads, tokens);
  std::vector<bool> out(sel.size());
  for (size_t i = 0, j = 0; i < sel.size(); ++i)
    if (k.ops[sel[i].op].type == OpType::kAppend) out[i] = seen[j++];
  return out;
}

}  // namespace rkv::lin
