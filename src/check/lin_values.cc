#include "check/lin_values.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace rkv::lin {

namespace {

constexpr uint64_t kMod = (uint64_t{1} << 61) - 1;
constexpr uint64_t kBase = 0x1f3a5c7e9b2d4f61ull % kMod;
constexpr uint64_t kIntegerDigitsMax = 20;  // "-9223372036854775808"

uint64_t MulMod(uint64_t a, uint64_t b) {
  __uint128_t p = static_cast<__uint128_t>(a) * b;
  uint64_t lo = static_cast<uint64_t>(p & kMod);
  uint64_t hi = static_cast<uint64_t>(p >> 61);
  uint64_t r = lo + hi;
  return r >= kMod ? r - kMod : r;
}

uint64_t AddMod(uint64_t a, uint64_t b) {
  uint64_t r = a + b;
  return r >= kMod ? r - kMod : r;
}

uint64_t ContentKey(uint64_t hash, uint64_t len) { return hash ^ (len * 0x9e3779b97f4a7c15ull); }

// Length of the common prefix.
size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  constexpr size_t kChunk = 64;
  while (i + kChunk <= n && std::memcmp(a.data() + i, b.data() + i, kChunk) == 0) i += kChunk;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Redis's string2ll: an optional '-', no leading zeros, no '+', no spaces.
std::optional<int64_t> ParseRedisInteger(std::string_view s) {
  if (s.empty() || s.size() > kIntegerDigitsMax) return std::nullopt;
  if (s == "0") return 0;
  size_t i = 0;
  bool neg = s[0] == '-';
  if (neg) ++i;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return std::nullopt;
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
    if (v > static_cast<__int128>(INT64_MAX) + 1) return std::nullopt;
  }
  if (neg) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace

Piece MakePiece(std::string_view bytes) {
  Piece p;
  p.bytes = bytes;
  for (unsigned char c : bytes) {
    p.hash = AddMod(MulMod(p.hash, kBase), c + 1u);
    p.pow = MulMod(p.pow, kBase);
  }
  return p;
}

size_t ValueTable::ChildKeyHash::operator()(const ChildKey& k) const {
  return k.hash ^ (uint64_t{k.parent} * 0x9e3779b97f4a7c15ull) ^ (uint64_t{k.len} << 40);
}

ValueTable::ValueTable() {
  nodes_.resize(2);
  child_next_.resize(2);
  nodes_[kAbsent].canon = kAbsent;
  nodes_[kEmpty].canon = kEmpty;
  nodes_[kEmpty].parent = kEmpty;
  nodes_[kEmpty].jump = kEmpty;
  by_content_[ContentKey(0, 0)] = kEmpty;
}

uint32_t ValueTable::Append(uint32_t base, const Piece& piece) {
  assert(base != kAbsent && nodes_[base].canon == base);
  if (piece.bytes.empty()) return base;
  ChildKey key{base, static_cast<uint32_t>(piece.bytes.size()), piece.hash};
  auto [it, inserted] = children_.try_emplace(key, 0);
  if (!inserted) {
    for (uint32_t c = it->second; c != 0; c = child_next_[c])
      if (nodes_[c].parent == base && this->piece(c) == piece.bytes) return nodes_[c].canon;
  }
  uint32_t id = static_cast<uint32_t>(nodes_.size());
  Node n;
  n.parent = base;
  n.canon = id;
  n.hash = AddMod(MulMod(nodes_[base].hash, piece.pow), piece.hash);
  n.len = nodes_[base].len + piece.bytes.size();
  n.piece_at = bytes_.size();
  n.piece_len = static_cast<uint32_t>(piece.bytes.size());
  const Node& p = nodes_[base];
  n.depth = p.depth + 1;
  const Node& pj = nodes_[p.jump];
  n.jump = p.depth - pj.depth == pj.depth - nodes_[pj.jump].depth && p.depth > 0 ? pj.jump : base;
  bytes_.append(piece.bytes);
  nodes_.push_back(n);
  child_next_.push_back(it->second);
  it->second = id;
  return Canonicalize(id);
}

uint32_t ValueTable::Canonicalize(uint32_t id) {
  uint64_t ck = ContentKey(nodes_[id].hash, nodes_[id].len);
  auto [it, inserted] = by_content_.try_emplace(ck, id);
  if (inserted) return id;
  for (uint32_t c = it->second; c != 0; c = nodes_[c].next_same_content) {
    if (nodes_[c].hash == nodes_[id].hash && SameString(id, c)) {
      nodes_[id].canon = c;
      return c;
    }
  }
  nodes_[id].next_same_content = it->second;
  it->second = id;
  return id;
}

// Compares from the ends backwards, so strings that share a long prefix (the
// usual case: the same appends, cut into pieces differently) cost only their
// different tails: at aligned piece boundaries, equal canonical ids end it.
bool ValueTable::SameBytesBefore(uint32_t x, uint64_t xo, uint32_t y, uint64_t yo,
                                 uint64_t remaining) const {
  while (remaining > 0) {
    if (xo == nodes_[x].piece_len && yo == nodes_[y].piece_len &&
        nodes_[x].canon == nodes_[y].canon)
      return true;
    if (xo == 0) {
      x = nodes_[x].parent;
      xo = nodes_[x].piece_len;
      continue;
    }
    if (yo == 0) {
      y = nodes_[y].parent;
      yo = nodes_[y].piece_len;
      continue;
    }
    uint64_t n = std::min(xo, yo);
    if (std::memcmp(bytes_.data() + nodes_[x].piece_at + xo - n,
                    bytes_.data() + nodes_[y].piece_at + yo - n, n) != 0)
      return false;
    xo -= n;
    yo -= n;
    remaining -= n;
  }
  return true;
}

bool ValueTable::SameString(uint32_t a, uint32_t b) const {
  if (nodes_[a].len != nodes_[b].len) return false;
  return SameBytesBefore(a, nodes_[a].piece_len, b, nodes_[b].piece_len, nodes_[a].len);
}

uint32_t ValueTable::Cover(uint32_t id, uint64_t end) const {
  uint32_t y = id;
  while (nodes_[nodes_[y].parent].len >= end)
    y = nodes_[nodes_[y].jump].len >= end ? nodes_[y].jump : nodes_[y].parent;
  return y;
}

bool ValueTable::IsPrefix(uint32_t a, uint32_t b) const {
  if (a == kAbsent) return true;
  if (b == kAbsent) return false;
  uint64_t n = nodes_[a].len;
  if (n == 0) return true;
  if (n > nodes_[b].len) return false;
  uint32_t y = Cover(b, n);
  // Every string has one canonical id, and chains hold canonical ids.
  if (n == nodes_[y].len) return nodes_[y].canon == nodes_[a].canon;
  return SameBytesBefore(a, nodes_[a].piece_len, y, n - nodes_[nodes_[y].parent].len, n);
}

bool ValueTable::MatchesAt(uint32_t id, uint64_t offset, std::string_view bytes) const {
  if (id == kAbsent) return false;
  uint64_t end = offset + bytes.size();
  if (end > nodes_[id].len) return false;
  if (bytes.empty()) return true;
  uint32_t y = Cover(id, end);
  uint64_t yo = end - nodes_[nodes_[y].parent].len;  // bytes of y's piece before `end`
  uint64_t remaining = bytes.size();
  while (remaining > 0) {
    if (yo == 0) {
      y = nodes_[y].parent;
      yo = nodes_[y].piece_len;
      continue;
    }
    uint64_t n = std::min(yo, remaining);
    if (std::memcmp(bytes_.data() + nodes_[y].piece_at + yo - n, bytes.data() + remaining - n, n) !=
        0)
      return false;
    yo -= n;
    remaining -= n;
  }
  return true;
}

std::string ValueTable::Slice(uint32_t id, uint64_t offset, uint64_t n) const {
  if (id == kAbsent || offset >= nodes_[id].len) return {};
  uint64_t end = std::min(nodes_[id].len, offset + n);
  std::string out(end - offset, '\0');
  uint32_t y = Cover(id, end);
  uint64_t yo = end - nodes_[nodes_[y].parent].len;
  uint64_t remaining = out.size();
  while (remaining > 0) {
    if (yo == 0) {
      y = nodes_[y].parent;
      yo = nodes_[y].piece_len;
      continue;
    }
    uint64_t k = std::min(yo, remaining);
    std::memcpy(out.data() + remaining - k, bytes_.data() + nodes_[y].piece_at + yo - k, k);
    yo -= k;
    remaining -= k;
  }
  return out;
}

uint32_t ValueTable::FromStringWithHint(std::string_view s, uint32_t hint,
                                        std::string_view hint_bytes) {
  if (hint == kAbsent) return FromString(s);
  uint64_t common = CommonPrefix(s, hint_bytes);
  if (common == 0) return FromString(s);
  uint32_t n = Cover(hint, common);
  if (nodes_[n].len > common) n = nodes_[n].parent;
  return Append(n, MakePiece(s.substr(nodes_[n].len)));
}

std::optional<int64_t> ValueTable::Integer(uint32_t id) {
  Node& n = nodes_[id];
  if (n.integer_state == 0) {
    std::optional<int64_t> v;
    if (id != kAbsent && n.len <= kIntegerDigitsMax) v = ParseRedisInteger(Materialize(id));
    n.integer_state = v ? 1 : -1;
    n.integer = v.value_or(0);
  }
  if (n.integer_state < 0) return std::nullopt;
  return n.integer;
}

std::string ValueTable::Materialize(uint32_t id) const {
  if (id == kAbsent) return {};
  std::string out(nodes_[id].len, '\0');
  uint64_t end = out.size();
  for (uint32_t x = id; end > 0; x = nodes_[x].parent) {
    end -= nodes_[x].piece_len;
    std::memcpy(out.data() + end, bytes_.data() + nodes_[x].piece_at, nodes_[x].piece_len);
  }
  return out;
}

std::string ValueTable::Tail(uint32_t id, size_t n) const {
  if (id == kAbsent) return {};
  std::string out;
  for (uint32_t x = id; out.size() < n && nodes_[x].len > 0; x = nodes_[x].parent) {
    std::string_view p = piece(x);
    size_t take = std::min<size_t>(p.size(), n - out.size());
    out.insert(0, p.substr(p.size() - take));
  }
  return out;
}

std::optional<std::string> ValueTable::Render(uint32_t id, size_t max_bytes) const {
  if (id == kAbsent) return std::nullopt;
  if (nodes_[id].len <= max_bytes) return Materialize(id);
  size_t tail = max_bytes / 2;
  std::string head = Materialize(id).substr(0, max_bytes - tail);
  return head + "…(" + std::to_string(nodes_[id].len) + " bytes)…" + Tail(id, tail);
}

size_t ValueTable::memory_bytes() const {
  return nodes_.capacity() * sizeof(Node) + bytes_.capacity() +
         child_next_.capacity() * sizeof(uint32_t) + children_.size() * 48 +
         by_content_.size() * 32;
}

}  // namespace rkv::lin
