// Byte encodings used by storage keys, log records and stored values.
// Fixed-width big-endian integers sort the same as the numbers they encode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rkv {

void PutFixed64BE(std::string* dst, uint64_t v);
void PutFixed32BE(std::string* dst, uint32_t v);
// Into 4 bytes at p (a header filled in after its body is written).
void EncodeFixed32BE(char* p, uint32_t v);
uint64_t DecodeFixed64BE(const char* p);
uint32_t DecodeFixed32BE(const char* p);

void PutVarint64(std::string* dst, uint64_t v);
void PutLengthPrefixed(std::string* dst, std::string_view bytes);

// Reads from the front of `in` and advances it. False when `in` is too short or malformed.
bool GetVarint64(std::string_view* in, uint64_t* v);
bool GetLengthPrefixed(std::string_view* in, std::string_view* bytes);
bool GetFixed64BE(std::string_view* in, uint64_t* v);

// 64-bit hash of a key (xxHash3). Stable across versions and machines: it is
// part of the storage layout and of SCAN cursors.
uint64_t HashKey(std::string_view key);

// Lower-case hex of bytes.
std::string ToHex(std::string_view bytes);

}  // namespace rkv

namespace rkv {
// A JSON string literal (with quotes) for arbitrary bytes: valid UTF-8 passes
// through escaped; a byte that is not part of valid UTF-8 becomes \u00XX.
std::string JsonQuote(std::string_view bytes);
}  // namespace rkv
