// CRC-32C (Castagnoli), for checking snapshot chunks end to end.
#pragma once

#include <cstdint>
#include <string_view>

namespace rkv {
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
}
