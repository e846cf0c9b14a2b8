// Incremental parser of client requests, following Redis 7's networking.c:
// a request starting with '*' is multibulk, anything else is an inline line.
// Arguments are views into the caller's buffer; partial requests keep their
// progress, so a huge request arriving in many reads is parsed once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkv {

class RespParser {
 public:
  enum class Outcome {
    kCommand,   // *argv holds a request (possibly empty: ignore it)
    kNeedMore,  // wait for more bytes
    kError,     // protocol error: reply *error (without "-") and close the connection
  };

  // Parses the next request of `buf` (the whole unconsumed input, which keeps
  // its earlier bytes between calls until Consume). Views in *argv point into
  // `buf` and stay valid until the caller changes the buffer.
  Outcome Next(std::string_view buf, std::vector<std::string_view>* argv, std::string* error);

  // Bytes at the front of the buffer that belong to finished requests; the
  // caller may erase them, then must call Consumed(n) with the count erased.
  size_t consumable() const { return request_start_; }
  void Consumed(size_t n);

 private:
  Outcome NextInline(std::string_view buf, std::vector<std::string_view>* argv, std::string* error);
  Outcome NextMultibulk(std::string_view buf, std::vector<std::string_view>* argv,
                        std::string* error);
  void FinishRequest(size_t end);

  size_t request_start_ = 0;  // where the request being parsed starts
  size_t pos_ = 0;            // parse position
  bool in_multibulk_ = false;
  long long args_left_ = 0;
  long long bulk_len_ = -1;
  std::vector<std::pair<size_t, size_t>> args_;  // offset, length
  std::vector<std::string> inline_args_;         // unescaped inline arguments
};

// Redis's sdssplitargs: splits an inline request, honouring "double" quotes
// (with \n \r \t \b \a \\ \" \xHH escapes) and 'single' quotes. False on
// unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace rkv
