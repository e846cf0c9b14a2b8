// Datadriven tests of the single-leader core (etcd's testdata style): each
// file in testdata/ is a script of commands, each followed by "----" and the
// output it must produce. RKV_REWRITE=1 rewrites the expected output from what
// the core does now; review the diff.
//
// Commands:
//   add-nodes N [acks=quorum] [prevote=true] [checkquorum=true] [compact=E keep=K lag=L]
//   add-joiner ID               a node started empty, to join (no members known)
//   join ID to=X                ID asks X to let it join
//   remove ID NODE              at ID, an admin request to remove NODE
//   campaign ID                 start an election at ID now
//   tick ID [ms=N]              advance ID's clock by N ms (default: 2 election timeouts)
//   propose ID DATA             a client write at ID
//   read ID                     a linearizable read at ID
//   stabilize                   persist, deliver and apply until nothing moves
//   deliver [to=ID]             deliver queued messages once (to one node)
//   partition ID | heal | drop FROM TO
//   hold FROM TO | release      keep copies of queued messages, deliver them later
//   crash ID | restart ID       crash loses nothing synced (every write here syncs)
//   status | log ID
#include "leader/leader_core.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace rkv {
namespace {

constexpr uint64_t kMs = 1000000;

std::string EntryText(const Entry& e) {
  std::string kind = e.kind == EntryKind::kNoop ? "noop" : "\"" + e.data + "\"";
  Membership m;
  if (e.kind == EntryKind::kConfig && Membership::Decode(e.data, &m))
    kind = "config(" + m.ToString() + ")";
  return std::to_string(e.index) + "/" + std::to_string(e.term) + " " + kind;
}

std::string MessageText(const Message& m) {
  std::string s = std::to_string(m.from) + "->" + std::to_string(m.to) + " " +
                  std::string(MsgTypeName(m.type)) + " term=" + std::to_string(m.term);
  switch (m.type) {
    case MsgType::kPreVote:
    case MsgType::kVote:
      s += " last=" + std::to_string(m.index) + "/" + std::to_string(m.log_term);
      if (m.context) s += " departing=" + std::to_string(m.context);
      break;
    case MsgType::kAppend:
      s += " prev=" + std::to_string(m.index) + "/" + std::to_string(m.log_term) +
           " commit=" + std::to_string(m.commit) + " applied=" + std::to_string(m.applied);
      if (!m.entries.empty()) {
        s += " [";
        for (size_t i = 0; i < m.entries.size(); ++i)
          s += (i ? ", " : "") + EntryText(m.entries[i]);
        s += "]";
      }
      break;
    case MsgType::kAppendResp:
      s += " index=" + std::to_string(m.index);
      if (m.reject)
        s += " reject hint=" + std::to_string(m.reject_hint) + "/" + std::to_string(m.log_term);
      break;
    case MsgType::kHeartbeat:
      s += " commit=" + std::to_string(m.commit) + " applied=" + std::to_string(m.applied);
      if (m.context) s += " ctx=" + std::to_string(m.context);
      break;
    case MsgType::kHeartbeatResp:
      if (m.context) s += " ctx=" + std::to_string(m.context);
      break;
    case MsgType::kReadIndexResp:
      s += " index=" + std::to_string(m.index);
      break;
    default:
      break;
  }
  if (m.reject && m.type != MsgType::kAppendResp) s += " reject";
  return s;
}

struct TestNode {
  std::unique_ptr<LeaderCore> core;
  LeaderOptions options;
  uint64_t now = 0;
  bool up = true;
  HardState hard_state;
  std::vector<Entry> log;  // durable
  uint64_t applied = 0;
  // What a restart finds applied: the engine holds committed state only
  // (Replica::FlushStoreWrites), so speculative applies do not count.
  uint64_t durable_applied = 0;
};

class Env {
 public:
  std::string Run(const std::string& cmd, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& kv) {
    out_.clear();
    if (cmd == "add-nodes") {
      int n = std::stoi(args.at(0));
      AcksPolicy acks = AcksPolicy::kQuorum;
      if (kv.count("acks")) ParseAcksPolicy(kv.at("acks"), &acks);
      for (int i = 1; i <= n; ++i) {
        TestNode& t = nodes_[i];
        t.options.id = i;
        for (int j = 1; j <= n; ++j) t.options.voters.push_back(j);
        t.options.acks = acks;
        t.options.pre_vote = !kv.count("prevote") || kv.at("prevote") == "true";
        t.options.check_quorum = !kv.count("checkquorum") || kv.at("checkquorum") == "true";
        t.options.seed = 42;
        if (kv.count("compact")) t.options.log_compact_entries = std::stoull(kv.at("compact"));
        if (kv.count("keep")) t.options.log_keep_entries = std::stoull(kv.at("keep"));
        if (kv.count("lag")) t.options.snapshot_lag_entries = std::stoull(kv.at("lag"));
        if (kv.count("hold")) t.options.snapshot_hold_ns = std::stoull(kv.at("hold")) * kMs;
        Start(t);
      }
      Print("added " + std::to_string(n) + " nodes, acks=" + std::string(AcksPolicyName(acks)));
    } else if (cmd == "add-joiner") {
      NodeId id = Id(args);
      TestNode& t = nodes_[id];
      t.options = nodes_.begin()->second.options;
      t.options.id = id;
      t.options.voters.clear();
      t.options.membership = Membership();
      Start(t);
      Print("added joiner " + args.at(0));
    } else if (cmd == "join") {
      Message m;
      m.type = MsgType::kJoin;
      m.from = Id(args);
      m.to = std::stoull(kv.at("to"));
      m.context = m.from;
      m.data = "addr-" + args.at(0);
      queue_.push_back(m);
    } else if (cmd == "remove") {
      Request r;
      r.id = ++request_id_;
      r.kind = RequestKind::kRemoveMember;
      r.data = args.at(1);
      Print("request " + std::to_string(r.id) + " at node " + args.at(0) + ": remove " +
            args.at(1));
      Node(args).core->Propose(r);
      Drain(Id(args));
    } else if (cmd == "campaign") {
      Node(args).core->Campaign();
      Drain(Id(args));
    } else if (cmd == "tick") {
      TestNode& t = Node(args);
      uint64_t ms =
          kv.count("ms") ? std::stoull(kv.at("ms")) : 2 * t.options.election_timeout_ns / kMs;
      t.now += ms * kMs;
      t.core->Tick(t.now);
      Drain(Id(args));
    } else if (cmd == "propose") {
      Request r;
      r.id = ++request_id_;
      r.kind = RequestKind::kWrite;
      r.data = args.at(1);
      Print("request " + std::to_string(r.id) + " at node " + args.at(0));
      Node(args).core->Propose(r);
      Drain(Id(args));
    } else if (cmd == "read") {
      Request r;
      r.id = ++request_id_;
      r.kind = RequestKind::kRead;
      Print("read request " + std::to_string(r.id) + " at node " + args.at(0));
      Node(args).core->Propose(r);
      Drain(Id(args));
    } else if (cmd == "stabilize") {
      for (int round = 0; round < 100; ++round) {
        bool moved = false;
        for (auto& [id, t] : nodes_) moved = Drain(id) || moved;
        moved = Deliver(0) || moved;
        if (!moved) break;
      }
    } else if (cmd == "deliver") {
      Deliver(kv.count("to") ? std::stoull(kv.at("to")) : 0);
    } else if (cmd == "partition") {
      NodeId id = Id(args);
      for (auto& [other, t] : nodes_)
        if (other != id) cut_.insert({id, other}), cut_.insert({other, id});
      Print("partitioned " + args.at(0));
    } else if (cmd == "drop") {
      cut_.insert({std::stoull(args.at(0)), std::stoull(args.at(1))});
      Print("dropping " + args.at(0) + "->" + args.at(1));
    } else if (cmd == "hold") {
      // A copy of each queued FROM->TO message is held back, to arrive later
      // (a network duplicate delivered late).
      NodeId from = std::stoull(args.at(0)), to = std::stoull(args.at(1));
      size_t n = 0;
      for (const Message& m : queue_)
        if (m.from == from && m.to == to) held_.push_back(m), ++n;
      Print("holding copies of " + std::to_string(n) + " messages " + args.at(0) + "->" +
            args.at(1));
    } else if (cmd == "release") {
      for (Message& m : held_) queue_.push_back(std::move(m));
      Print("released " + std::to_string(held_.size()) + " held messages");
      held_.clear();
    } else if (cmd == "hang-snapshots") {
      // From now on a snapshot to a down node stays in flight, as the
      // server's transfer does (it keeps reconnecting, then gives up).
      hang_snapshots_ = true;
      Print("snapshots to down nodes hang");
    } else if (cmd == "fail-snapshots") {
      for (auto [from, to] : hanging_snapshots_) {
        Print(std::to_string(from) + ": snapshot to " + std::to_string(to) + " gave up");
        if (nodes_.at(from).core) nodes_.at(from).core->ReportSnapshot(to, false, 0);
      }
      hanging_snapshots_.clear();
    } else if (cmd == "heal") {
      cut_.clear();
      Print("healed");
    } else if (cmd == "crash") {
      TestNode& t = Node(args);
      t.core.reset();
      t.up = false;
      Print("crashed " + args.at(0));
    } else if (cmd == "restart") {
      TestNode& t = Node(args);
      Start(t);
      Print("restarted " + args.at(0) + ": " + Status(Id(args)));
    } else if (cmd == "status") {
      for (auto& [id, t] : nodes_) Print(Status(id));
    } else if (cmd == "log") {
      TestNode& t = Node(args);
      const RaftLog& l = t.core->log();
      for (uint64_t i = l.first_index(); i <= l.last_index(); ++i) Print(EntryText(l.at(i)));
    } else {
      Print("unknown command " + cmd);
    }
    return out_;
  }

 private:
  NodeId Id(const std::vector<std::string>& args) { return std::stoull(args.at(0)); }
  TestNode& Node(const std::vector<std::string>& args) { return nodes_.at(Id(args)); }
  void Print(const std::string& s) { out_ += s + "\n"; }

  void Start(TestNode& t) {
    CoreRecovery rec;
    rec.hard_state = t.hard_state;
    rec.log = t.log;
    t.applied = t.durable_applied;
    rec.applied = {0, t.applied};
    if (t.applied > 0 && t.applied <= t.log.size()) rec.applied.term = t.log[t.applied - 1].term;
    t.core = std::make_unique<LeaderCore>(t.options, rec);
    t.core->Tick(t.now);
    t.up = true;
  }

  std::string Status(NodeId id) {
    TestNode& t = nodes_.at(id);
    if (!t.core) return std::to_string(id) + ": down";
    const LeaderCore& c = *t.core;
    return std::to_string(id) + ": " + std::string(RoleName(c.role())) +
           " term=" + std::to_string(c.term()) + " leader=" + std::to_string(c.leader()) +
           " last=" + std::to_string(c.log().last_index()) +
           " commit=" + std::to_string(c.commit()) + " applied=" + std::to_string(c.applied());
  }

  // Processes every Ready of a node: persists at once (synced), queues
  // messages, prints what happens. Returns whether anything did.
  bool Drain(NodeId id) {
    TestNode& t = nodes_.at(id);
    bool moved = false;
    while (t.core && t.core->HasReady()) {
      moved = true;
      Ready rd = t.core->TakeReady();
      std::string p = std::to_string(id) + ":";
      if (rd.hard_state) {
        t.hard_state = *rd.hard_state;
        Print(p + " persist term=" + std::to_string(rd.hard_state->term) +
              " vote=" + std::to_string(rd.hard_state->vote));
      }
      if (rd.truncate_from) {
        Print(p + " truncate from " + std::to_string(*rd.truncate_from));
        while (!t.log.empty() && t.log.back().index >= *rd.truncate_from) t.log.pop_back();
      }
      for (const Entry& e : rd.discarded) Print(p + " discard " + EntryText(e));
      if (!rd.append.empty()) {
        std::string s;
        for (const Entry& e : rd.append) {
          s += (s.empty() ? "" : ", ") + EntryText(e);
          t.log.push_back(e);
        }
        Print(p + " append " + s);
      }
      for (Message& m : rd.messages) queue_.push_back(std::move(m));
      for (Message& m : rd.messages_after_persist) queue_.push_back(std::move(m));
      if (rd.rollback_to) {
        Print(p + " rollback to " + std::to_string(rd.rollback_to->index));
        t.applied = rd.rollback_to->index;
      }
      for (const ApplyItem& a : rd.apply) {
        Print(p + " apply " + EntryText(a.entry) + (a.speculative ? " (speculative)" : "") +
              (a.request_id ? " -> request " + std::to_string(a.request_id) + " ok" : ""));
        t.applied = a.entry.index;
      }
      for (uint64_t r : rd.reads) Print(p + " read request " + std::to_string(r) + " ready");
      for (const RequestFailed& f : rd.failed)
        Print(p + " request " + std::to_string(f.request_id) + " failed: " + f.status.ToString());
      if (rd.compact_to) Print(p + " compact log to " + std::to_string(rd.compact_to->index));
      if (rd.membership) {
        Membership m;
        Membership::Decode(*rd.membership, &m);
        Print(p + " membership " + m.ToString());
      }
      for (NodeId to : rd.send_snapshot_to) {
        // The snapshot is the engine's state, which holds committed state
        // only (Replica::FlushStoreWrites); here it arrives at once, whole.
        SnapshotMeta meta;
        uint64_t applied = std::min(t.core->applied(), t.core->commit());
        meta.position = {t.core->log().term(applied), applied};
        meta.membership = t.core->membership().Encode();
        TestNode& dst = nodes_.at(to);
        if (!dst.core && hang_snapshots_) {
          Print(p + " snapshot to " + std::to_string(to) + " in flight (node down)");
          hanging_snapshots_.emplace_back(id, to);
          continue;
        }
        if (cut_.count({id, to}) || !dst.core) {
          Print(p + " snapshot to " + std::to_string(to) + " failed");
          t.core->ReportSnapshot(to, false, 0);
          continue;
        }
        Print(p + " send snapshot to " + std::to_string(to) + " at " + std::to_string(applied));
        dst.core->InstallSnapshot(id, t.core->term(), meta);
        if (dst.core->log().first_index() == applied + 1) {  // taken, not refused as stale
          dst.log.clear();
          dst.applied = dst.durable_applied = applied;
        }
        t.core->ReportSnapshot(to, true, applied);
      }
      if (!rd.append.empty()) t.core->Persisted({rd.append.back().term, rd.append.back().index});
      t.durable_applied = std::max(t.durable_applied, std::min(t.applied, t.core->commit()));
    }
    return moved;
  }

  bool Deliver(NodeId only) {
    std::deque<Message> pending;
    pending.swap(queue_);
    bool moved = false;
    for (Message& m : pending) {
      if (only != 0 && m.to != only) {
        queue_.push_back(std::move(m));
        continue;
      }
      TestNode& to = nodes_.at(m.to);
      if (cut_.count({m.from, m.to}) || !to.core) {
        Print("dropped " + MessageText(m));
        continue;
      }
      Print(MessageText(m));
      to.core->Step(m);
      moved = true;
    }
    return moved;
  }

  std::map<NodeId, TestNode> nodes_;
  std::deque<Message> queue_;
  std::vector<Message> held_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  bool hang_snapshots_ = false;
  std::vector<std::pair<NodeId, NodeId>> hanging_snapshots_;
  uint64_t request_id_ = 0;
  std::string out_;
};

// Runs one script; returns the rewritten text (commands + actual outputs).
std::string RunScript(const std::string& text, std::vector<std::string>* mismatches) {
  Env env;
  std::istringstream in(text);
  std::string line, result;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  for (size_t i = 0; i < lines.size();) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == '#') {
      result += l + "\n";
      ++i;
      continue;
    }
    std::istringstream words(l);
    std::string cmd, w;
    words >> cmd;
    std::vector<std::string> args;
    std::map<std::string, std::string> kv;
    while (words >> w) {
      size_t eq = w.find('=');
      if (eq == std::string::npos)
        args.push_back(w);
      else
        kv[w.substr(0, eq)] = w.substr(eq + 1);
    }
    std::string expected;
    size_t j = i + 1;
    if (j < lines.size() && lines[j] == "----") {
      ++j;
      while (j < lines.size() && !lines[j].empty()) expected += lines[j++] + "\n";
    }
    std::string actual = env.Run(cmd, args, kv);
    if (actual != expected)
      mismatches->push_back("command: " + l + "\nexpected:\n" + expected + "actual:\n" + actual);
    result += l + "\n----\n" + actual + "\n";
    i = j;
    while (i < lines.size() && lines[i].empty()) ++i;
  }
  return result;
}

TEST(LeaderCoreDatadriven, Scripts) {
  std::string dir = std::string(RKV_SOURCE_DIR) + "/src/leader/testdata";
  bool rewrite = std::getenv("RKV_REWRITE") != nullptr;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++files;
    std::ifstream f(entry.path());
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<std::string> mismatches;
    std::string rewritten = RunScript(ss.str(), &mismatches);
    if (rewrite) {
      std::ofstream(entry.path()) << rewritten;
    } else {
      for (const std::string& m : mismatches)
        ADD_FAILURE() << entry.path().filename() << ":\n" << m;
    }
  }
  EXPECT_GT(files, 5);
}

// Three fresh cores, voters 1, 2 and 3, each its own seed.
std::map<NodeId, std::unique_ptr<LeaderCore>> ThreeVoters() {
  std::map<NodeId, std::unique_ptr<LeaderCore>> cores;
  for (NodeId id = 1; id <= 3; ++id) {
    LeaderOptions o;
    o.id = id;
    o.voters = {1, 2, 3};
    o.seed = id;
    cores[id] = std::make_unique<LeaderCore>(o, CoreRecovery{});
  }
  return cores;
}

// Appends sent after a heartbeat are not lost because the heartbeat's
// response does not cover them: the leader must not send the follower back to
// probing and then re-send its whole window (it once did on every heartbeat
// under load: callgrind, acks=async, 50 clients, each entry encoded ~6 times).
TEST(LeaderCore, HeartbeatResponseDoesNotResendInflightAppends) {
  std::map<NodeId, std::unique_ptr<LeaderCore>> cores = ThreeVoters();
  uint64_t now = 1;
  std::deque<Message> net;
  std::map<uint64_t, int> sent_to_2;  // entry index -> times sent to node 2
  auto take = [&](NodeId id) {
    while (cores[id]->HasReady()) {
      Ready rd = cores[id]->TakeReady();
      for (auto* list : {&rd.messages, &rd.messages_after_persist})
        for (Message& m : *list) {
          if (m.to == 2 && m.type == MsgType::kAppend)
            for (const Entry& e : m.entries) ++sent_to_2[e.index];
          net.push_back(std::move(m));
        }
      if (!rd.append.empty())
        cores[id]->Persisted(LogPosition{rd.append.back().term, rd.append.back().index});
    }
  };
  auto stabilize = [&] {
    for (int round = 0; round < 100; ++round) {
      for (NodeId id = 1; id <= 3; ++id) take(id);
      if (net.empty()) return;
      while (!net.empty()) {
        Message m = std::move(net.front());
        net.pop_front();
        cores[m.to]->Step(m);
      }
    }
  };
  cores[1]->Tick(now += 3000000000ULL);
  stabilize();
  ASSERT_EQ(cores[1]->role(), Role::kLeader);
  // A heartbeat goes out, then three writes, each its own append.
  cores[1]->Tick(now += 200000000ULL);
  take(1);
  for (uint64_t i = 0; i < 3; ++i) {
    Request r;
    r.id = i + 1;
    r.data = "w";
    cores[1]->Propose(std::move(r));
    take(1);
  }
  // Node 2 gets them in order; its heartbeat response (which does not cover
  // the appends) reaches the leader before its append responses.
  std::deque<Message> to2, others;
  for (Message& m : net) (m.to == 2 ? to2 : others).push_back(std::move(m));
  net.clear();
  for (const Message& m : to2) cores[2]->Step(m);
  std::vector<Message> heartbeat_resps, later;
  while (cores[2]->HasReady()) {
    Ready rd = cores[2]->TakeReady();
    for (Message& m : rd.messages)
      (m.type == MsgType::kHeartbeatResp ? heartbeat_resps : later).push_back(std::move(m));
    for (Message& m : rd.messages_after_persist) later.push_back(std::move(m));
    if (!rd.append.empty())
      cores[2]->Persisted(LogPosition{rd.append.back().term, rd.append.back().index});
  }
  ASSERT_FALSE(heartbeat_resps.empty());
  for (const Message& m : heartbeat_resps) cores[1]->Step(m);
  take(1);
  for (const Message& m : later) cores[1]->Step(m);
  for (Message& m : others) net.push_back(std::move(m));
  stabilize();
  ASSERT_FALSE(sent_to_2.empty());
  for (const auto& [index, times] : sent_to_2) EXPECT_EQ(times, 1) << "entry " << index;
}

// Two mechanisms of the write path's latency (PERFORMANCE.md, "The mechanisms,
// each against its absence"): the leader's appends go out in the same Ready
// as its own log write, not after it is durable (its sync and the followers'
// then overlap: one-client p50 ~480 -> ~700 us without it); and a second
// write's append goes out while the first is still unacknowledged (pipelining).
TEST(LeaderCore, AppendsGoOutWithTheLeadersOwnWriteAndPipeline) {
  std::map<NodeId, std::unique_ptr<LeaderCore>> cores = ThreeVoters();
  std::deque<Message> net;
  auto take = [&](NodeId id) {
    while (cores[id]->HasReady()) {
      Ready rd = cores[id]->TakeReady();
      for (auto* list : {&rd.messages, &rd.messages_after_persist})
        for (Message& m : *list) net.push_back(std::move(m));
      if (!rd.append.empty())
        cores[id]->Persisted(LogPosition{rd.append.back().term, rd.append.back().index});
    }
  };
  for (int round = 0; round < 100; ++round) {
    if (round == 0) cores[1]->Tick(3000000000ULL);
    for (NodeId id = 1; id <= 3; ++id) take(id);
    if (net.empty()) break;
    for (; !net.empty(); net.pop_front()) cores[net.front().to]->Step(net.front());
  }
  ASSERT_EQ(cores[1]->role(), Role::kLeader);
  // Two writes; nothing is persisted on the leader and nothing is answered.
  std::map<NodeId, std::vector<uint64_t>> appended_to;  // follower -> last index of each append
  for (uint64_t i = 1; i <= 2; ++i) {
    Request r;
    r.id = i;
    r.kind = RequestKind::kWrite;
    r.data = "w" + std::to_string(i);
    cores[1]->Propose(std::move(r));
    ASSERT_TRUE(cores[1]->HasReady());
    Ready rd = cores[1]->TakeReady();
    ASSERT_EQ(rd.append.size(), 1u) << "write " << i;
    for (const Message& m : rd.messages_after_persist)
      EXPECT_NE(m.type, MsgType::kAppend) << "an append waited for the leader's own sync";
    for (const Message& m : rd.messages)
      if (m.type == MsgType::kAppend && !m.entries.empty())
        appended_to[m.to].push_back(m.entries.back().index);
  }
  for (NodeId f : {2, 3}) {
    ASSERT_EQ(appended_to[f].size(), 2u) << "node " << f << ": the second write waited";
    EXPECT_LT(appended_to[f][0], appended_to[f][1]);
  }
}

// The server proposes a turn's writes as one entry, so entries can be large:
// what compaction keeps is bounded in bytes (a quarter of the byte bound), not
// only in entries.
TEST(LeaderCore, CompactionKeepsAQuarterOfTheByteBoundAtMost) {
  LeaderOptions o;
  o.id = 1;
  o.voters = {1};
  o.log_compact_entries = 1000000;
  o.log_keep_entries = 1000;
  o.log_compact_bytes = 40000;
  LeaderCore core(o, CoreRecovery{});
  auto take = [&] {
    while (core.HasReady()) {
      Ready rd = core.TakeReady();
      if (!rd.append.empty())
        core.Persisted(LogPosition{rd.append.back().term, rd.append.back().index});
    }
  };
  core.Tick(3000000000ULL);
  take();
  ASSERT_EQ(core.role(), Role::kLeader);
  for (uint64_t i = 1; i <= 100; ++i) {
    Request r;
    r.id = i;
    r.data = std::string(1000, 'x');
    core.Propose(std::move(r));
    take();
  }
  const RaftLog& log = core.log();
  EXPECT_GT(log.first_index(), 50u) << "the log was compacted";
  EXPECT_LE(log.bytes(), o.log_compact_bytes) << "it holds " << log.size() << " entries";
}

}  // namespace
}  // namespace rkv
