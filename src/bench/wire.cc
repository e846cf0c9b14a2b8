#include "bench/wire.h"

#include <cstdio>
#include <cstring>

namespace rkv::bench {

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reads the decimal integer of a RESP line starting at p, ending at CRLF
// before `end`. Returns the position after CRLF, or nullptr if incomplete;
// sets *malformed on bad bytes.
const char* ParseIntLine(const char* p, const char* end, int64_t* value, bool* malformed) {
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', end - p));
  if (cr == nullptr || cr + 1 >= end) return nullptr;
  bool negative = false;
  const char* q = p;
  if (q < cr && *q == '-') {
    negative = true;
    ++q;
  }
  if (q == cr || cr[1] != '\n') {
    *malformed = true;
    return nullptr;
  }
  int64_t v = 0;
  for (; q < cr; ++q) {
    if (*q < '0' || *q > '9' || v > (INT64_MAX - 9) / 10) {
      *malformed = true;
      return nullptr;
    }
    v = v * 10 + (*q - '0');
  }
  *value = negative ? -v : v;
  return cr + 2;
}

// One RESP value at p; returns the position after it, nullptr if incomplete.
// `depth` bounds nesting so a hostile reply cannot exhaust the stack.
const char* ScanValue(const char* p, const char* end, int depth, RespReplyInfo* info,
                      bool* malformed) {
  constexpr int kNestingMax = 32;
  if (p >= end) return nullptr;
  if (depth > kNestingMax) {
    *malformed = true;
    return nullptr;
  }
  char type = *p++;
  if (info) info->type = type;
  switch (type) {
    case '+':
    case '-':
    case ',':  // RESP3 double
    case '#':  // RESP3 boolean
    case '(': {
      const char* cr = static_cast<const char*>(std::memchr(p, '\r', end - p));
      if (cr == nullptr || cr + 1 >= end) return nullptr;
      if (cr[1] != '\n') {
        *malformed = true;
        return nullptr;
      }
      if (info) {
        info->text = std::string_view(p, cr - p);
        info->is_error = type == '-';
      }
      return cr + 2;
    }
    case '_': {
      if (end - p < 2) return nullptr;
      if (info) info->is_nil = true;
      return p + 2;
    }
    case ':': {
      int64_t v = 0;
      const char* next = ParseIntLine(p, end, &v, malformed);
      if (next && info) info->integer = v;
      return next;
    }
    case '$':
    case '=':
    case '!': {
      int64_t len = 0;
      const char* body = ParseIntLine(p, end, &len, malformed);
      if (body == nullptr) return nullptr;
      if (info) info->integer = len;
      if (len < 0) {
        if (info) info->is_nil = true;
        return body;
      }
      if (end - body < len + 2) return nullptr;
      if (info && type == '!') info->is_error = true;
      return body + len + 2;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      int64_t count = 0;
      const char* q = ParseIntLine(p, end, &count, malformed);
      if (q == nullptr) return nullptr;
      if (info) info->integer = count;
      if (count < 0) {
        if (info) info->is_nil = true;
        return q;
      }
      int64_t elements = type == '%' ? 2 * count : count;
      for (int64_t i = 0; i < elements; ++i) {
        q = ScanValue(q, end, depth + 1, nullptr, malformed);
        if (q == nullptr) return nullptr;
      }
      return q;
    }
    default:
      *malformed = true;
      return nullptr;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void FormatKey(uint64_t n, size_t key_size, char* out) {
  std::memcpy(out, "key:", 4);
  for (size_t i = key_size; i > 4; --i) {
    out[i - 1] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}

size_t MinKeySize(uint64_t keys) {
  size_t digits = 1;
  for (uint64_t top = keys > 0 ? keys - 1 : 0; top >= 10; top /= 10) ++digits;
  return 4 + digits;
}

std::string MakeValue(size_t size) { return std::string(size, 'x'); }

size_t Base64Size(size_t n) { return (n + 2) / 3 * 4; }

void Base64Encode(std::string_view in, std::string* out) {
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out->push_back(kBase64Alphabet[(v >> 18) & 63]);
    out->push_back(kBase64Alphabet[(v >> 12) & 63]);
    out->push_back(kBase64Alphabet[(v >> 6) & 63]);
    out->push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 0) return;
  uint32_t v = static_cast<uint8_t>(in[i]) << 16;
  if (rest == 2) v |= static_cast<uint8_t>(in[i + 1]) << 8;
  out->push_back(kBase64Alphabet[(v >> 18) & 63]);
  out->push_back(kBase64Alphabet[(v >> 12) & 63]);
  out->push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
  out->push_back('=');
}

void AppendRespCommand(std::initializer_list<std::string_view> argv, std::string* out) {
  AppendRespCommand(std::vector<std::string_view>(argv), out);
}

void AppendRespCommand(const std::vector<std::string_view>& argv, std::string* out) {
  char num[24];
  out->push_back('*');
  out->append(num, static_cast<size_t>(std::snprintf(num, sizeof(num), "%zu", argv.size())));
  out->append("\r\n");
  for (std::string_view a : argv) {
    out->push_back('$');
    out->append(num, static_cast<size_t>(std::snprintf(num, sizeof(num), "%zu", a.size())));
    out->append("\r\n");
    out->append(a);
    out->append("\r\n");
  }
}

ScanResult ScanRespReply(const char* data, size_t n, size_t* consumed, RespReplyInfo* info) {
  *info = RespReplyInfo{};
  bool malformed = false;
  const char* end = ScanValue(data, data + n, 0, info, &malformed);
  if (malformed) return ScanResult::kMalformed;
  if (end == nullptr) return ScanResult::kIncomplete;
  *consumed = static_cast<size_t>(end - data);
  return ScanResult::kComplete;
}

void AppendHttpPost(std::string_view host_port, std::string_view path, std::string_view body,
                    std::string* out) {
  char num[24];
  out->append("POST ");
  out->append(path);
  out->append(" HTTP/1.1\r\nHost: ");
  out->append(host_port);
  out->append("\r\nContent-Type: application/json\r\nContent-Length: ");
  out->append(num, static_cast<size_t>(std::snprintf(num, sizeof(num), "%zu", body.size())));
  out->append("\r\n\r\n");
  out->append(body);
}

ScanResult ScanHttpResponse(const char* data, size_t n, size_t* consumed, HttpResponseInfo* info) {
  // Headers larger than this mean we are not talking to the server we think.
  constexpr size_t kHeaderBytesMax = 64 * 1024;
  *info = HttpResponseInfo{};
  std::string_view buf(data, n);
  size_t header_end = buf.find("\r\n\r\n");
  if (header_end == std::string_view::npos)
    return n > kHeaderBytesMax ? ScanResult::kMalformed : ScanResult::kIncomplete;
  std::string_view head = buf.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) return ScanResult::kMalformed;
  size_t sp = status_line.find(' ');
  if (sp == std::string_view::npos || sp + 4 > status_line.size()) return ScanResult::kMalformed;
  int status = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') return ScanResult::kMalformed;
    status = status * 10 + (status_line[i] - '0');
  }
  info->status = status;
  int64_t content_length = -1;
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = Trim(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      content_length = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return ScanResult::kMalformed;
        content_length = content_length * 10 + (c - '0');
        if (content_length > (int64_t{1} << 40)) return ScanResult::kMalformed;
      }
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      info->chunked = EqualsIgnoreCase(value, "chunked");
    } else if (EqualsIgnoreCase(name, "connection")) {
      info->close = EqualsIgnoreCase(value, "close");
    }
  }
  size_t body_start = header_end + 4;
  if (info->chunked) {
    size_t p = body_start;
    for (;;) {
      size_t e = buf.find("\r\n", p);
      if (e == std::string_view::npos) return ScanResult::kIncomplete;
      uint64_t size = 0;
      size_t digits = 0;
      for (size_t i = p; i < e && buf[i] != ';'; ++i, ++digits) {
        char c = buf[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0 || size > (uint64_t{1} << 40)) return ScanResult::kMalformed;
        size = size * 16 + static_cast<uint64_t>(d);
      }
      if (digits == 0) return ScanResult::kMalformed;
      p = e + 2;
      if (size == 0) {
        // Trailers (none expected) end with an empty line.
        size_t t = buf.find("\r\n", p);
        while (t != std::string_view::npos && t != p) {
          p = t + 2;
          t = buf.find("\r\n", p);
        }
        if (t == std::string_view::npos) return ScanResult::kIncomplete;
        *consumed = t + 2;
        info->body = buf.substr(body_start, t - body_start);
        return ScanResult::kComplete;
      }
      if (n - p < size + 2) return ScanResult::kIncomplete;
      p += size + 2;
    }
  }
  if (content_length < 0) {
    // Without a length the body runs to the connection's end; a keep-alive
    // benchmark cannot use that (and etcd's gateway always sends a length).
    if (status == 204 || status == 304)
      content_length = 0;
    else
      return ScanResult::kMalformed;
  }
  if (n - body_start < static_cast<size_t>(content_length)) return ScanResult::kIncomplete;
  info->body = buf.substr(body_start, static_cast<size_t>(content_length));
  *consumed = body_start + static_cast<size_t>(content_length);
  return ScanResult::kComplete;
}

}  // namespace rkv::bench
