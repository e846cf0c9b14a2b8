// Commands answered by the connection or the server rather than the data
// state machine: HELLO, AUTH, SELECT, QUIT, RESET, MULTI/EXEC/DISCARD, INFO,
// COMMAND, CLIENT, CONFIG, RKV.STATUS. Replies and error texts follow Redis 7.
#include <algorithm>

#include "core/limits.h"
#include "kv/commands.h"
#include "kv/glob.h"
#include "kv/numbers.h"
#include "leader/membership.h"
#include "server/client_conn.h"
#include "server/server_impl.h"

namespace rkv {

namespace {

constexpr std::string_view kRedisVersion = "7.0.15";

std::string ArityErrorText(std::string_view name) {
  return "ERR wrong number of arguments for '" + ToLower(name) + "' command";
}

struct ServerCommandInfo {
  std::string_view name;
  int arity;
  std::vector<std::string_view> flags;
};

// For COMMAND: the commands answered here, with Redis's arity and flags.
const std::vector<ServerCommandInfo>& ServerCommandInfos() {
  static const std::vector<ServerCommandInfo> infos = {
      {"hello", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
      {"auth", -2, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
      {"select", 2, {"loading", "stale", "fast"}},
      {"quit", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
      {"reset", 1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
      {"multi", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
      {"exec", 1, {"noscript", "loading", "stale", "skip_slowlog"}},
      {"discard", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
      {"info", -1, {"loading", "stale"}},
      {"command", -1, {"loading", "stale"}},
      {"client", -2, {}},
      {"config", -2, {}},
      {"rkv.status", 1, {"loading", "stale", "fast"}},
      {"wait", 3, {"noscript"}},
      {"rkv.members", 1, {"loading", "stale"}},
      {"rkv.consistency", -1, {"loading", "stale", "fast"}},
      {"rkv.session", -1, {"loading", "stale", "fast"}},
      {"rkv.readfrom", -1, {"loading", "stale", "fast"}},
      {"rkv.remove", 2, {"admin", "noscript"}},
  };
  return infos;
}

}  // namespace

bool ClientConn::IsServerCommand(std::string_view lower_name) {
  for (const ServerCommandInfo& info : ServerCommandInfos())
    if (info.name == lower_name) return true;
  return false;
}

namespace {

Reply CommandInfoReply(std::string_view name, int arity, const std::vector<std::string_view>& flags,
                       int first, int last, int step) {
  std::vector<Reply> f;
  for (std::string_view s : flags) f.push_back(Reply::Status(std::string(s)));
  std::vector<Reply> r;
  r.push_back(Reply::Bulk(name));
  r.push_back(Reply::Integer(arity));
  r.push_back(Reply::Array(std::move(f)));
  r.push_back(Reply::Integer(first));
  r.push_back(Reply::Integer(last));
  r.push_back(Reply::Integer(step));
  r.push_back(Reply::Array());  // ACL categories
  r.push_back(Reply::Array());  // tips
  r.push_back(Reply::Array());  // key specs
  r.push_back(Reply::Array());  // subcommands
  return Reply::Array(std::move(r));
}

std::vector<std::string_view> KvFlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  if (flags & kCmdWrite) out.push_back("write");
  if (flags & kCmdReadOnly) out.push_back("readonly");
  if (flags & kCmdWrite) out.push_back("denyoom");
  if (flags & kCmdFast) out.push_back("fast");
  if (flags & kCmdStale) out.push_back("stale");
  return out;
}

// Reply for one command name, or nil when unknown (COMMAND INFO).
Reply InfoFor(std::string_view name) {
  if (const KvCommandSpec* spec = FindKvCommand(name))
    return CommandInfoReply(spec->name, spec->arity, KvFlagNames(spec->flags), spec->first_key,
                            spec->last_key, spec->key_step);
  for (const ServerCommandInfo& i : ServerCommandInfos())
    if (EqualsIgnoreCase(i.name, name)) return CommandInfoReply(i.name, i.arity, i.flags, 0, 0, 0);
  return Reply::NilArray();
}

bool ValidClientName(std::string_view name) {
  for (unsigned char c : name)
    if (c < '!' || c > '~') return false;
  return true;
}

}  // namespace

bool ClientConn::RunServerCommand(Slot& slot, uint64_t seq, const Argv& argv) {
  char buf[16];  // every request passes here first: no allocation for its name
  std::string_view name = LowerCommandName(argv[0], buf);
  auto arity = [&](int n) {
    bool ok =
        n >= 0 ? argv.size() == static_cast<size_t>(n) : argv.size() >= static_cast<size_t>(-n);
    if (!ok) FinishReply(slot, Reply::Error(ArityErrorText(name)));
    return ok;
  };
  if (name == "hello") {
    Reply r = Hello(argv);
    slot.protocol = protocol_;
    FinishReply(slot, r);
  } else if (name == "auth") {
    if (arity(-2)) FinishReply(slot, Auth(argv));
  } else if (name == "select") {
    if (!arity(2)) return true;
    int64_t db = 0;
    if (!ParseInt64(argv[1], &db))
      FinishReply(slot, Reply::Error("ERR value is not an integer or out of range"));
    else if (db < INT32_MIN || db > INT32_MAX)
      FinishReply(slot, Reply::Error("ERR value is out of range, value must between -2147483648 "
                                     "and 2147483647"));
    else if (db != 0)
      FinishReply(slot, Reply::Error("ERR DB index is out of range"));
    else
      FinishReply(slot, Reply::Ok());
  } else if (name == "quit") {
    FinishReply(slot, Reply::Ok());
    close_after_reply_ = true;
  } else if (name == "reset") {
    if (!arity(1)) return true;
    in_multi_ = false;
    multi_dirty_ = false;
    multi_queue_.clear();
    protocol_ = 2;
    slot.protocol = 2;
    name_.clear();
    authenticated_ = server_->config().password.empty();
    consistency_ = server_->config().consistency;
    read_from_ = server_->config().read_from;
    token_ = LogPosition{};
    FinishReply(slot, Reply::Status("RESET"));
  } else if (name == "multi") {
    if (!arity(1)) return true;
    if (in_multi_) {
      FinishReply(slot, Reply::Error("ERR MULTI calls can not be nested"));
    } else {
      in_multi_ = true;
      multi_dirty_ = false;
      multi_queue_.clear();
      FinishReply(slot, Reply::Ok());
    }
  } else if (name == "discard") {
    if (!arity(1)) return true;
    if (!in_multi_) {
      FinishReply(slot, Reply::Error("ERR DISCARD without MULTI"));
    } else {
      in_multi_ = false;
      multi_queue_.clear();
      FinishReply(slot, Reply::Ok());
    }
  } else if (name == "exec") {
    if (!arity(1)) return true;
    if (!in_multi_) {
      FinishReply(slot, Reply::Error("ERR EXEC without MULTI"));
      return true;
    }
    in_multi_ = false;
    if (multi_dirty_) {
      multi_queue_.clear();
      FinishReply(slot,
                  Reply::Error("EXECABORT Transaction discarded because of previous errors."));
      return true;
    }
    slot.transaction = std::move(multi_queue_);
    multi_queue_.clear();
    RunTransaction(slot, seq);
  } else if (name == "info") {
    FinishReply(slot, Info(argv));
  } else if (name == "command") {
    FinishReply(slot, CommandCommand(argv));
  } else if (name == "client") {
    if (arity(-2)) FinishReply(slot, ClientCommand(argv));
  } else if (name == "config") {
    if (arity(-2)) FinishReply(slot, ConfigCommand(argv));
  } else if (name == "wait") {
    if (!arity(3)) return true;
    int64_t replicas = 0, timeout = 0;
    if (!ParseInt64(argv[1], &replicas)) {
      FinishReply(slot, Reply::Error("ERR value is not an integer or out of range"));
    } else if (!ParseInt64(argv[2], &timeout)) {
      FinishReply(slot, Reply::Error("ERR timeout is not an integer or out of range"));
    } else if (timeout < 0) {
      FinishReply(slot, Reply::Error("ERR timeout is negative"));
    } else if (server_->replica().status().role == Role::kFollower ||
               server_->replica().status().role == Role::kLearner) {
      FinishReply(slot, Reply::Error("ERR WAIT cannot be used with replica instances. Run it on "
                                     "the leader (RKV.STATUS names it)."));
    } else {
      uint64_t have = server_->ReplicasHolding(last_write_index_);
      if (replicas <= static_cast<int64_t>(have)) {
        FinishReply(slot, Reply::Integer(static_cast<int64_t>(have)));
      } else {
        SetState(slot, static_cast<int>(Slot::State::kReadInFlight));
        server_->Wait(this, seq, last_write_index_, static_cast<uint64_t>(replicas),
                      static_cast<uint64_t>(timeout));
      }
    }
  } else if (name == "rkv.members") {
    if (!arity(1)) return true;
    CoreStatus st = server_->replica().status();
    Membership m;
    Membership::Decode(st.membership, &m);
    std::vector<Reply> rows;
    for (const Member& mem : m.members()) {
      std::string state = mem.id == st.leader_id ? "leader" : "";
      for (const FollowerStatus& f : st.followers)
        if (f.id == mem.id) state = f.state;
      std::vector<Reply> row;
      for (auto [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
               {"id", std::to_string(mem.id)},
               {"address", mem.address},
               {"role", mem.voter ? "voter" : "learner"},
               {"state", state}}) {
        row.push_back(Reply::Bulk(k));
        row.push_back(Reply::Bulk(v));
      }
      rows.push_back(Reply::Map(std::move(row)));
    }
    FinishReply(slot, Reply::Array(std::move(rows)));
  } else if (name == "rkv.remove") {
    if (!arity(2)) return true;
    int64_t id = 0;
    if (!ParseInt64(argv[1], &id) || id <= 0) {
      FinishReply(slot, Reply::Error("ERR node id must be a positive integer"));
      return true;
    }
    SetState(slot, static_cast<int>(Slot::State::kWriteInFlight));
    server_->Propose(this, seq, RequestKind::kRemoveMember, std::to_string(id));
  } else if (name == "rkv.consistency") {
    FinishReply(slot, ConsistencyCommand(argv));
  } else if (name == "rkv.session") {
    if (arity(-1)) FinishReply(slot, SessionCommand(argv));
  } else if (name == "rkv.readfrom") {
    FinishReply(slot, ReadFromCommand(argv));
  } else if (name == "rkv.status") {
    if (arity(1)) FinishReply(slot, Reply::Bulk(server_->StatusJson()));
  } else {
    return false;
  }
  return true;
}

Reply ClientConn::Hello(const Argv& argv) {
  int64_t version = 0;
  size_t next = 1;
  if (argv.size() >= 2) {
    if (!ParseInt64(argv[1], &version))
      return Reply::Error("ERR Protocol version is not an integer or out of range");
    ++next;
    if (version < 2 || version > 3) return Reply::Error("NOPROTO unsupported protocol version");
  }
  for (size_t j = next; j < argv.size(); ++j) {
    size_t more = argv.size() - 1 - j;
    if (EqualsIgnoreCase(argv[j], "auth") && more >= 2) {
      Reply r = Auth(Argv{"auth", argv[j + 1], argv[j + 2]});
      if (r.is_error())
        return Reply::Error("WRONGPASS invalid username-password pair or user is disabled.");
      j += 2;
    } else if (EqualsIgnoreCase(argv[j], "setname") && more >= 1) {
      if (!ValidClientName(argv[j + 1]))
        return Reply::Error(
            "ERR Client names cannot contain spaces, newlines or special characters.");
      name_ = std::string(argv[j + 1]);
      ++j;
    } else {
      return Reply::Error("ERR Syntax error in HELLO option '" +
                          std::string(argv[j].substr(0, argv[j].find('\0'))) + "'");
    }
  }
  if (!authenticated_)
    return Reply::Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
  if (version) protocol_ = static_cast<int>(version);
  std::vector<Reply> m;
  m.push_back(Reply::Bulk("server"));
  m.push_back(Reply::Bulk("redis"));
  m.push_back(Reply::Bulk("version"));
  m.push_back(Reply::Bulk(kRedisVersion));
  m.push_back(Reply::Bulk("proto"));
  m.push_back(Reply::Integer(protocol_));
  m.push_back(Reply::Bulk("id"));
  m.push_back(Reply::Integer(static_cast<int64_t>(id_)));
  m.push_back(Reply::Bulk("mode"));
  m.push_back(Reply::Bulk("standalone"));
  m.push_back(Reply::Bulk("role"));
  m.push_back(
      Reply::Bulk(server_->replica().status().role == Role::kFollower ? "replica" : "master"));
  m.push_back(Reply::Bulk("modules"));
  m.push_back(Reply::Array());
  return Reply::Map(std::move(m));
}

Reply ClientConn::Auth(const Argv& argv) {
  if (argv.size() > 3) return Reply::Error("ERR syntax error");
  const std::string& password = server_->config().password;
  std::string_view user = argv.size() == 3 ? argv[1] : std::string_view("default");
  std::string_view given = argv.size() == 3 ? argv[2] : argv[1];
  if (password.empty()) {
    if (argv.size() == 2)
      return Reply::Error(
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    if (user == "default") {
      authenticated_ = true;
      return Reply::Ok();
    }
  } else if (user == "default" && given == password) {
    authenticated_ = true;
    return Reply::Ok();
  }
  return Reply::Error("WRONGPASS invalid username-password pair or user is disabled.");
}

Reply ClientConn::ClientCommand(const Argv& argv) {
  std::string sub = ToLower(argv[1].substr(0, 32));
  auto sub_arity = [&](size_t n) { return argv.size() == n; };
  auto arity_error = [&] {
    return Reply::Error("ERR wrong number of arguments for 'client|" + sub + "' command");
  };
  auto line = [this](const ClientConn& c) {
    uint64_t now = WallNowMs();
    return "id=" + std::to_string(c.id()) + " addr=" + c.peer_address() + " name=" + c.name() +
           " age=" + std::to_string((now - c.created_ms()) / 1000) +
           " db=0 multi=-1 resp=" + std::to_string(c.protocol()) +
           " qbuf=0 pipelined=" + std::to_string(c.queued_requests()) + "\n";
  };
  if (sub == "id") {
    if (!sub_arity(2)) return arity_error();
    return Reply::Integer(static_cast<int64_t>(id_));
  }
  if (sub == "getname") {
    if (!sub_arity(2)) return arity_error();
    return name_.empty() ? Reply::Nil() : Reply::Bulk(name_);
  }
  if (sub == "setname") {
    if (!sub_arity(3)) return arity_error();
    if (argv[2].size() > limits::kClientNameBytesMax || !ValidClientName(argv[2]))
      return Reply::Error(
          "ERR Client names cannot contain spaces, newlines or special characters.");
    name_ = std::string(argv[2]);
    return Reply::Ok();
  }
  if (sub == "setinfo") {
    if (!sub_arity(4)) return arity_error();
    return Reply::Ok();
  }
  if (sub == "info") {
    if (!sub_arity(2)) return arity_error();
    return Reply::Verbatim(line(*this));
  }
  if (sub == "list") {
    std::string out;
    for (const auto& [id, weak] : server_->connections())
      if (auto conn = weak.lock()) out += line(*conn);
    return Reply::Verbatim(out);
  }
  if (sub == "help") {
    std::vector<Reply> lines;
    for (const char* l :
         {"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "ID",
          "    Return the ID of the current connection.", "GETNAME",
          "    Return the name of the current connection.", "SETNAME <name>",
          "    Assign the name <name> to the current connection.", "INFO",
          "    Return information about the current client connection.", "LIST",
          "    Return information about client connections.", "HELP", "    Print this help."})
      lines.push_back(Reply::Status(l));
    return Reply::Array(std::move(lines));
  }
  return Reply::Error("ERR unknown subcommand '" + std::string(argv[1].substr(0, 128)) +
                      "'. Try CLIENT HELP.");
}

Reply ClientConn::CommandCommand(const Argv& argv) {
  if (argv.size() == 1) {
    std::vector<Reply> all;
    for (const KvCommandSpec& c : KvCommands()) all.push_back(InfoFor(c.name));
    for (const ServerCommandInfo& i : ServerCommandInfos()) all.push_back(InfoFor(i.name));
    return Reply::Array(std::move(all));
  }
  std::string sub = ToLower(argv[1].substr(0, 32));
  if (sub == "count") {
    if (argv.size() != 2)
      return Reply::Error("ERR wrong number of arguments for 'command|count' command");
    return Reply::Integer(static_cast<int64_t>(KvCommands().size() + ServerCommandInfos().size()));
  }
  if (sub == "info") {
    std::vector<Reply> out;
    for (size_t i = 2; i < argv.size(); ++i) out.push_back(InfoFor(argv[i]));
    return Reply::Array(std::move(out));
  }
  if (sub == "list") {
    std::vector<Reply> out;
    for (const KvCommandSpec& c : KvCommands()) out.push_back(Reply::Bulk(c.name));
    for (const ServerCommandInfo& i : ServerCommandInfos()) out.push_back(Reply::Bulk(i.name));
    return Reply::Array(std::move(out));
  }
  if (sub == "docs") {
    // No documentation is served; clients such as redis-cli fall back to
    // their built-in help.
    return Reply::Map();
  }
  return Reply::Error("ERR unknown subcommand '" + std::string(argv[1].substr(0, 128)) +
                      "'. Try COMMAND HELP.");
}

Reply ClientConn::ConfigCommand(const Argv& argv) {
  std::string sub = ToLower(argv[1].substr(0, 32));
  if (sub == "get") {
    if (argv.size() < 3)
      return Reply::Error("ERR wrong number of arguments for 'config|get' command");
    const ServerConfig& c = server_->config();
    std::vector<std::pair<std::string, std::string>> params = {
        {"save", ""},
        {"appendonly", c.durability == "fsync" ? "yes" : "no"},
        {"appendfsync", c.durability == "fsync" ? "always" : "no"},
        {"databases", "1"},
        {"maxclients", std::to_string(c.max_clients)},
        {"port", std::to_string(c.listen.port)},
        {"bind", c.listen.host},
        {"protected-mode", c.protected_mode ? "yes" : "no"},
        {"proto-max-bulk-len", std::to_string(limits::kBulkBytesMax)},
        {"client-query-buffer-limit", std::to_string(limits::kClientQueryBufferBytesMax)},
        {"maxmemory", "0"},
    };
    std::vector<Reply> out;
    for (const auto& [k, v] : params) {
      bool match = false;
      for (size_t i = 2; i < argv.size(); ++i) match = match || GlobMatch(ToLower(argv[i]), k);
      if (match) {
        out.push_back(Reply::Bulk(k));
        out.push_back(Reply::Bulk(v));
      }
    }
    return Reply::Map(std::move(out));
  }
  if (sub == "resetstat") {
    server_->metrics() = ServerMetrics{};
    return Reply::Ok();
  }
  if (sub == "set") {
    return Reply::Error(
        "ERR ReplicaKV does not change configuration at run time; restart with "
        "the flag or config key");
  }
  return Reply::Error("ERR unknown subcommand '" + std::string(argv[1].substr(0, 128)) +
                      "'. Try CONFIG HELP.");
}

Reply ClientConn::Info(const Argv& argv) {
  std::string text;
  if (argv.size() == 1) {
    text = server_->InfoText("default");
  } else {
    for (size_t i = 1; i < argv.size(); ++i) {
      std::string part = server_->InfoText(ToLower(argv[i]));
      if (part.empty()) continue;
      if (!text.empty()) text += "\r\n";
      text += part;
    }
  }
  return Reply::Verbatim(text);
}

}  // namespace rkv
