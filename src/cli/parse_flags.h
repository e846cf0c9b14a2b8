// The one way a replicakv subcommand parses its flags (CONTRACTS §1): --help
// prints the help and exits 0; a bad flag gets one line naming it and exit 2.
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rkv {

// Parses `args` (the subcommand's arguments) into `app`. Returns the exit code
// when the command must stop now, nullopt when it should go on.
inline std::optional<int> ParseFlags(CLI::App& app, const std::vector<std::string>& args,
                                     std::string_view command) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace rkv
