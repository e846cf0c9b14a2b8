// A cluster of real `replicakv server` processes on loopback, laid out as
// CONTRACTS.md §2 says: node i listens on RESP P+i-1, peer P+100+i-1, admin
// P+200+i-1, with data in DIR/node-i. Used by `replicakv cluster` and the demo.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace rkv {

struct LocalNode {
  int id = 0;
  pid_t pid = 0;
  std::string resp, peer, admin;  // HOST:PORT
  uint16_t resp_port = 0, admin_port = 0;
  std::string data_dir;
  std::vector<std::string> argv;
};

class LocalCluster {
 public:
  // server_flags: flags passed to every node, already validated.
  LocalCluster(int nodes, std::string dir, int base_port, std::vector<std::string> server_flags);

  // Starts every node and waits until each answers /status, then writes
  // DIR/cluster.json atomically.
  Status Start(int ready_timeout_ms = 30000);
  // Stops every node of DIR, including ones restarted by others (their
  // DATA_DIR/node.pid). Returns when all are gone.
  void Stop();

  // Test and demo helpers.
  Status KillNode(int id);  // SIGKILL
  Status RestartNode(int id, int ready_timeout_ms = 30000);
  Status WaitReady(int id, int timeout_ms);

  std::vector<LocalNode>& nodes() { return nodes_; }
  LocalNode& node(int id) { return nodes_[id - 1]; }
  const std::string& dir() const { return dir_; }

 private:
  Status WriteClusterJson();

  std::string dir_;
  int base_port_;
  std::vector<std::string> flags_;
  std::vector<LocalNode> nodes_;
};

// `replicakv cluster ...`: returns the process exit code.
int RunClusterCommand(const std::vector<std::string>& args);

}  // namespace rkv
