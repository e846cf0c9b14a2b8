// Redis-style glob matching for SCAN MATCH and KEYS: * ? [abc] [^a-z] and \ escapes.
#pragma once

#include <string_view>

namespace rkv {
bool GlobMatch(std::string_view pattern, std::string_view text);
}
