// Child processes for the cluster launcher and the demo.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace rkv {

// Starts argv[0] with argv, stdout and stderr appended to log_path. The child
// gets its own process group, so a terminal's Ctrl-C reaches only the parent.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& log_path);
// True while the process exists (and is not a zombie of ours).
bool ProcessAlive(pid_t pid);
// Reaps any exited children of ours without blocking.
void ReapChildren();
// SIGTERM, then SIGKILL after grace_ms if it is still there. True if it is gone.
bool StopProcess(pid_t pid, int grace_ms);
// The absolute path of the running executable.
std::string SelfExecutable();
// The last `lines` lines of a file, for error reports.
std::string TailFile(const std::string& path, int lines);
// The pid recorded in a node's data dir (DATA_DIR/node.pid), if it runs a
// process whose command line names that data dir.
pid_t NodePidIfRunning(const std::string& data_dir);

}  // namespace rkv
