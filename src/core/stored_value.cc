#include "core/stored_value.h"

#include "core/encoding.h"

namespace rkv {

namespace {
constexpr uint8_t kFormat = 1;
}

void EncodeStoredValue(std::string* dst, ValueType type, const ValueVersion& version,
                       std::string_view payload) {
  dst->clear();
  dst->reserve(payload.size() + 16 + version.context.size());
  dst->push_back(static_cast<char>(kFormat));
  dst->push_back(static_cast<char>(type));
  PutVarint64(dst, version.term);
  PutVarint64(dst, version.index);
  PutVarint64(dst, version.hlc);
  PutLengthPrefixed(dst, version.context);
  dst->append(payload.data(), payload.size());
}

bool DecodeStoredValue(std::string_view bytes, StoredValueView* out) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != kFormat) return false;
  uint8_t type = static_cast<uint8_t>(bytes[1]);
  if (type > static_cast<uint8_t>(ValueType::kSiblings)) return false;
  out->type = static_cast<ValueType>(type);
  bytes.remove_prefix(2);
  if (!GetVarint64(&bytes, &out->version.term)) return false;
  if (!GetVarint64(&bytes, &out->version.index)) return false;
  if (!GetVarint64(&bytes, &out->version.hlc)) return false;
  if (!GetLengthPrefixed(&bytes, &out->version.context)) return false;
  out->payload = bytes;
  return true;
}

}  // namespace rkv
