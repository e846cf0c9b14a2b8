// The node's configuration: flags (CONTRACTS.md §1) and the same keys, in
// snake_case, in a TOML file given with --config. Flags override the file.
// Every value is validated; an error names the flag or key and the value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "node/read_service.h"

namespace rkv {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

Result<HostPort> ParseHostPort(std::string_view s);

struct ServerConfig {
  uint64_t id = 1;
  std::string data_dir = "./data";
  HostPort listen{"127.0.0.1", 7001};
  HostPort peer_listen;                // default: listen port + 100
  HostPort admin_listen;               // default: listen port + 200
  std::map<uint64_t, HostPort> peers;  // voting members, self included
  std::string mode = "standalone";     // standalone | leader | multi | leaderless
  std::string acks = "quorum";         // async | one | quorum | all
  std::string durability = "fsync";    // fsync | none
  std::string storage = "rocksdb";     // rocksdb | memory
  std::string join;                    // HOST:PORT of a member's peer address
  std::string cluster_id;              // default: derived from --peers at first start
  std::string password;                // AUTH password; empty: none
  bool protected_mode = true;          // without a password, refuse non-loopback clients
  bool allow_faults = false;
  std::string log_level = "info";
  uint64_t election_timeout_ms = 500;  // randomized in [T, 2T)
  uint64_t heartbeat_ms = 50;
  uint64_t request_timeout_ms = 5000;
  uint64_t max_clients = 10000;
  // Reads (node/read_service.h): a connection's defaults, changed with
  // RKV.CONSISTENCY and RKV.READFROM.
  ReadConsistency consistency;  // session
  ReadFrom read_from = ReadFrom::kNearest;
  uint64_t session_wait_ms = 200;
  // Log compaction (leader mode), see docs/OPERATIONS.md.
  uint64_t log_compact_entries = 100000;
  uint64_t log_compact_bytes = 16ULL << 20;
  uint64_t log_keep_entries = 1000;
  uint64_t snapshot_lag_entries = 50000;
  uint64_t snapshot_mb_per_sec = 1024;  // bandwidth one snapshot transfer may use

  bool peer_listen_set = false;
  bool admin_listen_set = false;
};

// One option: its flag name (without "--"), help, whether it takes a value.
struct ConfigOptionInfo {
  std::string name;
  std::string help;
  bool is_flag;  // boolean switch without a value on the command line
};
const std::vector<ConfigOptionInfo>& ServerOptionInfos();

// Sets one option from its textual value (flag or TOML). The error names it.
Status SetServerOption(ServerConfig* config, std::string_view name, std::string_view value);
// Reads a TOML file of the same keys (snake_case) into *config.
Status LoadServerConfigFile(ServerConfig* config, const std::string& path);
// Fills defaults that depend on other values and checks the whole.
Status FinishServerConfig(ServerConfig* config);

}  // namespace rkv
