// CRC-32C (Castagnoli): snapshot chunks end to end, log records on disk.
// Uses SSE4.2's crc32 instruction where the CPU has it.
#pragma once

#include <cstdint>
#include <string_view>

namespace rkv {
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
// The table-driven version, for testing the fast one against.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);
}  // namespace rkv
