// The format of every value in the data column family. Each stored version
// carries the metadata later replication modes need, so adding them needs no
// storage rewrite:
//   - the log position that wrote it (single leader),
//   - a hybrid-logical-clock timestamp (multi-leader LWW),
//   - an opaque causal context (version vector / dotted version vector).
//
// Layout: [format=1][type][varint term][varint index][varint hlc]
//         [varint context_len][context][payload...]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rkv {

enum class ValueType : uint8_t {
  kString = 0,    // a register; Redis strings (INCR parses it as an integer)
  kCounter = 1,   // reserved: a mergeable counter (CRDT)
  kSet = 2,       // reserved: an add-wins set (CRDT)
  kSiblings = 3,  // reserved: several concurrent versions kept for the application
};

struct ValueVersion {
  uint64_t term = 0;  // log position that wrote the value (single leader)
  uint64_t index = 0;
  uint64_t hlc = 0;          // hybrid logical clock (multi-leader, leaderless); 0 if unused
  std::string_view context;  // causal context, empty in single-leader mode
};

// A decoded value; views point into the encoded bytes.
struct StoredValueView {
  ValueType type = ValueType::kString;
  ValueVersion version;
  std::string_view payload;
};

void EncodeStoredValue(std::string* dst, ValueType type, const ValueVersion& version,
                       std::string_view payload);
// False if the bytes are not a stored value of a known format.
bool DecodeStoredValue(std::string_view bytes, StoredValueView* out);

}  // namespace rkv
