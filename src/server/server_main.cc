// `replicakv server`: flags → ServerConfig → ServerImpl.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "cli/parse_flags.h"
#include "server/config.h"
#include "server/server.h"
#include "server/server_impl.h"

namespace rkv {

namespace {

std::string Dashed(std::string s) {
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

}  // namespace

int RunServerCommand(const std::vector<std::string>& args) {
  CLI::App app{"replicakv server: run one node"};
  app.name("replicakv server");
  std::vector<std::pair<std::string, std::string>> given;  // in command-line order
  for (const ConfigOptionInfo& info : ServerOptionInfos()) {
    std::string flag = "--" + Dashed(info.name);
    if (info.is_flag) {
      app.add_flag_callback(
          flag, [&given, n = info.name] { given.emplace_back(n, "true"); }, info.help);
    } else {
      app.add_option_function<std::string>(
          flag, [&given, n = info.name](const std::string& v) { given.emplace_back(n, v); },
          info.help);
    }
  }
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv server")) return *exit_code;

  ServerConfig config;
  for (const auto& [name, value] : given) {
    if (name != "config") continue;
    Status s = LoadServerConfigFile(&config, value);
    if (!s.ok()) {
      std::cerr << "replicakv server: " << s.message() << "\n";
      return 2;
    }
  }
  for (const auto& [name, value] : given) {
    if (name == "config") continue;
    Status s = SetServerOption(&config, name, value);
    if (!s.ok()) {
      std::cerr << "replicakv server: " << s.message() << "\n";
      return 2;
    }
  }
  if (Status s = FinishServerConfig(&config); !s.ok()) {
    std::cerr << "replicakv server: " << s.message() << "\n";
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("node-" + std::to_string(config.id));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [node " + std::to_string(config.id) + "] %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  ServerImpl server(config);
  if (Status s = server.Start(); !s.ok()) {
    spdlog::error("cannot start: {}", s.message());
    return 1;
  }
  server.Run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace rkv
