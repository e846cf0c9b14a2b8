#include "kv/glob.h"

namespace rkv {

namespace {

// Matches one pattern element (not '*') at p against c; advances p past it.
bool MatchOne(std::string_view pattern, size_t* p, unsigned char c) {
  size_t i = *p;
  switch (pattern[i]) {
    case '?':
      *p = i + 1;
      return true;
    case '[': {
      ++i;
      bool negate = i < pattern.size() && pattern[i] == '^';
      if (negate) ++i;
      bool match = false;
      while (i < pattern.size() && pattern[i] != ']') {
        if (pattern[i] == '\\' && i + 1 < pattern.size()) {
          ++i;
          if (static_cast<unsigned char>(pattern[i]) == c) match = true;
        } else if (i + 2 < pattern.size() && pattern[i + 1] == '-') {
          unsigned char lo = pattern[i], hi = pattern[i + 2];
          if (lo > hi) std::swap(lo, hi);
          if (c >= lo && c <= hi) match = true;
          i += 2;
        } else if (static_cast<unsigned char>(pattern[i]) == c) {
          match = true;
        }
        ++i;
      }
      // An unterminated class ends at the pattern's end, as in Redis.
      *p = i < pattern.size() ? i + 1 : i;
      return negate ? !match : match;
    }
    case '\\':
      if (i + 1 < pattern.size()) ++i;
      [[fallthrough]];
    default:
      *p = i + 1;
      return static_cast<unsigned char>(pattern[i]) == c;
  }
}

}  // namespace

// Iterative matching with one backtrack point (the last '*'): linear in
// practice and never recursive, so a hostile pattern cannot exhaust the stack.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next = p;
    if (p < pattern.size() && MatchOne(pattern, &next, static_cast<unsigned char>(text[t]))) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace rkv
