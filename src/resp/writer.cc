#include "resp/writer.h"

#include <charconv>

namespace rkv {

namespace {

void WriteLength(char prefix, int64_t n, std::string* out) {
  char buf[24];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<size_t>(end - buf));
}

// Error and status texts must not break the framing.
void AppendLine(std::string_view s, std::string* out) {
  size_t start = out->size();
  out->append(s.data(), s.size());
  for (size_t i = start; i < out->size(); ++i)
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  out->append("\r\n", 2);
}

}  // namespace

void WriteStatus(std::string_view s, std::string* out) {
  out->push_back('+');
  AppendLine(s, out);
}

void WriteError(std::string_view s, std::string* out) {
  out->push_back('-');
  AppendLine(s, out);
}

void WriteInteger(int64_t v, std::string* out) { WriteLength(':', v, out); }

void WriteBulk(std::string_view s, std::string* out) {
  WriteLength('$', static_cast<int64_t>(s.size()), out);
  out->append(s.data(), s.size());
  out->append("\r\n", 2);
}

void WriteNil(int protocol, std::string* out) {
  if (protocol >= 3)
    out->append("_\r\n", 3);
  else
    out->append("$-1\r\n", 5);
}

void WriteArrayHeader(size_t n, std::string* out) {
  WriteLength('*', static_cast<int64_t>(n), out);
}

void WriteReply(const Reply& r, int protocol, std::string* out) {
  switch (r.type) {
    case Reply::Type::kStatus:
      WriteStatus(r.str, out);
      break;
    case Reply::Type::kError:
      WriteError(r.str, out);
      break;
    case Reply::Type::kInteger:
      WriteInteger(r.integer, out);
      break;
    case Reply::Type::kBulk:
      WriteBulk(r.str, out);
      break;
    case Reply::Type::kNil:
      WriteNil(protocol, out);
      break;
    case Reply::Type::kNilArray:
      if (protocol >= 3)
        out->append("_\r\n", 3);
      else
        out->append("*-1\r\n", 5);
      break;
    case Reply::Type::kArray:
      WriteArrayHeader(r.elements.size(), out);
      for (const Reply& e : r.elements) WriteReply(e, protocol, out);
      break;
    case Reply::Type::kMap:
      if (protocol >= 3)
        WriteLength('%', static_cast<int64_t>(r.elements.size() / 2), out);
      else
        WriteArrayHeader(r.elements.size(), out);
      for (const Reply& e : r.elements) WriteReply(e, protocol, out);
      break;
    case Reply::Type::kVerbatim:
      if (protocol >= 3) {
        WriteLength('=', static_cast<int64_t>(r.str.size() + 4), out);
        out->append("txt:", 4);
        out->append(r.str);
        out->append("\r\n", 2);
      } else {
        WriteBulk(r.str, out);
      }
      break;
  }
}

}  // namespace rkv
