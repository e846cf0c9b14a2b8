#include "cli/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/parse_flags.h"
#include "cli/process.h"
#include "client/resp_client.h"
#include "server/config.h"

namespace rkv {

namespace {

std::string Loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

LocalCluster::LocalCluster(int nodes, std::string dir, int base_port,
                           std::vector<std::string> server_flags)
    : dir_(std::filesystem::absolute(dir).lexically_normal().string()),
      base_port_(base_port),
      flags_(std::move(server_flags)) {
  if (!dir_.empty() && dir_.back() == '/') dir_.pop_back();
  std::string exe = SelfExecutable();
  // Replicated modes need the members' peer addresses.
  bool replicated = false;
  for (size_t i = 0; i + 1 < flags_.size(); ++i)
    if (flags_[i] == "--mode") replicated = flags_[i + 1] != "standalone";
  std::string peers;
  for (int i = 1; i <= nodes; ++i)
    peers += (i > 1 ? "," : "") + std::to_string(i) + "=" + Loopback(base_port + 100 + i - 1);
  for (int i = 1; i <= nodes; ++i) {
    LocalNode n;
    n.id = i;
    n.resp_port = static_cast<uint16_t>(base_port + i - 1);
    n.admin_port = static_cast<uint16_t>(base_port + 200 + i - 1);
    n.resp = Loopback(n.resp_port);
    n.peer = Loopback(base_port + 100 + i - 1);
    n.admin = Loopback(n.admin_port);
    n.data_dir = dir_ + "/node-" + std::to_string(i);
    n.argv = {
        exe,    "server",        "--id", std::to_string(i), "--data-dir", n.data_dir, "--listen",
        n.resp, "--peer-listen", n.peer, "--admin-listen",  n.admin};
    if (replicated) {
      n.argv.push_back("--peers");
      n.argv.push_back(peers);
    }
    n.argv.insert(n.argv.end(), flags_.begin(), flags_.end());
    nodes_.push_back(std::move(n));
  }
}

Status LocalCluster::WaitReady(int id, int timeout_ms) {
  LocalNode& n = node(id);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (n.pid > 0 && !ProcessAlive(n.pid))
      return Status::IoError("node " + std::to_string(id) + " exited; the end of its log:\n" +
                             TailFile(n.data_dir + "/server.log", 15));
    if (auto body = HttpGet("127.0.0.1", n.admin_port, "/status", 500); body.ok()) {
      // The port may belong to someone else's node (ours then failed to bind
      // and is about to exit): only our own process counts.
      std::string want = "\"pid\": " + std::to_string(n.pid);
      std::string want_compact = "\"pid\":" + std::to_string(n.pid);
      if (n.pid <= 0 || body->find(want) != std::string::npos ||
          body->find(want_compact) != std::string::npos)
        return Status::Ok();
      if (!ProcessAlive(n.pid) ||
          std::chrono::steady_clock::now() + std::chrono::seconds(1) > deadline)
        return Status::IoError("node " + std::to_string(id) + ": port " +
                               std::to_string(n.admin_port) +
                               " answers for another process; the end of its log:\n" +
                               TailFile(n.data_dir + "/server.log", 15));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Timeout("node " + std::to_string(id) + " did not answer /status within " +
                         std::to_string(timeout_ms) + " ms");
}

Status LocalCluster::Start(int ready_timeout_ms) {
  for (LocalNode& n : nodes_) {
    std::error_code ec;
    std::filesystem::create_directories(n.data_dir, ec);
    if (ec) return Status::IoError("cannot create " + n.data_dir + ": " + ec.message());
    if (pid_t old = NodePidIfRunning(n.data_dir))
      return Status::Invalid("node " + std::to_string(n.id) + " of " + dir_ +
                             " is already running (pid " + std::to_string(old) + ")");
    auto pid = SpawnProcess(n.argv, n.data_dir + "/server.log");
    if (!pid.ok()) return pid.status();
    n.pid = *pid;
  }
  for (LocalNode& n : nodes_) {
    Status s = WaitReady(n.id, ready_timeout_ms);
    if (!s.ok()) return s;
  }
  return WriteClusterJson();
}

Status LocalCluster::WriteClusterJson() {
  nlohmann::json nodes = nlohmann::json::array();
  for (const LocalNode& n : nodes_) {
    nodes.push_back({{"id", n.id},
                     {"pid", n.pid},
                     {"resp", n.resp},
                     {"peer", n.peer},
                     {"admin", n.admin},
                     {"data_dir", n.data_dir},
                     {"argv", n.argv}});
  }
  nlohmann::json doc = {{"nodes", nodes}};
  std::string path = dir_ + "/cluster.json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << doc.dump(2) << "\n";
    if (!f) return Status::IoError("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

void LocalCluster::Stop() {
  for (LocalNode& n : nodes_) {
    pid_t pid = NodePidIfRunning(n.data_dir);
    if (pid > 0) StopProcess(pid, 10000);
    if (n.pid > 0 && n.pid != pid) StopProcess(n.pid, 10000);
  }
  ReapChildren();
}

Status LocalCluster::KillNode(int id) {
  LocalNode& n = node(id);
  pid_t pid = NodePidIfRunning(n.data_dir);
  if (pid <= 0) pid = n.pid;
  if (pid <= 0 || !ProcessAlive(pid))
    return Status::NotFound("node " + std::to_string(id) + " is not running");
  kill(pid, SIGKILL);
  for (int i = 0; i < 250 && ProcessAlive(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return Status::Ok();
}

Status LocalCluster::RestartNode(int id, int ready_timeout_ms) {
  LocalNode& n = node(id);
  auto pid = SpawnProcess(n.argv, n.data_dir + "/server.log");
  if (!pid.ok()) return pid.status();
  n.pid = *pid;
  return WaitReady(id, ready_timeout_ms);
}

int RunClusterCommand(const std::vector<std::string>& args) {
  CLI::App app{"replicakv cluster: run a local cluster of real processes until Ctrl-C"};
  app.name("replicakv cluster");
  int nodes = 3;
  std::string dir;
  int base_port = 7001;
  app.add_option("--nodes", nodes, "number of nodes (1-9)")->check(CLI::Range(1, 9));
  app.add_option("--data-dir", dir, "directory for the nodes' data (DIR/node-i)")->required();
  app.add_option("--base-port", base_port,
                 "node i listens on RESP P+i-1, peer P+100+i-1, admin P+200+i-1")
      ->check(CLI::Range(1, 65535 - 300));
  // Every other server flag is passed to every node, after validation here.
  std::vector<std::pair<std::string, std::string>> given;
  for (const ConfigOptionInfo& info : ServerOptionInfos()) {
    if (info.name == "id" || info.name == "data_dir" || info.name == "listen" ||
        info.name == "peer_listen" || info.name == "admin_listen" || info.name == "peers")
      continue;
    std::string flag = "--" + info.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (info.is_flag)
      app.add_flag_callback(
          flag, [&given, flag] { given.emplace_back(flag, ""); }, info.help);
    else
      app.add_option_function<std::string>(
          flag, [&given, flag](const std::string& v) { given.emplace_back(flag, v); }, info.help);
  }
  if (std::optional<int> exit_code = ParseFlags(app, args, "replicakv cluster")) return *exit_code;
  std::vector<std::string> flags;
  ServerConfig probe;
  for (const auto& [flag, value] : given) {
    if (flag == "--config") {
      Status s = LoadServerConfigFile(&probe, value);
      if (!s.ok()) {
        std::cerr << "replicakv cluster: " << s.message() << "\n";
        return 2;
      }
      flags.push_back(flag);
      flags.push_back(std::filesystem::absolute(value).string());
      continue;
    }
    Status s = SetServerOption(&probe, flag.substr(2), value.empty() ? "true" : value);
    if (!s.ok()) {
      std::cerr << "replicakv cluster: " << s.message() << "\n";
      return 2;
    }
    flags.push_back(flag);
    if (!value.empty()) flags.push_back(value);
  }

  // Block the stop signals; they are collected below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  LocalCluster cluster(nodes, dir, base_port, flags);
  std::cout << "starting " << nodes << " node(s) in " << cluster.dir() << " ..." << std::endl;
  Status s = cluster.Start();
  if (!s.ok()) {
    std::cerr << "replicakv cluster: " << s.message() << "\n";
    cluster.Stop();
    return 1;
  }
  for (const LocalNode& n : cluster.nodes())
    std::cout << "  node " << n.id << ": redis-cli -p " << n.resp_port << "   status: http://"
              << n.admin << "/status   log: " << n.data_dir << "/server.log\n";
  std::cout << "cluster description: " << cluster.dir() << "/cluster.json\n"
            << "Ctrl-C (or SIGTERM) stops every node." << std::endl;

  for (;;) {
    timespec timeout{1, 0};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) break;
    ReapChildren();
  }
  std::cout << "stopping the cluster ..." << std::endl;
  cluster.Stop();
  std::cout << "stopped." << std::endl;
  return 0;
}

}  // namespace rkv
