// `replicakv demo`: a narrated tour of a real 3-node cluster that ends by itself.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/local_cluster.h"
#include "client/resp_client.h"

namespace rkv {

namespace {

using Clock = std::chrono::steady_clock;

void Say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

void Step(const std::string& title) {
  std::printf("\n== %s ==\n", title.c_str());
  std::fflush(stdout);
}

bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

int FindBasePort() {
  for (int base = 17001; base < 60000; base += 10) {
    bool ok = true;
    for (int off : {0, 100, 200})
      for (int i = 0; i < 5 && ok; ++i) ok = PortFree(base + off + i);
    if (ok) return base;
  }
  return 17001;
}

nlohmann::json NodeStatus(const LocalNode& n) {
  auto body = HttpGet("127.0.0.1", n.admin_port, "/status", 1000);
  if (!body.ok()) return nlohmann::json();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

int Leader(LocalCluster& c, int timeout_ms = 10000, int not_this = 0) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    for (LocalNode& n : c.nodes()) {
      if (n.id == not_this) continue;
      nlohmann::json s = NodeStatus(n);
      if (!s.is_null() && s.value("role", "") == "leader") return n.id;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

std::string Cmd(LocalNode& n, const std::vector<std::string>& argv) {
  RespClient c;
  if (!c.Connect("127.0.0.1", n.resp_port).ok()) return "(node down)";
  auto r = c.Command(argv);
  return r.ok() ? ReplyToString(*r) : "(" + r.status().message() + ")";
}

void Show(LocalNode& n, const std::vector<std::string>& argv) {
  std::string line = "  node " + std::to_string(n.id) + "> ";
  for (const std::string& a : argv) line += a + " ";
  Say(line + "\n      " + Cmd(n, argv));
}

void ShowRoles(LocalCluster& c) {
  for (LocalNode& n : c.nodes()) {
    nlohmann::json s = NodeStatus(n);
    if (s.is_null()) {
      Say("  node " + std::to_string(n.id) + ": down");
      continue;
    }
    Say("  node " + std::to_string(n.id) + ": " + s.value("role", "?") + ", term " +
        std::to_string(s.value("term", 0)) + ", applied index " +
        std::to_string(s.value("applied_index", 0ULL)) + ", digest " +
        s.value("digest", std::string()).substr(0, 12));
  }
}

bool Post(LocalNode& n, const std::string& body) {
  return HttpPost("127.0.0.1", n.admin_port, "/faults", body).ok();
}

}  // namespace

int RunDemoCommand(const std::vector<std::string>&) {
  std::string root = std::filesystem::temp_directory_path().string() + "/replicakv-demo-" +
                     std::to_string(getpid());
  Say("ReplicaKV tour: real `replicakv server` processes on loopback, in " + root + ".");
  Say("It takes about fifteen seconds, ends by itself and removes that directory.");

  // ---------------------------------------------------------------- quorum
  Step("1. A three-node cluster elects a leader");
  int base = FindBasePort();
  LocalCluster c(3, root + "/quorum", base,
                 {"--mode", "leader", "--acks", "quorum", "--allow-faults"});
  if (rkv::Status s = c.Start(); !s.ok()) {
    Say("could not start the cluster: " + s.message());
    c.Stop();
    return 1;
  }
  int leader = Leader(c);
  // Let the new leader's first entry reach everyone before showing them.
  for (int i = 0; i < 100; ++i) {
    bool all = true;
    for (LocalNode& n : c.nodes()) all = all && NodeStatus(n).value("applied_index", 0ULL) >= 1;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Say("Three processes started (ports " + std::to_string(base) + "-" + std::to_string(base + 2) +
      "). They held an election (pre-vote, then vote); node " + std::to_string(leader) + " won:");
  ShowRoles(c);

  Step("2. Writes go through the leader's log; any node takes them");
  Say("With --acks quorum a write is acknowledged once a majority (2 of 3) has it on disk.");
  int follower = leader == 1 ? 2 : 1;
  Show(c.node(leader), {"SET", "greeting", "hello"});
  Show(c.node(follower), {"INCR", "visits"});
  Say("(node " + std::to_string(follower) +
      " is a follower: it forwarded the INCR to the leader and answered once it applied it)");
  Show(c.node(follower), {"GET", "greeting"});
  Say("Redis tools see a primary and its replicas:");
  std::string info = Cmd(c.node(leader), {"INFO", "replication"});
  for (size_t pos = 0, end; pos < info.size(); pos = end + 2) {
    end = info.find("\r\n", pos);
    if (end == std::string::npos) end = info.size();
    std::string line = info.substr(pos, end - pos);
    if (line.rfind("role", 0) == 0 || line.rfind("connected_slaves", 0) == 0 ||
        line.rfind("slave", 0) == 0 || line.rfind("replicakv_follower", 0) == 0)
      Say("  " + line);
  }

  Step("3. Lag you can see");
  int lagging = leader == 3 ? 2 : 3;
  Say("Now node " + std::to_string(leader) + "'s traffic to node " + std::to_string(lagging) +
      " is delayed by 400 ms (the test-only POST /faults), and 300 writes arrive:");
  Post(c.node(leader), "{\"delay_ms\": 400, \"to\": [" + std::to_string(lagging) + "]}");
  {
    RespClient w;
    if (w.Connect("127.0.0.1", c.node(leader).resp_port).ok()) {
      std::vector<std::vector<std::string>> cmds;
      for (int i = 0; i < 300; ++i) cmds.push_back({"SET", "item:" + std::to_string(i), "v"});
      w.Pipeline(cmds).ok();
    }
  }
  nlohmann::json st = NodeStatus(c.node(leader));
  for (const auto& f : st["followers"])
    Say("  follower " + std::to_string(f.value("id", 0)) + ": " +
        std::to_string(f.value("lag_entries", 0)) + " entries behind, " +
        std::to_string(static_cast<int>(f.value("lag_ms", 0.0))) + " ms behind, " +
        f.value("state", ""));
  Say("The writes were acknowledged anyway: the leader and the other follower are a majority.");

  Step("4. Reading from a lagging follower: what each read level allows");
  {
    int fresh = 6 - leader - lagging;
    auto run = [](RespClient& cl, const std::vector<std::string>& argv) {
      auto r = cl.Command(argv);
      return r.ok() ? ReplyToString(*r) : "(" + r.status().message() + ")";
    };
    auto raw = [](RespClient& cl, const std::vector<std::string>& argv) {
      auto r = cl.Command(argv);
      return r.ok() ? r->str : std::string();
    };
    auto show = [&](RespClient& cl, int node, const std::vector<std::string>& argv) {
      std::string line = "  node " + std::to_string(node) + "> ";
      for (const std::string& a : argv) line += a + " ";
      auto t0 = Clock::now();
      std::string out = run(cl, argv);
      long ms = static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
      Say(line + "\n      " + out + (ms >= 20 ? "   (" + std::to_string(ms) + " ms)" : ""));
      return out;
    };
    RespClient user, ev, se, a, b;
    bool ok = user.Connect("127.0.0.1", c.node(leader).resp_port).ok() &&
              ev.Connect("127.0.0.1", c.node(lagging).resp_port).ok() &&
              se.Connect("127.0.0.1", c.node(lagging).resp_port).ok() &&
              a.Connect("127.0.0.1", c.node(fresh).resp_port).ok() &&
              b.Connect("127.0.0.1", c.node(lagging).resp_port).ok();
    if (ok) {
      Say("A user renames themselves on the leader, then reloads the page from node " +
          std::to_string(lagging) + " (400 ms behind):");
      show(user, leader, {"SET", "user:ada:name", "Ada Lovelace"});
      std::string token = raw(user, {"RKV.SESSION"});
      show(ev, lagging, {"RKV.CONSISTENCY", "eventual"});
      show(ev, lagging, {"GET", "user:ada:name"});
      Say("Under eventual the follower answers from what it has: the update is not there yet.");
      Say("Under session (the default) the reload carries the user's session token, here moved");
      Say("by hand from the writing connection (" + token + " = term.index of the write):");
      show(se, lagging, {"RKV.SESSION", token});
      show(se, lagging, {"GET", "user:ada:name"});
      Say("The follower waited for the write (up to --session-wait-ms, 200 ms), then handed the");
      Say("read to the leader, whose answer crossed the delayed link back. It never answers with");
      Say("data older than the token: -STALE instead, if no replica reaches it in time.");
      Say("A client that writes and reads on one connection gets this without doing anything.");

      Say("\nTwo reloads, first from node " + std::to_string(fresh) + " (up to date), then node " +
          std::to_string(lagging) + " (behind), under eventual:");
      show(user, leader, {"SET", "likes:post:1", "42"});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      show(a, fresh, {"RKV.CONSISTENCY", "eventual"});
      show(b, lagging, {"RKV.CONSISTENCY", "eventual"});
      show(a, fresh, {"GET", "likes:post:1"});
      show(b, lagging, {"GET", "likes:post:1"});
      Say("Time went backwards for that reader. Under session the second read carries the");
      Say("first one's token and waits for it (monotonic reads):");
      show(a, fresh, {"RKV.CONSISTENCY", "session"});
      show(b, lagging, {"RKV.CONSISTENCY", "session"});
      show(a, fresh, {"GET", "likes:post:1"});
      show(b, lagging, {"RKV.SESSION", raw(a, {"RKV.SESSION"})});
      show(b, lagging, {"GET", "likes:post:1"});
      Say("The same token keeps a comment from showing before its post (consistent prefix):");
      Say("a follower applies the leader's log in order, so on any one node a reply never");
      Say("exists without its question; across nodes the token carries the order.");
      Say("Also: RKV.CONSISTENCY strong (linearizable, a read-index round) and bounded MS (at");
      Say("most MS behind the leader's commit); docs/CONSISTENCY.md has what each costs.");
    }
  }
  Post(c.node(leader), "{\"clear\": true}");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Say("Delay removed; a moment later every follower has caught up:");
  ShowRoles(c);

  Step("5. kill -9 the leader, under load");
  Say("Four clients keep writing unique keys through every node while node " +
      std::to_string(leader) + " is killed.");
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<int> refused{0}, unknown{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      int target = 1 + w % 3;
      RespClient wc;
      for (int i = 0; !stop; ++i) {
        if (!wc.connected() && !wc.Connect("127.0.0.1", c.node(target).resp_port, 200).ok()) {
          target = target % 3 + 1;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        std::string key = "load:" + std::to_string(w) + ":" + std::to_string(i);
        auto r = wc.Command({"SET", key, key});
        if (r.ok() && r->type == Reply::Type::kStatus) {
          std::lock_guard lock(mu);
          acked.push_back(key);
        } else if (r.ok() && r->str.rfind("TRYAGAIN", 0) == 0) {
          ++refused;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        } else {
          ++unknown;
          if (!r.ok()) wc.Close();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto killed_at = Clock::now();
  c.KillNode(leader).ok();
  int new_leader = Leader(c, 10000, leader);
  double failover_ms = std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count();
  Say("Node " + std::to_string(leader) + " is gone. " + std::to_string(failover_ms).substr(0, 5) +
      " ms later node " + std::to_string(new_leader) +
      " is leader: the followers stopped hearing heartbeats, one timed out, won a pre-vote and "
      "the vote.");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Say("Restarting node " + std::to_string(leader) +
      " from its data directory; it rejoins as a follower:");
  c.RestartNode(leader).ok();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  for (auto& t : writers) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ShowRoles(c);
  size_t present = 0;
  {
    RespClient check;
    if (check.Connect("127.0.0.1", c.node(new_leader).resp_port).ok()) {
      for (size_t i = 0; i < acked.size(); i += 500) {
        std::vector<std::string> mget = {"MGET"};
        for (size_t j = i; j < std::min(acked.size(), i + 500); ++j) mget.push_back(acked[j]);
        auto r = check.Command(mget);
        if (!r.ok()) break;
        for (size_t j = 0; j < r->elements.size(); ++j)
          if (r->elements[j].type == Reply::Type::kBulk) ++present;
      }
    }
  }
  Say("Clients got " + std::to_string(acked.size()) + " acknowledgements, " +
      std::to_string(refused.load()) + " TRYAGAIN (not applied: no leader yet) and " +
      std::to_string(unknown.load()) + " unknown outcomes (connection lost or TIMEOUT).");
  Say("All " + std::to_string(present) + " of " + std::to_string(acked.size()) +
      " acknowledged writes are there: under quorum an acknowledged write survives any failover.");
  c.Stop();

  // ---------------------------------------------------------------- async
  Step("6. What --acks async costs");
  base = FindBasePort();
  LocalCluster a(3, root + "/async", base,
                 {"--mode", "leader", "--acks", "async", "--allow-faults"});
  if (rkv::Status s = a.Start(); !s.ok()) {
    Say("could not start the async cluster: " + s.message());
    a.Stop();
    return 1;
  }
  int al = Leader(a);
  Say("A second cluster, with --acks async: a write is acknowledged as soon as the leader (node " +
      std::to_string(al) +
      ") has it on its own disk. Its followers lag 300 ms behind (POST /faults),");
  std::string others;
  for (int i = 1; i <= 3; ++i)
    if (i != al) others += (others.empty() ? "" : ",") + std::to_string(i);
  Post(a.node(al), "{\"delay_ms\": 300, \"to\": [" + others + "]}");
  int acked_async = 0;
  {
    RespClient w;
    if (w.Connect("127.0.0.1", a.node(al).resp_port).ok())
      for (int i = 0; i < 20; ++i)
        if (auto r = w.Command({"SET", "order:" + std::to_string(i), "paid"});
            r.ok() && r->type == Reply::Type::kStatus)
          ++acked_async;
  }
  Say("and 20 writes are acknowledged (" + std::to_string(acked_async) +
      " OK). Then kill -9 node " + std::to_string(al) + " before its followers got them.");
  a.KillNode(al).ok();
  int anl = Leader(a, 10000, al);
  Say("Node " + std::to_string(anl) + " takes over without those writes: " +
      Cmd(a.node(anl), {"GET", "order:0"}) + " for order:0.");
  Cmd(a.node(anl), {"SET", "after", "failover"});
  Say("When node " + std::to_string(al) +
      " restarts, its log disagrees with the new leader's: it "
      "undoes the writes and saves them to its rollback directory before serving again.");
  a.RestartNode(al).ok();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::string dir = a.node(al).data_dir + "/rollback";
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    Say("  " + f.path().string() + ":");
    std::ifstream in(f.path());
    std::string line;
    for (int i = 0; i < 3 && std::getline(in, line); ++i) Say("    " + line.substr(0, 150));
    Say("    ...");
  }
  std::string ainfo = Cmd(a.node(al), {"INFO", "replication"});
  size_t p = ainfo.find("replicakv_rolled_back_writes");
  if (p != std::string::npos)
    Say("  INFO replication: " + ainfo.substr(p, ainfo.find("\r\n", p) - p));
  Say("Nothing is lost silently: each lost write is in that file, counted in INFO and /metrics,");
  Say("and logged. Under quorum or all, the same failover loses nothing (section 5).");
  a.Stop();

  Step("7. Keep a cluster running yourself");
  Say("  build/release/replicakv cluster --nodes 3 --mode leader --acks quorum \\");
  Say("      --data-dir /tmp/rkv --base-port 7001");
  Say("then `redis-cli -p 7001`, http://127.0.0.1:7201/ for the live view, Ctrl-C to stop.");
  Say("docs/OPERATIONS.md explains running it on three machines.");
  std::filesystem::remove_all(root, ec);
  Say("\nTour finished: clusters stopped, " + root + " removed.");
  return present == acked.size() ? 0 : 1;
}

}  // namespace rkv
