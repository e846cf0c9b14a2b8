// The values one key's register can hold, interned so the linearizability
// search compares and caches states as small integers. Internal to src/check.
//
// A value is a node: its parent's string plus a piece of bytes (a written value
// is a piece under the empty string; an append adds a piece). Appends make
// strings grow with every operation, so nodes never hold whole strings, only
// their piece; a polynomial hash that composes over concatenation (mod 2^61-1)
// finds candidates for equality, and equality itself is always checked on the
// bytes, so two different strings never share an id. Two nodes with the same
// string (" x1 x2" read in one piece, or built as " x1" + " x2") share one
// canonical id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rkv::lin {

// Bytes to append, with their hash precomputed (the search appends the same
// piece many times).
struct Piece {
  std::string_view bytes;
  uint64_t hash = 0;
  uint64_t pow = 1;  // kBase^len mod p
};
Piece MakePiece(std::string_view bytes);

class ValueTable {
 public:
  static constexpr uint32_t kAbsent = 0;  // the key does not exist
  static constexpr uint32_t kEmpty = 1;   // the empty string

  ValueTable();

  // The canonical id of base's string followed by the piece. `base` is a
  // canonical id other than kAbsent.
  uint32_t Append(uint32_t base, const Piece& piece);
  uint32_t FromString(std::string_view s) { return Append(kEmpty, MakePiece(s)); }
  // The id of `s`, given that `hint` (an id) is known to hold `hint_bytes`:
  // when they share a long prefix only the rest is hashed. Reads of a growing
  // string cost what they add, not their length.
  uint32_t FromStringWithHint(std::string_view s, uint32_t hint, std::string_view hint_bytes);

  uint64_t length(uint32_t id) const { return nodes_[id].len; }
  // Whether a's string is a prefix of b's (absent is a prefix of anything;
  // nothing but absent is a prefix of absent).
  bool IsPrefix(uint32_t a, uint32_t b) const;
  // Up to `n` bytes of id's string from `offset` (fewer at its end).
  std::string Slice(uint32_t id, uint64_t offset, uint64_t n) const;
  // Whether id's string holds `bytes` at `offset` (false for absent).
  bool MatchesAt(uint32_t id, uint64_t offset, std::string_view bytes) const;
  // The value as a Redis integer (INCRBY's rules), or nullopt.
  std::optional<int64_t> Integer(uint32_t id);
  // The string (nullopt for absent), cut to at most `max_bytes` with a marker.
  std::optional<std::string> Render(uint32_t id, size_t max_bytes) const;
  std::string Materialize(uint32_t id) const;
  // The last `n` bytes (fewer if shorter).
  std::string Tail(uint32_t id, size_t n) const;
  uint32_t parent(uint32_t id) const { return nodes_[id].parent; }
  std::string_view piece(uint32_t id) const {
    return std::string_view(bytes_).substr(nodes_[id].piece_at, nodes_[id].piece_len);
  }
  size_t size() const { return nodes_.size(); }
  size_t memory_bytes() const;

 private:
  struct Node {
    uint32_t parent = 0;
    uint32_t canon = 0;  // the id every node with this string maps to
    uint64_t hash = 0;
    uint64_t len = 0;
    uint64_t piece_at = 0;
    uint32_t piece_len = 0;
    uint32_t next_same_content = 0;  // chain of canonical nodes sharing (hash, len)
    int8_t integer_state = 0;        // 0 unknown, 1 integer, -1 not an integer
    int64_t integer = 0;
    // An ancestor further up (Myers's skew-binary jumps), so finding the node
    // that holds a given byte takes O(log depth) steps, not O(depth).
    uint32_t jump = 0;
    uint32_t depth = 0;
  };
  struct ChildKey {
    uint32_t parent;
    uint32_t len;
    uint64_t hash;
    bool operator==(const ChildKey&) const = default;
  };
  struct ChildKeyHash {
    size_t operator()(const ChildKey& k) const;
  };

  bool SameString(uint32_t a, uint32_t b) const;
  // The node of id's chain whose piece holds byte end-1 (0 < end <= length).
  uint32_t Cover(uint32_t id, uint64_t end) const;
  // Compares the `n` bytes that end `xo` bytes into x's piece with those that
  // end `yo` bytes into y's piece.
  bool SameBytesBefore(uint32_t x, uint64_t xo, uint32_t y, uint64_t yo, uint64_t n) const;
  uint32_t Canonicalize(uint32_t id);

  std::vector<Node> nodes_;
  std::string bytes_;  // every node's piece
  // (parent, piece) -> the first node made from it; collisions chain through
  // `child_next_`.
  std::unordered_map<ChildKey, uint32_t, ChildKeyHash> children_;
  std::vector<uint32_t> child_next_;
  // (hash, len) -> the first canonical node with that content hash.
  std::unordered_map<uint64_t, uint32_t> by_content_;
};

}  // namespace rkv::lin
