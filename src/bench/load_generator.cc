#include "bench/load_generator.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/wire.h"
#include "core/random.h"

namespace rkv::bench {

namespace {

// epoll_wait's timeout: how often a thread looks at deadlines and timeouts.
constexpr int kLoopTickMs = 20;
// Bytes read from a socket at once.
constexpr size_t kReadChunkBytes = 64 * 1024;
// How long a duration run waits for replies already asked for.
constexpr uint64_t kDrainMaxNs = 10'000'000'000ULL;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

struct ResolvedEndpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string name;  // host:port, also the HTTP Host header
};

std::string ResolveAll(const std::vector<Endpoint>& endpoints, std::vector<ResolvedEndpoint>* out) {
  for (const Endpoint& e : endpoints) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string service = std::to_string(e.port);
    if (int rc = getaddrinfo(e.host.c_str(), service.c_str(), &hints, &res); rc != 0)
      return "resolve " + e.host + ": " + gai_strerror(rc);
    ResolvedEndpoint r;
    std::memcpy(&r.addr, res->ai_addr, res->ai_addrlen);
    r.addr_len = res->ai_addrlen;
    r.name = e.ToString();
    freeaddrinfo(res);
    out->push_back(std::move(r));
  }
  return "";
}

// A non-blocking TCP connection with TCP_NODELAY, or -1 and *error.
int Connect(const ResolvedEndpoint& ep, int timeout_ms, std::string* error) {
  int fd = socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = poll(&p, 1, timeout_ms);
    int err = 0;
    socklen_t len = sizeof(err);
    if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      rc = 0;
    } else {
      errno = rc == 0 ? ETIMEDOUT : (err ? err : errno);
      rc = -1;
    }
  }
  if (rc != 0) {
    *error = "connect " + ep.name + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Sends one RESP command on a fresh connection and waits for its reply;
// returns "" when the reply is not an error, else what went wrong.
std::string Handshake(int fd, const std::vector<std::string_view>& argv, int timeout_ms) {
  std::string out;
  AppendRespCommand(argv, &out);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, timeout_ms) != 1) return "send timed out";
    } else {
      return std::string("send: ") + std::strerror(errno);
    }
  }
  std::string in;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1)
      return "no reply within " + std::to_string(timeout_ms) + " ms";
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return "connection closed";
    in.append(buf, static_cast<size_t>(n));
    size_t used = 0;
    RespReplyInfo info;
    ScanResult r = ScanRespReply(in.data(), in.size(), &used, &info);
    if (r == ScanResult::kMalformed) return "malformed reply";
    if (r == ScanResult::kComplete) return info.is_error ? std::string(info.text) : "";
  }
}

// What every thread shares: the budget of operations or keys, the clock
// marks, and the running totals the progress line reads.
struct Shared {
  const BenchConfig* config = nullptr;
  std::vector<ResolvedEndpoint> endpoints;
  std::string value;                  // value_size bytes
  std::string value_base64;           // the same, for etcd's JSON
  std::atomic<int64_t> budget{0};     // operations left to issue (requests mode)
  std::atomic<uint64_t> next_key{0};  // load: the next key to write
  std::atomic<int> connected{0};
  std::atomic<bool> start{false};
  std::atomic<bool> abort{false};
  std::atomic<int> finished{0};  // worker threads that returned
  uint64_t start_ns = 0;         // set before `start`
  uint64_t measure_ns = 0;       // start_ns + warm-up
  uint64_t deadline_ns = 0;      // duration mode: no batch is issued after this
  std::atomic<uint64_t> ok_total{0};
  std::atomic<uint64_t> error_total{0};
  std::mutex fatal_mu;
  std::string fatal;
};

struct Conn {
  int fd = -1;
  const ResolvedEndpoint* endpoint = nullptr;
  std::string out;
  size_t out_off = 0;
  std::string in;  // a partial reply carried over to the next read
  uint64_t batch_sent_ns = 0;
  int outstanding = 0;         // operations of this batch not yet answered
  int replies_into_op = 0;     // set-wait: replies already seen of the current op
  bool op_failed = false;      // set-wait: the SET of the current op failed
  std::vector<int> op_weight;  // load: keys carried by each op of the batch
  size_t op_index = 0;
  bool want_write = false;
  bool done = false;
  uint64_t last_io_ns = 0;
  Rng rng;
};

class Worker {
 public:
  Worker(Shared* shared, int first_client, int client_count)
      : s_(shared),
        c_(*shared->config),
        first_client_(first_client),
        count_(client_count),
        active_(client_count),
        wait_replicas_(std::to_string(shared->config->wait_replicas)) {}

  void Run() {
    if (!ConnectAll()) return;
    while (!s_->start.load(std::memory_order_acquire)) {
      if (s_->abort.load()) {
        CloseAll();
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    Loop();
    CloseAll();
  }

  BenchResult& result() { return result_; }
  uint64_t last_completion_ns() const { return last_completion_ns_; }

 private:
  bool ConnectAll() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(static_cast<size_t>(count_));
    for (int i = 0; i < count_; ++i) {
      Conn& conn = conns_[static_cast<size_t>(i)];
      int client = first_client_ + i;
      conn.endpoint = &s_->endpoints[static_cast<size_t>(client) % s_->endpoints.size()];
      conn.rng.Seed(c_.seed * 1000003ULL + static_cast<uint64_t>(client));
      std::string error;
      conn.fd = Connect(*conn.endpoint, c_.connect_timeout_ms, &error);
      if (conn.fd < 0) {
        std::lock_guard<std::mutex> lock(s_->fatal_mu);
        if (s_->fatal.empty()) s_->fatal = error;
        s_->abort = true;
        return false;
      }
      if (!c_.consistency.empty()) {
        std::vector<std::string_view> argv{"RKV.CONSISTENCY"};
        std::string_view level = c_.consistency;
        while (!level.empty()) {
          size_t sp = level.find(' ');
          argv.push_back(level.substr(0, sp));
          level = sp == std::string_view::npos ? "" : level.substr(sp + 1);
        }
        if (std::string err = Handshake(conn.fd, argv, c_.connect_timeout_ms); !err.empty()) {
          std::lock_guard<std::mutex> lock(s_->fatal_mu);
          if (s_->fatal.empty())
            s_->fatal =
                "RKV.CONSISTENCY " + c_.consistency + " on " + conn.endpoint->name + ": " + err;
          s_->abort = true;
          return false;
        }
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(epfd_, EPOLL_CTL_ADD, conn.fd, &ev);
      s_->connected.fetch_add(1);
    }
    return true;
  }

  void CloseAll() {
    for (Conn& conn : conns_)
      if (conn.fd >= 0) close(conn.fd);
    if (epfd_ >= 0) close(epfd_);
    epfd_ = -1;
  }

  void Loop() {
    uint64_t now = NowNs();
    for (size_t i = 0; i < conns_.size(); ++i) IssueBatch(i, now);
    std::vector<epoll_event> events(conns_.size() + 1);
    uint64_t drain_deadline = 0;
    while (active_ > 0 && !s_->abort.load(std::memory_order_relaxed)) {
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), kLoopTickMs);
      now = NowNs();
      for (int e = 0; e < n; ++e) {
        size_t i = events[static_cast<size_t>(e)].data.u32;
        Conn& conn = conns_[i];
        if (conn.done) continue;
        uint32_t what = events[static_cast<size_t>(e)].events;
        if (what & EPOLLOUT) Flush(i, now);
        if (!conn.done && (what & (EPOLLIN | EPOLLERR | EPOLLHUP))) ReadReplies(i, now);
      }
      if (n <= 0 || now - last_check_ns_ > kLoopTickMs * 1'000'000ULL) {
        last_check_ns_ = now;
        CheckTimeouts(now);
        if (s_->deadline_ns && now >= s_->deadline_ns) {
          if (drain_deadline == 0) drain_deadline = now + kDrainMaxNs;
          if (now >= drain_deadline) {
            for (size_t i = 0; i < conns_.size(); ++i)
              if (!conns_[i].done) Fail(i, "no reply within the drain time after the run ended");
          }
        }
      }
      PublishTotals();
    }
    PublishTotals();
  }

  void PublishTotals() {
    s_->ok_total.fetch_add(result_.ok - published_ok_, std::memory_order_relaxed);
    s_->error_total.fetch_add(result_.errors - published_errors_, std::memory_order_relaxed);
    published_ok_ = result_.ok;
    published_errors_ = result_.errors;
  }

  void CheckTimeouts(uint64_t now) {
    uint64_t limit = static_cast<uint64_t>(c_.timeout_ms) * 1'000'000ULL;
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& conn = conns_[i];
      if (!conn.done && conn.outstanding > 0 && now - conn.last_io_ns > limit)
        Fail(i, "no reply within " + std::to_string(c_.timeout_ms) + " ms");
    }
  }

  // How many operations the next batch may carry (0: this client is finished).
  int ClaimOps(uint64_t now) {
    int want = c_.system == System::kEtcd ? 1 : c_.pipeline;
    if (c_.workload == Workload::kLoad) return want;  // keys are claimed per op
    if (c_.requests > 0) {
      int64_t left = s_->budget.fetch_sub(want, std::memory_order_relaxed);
      if (left <= 0) return 0;
      return static_cast<int>(std::min<int64_t>(left, want));
    }
    return now < s_->deadline_ns ? want : 0;
  }

  // Claims up to `n` keys for a load; returns the first, and how many in *got.
  uint64_t ClaimKeys(uint64_t n, uint64_t* got) {
    uint64_t first = s_->next_key.fetch_add(n, std::memory_order_relaxed);
    *got = first >= c_.keys ? 0 : std::min<uint64_t>(n, c_.keys - first);
    return first;
  }

  void IssueBatch(size_t i, uint64_t now) {
    Conn& conn = conns_[i];
    int ops = ClaimOps(now);
    conn.op_weight.clear();
    conn.op_index = 0;
    char key[64];
    for (int op = 0; op < ops; ++op) {
      uint64_t key_no = 0, weight = 1;
      if (c_.workload == Workload::kLoad) {
        uint64_t want = c_.system == System::kEtcd ? static_cast<uint64_t>(c_.batch) : 1;
        key_no = ClaimKeys(want, &weight);
        if (weight == 0) break;
      } else {
        key_no = conn.rng.Below(c_.keys);
      }
      conn.op_weight.push_back(static_cast<int>(weight));
      if (c_.system == System::kResp) {
        FormatKey(key_no, c_.key_size, key);
        AppendResp(conn, std::string_view(key, c_.key_size));
      } else {
        AppendEtcd(conn, key_no, weight);
      }
    }
    if (conn.op_weight.empty()) {
      Finish(i);
      return;
    }
    conn.outstanding = static_cast<int>(conn.op_weight.size());
    conn.replies_into_op = 0;
    conn.op_failed = false;
    conn.batch_sent_ns = now;
    conn.last_io_ns = now;
    Flush(i, now);
  }

  void AppendResp(Conn& conn, std::string_view key) {
    switch (c_.workload) {
      case Workload::kGet:
        AppendRespCommand({"GET", key}, &conn.out);
        break;
      case Workload::kSetWait:
        AppendRespCommand({"SET", key, s_->value}, &conn.out);
        AppendRespCommand({"WAIT", wait_replicas_, "0"}, &conn.out);
        break;
      default:
        AppendRespCommand({"SET", key, s_->value}, &conn.out);
        break;
    }
  }

  void AppendEtcdKeyValue(uint64_t key_no, bool with_value) {
    char key[64];
    FormatKey(key_no, c_.key_size, key);
    body_.append("\"key\":\"");
    Base64Encode(std::string_view(key, c_.key_size), &body_);
    body_.push_back('"');
    if (with_value) {
      body_.append(",\"value\":\"");
      body_.append(s_->value_base64);
      body_.push_back('"');
    }
  }

  void AppendEtcd(Conn& conn, uint64_t key_no, uint64_t weight) {
    body_.clear();
    const char* path = "/v3/kv/put";
    if (c_.workload == Workload::kLoad) {
      path = "/v3/kv/txn";
      body_.append("{\"success\":[");
      for (uint64_t k = 0; k < weight; ++k) {
        if (k) body_.push_back(',');
        body_.append("{\"requestPut\":{");
        AppendEtcdKeyValue(key_no + k, true);
        body_.append("}}");
      }
      body_.append("]}");
    } else {
      bool put = c_.workload == Workload::kPut;
      if (!put) path = "/v3/kv/range";
      body_.push_back('{');
      AppendEtcdKeyValue(key_no, put);
      if (!put && c_.serializable) body_.append(",\"serializable\":true");
      body_.push_back('}');
    }
    AppendHttpPost(conn.endpoint->name, path, body_, &conn.out);
  }

  void Flush(size_t i, uint64_t now) {
    Conn& conn = conns_[i];
    while (conn.out_off < conn.out.size()) {
      ssize_t n = send(conn.fd, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off,
                       MSG_NOSIGNAL);
      if (n > 0) {
        conn.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SetWantWrite(i, true);
        return;
      }
      Fail(i, std::string("send: ") + std::strerror(errno));
      return;
    }
    conn.out.clear();
    conn.out_off = 0;
    SetWantWrite(i, false);
  }

  void SetWantWrite(size_t i, bool want) {
    Conn& conn = conns_[i];
    if (conn.want_write == want) return;
    conn.want_write = want;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, conn.fd, &ev);
  }

  void ReadReplies(size_t i, uint64_t now) {
    Conn& conn = conns_[i];
    ssize_t n;
    do {
      n = recv(conn.fd, scratch_.data(), scratch_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      Fail(i, n == 0 ? "connection closed by " + conn.endpoint->name
                     : std::string("recv: ") + std::strerror(errno));
      return;
    }
    conn.last_io_ns = now;
    // Usually the buffer holds whole replies: scan them where they landed and
    // keep only a partial one.
    const char* data = scratch_.data();
    size_t len = static_cast<size_t>(n);
    bool had_input = !conn.in.empty();
    if (had_input) {
      conn.in.append(scratch_.data(), len);
      data = conn.in.data();
      len = conn.in.size();
    }
    bool batch_done = false;
    size_t used = c_.system == System::kResp ? ScanResp(i, now, data, len, &batch_done)
                                             : ScanHttp(i, now, data, len, &batch_done);
    if (conn.done) return;
    if (had_input)
      conn.in.erase(0, used);
    else
      conn.in.assign(data + used, len - used);
    if (batch_done) IssueBatch(i, now);
  }

  // Scans complete replies in [data, data+len); returns the bytes they used and
  // sets *batch_done when the batch is fully answered.
  size_t ScanResp(size_t i, uint64_t now, const char* data, size_t len, bool* batch_done) {
    Conn& conn = conns_[i];
    size_t off = 0;
    int replies_per_op = c_.workload == Workload::kSetWait ? 2 : 1;
    while (conn.outstanding > 0) {
      size_t used = 0;
      RespReplyInfo info;
      ScanResult r = ScanRespReply(data + off, len - off, &used, &info);
      if (r == ScanResult::kIncomplete) return off;
      if (r == ScanResult::kMalformed) {
        Fail(i, "malformed RESP reply from " + conn.endpoint->name);
        return off;
      }
      off += used;
      if (info.is_error) {
        conn.op_failed = true;
        Sample(std::string(info.text));
      }
      if (++conn.replies_into_op < replies_per_op) continue;
      bool failed = conn.op_failed;
      if (!failed && c_.workload == Workload::kSetWait &&
          (info.type != ':' || info.integer < c_.wait_replicas)) {
        failed = true;
        Sample("WAIT: acknowledged by " + std::to_string(info.integer) + " of " +
               std::to_string(c_.wait_replicas) + " replicas");
      }
      if (!failed && c_.workload == Workload::kGet && info.is_nil) ++result_.misses;
      CompleteOp(conn, now, failed);
    }
    *batch_done = true;
    return off;
  }

  size_t ScanHttp(size_t i, uint64_t now, const char* data, size_t len, bool* batch_done) {
    Conn& conn = conns_[i];
    size_t off = 0;
    while (conn.outstanding > 0) {
      size_t used = 0;
      HttpResponseInfo info;
      ScanResult r = ScanHttpResponse(data + off, len - off, &used, &info);
      if (r == ScanResult::kIncomplete) return off;
      if (r == ScanResult::kMalformed) {
        Fail(i, "malformed HTTP response from " + conn.endpoint->name);
        return off;
      }
      off += used;
      bool failed = info.status != 200;
      if (failed)
        Sample("HTTP " + std::to_string(info.status) + ": " +
               std::string(info.body.substr(0, 200)));
      if (!failed && c_.workload == Workload::kRange &&
          info.body.find("\"kvs\"") == std::string_view::npos)
        ++result_.misses;
      CompleteOp(conn, now, failed);
      if (info.close) {
        Fail(i, "server closed the keep-alive connection");
        return off;
      }
    }
    *batch_done = true;
    return off;
  }

  void CompleteOp(Conn& conn, uint64_t now, bool failed) {
    int weight = conn.op_weight[conn.op_index++];
    --conn.outstanding;
    conn.replies_into_op = 0;
    conn.op_failed = false;
    if (conn.batch_sent_ns < s_->measure_ns) return;  // warm-up
    if (failed) {
      result_.errors += static_cast<uint64_t>(weight);
      return;
    }
    result_.ok += static_cast<uint64_t>(weight);
    result_.latency.Record(now - conn.batch_sent_ns);
    last_completion_ns_ = std::max(last_completion_ns_, now);
  }

  void Sample(std::string text) {
    if (result_.error_samples.size() >= kErrorSamplesMax) return;
    if (std::find(result_.error_samples.begin(), result_.error_samples.end(), text) !=
        result_.error_samples.end())
      return;
    result_.error_samples.push_back(std::move(text));
  }

  // The connection is lost for this run: what it was waiting for failed.
  void Fail(size_t i, const std::string& why) {
    Conn& conn = conns_[i];
    Sample(why);
    if (conn.outstanding > 0 && conn.batch_sent_ns >= s_->measure_ns) {
      for (size_t k = conn.op_index; k < conn.op_weight.size(); ++k)
        result_.errors += static_cast<uint64_t>(conn.op_weight[k]);
    }
    conn.outstanding = 0;
    Finish(i);
  }

  void Finish(size_t i) {
    Conn& conn = conns_[i];
    if (conn.done) return;
    conn.done = true;
    --active_;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, conn.fd, nullptr);
  }

  Shared* s_;
  const BenchConfig& c_;
  int first_client_;
  int count_;
  int active_;  // clients not yet finished
  std::string wait_replicas_;
  int epfd_ = -1;
  std::vector<Conn> conns_;
  std::string body_;
  std::vector<char> scratch_ = std::vector<char>(kReadChunkBytes);
  BenchResult result_;
  uint64_t published_ok_ = 0, published_errors_ = 0;
  uint64_t last_check_ns_ = 0;
  uint64_t last_completion_ns_ = 0;
};

}  // namespace

const char* WorkloadName(Workload w) {
  switch (w) {
    case Workload::kSet:
      return "set";
    case Workload::kGet:
      return "get";
    case Workload::kSetWait:
      return "set-wait2";
    case Workload::kPut:
      return "put";
    case Workload::kRange:
      return "range";
    case Workload::kLoad:
      return "load";
  }
  return "?";
}

const char* SystemName(System s) { return s == System::kResp ? "resp" : "etcd"; }

std::string ValidateConfig(const BenchConfig& c) {
  bool resp_workload = c.workload == Workload::kSet || c.workload == Workload::kGet ||
                       c.workload == Workload::kSetWait;
  bool etcd_workload = c.workload == Workload::kPut || c.workload == Workload::kRange;
  if (c.system == System::kResp && etcd_workload)
    return std::string("--workload: ") + WorkloadName(c.workload) + " is an etcd workload";
  if (c.system == System::kEtcd && resp_workload)
    return std::string("--workload: ") + WorkloadName(c.workload) + " is a RESP workload";
  if (c.endpoints.empty()) return "--addr: at least one host:port";
  if (c.clients < 1 || c.clients > kClientsMax)
    return "--clients: 1 to " + std::to_string(kClientsMax);
  if (c.pipeline < 1 || c.pipeline > kPipelineMax)
    return "--pipeline: 1 to " + std::to_string(kPipelineMax);
  if (c.system == System::kEtcd && c.pipeline != 1)
    return "--pipeline: etcd's gateway is driven one request at a time per connection";
  if (c.workload == Workload::kSetWait && c.pipeline != 1)
    return "--pipeline: set-wait2 sends SET and WAIT as one pair per connection";
  if (c.threads < 1 || c.threads > kThreadsMax || c.threads > c.clients)
    return "--threads: 1 to min(clients, " + std::to_string(kThreadsMax) + ")";
  if (c.batch < 1 || c.batch > kEtcdTxnOpsMax)
    return "--batch: 1 to " + std::to_string(kEtcdTxnOpsMax) + " (etcd's --max-txn-ops)";
  if (c.workload != Workload::kLoad && (c.requests == 0) == (c.duration_ms == 0))
    return "--requests or --duration-ms: exactly one";
  if (c.keys < 1) return "--keys: at least 1";
  if (c.key_size < MinKeySize(c.keys) || c.key_size > 60)
    return "--key-size: " + std::to_string(MinKeySize(c.keys)) + " to 60 for " +
           std::to_string(c.keys) + " keys";
  if (c.value_size < 1 || c.value_size > kValueBytesMax)
    return "--value-size: 1 to " + std::to_string(kValueBytesMax);
  if (c.wait_replicas < 0) return "--wait-replicas: 0 or more";
  if (c.timeout_ms < 1) return "--timeout-ms: at least 1";
  if (!c.consistency.empty() && c.system != System::kResp)
    return "--consistency: RESP only (etcd: --serializable)";
  return "";
}

BenchResult RunBench(const BenchConfig& config, int progress_ms,
                     const std::function<void(const Progress&)>& progress) {
  Shared shared;
  shared.config = &config;
  BenchResult result;
  if (std::string err = ResolveAll(config.endpoints, &shared.endpoints); !err.empty()) {
    result.fatal = err;
    return result;
  }
  shared.value = MakeValue(config.value_size);
  Base64Encode(shared.value, &shared.value_base64);
  shared.budget = static_cast<int64_t>(config.requests);

  std::vector<std::unique_ptr<Worker>> workers;
  int per = config.clients / config.threads, extra = config.clients % config.threads, first = 0;
  for (int t = 0; t < config.threads; ++t) {
    int n = per + (t < extra ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(&shared, first, n));
    first += n;
  }
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w, &shared] {
      w->Run();
      shared.finished.fetch_add(1);
    });

  while (shared.connected.load() < config.clients && !shared.abort.load())
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  if (!shared.abort.load()) {
    shared.start_ns = NowNs();
    shared.measure_ns = shared.start_ns + config.warmup_ms * 1'000'000ULL;
    if (config.duration_ms)
      shared.deadline_ns = shared.measure_ns + config.duration_ms * 1'000'000ULL;
    shared.start.store(true, std::memory_order_release);
  }

  uint64_t next_progress = NowNs() + static_cast<uint64_t>(progress_ms) * 1'000'000ULL;
  while (shared.finished.load() < static_cast<int>(threads.size())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    uint64_t now = NowNs();
    if (progress && progress_ms > 0 && now >= next_progress && shared.start.load()) {
      next_progress = now + static_cast<uint64_t>(progress_ms) * 1'000'000ULL;
      Progress p;
      p.elapsed_s = (static_cast<double>(now) - static_cast<double>(shared.measure_ns)) / 1e9;
      p.ok = shared.ok_total.load(std::memory_order_relaxed);
      p.errors = shared.error_total.load(std::memory_order_relaxed);
      progress(p);
    }
  }
  for (auto& t : threads) t.join();

  result.fatal = shared.fatal;
  uint64_t end_ns = shared.measure_ns;
  for (auto& w : workers) {
    BenchResult& r = w->result();
    result.ok += r.ok;
    result.errors += r.errors;
    result.misses += r.misses;
    result.latency.Merge(r.latency);
    for (std::string& s : r.error_samples)
      if (result.error_samples.size() < kErrorSamplesMax &&
          std::find(result.error_samples.begin(), result.error_samples.end(), s) ==
              result.error_samples.end())
        result.error_samples.push_back(std::move(s));
    end_ns = std::max(end_ns, w->last_completion_ns());
  }
  if (!result.fatal.empty()) result.errors += static_cast<uint64_t>(config.clients);
  result.elapsed_s = static_cast<double>(end_ns - shared.measure_ns) / 1e9;
  return result;
}

}  // namespace rkv::bench
