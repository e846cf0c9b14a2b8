// `replicakv convert`: a Jepsen history (EDN or log lines) as JSON lines
// (CONTRACTS.md §6), for `replicakv check`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "check/jepsen.h"
#include "cli/parse_flags.h"

namespace rkv {

int RunConvertCommand(const std::vector<std::string>& args) {
  CLI::App app{"replicakv convert: a Jepsen history as JSON lines"};
  app.name("replicakv convert");
  std::string file, from = "auto", output, key = "k";
  app.add_option("file", file, "Jepsen history: EDN maps or jepsen.util log lines, one a line")
      ->required();
  app.add_option("--from", from,
                 "edn | jepsen-log | auto (EDN when the first line starts with '{')")
      ->check(CLI::IsMember({"auto", "edn", "jepsen-log"}));
  app.add_option("--output", output, "write here instead of stdout");
  app.add_option("--key", key, "the key of operations whose value is not [k v]");
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv convert")) return *exit_code;
  JepsenOptions o;
  o.format = from == "edn"          ? JepsenFormat::kEdn
             : from == "jepsen-log" ? JepsenFormat::kLog
                                    : JepsenFormat::kAuto;
  o.key = key;
  Result<History> h = ReadJepsen(file, o);
  if (!h.ok()) {
    std::cerr << "replicakv convert: " << file << ": " << h.status().message() << "\n";
    return h.status().code() == Code::kInvalidArgument ? 1 : 2;
  }
  std::ofstream out;
  if (!output.empty()) {
    out.open(output, std::ios::trunc);
    if (!out) {
      std::cerr << "replicakv convert: --output: cannot write " << output << "\n";
      return 2;
    }
  }
  std::ostream& os = output.empty() ? std::cout : out;
  for (const Event& e : h->events) os << FormatEvent(e) << "\n";
  os.flush();
  if (!os) {
    std::cerr << "replicakv convert: error writing " << (output.empty() ? "stdout" : output)
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace rkv
