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

}  // namespace rkv
