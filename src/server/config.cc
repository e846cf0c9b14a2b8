#include "server/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <functional>

#include "kv/numbers.h"

namespace rkv {

namespace {

std::string FlagName(std::string_view key) {
  std::string s = "--";
  for (char c : key) s.push_back(c == '_' ? '-' : c);
  return s;
}

Status Bad(std::string_view name, std::string_view value, std::string_view why) {
  return Status::Invalid(FlagName(name) + ": invalid value '" + std::string(value) +
                         "': " + std::string(why));
}

Result<uint64_t> ParseUint(std::string_view name, std::string_view v, uint64_t min, uint64_t max) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    return Bad(name, v, "expected a whole number");
  if (out < min || out > max)
    return Bad(name, v, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return out;
}

Result<bool> ParseBool(std::string_view name, std::string_view v) {
  if (v == "true" || v == "yes" || v == "1" || v.empty()) return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return Bad(name, v, "expected true or false");
}

Result<std::map<uint64_t, HostPort>> ParsePeers(std::string_view v) {
  std::map<uint64_t, HostPort> peers;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string_view item =
        v.substr(start, comma == std::string_view::npos ? v.npos : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Bad("peers", v, "expected ID=HOST:PORT,...");
    auto id = ParseUint("peers", item.substr(0, eq), 1, 1000000);
    if (!id.ok()) return Bad("peers", v, "node ids are whole numbers from 1");
    auto hp = ParseHostPort(item.substr(eq + 1));
    if (!hp.ok()) return Bad("peers", v, hp.status().message());
    if (!peers.emplace(*id, *hp).second)
      return Bad("peers", v, "node " + std::to_string(*id) + " appears twice");
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return peers;
}

using Setter = std::function<Status(ServerConfig*, std::string_view name, std::string_view v)>;

struct OptionDef {
  ConfigOptionInfo info;
  Setter set;
};

Setter HostPortSetter(HostPort ServerConfig::*field, bool ServerConfig::*was_set = nullptr) {
  return [field, was_set](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
    auto hp = ParseHostPort(v);
    if (!hp.ok()) return Bad(name, v, hp.status().message());
    c->*field = *hp;
    if (was_set) c->*was_set = true;
    return Status::Ok();
  };
}

Setter UintSetter(uint64_t ServerConfig::*field, uint64_t min, uint64_t max) {
  return [=](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
    auto n = ParseUint(name, v, min, max);
    if (!n.ok()) return n.status();
    c->*field = *n;
    return Status::Ok();
  };
}

Setter ChoiceSetter(std::string ServerConfig::*field, std::initializer_list<std::string_view> set) {
  std::vector<std::string_view> choices(set);
  return [field, choices](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
    for (std::string_view s : choices)
      if (v == s) {
        c->*field = std::string(v);
        return Status::Ok();
      }
    std::string list;
    for (std::string_view s : choices) list += (list.empty() ? "" : ", ") + std::string(s);
    return Bad(name, v, "expected one of " + list);
  };
}

Setter BoolSetter(bool ServerConfig::*field) {
  return [field](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
    auto b = ParseBool(name, v);
    if (!b.ok()) return b.status();
    c->*field = *b;
    return Status::Ok();
  };
}

const std::vector<OptionDef>& Options() {
  static const std::vector<OptionDef> defs = [] {
    std::vector<OptionDef> d;
    auto add = [&](std::string name, std::string help, bool flag, Setter s) {
      d.push_back({{std::move(name), std::move(help), flag}, std::move(s)});
    };
    add("id", "this node's id (1, 2, ...)", false, UintSetter(&ServerConfig::id, 1, 1000000));
    add("data_dir", "directory for this node's data", false,
        [](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
          if (v.empty()) return Bad(name, v, "must not be empty");
          c->data_dir = std::string(v);
          return Status::Ok();
        });
    add("listen", "RESP address HOST:PORT (default 127.0.0.1:7001)", false,
        HostPortSetter(&ServerConfig::listen));
    add("peer_listen", "replication address HOST:PORT (default: RESP port + 100)", false,
        HostPortSetter(&ServerConfig::peer_listen, &ServerConfig::peer_listen_set));
    add("admin_listen", "HTTP admin address HOST:PORT (default: RESP port + 200)", false,
        HostPortSetter(&ServerConfig::admin_listen, &ServerConfig::admin_listen_set));
    add("peers", "voting members' peer addresses: 1=HOST:PORT,2=HOST:PORT,...", false,
        [](ServerConfig* c, std::string_view, std::string_view v) -> Status {
          auto p = ParsePeers(v);
          if (!p.ok()) return p.status();
          c->peers = std::move(*p);
          return Status::Ok();
        });
    add("mode", "standalone | leader | multi | leaderless", false,
        ChoiceSetter(&ServerConfig::mode, {"standalone", "leader", "multi", "leaderless"}));
    add("acks", "leader mode write acknowledgement: async | one | quorum | all", false,
        ChoiceSetter(&ServerConfig::acks, {"async", "one", "quorum", "all"}));
    add("durability", "fsync (default) | none", false,
        ChoiceSetter(&ServerConfig::durability, {"fsync", "none"}));
    add("storage", "rocksdb (default) | memory", false,
        ChoiceSetter(&ServerConfig::storage, {"rocksdb", "memory"}));
    add("join", "start empty and join the cluster of this member's peer address HOST:PORT", false,
        [](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
          auto hp = ParseHostPort(v);
          if (!hp.ok()) return Bad(name, v, hp.status().message());
          c->join = std::string(v);
          return Status::Ok();
        });
    add("cluster_id",
        "name of the cluster; peers of another cluster are refused (default: derived from --peers "
        "at first start)",
        false, [](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
          if (v.empty() || v.size() > 128) return Bad(name, v, "must be 1 to 128 characters");
          c->cluster_id = std::string(v);
          return Status::Ok();
        });
    add("password", "require AUTH with this password (default: none)", false,
        [](ServerConfig* c, std::string_view, std::string_view v) -> Status {
          c->password = std::string(v);
          return Status::Ok();
        });
    add("protected_mode", "without a password, refuse clients not on loopback (default true)",
        false, BoolSetter(&ServerConfig::protected_mode));
    add("allow_faults", "enable the test-only POST /faults endpoint", true,
        BoolSetter(&ServerConfig::allow_faults));
    add("log_level", "trace | debug | info | warn | error", false,
        ChoiceSetter(&ServerConfig::log_level, {"trace", "debug", "info", "warn", "error"}));
    add("election_timeout_ms",
        "leader mode: election timeout, randomized up to twice this (default 500)", false,
        UintSetter(&ServerConfig::election_timeout_ms, 10, 600000));
    add("heartbeat_ms", "leader mode: heartbeat interval (default 50)", false,
        UintSetter(&ServerConfig::heartbeat_ms, 1, 60000));
    add("request_timeout_ms", "how long a write waits for its acknowledgement (default 5000)",
        false, UintSetter(&ServerConfig::request_timeout_ms, 1, 3600000));
    add("log_compact_entries",
        "leader mode: compact the log when it holds more entries than this (default 100000)", false,
        UintSetter(&ServerConfig::log_compact_entries, 10, 1000000000));
    add("log_compact_bytes", "leader mode: ... or more bytes than this (default 16777216)", false,
        UintSetter(&ServerConfig::log_compact_bytes, 1 << 16, 1ULL << 40));
    add("log_keep_entries", "leader mode: entries kept after compaction (default 1000)", false,
        UintSetter(&ServerConfig::log_keep_entries, 0, 1000000000));
    add("snapshot_lag_entries",
        "leader mode: a follower further behind than this no longer holds back compaction; it "
        "gets a snapshot (default 50000)",
        false, UintSetter(&ServerConfig::snapshot_lag_entries, 1, 1000000000));
    add("snapshot_mb_per_sec",
        "leader mode: bandwidth a snapshot transfer may use, MB/s (default 1024)", false,
        UintSetter(&ServerConfig::snapshot_mb_per_sec, 1, 1000000));
    add("consistency",
        "default read level of a connection: strong | session | bounded:MS | eventual (default "
        "session)",
        false, [](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
          std::vector<std::string_view> words;
          for (size_t i = 0; i < v.size();) {
            size_t end = v.find(' ', i);
            if (end == std::string_view::npos) end = v.size();
            if (end > i) words.push_back(v.substr(i, end - i));
            i = end + 1;
          }
          std::string why;
          if (!ParseReadConsistency(words, &c->consistency, &why)) return Bad(name, v, why);
          return Status::Ok();
        });
    add("read_from", "default read routing of a connection: nearest | leader | follower", false,
        [](ServerConfig* c, std::string_view name, std::string_view v) -> Status {
          if (!ParseReadFrom(v, &c->read_from))
            return Bad(name, v, "expected one of nearest, leader, follower");
          return Status::Ok();
        });
    add("session_wait_ms",
        "how long a replica behind a read's session token (or bound) waits before it forwards "
        "the read or answers -STALE (default 200)",
        false, UintSetter(&ServerConfig::session_wait_ms, 0, 600000));
    add("max_clients", "most client connections at once (default 10000)", false,
        UintSetter(&ServerConfig::max_clients, 1, 1000000));
    return d;
  }();
  return defs;
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Status::Invalid("expected HOST:PORT");
  std::string_view host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  uint64_t port = 0;
  std::string_view p = s.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || p.empty() || port == 0 || port > 65535)
    return Status::Invalid("port must be a number from 1 to 65535");
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

const std::vector<ConfigOptionInfo>& ServerOptionInfos() {
  static const std::vector<ConfigOptionInfo> infos = [] {
    std::vector<ConfigOptionInfo> v;
    for (const OptionDef& d : Options()) v.push_back(d.info);
    v.push_back({"config", "TOML file with the same keys in snake_case", false});
    return v;
  }();
  return infos;
}

Status SetServerOption(ServerConfig* config, std::string_view name, std::string_view value) {
  std::string key(name);
  std::replace(key.begin(), key.end(), '-', '_');
  for (const OptionDef& d : Options())
    if (d.info.name == key) return d.set(config, key, value);
  return Status::Invalid("unknown option " + FlagName(key));
}

Status LoadServerConfigFile(ServerConfig* config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::Invalid("--config " + path + ": line " + std::to_string(where.line) + ": " +
                           std::string(e.description()));
  }
  for (const auto& [k, node] : table) {
    std::string key(k.str());
    std::string value;
    if (auto s = node.value<std::string>()) {
      value = *s;
    } else if (auto i = node.value<int64_t>()) {
      if (*i < 0) return Status::Invalid("--config " + path + ": " + key + " must not be negative");
      value = std::to_string(*i);
    } else if (auto b = node.value<bool>()) {
      value = *b ? "true" : "false";
    } else {
      return Status::Invalid("--config " + path + ": " + key +
                             " must be a string, a whole number or a boolean");
    }
    bool known = false;
    for (const OptionDef& d : Options()) known = known || d.info.name == key;
    if (!known) return Status::Invalid("--config " + path + ": unknown key '" + key + "'");
    Status s = SetServerOption(config, key, value);
    if (!s.ok()) return Status::Invalid("--config " + path + ": " + s.message());
  }
  return Status::Ok();
}

Status FinishServerConfig(ServerConfig* c) {
  if (!c->peer_listen_set) {
    if (c->listen.port > 65535 - 100)
      return Status::Invalid("--peer-listen: cannot derive a default from --listen; give it");
    c->peer_listen = {c->listen.host, static_cast<uint16_t>(c->listen.port + 100)};
  }
  if (!c->admin_listen_set) {
    if (c->listen.port > 65535 - 200)
      return Status::Invalid("--admin-listen: cannot derive a default from --listen; give it");
    c->admin_listen = {c->listen.host, static_cast<uint16_t>(c->listen.port + 200)};
  }
  if (c->mode == "multi" || c->mode == "leaderless")
    return Status::Invalid("--mode: '" + c->mode + "' is not available yet (standalone, leader)");
  if (c->mode == "leader") {
    if (c->peers.empty() && c->join.empty())
      return Status::Invalid("--peers: leader mode needs the members' peer addresses (or --join)");
    if (!c->peers.empty() && !c->join.empty())
      return Status::Invalid(
          "--join: give either --peers (a new cluster) or --join (a new member "
          "of an existing one), not both");
    if (!c->peers.empty() && c->join.empty() && c->peers.count(c->id) == 0)
      return Status::Invalid("--peers: must include this node's id " + std::to_string(c->id));
  }
  if (c->heartbeat_ms * 2 > c->election_timeout_ms)
    return Status::Invalid("--heartbeat-ms: must be at most half of --election-timeout-ms (" +
                           std::to_string(c->election_timeout_ms) + ")");
  return Status::Ok();
}

}  // namespace rkv
