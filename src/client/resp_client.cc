#include "client/resp_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kv/numbers.h"

namespace rkv {

namespace {

Result<int> Dial(const std::string& host, uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Status::IoError("resolve " + host + ": " + gai_strerror(rc));
  Status last = Status::IoError("no address for " + host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof(err);
      if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        errno = err;
        rc = -1;
      } else if (rc != 0) {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      freeaddrinfo(res);
      return fd;
    }
    last = Status::IoError("connect " + host + ":" + service + ": " + std::strerror(errno));
    close(fd);
  }
  freeaddrinfo(res);
  return last;
}

Status SendAll(int fd, std::string_view data, int timeout_ms) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, timeout_ms) != 1) return Status::Timeout("send timed out");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return Status::IoError(std::string("send: ") + std::strerror(errno));
  }
  return Status::Ok();
}

// Reads until the peer closes or timeout; returns everything read.
Result<std::string> RecvAll(int fd, int timeout_ms) {
  std::string out;
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc == 0) return Status::Timeout("receive timed out");
    if (rc < 0 && errno == EINTR) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return out;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::IoError(std::string("recv: ") + std::strerror(errno));
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> HttpRequest(const std::string& host, uint16_t port, const std::string& method,
                                const std::string& path, const std::string& body, int timeout_ms) {
  auto fd = Dial(host, port, timeout_ms);
  if (!fd.ok()) return fd.status();
  std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST")
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  Status s = SendAll(*fd, req, timeout_ms);
  Result<std::string> resp = s.ok() ? RecvAll(*fd, timeout_ms) : Result<std::string>(s);
  close(*fd);
  if (!resp.ok()) return resp.status();
  const std::string& r = *resp;
  size_t sp = r.find(' ');
  size_t hdr_end = r.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos)
    return Status::IoError("malformed HTTP reply");
  int code = std::atoi(r.c_str() + sp + 1);
  std::string payload = r.substr(hdr_end + 4);
  // Bodies from cpp-httplib here are sent with Content-Length; chunked is not expected.
  if (code < 200 || code >= 300)
    return Status::IoError("HTTP " + std::to_string(code) + ": " + payload);
  return payload;
}

}  // namespace

RespClient::~RespClient() { Close(); }

Status RespClient::Connect(const std::string& host, uint16_t port, int timeout_ms) {
  Close();
  auto fd = Dial(host, port, timeout_ms);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  return Status::Ok();
}

void RespClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  in_.clear();
  in_pos_ = 0;
  out_.clear();
}

void RespClient::Append(const std::vector<std::string>& argv) {
  out_ += "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) {
    out_ += "$" + std::to_string(a.size()) + "\r\n";
    out_ += a;
    out_ += "\r\n";
  }
}

Status RespClient::Flush() {
  if (fd_ < 0) return Status::IoError("not connected");
  Status s = SendAll(fd_, out_, timeout_ms_);
  out_.clear();
  if (!s.ok()) Close();
  return s;
}

Status RespClient::Fill() {
  if (fd_ < 0) return Status::IoError("not connected");
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  char buf[65536];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms_);
    if (rc == 0) return Status::Timeout("no reply within " + std::to_string(timeout_ms_) + " ms");
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(std::string("poll: ") + std::strerror(errno));
    }
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) {
      Close();
      return Status::IoError("connection closed by server");
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      Status s = Status::IoError(std::string("recv: ") + std::strerror(errno));
      Close();
      return s;
    }
    in_.append(buf, static_cast<size_t>(n));
    return Status::Ok();
  }
}

bool RespClient::ParseReply(size_t* pos, Reply* out, Status* error) {
  size_t p = *pos;
  size_t eol = in_.find("\r\n", p);
  if (eol == std::string::npos) return false;
  char type = in_[p];
  std::string line = in_.substr(p + 1, eol - p - 1);
  size_t next = eol + 2;
  auto int_of = [&](int64_t* v) {
    if (!ParseInt64(line, v)) {
      *error = Status::Corruption("bad number in reply: " + line);
      return false;
    }
    return true;
  };
  switch (type) {
    case '+':
      *out = Reply::Status(line);
      break;
    case '-':
      *out = Reply::Error(line);
      break;
    case ':': {
      int64_t v;
      if (!int_of(&v)) return true;
      *out = Reply::Integer(v);
      break;
    }
    case '_':
      *out = Reply::Nil();
      break;
    case '#':
      *out = Reply::Integer(line == "t" ? 1 : 0);
      break;
    case ',':
    case '(':
      *out = Reply::Bulk(line);
      break;
    case '$':
    case '=':
    case '!': {
      int64_t len;
      if (!int_of(&len)) return true;
      if (len < 0) {
        *out = Reply::Nil();
        break;
      }
      if (in_.size() < next + static_cast<size_t>(len) + 2) return false;
      std::string body = in_.substr(next, static_cast<size_t>(len));
      next += static_cast<size_t>(len) + 2;
      if (type == '!') {
        *out = Reply::Error(body);
      } else if (type == '=') {
        *out = Reply::Verbatim(body.size() >= 4 ? body.substr(4) : body);
      } else {
        *out = Reply::Bulk(body);
      }
      break;
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      int64_t n;
      if (!int_of(&n)) return true;
      if (n < 0) {
        *out = Reply::NilArray();
        break;
      }
      size_t count = static_cast<size_t>(n) * (type == '%' ? 2 : 1);
      std::vector<Reply> elements;
      for (size_t i = 0; i < count; ++i) {
        Reply e;
        if (!ParseReply(&next, &e, error)) return false;
        if (!error->ok()) return true;
        elements.push_back(std::move(e));
      }
      *out = type == '%' ? Reply::Map(std::move(elements)) : Reply::Array(std::move(elements));
      break;
    }
    default:
      *error = Status::Corruption(std::string("unknown reply type '") + type + "'");
      return true;
  }
  *pos = next;
  return true;
}

Result<Reply> RespClient::ReadReply() {
  for (;;) {
    if (in_pos_ < in_.size()) {
      size_t pos = in_pos_;
      Reply r;
      Status error;
      if (ParseReply(&pos, &r, &error)) {
        if (!error.ok()) {
          Close();
          return error;
        }
        in_pos_ = pos;
        return r;
      }
    }
    RKV_RETURN_IF_ERROR(Fill());
  }
}

Result<Reply> RespClient::Command(const std::vector<std::string>& argv) {
  Append(argv);
  RKV_RETURN_IF_ERROR(Flush());
  return ReadReply();
}

Result<std::vector<Reply>> RespClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  for (const auto& c : commands) Append(c);
  RKV_RETURN_IF_ERROR(Flush());
  std::vector<Reply> out;
  for (size_t i = 0; i < commands.size(); ++i) {
    auto r = ReadReply();
    if (!r.ok()) return r.status();
    out.push_back(std::move(r.value()));
  }
  return out;
}

Result<std::string> HttpGet(const std::string& host, uint16_t port, const std::string& path,
                            int timeout_ms) {
  return HttpRequest(host, port, "GET", path, "", timeout_ms);
}

Result<std::string> HttpPost(const std::string& host, uint16_t port, const std::string& path,
                             const std::string& body, int timeout_ms) {
  return HttpRequest(host, port, "POST", path, body, timeout_ms);
}

std::string ReplyToString(const Reply& r) {
  switch (r.type) {
    case Reply::Type::kStatus:
      return r.str;
    case Reply::Type::kError:
      return "(error) " + r.str;
    case Reply::Type::kInteger:
      return "(integer) " + std::to_string(r.integer);
    case Reply::Type::kBulk:
      return "\"" + r.str + "\"";
    case Reply::Type::kVerbatim:
      return r.str;
    case Reply::Type::kNil:
    case Reply::Type::kNilArray:
      return "(nil)";
    case Reply::Type::kArray:
    case Reply::Type::kMap: {
      std::string s = "[";
      for (size_t i = 0; i < r.elements.size(); ++i)
        s += (i ? ", " : "") + ReplyToString(r.elements[i]);
      return s + "]";
    }
  }
  return "?";
}

}  // namespace rkv
