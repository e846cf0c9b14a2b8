#include "leader/membership.h"

#include <algorithm>

#include "core/encoding.h"

namespace rkv {

Membership::Membership(std::vector<Member> members) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
}

const Member* Membership::Find(NodeId id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id,
                             [](const Member& m, NodeId v) { return m.id < v; });
  return it != members_.end() && it->id == id ? &*it : nullptr;
}

bool Membership::IsVoter(NodeId id) const {
  const Member* m = Find(id);
  return m != nullptr && m->voter;
}

std::vector<NodeId> Membership::Voters() const {
  std::vector<NodeId> out;
  for (const Member& m : members_)
    if (m.voter) out.push_back(m.id);
  return out;
}

std::vector<NodeId> Membership::Learners() const {
  std::vector<NodeId> out;
  for (const Member& m : members_)
    if (!m.voter) out.push_back(m.id);
  return out;
}

size_t Membership::voter_count() const {
  size_t n = 0;
  for (const Member& m : members_) n += m.voter ? 1 : 0;
  return n;
}

Membership Membership::WithLearner(NodeId id, std::string address) const {
  std::vector<Member> m = members_;
  m.push_back({id, std::move(address), false});
  return Membership(std::move(m));
}

Membership Membership::Promoted(NodeId id) const {
  Membership copy = *this;
  for (Member& m : copy.members_)
    if (m.id == id) m.voter = true;
  return copy;
}

Membership Membership::Without(NodeId id) const {
  std::vector<Member> m;
  for (const Member& x : members_)
    if (x.id != id) m.push_back(x);
  return Membership(std::move(m));
}

std::string Membership::Encode() const {
  std::string out;
  out.push_back(1);
  PutVarint64(&out, members_.size());
  for (const Member& m : members_) {
    PutVarint64(&out, m.id);
    out.push_back(m.voter ? 1 : 0);
    PutLengthPrefixed(&out, m.address);
  }
  return out;
}

bool Membership::Decode(std::string_view in, Membership* out) {
  if (in.empty() || in[0] != 1) return false;
  in.remove_prefix(1);
  uint64_t n = 0;
  if (!GetVarint64(&in, &n) || n > 10000) return false;
  std::vector<Member> members;
  for (uint64_t i = 0; i < n; ++i) {
    Member m;
    if (!GetVarint64(&in, &m.id) || m.id == 0 || in.empty()) return false;
    m.voter = in[0] != 0;
    in.remove_prefix(1);
    std::string_view addr;
    if (!GetLengthPrefixed(&in, &addr)) return false;
    m.address = std::string(addr);
    members.push_back(std::move(m));
  }
  if (!in.empty()) return false;
  *out = Membership(std::move(members));
  for (size_t i = 1; i < out->members_.size(); ++i)
    if (out->members_[i].id == out->members_[i - 1].id) return false;
  return true;
}

std::string Membership::ToString() const {
  std::string s;
  for (const Member& m : members_)
    s += (s.empty() ? "" : ",") + std::to_string(m.id) + "=" + m.address +
         (m.voter ? "" : "(learner)");
  return s;
}

}  // namespace rkv
