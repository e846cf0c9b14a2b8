// The data of a kCommand log entry: one or more client commands, each an argv,
// applied atomically in order (a single write, or a MULTI/EXEC block).
// Layout: [format=1][varint command count]{[varint argc]{[varint len][bytes]}}
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rkv {

using Argv = std::vector<std::string_view>;

void EncodeCommands(const std::vector<Argv>& commands, std::string* out);
void EncodeCommand(const Argv& command, std::string* out);
// Views point into `data`. False if the bytes are malformed.
bool DecodeCommands(std::string_view data, std::vector<Argv>* commands);
// The same into the first `*count` elements of `scratch`, whose vectors keep
// their capacity from call to call (elements past *count are stale): the
// apply path decodes every entry without allocating.
bool DecodeCommandsReusing(std::string_view data, std::vector<Argv>* scratch, size_t* count);

// The data of one entry made of the encoded commands of several requests, in
// order: the server proposes a turn's client writes as one log entry.
class CommandBatch {
 public:
  // Appends the commands of `encoded` (EncodeCommand/EncodeCommands output);
  // returns how many it held, 0 if malformed (nothing appended).
  size_t Add(std::string_view encoded);
  // Appends one command, encoded as EncodeCommand would (no copy in between).
  void AddCommand(const Argv& command);
  size_t commands() const { return count_; }
  size_t bytes() const { return body_.size(); }
  bool empty() const { return count_ == 0; }
  // The entry's data (the same bytes EncodeCommands gives for these
  // commands); the batch is empty again.
  std::string Take();

 private:
  std::string body_;
  size_t count_ = 0;
};

}  // namespace rkv
