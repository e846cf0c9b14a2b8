// A blocking RESP client over one TCP connection, with timeouts. Not
// thread-safe. Replies are parsed into kv/reply.h values (RESP2 and RESP3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "kv/reply.h"

namespace rkv {

class RespClient {
 public:
  RespClient() = default;
  ~RespClient();
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  Status Connect(const std::string& host, uint16_t port, int timeout_ms = 2000);
  void Close();
  bool connected() const { return fd_ >= 0; }
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }

  // Sends one command and waits for its reply.
  Result<Reply> Command(const std::vector<std::string>& argv);
  // Sends several commands at once, then reads one reply each.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // Lower level: queue a command's bytes; Flush sends; ReadReply reads one.
  void Append(const std::vector<std::string>& argv);
  Status Flush();
  Result<Reply> ReadReply();

 private:
  Status Fill();
  // Parses one reply from in_ at *pos; false when more bytes are needed.
  bool ParseReply(size_t* pos, Reply* out, Status* error);

  int fd_ = -1;
  int timeout_ms_ = 5000;
  std::string out_;
  std::string in_;
  size_t in_pos_ = 0;
};

// GET http://host:port/path, returning the body of a 200 reply.
Result<std::string> HttpGet(const std::string& host, uint16_t port, const std::string& path,
                            int timeout_ms = 2000);
// POST with a JSON body; returns the body of a 2xx reply.
Result<std::string> HttpPost(const std::string& host, uint16_t port, const std::string& path,
                             const std::string& body, int timeout_ms = 2000);

// Renders a reply the way redis-cli does (for narration and debugging).
std::string ReplyToString(const Reply& r);

}  // namespace rkv
