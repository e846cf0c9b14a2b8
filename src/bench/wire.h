// The bytes the load generator sends and the replies it must recognise, for
// its two bindings: RESP (ReplicaKV, Redis) and etcd v3's HTTP/JSON gateway.
// Pure functions over buffers, so they are unit-tested without a server and the
// generator's hot loop allocates nothing per request: requests are appended to
// a connection's output buffer, replies are scanned in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace rkv::bench {

// --- keys and values ---

// Key number `n` as the key the workloads use: "key:" followed by n in decimal,
// zero-padded to `key_size` bytes in all — the format redis-benchmark's
// `-r` gives "key:__rand_int__" (16 bytes), so both tools touch the same keys.
// Requires key_size >= 4 + the digits of n.
void FormatKey(uint64_t n, size_t key_size, char* out);
// The shortest key size that holds every key below `keys`.
size_t MinKeySize(uint64_t keys);
// A value of `size` bytes of 'x' (what redis-benchmark -d sends).
std::string MakeValue(size_t size);

void Base64Encode(std::string_view in, std::string* out);
size_t Base64Size(size_t n);

// --- RESP ---

// Appends the RESP array for argv to *out.
void AppendRespCommand(std::initializer_list<std::string_view> argv, std::string* out);
void AppendRespCommand(const std::vector<std::string_view>& argv, std::string* out);

struct RespReplyInfo {
  char type = 0;          // '+', '-', ':', '$', '*', '_' (RESP3 null), ...
  bool is_error = false;  // '-' at top level
  bool is_nil = false;    // $-1, *-1 or _
  int64_t integer = 0;    // ':' value, or the length for '$' / '*'
  std::string_view
      text;  // the line of a '+' / '-' reply (without CRLF); valid until the buffer changes
};

enum class ScanResult { kComplete, kIncomplete, kMalformed };

// Scans one whole reply (nested arrays included) at the start of [data, data+n).
// On kComplete sets *consumed to its length in bytes and fills *info.
ScanResult ScanRespReply(const char* data, size_t n, size_t* consumed, RespReplyInfo* info);

// --- HTTP/1.1 (the etcd gateway) ---

// Appends a keep-alive POST with a JSON body.
void AppendHttpPost(std::string_view host_port, std::string_view path, std::string_view body,
                    std::string* out);

struct HttpResponseInfo {
  int status = 0;
  std::string_view body;  // valid until the buffer changes; chunked bodies are not joined
  bool chunked = false;
  bool close = false;  // the server said Connection: close
};

// Scans one whole HTTP/1.1 response at the start of the buffer (Content-Length
// or chunked bodies). On kComplete sets *consumed and *info.
ScanResult ScanHttpResponse(const char* data, size_t n, size_t* consumed, HttpResponseInfo* info);

}  // namespace rkv::bench
