// Number parsing and formatting with Redis's exact rules, so replies match
// Redis byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rkv {

// Redis's string2ll: strict decimal, no spaces, no '+', no leading zeros.
bool ParseInt64(std::string_view s, int64_t* out);
// Redis's string2ld: strtold over the whole string, no leading space, no NaN.
bool ParseLongDouble(std::string_view s, long double* out);
// Redis's ld2string in "human" mode (%.17Lf with trailing zeros removed).
std::string FormatLongDoubleHuman(long double v);
std::string FormatInt64(int64_t v);
// strtoul semantics as Redis's SCAN cursor parser uses them.
bool ParseScanCursor(std::string_view s, uint64_t* out);
// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);
// A command name lower-cased into `buf`, without allocating (every request
// looks its name up); empty when longer than any command name can be.
std::string_view LowerCommandName(std::string_view name, char (&buf)[16]);

}  // namespace rkv
