// A command's reply as a value, rendered to RESP2 or RESP3 by resp/writer.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkv {

struct Reply {
  enum class Type : uint8_t {
    kStatus,    // +OK
    kError,     // -ERR ...   (str holds the text without the '-')
    kInteger,   // :1
    kBulk,      // $3 foo
    kNil,       // $-1 (RESP3: _)
    kArray,     // *N
    kNilArray,  // *-1 (RESP3: _)
    kMap,       // RESP3 %N; RESP2 a flat array of 2N; elements alternate key, value
    kVerbatim,  // RESP3 =N txt:...; RESP2 a bulk string
  };

  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;

  static Reply Ok() { return Status("OK"); }
  static Reply Status(std::string s) { return Make(Type::kStatus, std::move(s)); }
  static Reply Error(std::string s) { return Make(Type::kError, std::move(s)); }
  static Reply Integer(int64_t v) {
    Reply r;
    r.type = Type::kInteger;
    r.integer = v;
    return r;
  }
  static Reply Bulk(std::string_view s) { return Make(Type::kBulk, std::string(s)); }
  static Reply Nil() { return Reply{}; }
  static Reply NilArray() {
    Reply r;
    r.type = Type::kNilArray;
    return r;
  }
  static Reply Array(std::vector<Reply> elements = {}) {
    Reply r;
    r.type = Type::kArray;
    r.elements = std::move(elements);
    return r;
  }
  static Reply Map(std::vector<Reply> alternating = {}) {
    Reply r;
    r.type = Type::kMap;
    r.elements = std::move(alternating);
    return r;
  }
  static Reply Verbatim(std::string s) { return Make(Type::kVerbatim, std::move(s)); }

  bool is_error() const { return type == Type::kError; }

 private:
  static Reply Make(Type t, std::string s) {
    Reply r;
    r.type = t;
    r.str = std::move(s);
    return r;
  }
};

}  // namespace rkv
