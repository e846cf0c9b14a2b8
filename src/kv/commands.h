// The Redis data commands: their arity, flags, key positions, a state-free
// argument check, and the execution against the applied state. Write commands
// run when their log entry is applied, on every replica; read commands run
// against the local applied state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/replica_core.h"
#include "kv/command_codec.h"
#include "kv/kv_store.h"
#include "kv/reply.h"

namespace rkv {

enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,
  kCmdReadOnly = 1u << 1,
  kCmdFast = 1u << 2,
  kCmdAdmin = 1u << 3,
  kCmdNoMulti = 1u << 4,  // refused inside MULTI
  kCmdNoAuth = 1u << 5,   // allowed before AUTH
  kCmdLoading = 1u << 6,
  kCmdStale = 1u << 7,
};

struct ApplyContext {
  KvStore* store = nullptr;
  LogPosition position;  // the log position writing, stamped on new values
};

struct KvCommandSpec {
  std::string_view name;  // lower case
  int arity;              // Redis convention: N exactly N args, -N at least N
  uint32_t flags;
  int first_key, last_key, key_step;
  // Errors that do not depend on the state (syntax, numbers), or nullopt. Lets a
  // node refuse a bad write before it reaches the log.
  std::optional<Reply> (*check)(const Argv& argv);
  Reply (*run)(ApplyContext& ctx, const Argv& argv);
};

// Case-insensitive lookup; nullptr when the command is not a data command.
const KvCommandSpec* FindKvCommand(std::string_view name);
// The same for a name already lower-cased.
const KvCommandSpec* FindKvCommandLowered(std::string_view lowered);
const std::vector<KvCommandSpec>& KvCommands();

bool ArityOk(int arity, size_t argc);

// When `key` holds a string: appends its RESP bulk reply (the same bytes in
// RESP2 and RESP3) to `out` and returns true. Otherwise (absent, another type)
// false, and the command's own reply applies.
bool AppendStringReply(KvStore& store, std::string_view key, std::string* out);

// The keys a write command changes, each with the value argument that goes
// with it (SET's value, APPEND's suffix, INCRBY's delta; none for DEL), for
// rollback records of entries that were never applied here.
struct WrittenKey {
  std::string key;
  std::optional<std::string> argument;
};
std::vector<WrittenKey> WrittenKeys(const Argv& argv);

// Applies one kCommand entry's commands in order (one reply each) and advances
// the applied position. Noop and config entries only advance it.
void ApplyEntry(KvStore* store, const Entry& entry, std::vector<Reply>* replies);

}  // namespace rkv
