#include "resp/parser.h"

#include <cctype>
#include <cstring>

#include "core/limits.h"
#include "kv/numbers.h"

namespace rkv {

namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// Redis 7 looks for line ends with strchr on its NUL-terminated buffer, so a
// NUL byte before the delimiter hides it: the request waits for more bytes
// (and fails once past the size limit). We keep that behaviour exactly.
const char* FindLikeStrchr(const char* p, size_t n, char c) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == c) return p + i;
    if (p[i] == '\0') return nullptr;
  }
  return nullptr;
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  // Redis splits a C string: a NUL byte ends the line.
  if (size_t nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  size_t p = 0, n = line.size();
  for (;;) {
    while (p < n && std::isspace(static_cast<unsigned char>(line[p]))) ++p;
    if (p >= n) return true;
    std::string current;
    bool in_dq = false, in_sq = false, done = false;
    while (!done) {
      if (in_dq) {
        if (p >= n) return false;  // unterminated quotes
        if (line[p] == '\\' && p + 3 < n && line[p + 1] == 'x' && IsHex(line[p + 2]) &&
            IsHex(line[p + 3])) {
          current.push_back(static_cast<char>(HexValue(line[p + 2]) * 16 + HexValue(line[p + 3])));
          p += 3;
        } else if (line[p] == '\\' && p + 1 < n) {
          ++p;
          char c;
          switch (line[p]) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              c = line[p];
              break;
          }
          current.push_back(c);
        } else if (line[p] == '"') {
          // The closing quote must be followed by a space or the end.
          if (p + 1 < n && !std::isspace(static_cast<unsigned char>(line[p + 1]))) return false;
          done = true;
        } else {
          current.push_back(line[p]);
        }
      } else if (in_sq) {
        if (p >= n) return false;
        if (line[p] == '\\' && p + 1 < n && line[p + 1] == '\'') {
          ++p;
          current.push_back('\'');
        } else if (line[p] == '\'') {
          if (p + 1 < n && !std::isspace(static_cast<unsigned char>(line[p + 1]))) return false;
          done = true;
        } else {
          current.push_back(line[p]);
        }
      } else {
        if (p >= n) {
          done = true;
          break;
        }
        switch (line[p]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
            done = true;
            break;
          case '"':
            in_dq = true;
            break;
          case '\'':
            in_sq = true;
            break;
          default:
            current.push_back(line[p]);
            break;
        }
      }
      if (p < n) ++p;
    }
    out->push_back(std::move(current));
  }
}

void RespParser::Consumed(size_t n) {
  request_start_ -= n;
  pos_ -= n;
  for (auto& a : args_) a.first -= n;
}

void RespParser::FinishRequest(size_t end) {
  request_start_ = end;
  pos_ = end;
  in_multibulk_ = false;
  args_left_ = 0;
  bulk_len_ = -1;
}

RespParser::Outcome RespParser::Next(std::string_view buf, std::vector<std::string_view>* argv,
                                     std::string* error) {
  argv->clear();
  if (pos_ >= buf.size() && !in_multibulk_) return Outcome::kNeedMore;
  if (!in_multibulk_ && buf[request_start_] != '*') return NextInline(buf, argv, error);
  return NextMultibulk(buf, argv, error);
}

RespParser::Outcome RespParser::NextInline(std::string_view buf,
                                           std::vector<std::string_view>* argv,
                                           std::string* error) {
  const char* start = buf.data() + request_start_;
  size_t avail = buf.size() - request_start_;
  const char* nl = FindLikeStrchr(start, avail, '\n');
  if (nl == nullptr) {
    if (avail > limits::kInlineRequestBytesMax) {
      *error = "ERR Protocol error: too big inline request";
      return Outcome::kError;
    }
    pos_ = buf.size();
    return Outcome::kNeedMore;
  }
  size_t line_len = static_cast<size_t>(nl - start);
  size_t line_end = line_len;
  if (line_len > 0 && start[line_len - 1] == '\r') --line_end;
  if (!SplitInlineArgs(std::string_view(start, line_end), &inline_args_)) {
    *error = "ERR Protocol error: unbalanced quotes in request";
    return Outcome::kError;
  }
  FinishRequest(request_start_ + line_len + 1);
  for (const std::string& a : inline_args_) argv->push_back(a);
  return Outcome::kCommand;
}

RespParser::Outcome RespParser::NextMultibulk(std::string_view buf,
                                              std::vector<std::string_view>* argv,
                                              std::string* error) {
  if (!in_multibulk_) {
    const char* start = buf.data() + request_start_;
    size_t avail = buf.size() - request_start_;
    const char* cr = FindLikeStrchr(start, avail, '\r');
    if (cr == nullptr) {
      if (avail > limits::kInlineRequestBytesMax) {
        *error = "ERR Protocol error: too big mbulk count string";
        return Outcome::kError;
      }
      return Outcome::kNeedMore;
    }
    size_t cr_off = static_cast<size_t>(cr - start);
    if (cr_off + 2 > avail) return Outcome::kNeedMore;  // the byte after '\r'
    int64_t count = 0;
    if (!ParseInt64(std::string_view(start + 1, cr_off - 1), &count) ||
        count > limits::kMultibulkCountMax) {
      *error = "ERR Protocol error: invalid multibulk length";
      return Outcome::kError;
    }
    size_t after = request_start_ + cr_off + 2;
    if (count <= 0) {  // an empty request: nothing to run
      FinishRequest(after);
      return Outcome::kCommand;
    }
    in_multibulk_ = true;
    args_left_ = count;
    bulk_len_ = -1;
    pos_ = after;
    args_.clear();
  }
  while (args_left_ > 0) {
    if (bulk_len_ < 0) {
      const char* start = buf.data() + pos_;
      size_t avail = buf.size() - pos_;
      const char* cr = FindLikeStrchr(start, avail, '\r');
      if (cr == nullptr) {
        if (avail > limits::kInlineRequestBytesMax) {
          *error = "ERR Protocol error: too big bulk count string";
          return Outcome::kError;
        }
        return Outcome::kNeedMore;
      }
      size_t cr_off = static_cast<size_t>(cr - start);
      if (cr_off + 2 > avail) return Outcome::kNeedMore;
      if (start[0] != '$') {
        char got = start[0];
        if (got == '\r' || got == '\n') got = ' ';
        *error = std::string("ERR Protocol error: expected '$', got '") + got + "'";
        return Outcome::kError;
      }
      int64_t len = 0;
      if (!ParseInt64(std::string_view(start + 1, cr_off - 1), &len) || len < 0 ||
          len > limits::kBulkBytesMax) {
        *error = "ERR Protocol error: invalid bulk length";
        return Outcome::kError;
      }
      bulk_len_ = len;
      pos_ += cr_off + 2;
    }
    // The two bytes after the argument are skipped unchecked, as Redis does.
    if (buf.size() - pos_ < static_cast<size_t>(bulk_len_) + 2) return Outcome::kNeedMore;
    args_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += static_cast<size_t>(bulk_len_) + 2;
    bulk_len_ = -1;
    --args_left_;
  }
  argv->reserve(args_.size());
  for (const auto& [off, len] : args_) argv->emplace_back(buf.data() + off, len);
  FinishRequest(pos_);
  return Outcome::kCommand;
}

}  // namespace rkv
