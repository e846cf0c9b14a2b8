// `replicakv demo`: a narrated tour that starts real processes, shows what
// they do, and exits by itself.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/local_cluster.h"
#include "client/resp_client.h"

namespace rkv {

namespace {

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

// A base port P with P..P+9, P+100.., P+200.. free.
int FindBasePort() {
  for (int base = 17001; base < 60000; base += 10) {
    bool ok = true;
    for (int off : {0, 100, 200})
      for (int i = 0; i < 5 && ok; ++i) ok = PortFree(base + off + i);
    if (ok) return base;
  }
  return 17001;
}

void Show(RespClient& c, const std::vector<std::string>& argv) {
  std::string line = "  >";
  for (const std::string& a : argv) line += " " + a;
  auto r = c.Command(argv);
  Say(line + "\n    " + (r.ok() ? ReplyToString(*r) : "(failed: " + r.status().message() + ")"));
}

}  // namespace

int RunDemoCommand(const std::vector<std::string>& args) {
  (void)args;
  int base = FindBasePort();
  std::string dir = std::filesystem::temp_directory_path().string() + "/replicakv-demo-" +
                    std::to_string(getpid());
  Say("ReplicaKV tour. Everything below runs real `replicakv server` processes on loopback,");
  Say("in " + dir + "; it ends by itself and removes that directory.");

  Step("1. A node that speaks the Redis protocol");
  LocalCluster cluster(1, dir, base, {"--durability", "fsync"});
  if (Status s = cluster.Start(); !s.ok()) {
    Say("could not start the node: " + s.message());
    cluster.Stop();
    return 1;
  }
  LocalNode& node = cluster.node(1);
  Say("Started node 1 (pid " + std::to_string(node.pid) + "), RESP on " + node.resp +
      ", admin HTTP on " + node.admin + ".");
  Say("Any Redis client works unchanged; these are the commands and the replies it got:");
  RespClient c;
  if (!c.Connect("127.0.0.1", node.resp_port).ok()) {
    Say("could not connect");
    cluster.Stop();
    return 1;
  }
  Show(c, {"SET", "greeting", "hello"});
  Show(c, {"GET", "greeting"});
  Show(c, {"INCR", "visits"});
  Show(c, {"INCRBY", "visits", "41"});
  Show(c, {"APPEND", "greeting", " world"});
  Show(c, {"MSET", "a", "1", "b", "2"});
  Show(c, {"MGET", "a", "b", "missing"});
  Say("A transaction is applied as one log entry, all or nothing:");
  auto tx = c.Pipeline({{"MULTI"}, {"SET", "x", "1"}, {"INCR", "x"}, {"GET", "x"}, {"EXEC"}});
  if (tx.ok()) Say("  > MULTI; SET x 1; INCR x; GET x; EXEC\n    " + ReplyToString(tx->back()));
  Show(c, {"DBSIZE"});

  Step("2. Durability: writes acknowledged under --durability fsync survive kill -9");
  Say("Four clients write unique keys as fast as they can (pipelines of 16); every write is");
  Say("acknowledged only after the log record holding it is synced to disk. The storage thread");
  Say("groups every write that arrived during one fsync into the next one (group commit).");
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      RespClient wc;
      if (!wc.Connect("127.0.0.1", node.resp_port).ok()) return;
      for (int batch = 0; !stop; ++batch) {
        std::vector<std::vector<std::string>> cmds;
        for (int i = 0; i < 16; ++i) {
          std::string key = "load:" + std::to_string(w) + ":" + std::to_string(batch * 16 + i);
          cmds.push_back({"SET", key, key});
        }
        auto r = wc.Pipeline(cmds);
        if (!r.ok()) return;  // the node was killed
        std::lock_guard lock(mu);
        for (size_t i = 0; i < r->size(); ++i)
          if ((*r)[i].type == Reply::Type::kStatus) acked.push_back(cmds[i][1]);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  size_t acked_before_kill;
  {
    std::lock_guard lock(mu);
    acked_before_kill = acked.size();
  }
  Say("After 2 s: " + std::to_string(acked_before_kill) + " writes acknowledged. Now: kill -9 " +
      std::to_string(node.pid) + ", mid-load.");
  cluster.KillNode(1).ok();
  stop = true;
  for (auto& t : writers) t.join();
  Say("The node is gone; " + std::to_string(acked.size()) +
      " writes were acknowledged in all. Restarting it from the same data directory ...");
  if (Status s = cluster.RestartNode(1); !s.ok()) {
    Say("restart failed: " + s.message());
    cluster.Stop();
    return 1;
  }
  RespClient check;
  if (!check.Connect("127.0.0.1", node.resp_port).ok()) {
    cluster.Stop();
    return 1;
  }
  size_t present = 0;
  for (size_t i = 0; i < acked.size(); i += 500) {
    std::vector<std::string> mget = {"MGET"};
    for (size_t j = i; j < std::min(acked.size(), i + 500); ++j) mget.push_back(acked[j]);
    auto r = check.Command(mget);
    if (!r.ok()) break;
    for (size_t j = 0; j < r->elements.size(); ++j)
      if (r->elements[j].type == Reply::Type::kBulk && r->elements[j].str == mget[j + 1]) ++present;
  }
  Say("After restart: " + std::to_string(present) + " of " + std::to_string(acked.size()) +
      " acknowledged writes are there (" + std::to_string(acked.size() - present) + " lost).");
  if (auto st = HttpGet("127.0.0.1", node.admin_port, "/status"); st.ok()) {
    auto j = nlohmann::json::parse(*st, nullptr, false);
    if (!j.is_discarded())
      Say("GET /status says: role " + j.value("role", std::string()) + ", applied_index " +
          std::to_string(j.value("applied_index", 0ULL)) + ", keys " +
          std::to_string(j.value("keys", 0ULL)) + ", digest " + j.value("digest", std::string()));
  }
  auto info = check.Command({"INFO", "persistence"});
  if (info.ok()) {
    Say("INFO persistence (group commit since the restart):");
    std::string text = info->str;
    size_t pos = 0;
    while ((pos = text.find("replicakv_", pos)) != std::string::npos) {
      size_t end = text.find("\r\n", pos);
      Say("    " + text.substr(pos, end - pos));
      pos = end;
    }
  }

  Step("3. Keep a cluster running yourself");
  Say("  ./build/release/replicakv cluster --nodes 3 --data-dir /tmp/rkv --base-port 7001");
  Say("then `redis-cli -p 7001`, http://127.0.0.1:7201/ for the live view, Ctrl-C to stop.");
  Say("Until replication lands, each node of a local cluster runs standalone.");

  cluster.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  Say("\nTour finished: node stopped, " + dir + " removed.");
  return present == acked.size() ? 0 : 1;
}

}  // namespace rkv
