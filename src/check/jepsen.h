// Histories recorded by Jepsen, converted to ReplicaKV's events (CONTRACTS.md
// §6) so `replicakv check` can judge other databases too.
//
// Two inputs, one operation a line:
//   EDN:  {:process 0, :type :invoke, :f :write, :value 3, :time 1234}
//         keyed (jepsen.independent): {:process 3, :type :ok, :f :read, :value [:k1 nil]}
//   log:  INFO  jepsen.util - 0 :invoke :write 3
// `:f` is :read, :write, :cas ([old new]), :append, or :incr/:add; a keyed cas
// is [k [old new]]. Processes are clients (Jepsen gives a crashed process a new
// id, as §6 asks). Without :time, the line number is the time. Nemesis lines
// are skipped; in the log form, lines without `jepsen.util` are skipped too.
#pragma once

#include <string>
#include <string_view>

#include "check/history.h"
#include "core/status.h"

namespace rkv {

enum class JepsenFormat { kAuto, kEdn, kLog };

struct JepsenOptions {
  JepsenFormat format = JepsenFormat::kAuto;  // auto: EDN when the first line starts with '{'
  std::string key = "k";                      // the key of operations whose value is not [k v]
};

// Errors name the line.
Result<History> ConvertJepsen(std::string_view text, const JepsenOptions& options);
Result<History> ReadJepsen(const std::string& path, const JepsenOptions& options);

}  // namespace rkv
