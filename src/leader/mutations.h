// Deliberate protocol bugs, off unless a test or the simulator turns them on
// (FoundationDB's BUGGIFY, TigerBeetle's VOPR mutations). Each one breaks a
// rule the proof relies on; tests assert that the simulator and the checker
// catch every one of them within the CI seeds.
#pragma once

#include <string_view>

namespace rkv {

struct Mutations {
  bool ack_before_quorum = false;       // acknowledge writes at the leader's append (any policy)
  bool skip_consistency_check = false;  // followers accept appends whatever the previous entry
  bool vote_without_log_check = false;  // grant votes to candidates with older logs
  bool apply_before_commit = false;     // followers apply entries as soon as they have them
  bool read_without_quorum = false;     // a leader answers reads without confirming leadership

  bool any() const {
    return ack_before_quorum || skip_consistency_check || vote_without_log_check ||
           apply_before_commit || read_without_quorum;
  }
  // Sets one by name; false for an unknown name.
  bool Set(std::string_view name) {
    if (name == "ack-before-quorum")
      ack_before_quorum = true;
    else if (name == "skip-consistency-check")
      skip_consistency_check = true;
    else if (name == "vote-without-log-check")
      vote_without_log_check = true;
    else if (name == "apply-before-commit")
      apply_before_commit = true;
    else if (name == "read-without-quorum")
      read_without_quorum = true;
    else
      return false;
    return true;
  }
};

}  // namespace rkv
