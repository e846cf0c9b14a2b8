// `replicakv server`: runs one node until SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace rkv {

// Parses the server's flags and runs it. Returns the process exit code:
// 0 clean shutdown, 1 runtime failure, 2 bad usage (one line naming the flag).
int RunServerCommand(const std::vector<std::string>& args);

}  // namespace rkv
