// Cluster membership: who votes, who only learns, and where each member's
// peer address is. A kConfig log entry carries a whole Membership (not a
// delta), so applying one is idempotent; changes go one node at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/replica_core.h"

namespace rkv {

struct Member {
  NodeId id = 0;
  std::string address;  // peer HOST:PORT
  bool voter = true;
  friend bool operator==(const Member&, const Member&) = default;
};

class Membership {
 public:
  Membership() = default;
  explicit Membership(std::vector<Member> members);

  const std::vector<Member>& members() const { return members_; }
  bool empty() const { return members_.empty(); }
  const Member* Find(NodeId id) const;
  bool IsMember(NodeId id) const { return Find(id) != nullptr; }
  bool IsVoter(NodeId id) const;
  std::vector<NodeId> Voters() const;
  std::vector<NodeId> Learners() const;
  size_t voter_count() const;

  // Copies with one change.
  Membership WithLearner(NodeId id, std::string address) const;
  Membership Promoted(NodeId id) const;
  Membership Without(NodeId id) const;

  std::string Encode() const;
  static bool Decode(std::string_view bytes, Membership* out);
  std::string ToString() const;  // "1=host:port,2=host:port,4=host:port(learner)"

  friend bool operator==(const Membership&, const Membership&) = default;

 private:
  std::vector<Member> members_;  // sorted by id
};

}  // namespace rkv
