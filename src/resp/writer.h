// Renders replies as RESP2 or RESP3 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kv/reply.h"

namespace rkv {

void WriteReply(const Reply& r, int protocol, std::string* out);

// Direct writers for hot paths that need no Reply value.
void WriteStatus(std::string_view s, std::string* out);
void WriteError(std::string_view s, std::string* out);
void WriteInteger(int64_t v, std::string* out);
void WriteBulk(std::string_view s, std::string* out);
void WriteNil(int protocol, std::string* out);
void WriteArrayHeader(size_t n, std::string* out);

}  // namespace rkv
