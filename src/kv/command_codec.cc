#include "kv/command_codec.h"

#include "core/encoding.h"

namespace rkv {

namespace {
constexpr char kFormat = 1;

void AppendArgv(const Argv& argv, std::string* out) {
  PutVarint64(out, argv.size());
  for (std::string_view a : argv) PutLengthPrefixed(out, a);
}
}  // namespace

void EncodeCommands(const std::vector<Argv>& commands, std::string* out) {
  out->clear();
  out->push_back(kFormat);
  PutVarint64(out, commands.size());
  for (const Argv& argv : commands) AppendArgv(argv, out);
}

void EncodeCommand(const Argv& command, std::string* out) {
  out->clear();
  size_t bytes = 8;
  for (std::string_view a : command) bytes += a.size() + 5;
  out->reserve(bytes);
  out->push_back(kFormat);
  PutVarint64(out, 1);
  AppendArgv(command, out);
}

size_t CommandBatch::Add(std::string_view encoded) {
  if (encoded.empty() || encoded[0] != kFormat) return 0;
  encoded.remove_prefix(1);
  uint64_t count = 0;
  if (!GetVarint64(&encoded, &count) || count == 0) return 0;
  body_.append(encoded.data(), encoded.size());
  count_ += count;
  return count;
}

void CommandBatch::AddCommand(const Argv& command) {
  AppendArgv(command, &body_);
  ++count_;
}

std::string CommandBatch::Take() {
  std::string out;
  out.reserve(body_.size() + 11);
  out.push_back(kFormat);
  PutVarint64(&out, count_);
  out.append(body_);
  body_.clear();
  count_ = 0;
  return out;
}

bool DecodeCommandsReusing(std::string_view data, std::vector<Argv>* scratch, size_t* count) {
  *count = 0;
  if (data.empty() || data[0] != kFormat) return false;
  data.remove_prefix(1);
  uint64_t n = 0;
  if (!GetVarint64(&data, &n) || n > data.size()) return false;
  if (scratch->size() < n) scratch->resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t argc = 0;
    if (!GetVarint64(&data, &argc) || argc > data.size() + 1) return false;
    Argv& argv = (*scratch)[i];
    argv.clear();
    argv.reserve(argc);
    for (uint64_t j = 0; j < argc; ++j) {
      std::string_view a;
      if (!GetLengthPrefixed(&data, &a)) return false;
      argv.push_back(a);
    }
  }
  *count = n;
  return data.empty();
}

bool DecodeCommands(std::string_view data, std::vector<Argv>* commands) {
  commands->clear();
  size_t n = 0;
  if (!DecodeCommandsReusing(data, commands, &n)) {
    commands->clear();
    return false;
  }
  commands->resize(n);
  return true;
}

}  // namespace rkv
