// Scratch directories for the storage tests: /tmp/rkv-test-NAME-PID, emptied
// when made and removed at the end (errors ignored: a test's own asserts say
// what went wrong).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace rkv {

inline void RemoveDir(const std::string& d) {
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
}

inline std::string TempDir(const char* name) {
  std::string d = std::filesystem::temp_directory_path().string() + "/rkv-test-" + name + "-" +
                  std::to_string(getpid());
  RemoveDir(d);
  return d;
}

}  // namespace rkv
