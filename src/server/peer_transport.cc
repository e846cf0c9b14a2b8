#include "server/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace rkv {

namespace {
constexpr size_t kLinkBacklogBytesMax = 64u << 20;  // unsent bytes before a link drops messages
constexpr uint64_t kReconnectMinMs = 20;
constexpr uint64_t kReconnectMaxMs = 1000;
}  // namespace

struct PeerTransport::OutLink {
  OutLink(asio::io_context& io, NodeId id, HostPort addr)
      : id(id), address(std::move(addr)), socket(io), timer(io) {}
  NodeId id;
  HostPort address;
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  bool connected = false;
  bool connecting = false;
  bool writing = false;
  bool flush_scheduled = false;
  uint64_t backoff_ms = kReconnectMinMs;
  std::vector<Message> queue;  // to encode at the next flush
  std::string writing_buf;     // being written
  std::string pending_buf;     // encoded, waiting for the write in progress
  PeerLinkStatus stats;
  uint64_t generation = 0;  // bumped on every (re)connect, to ignore stale callbacks
};

class PeerTransport::Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  Inbound(PeerTransport* t, asio::ip::tcp::socket s) : t_(t), socket_(std::move(s)) {}
  void Start() { ReadHeader(); }
  void Close() {
    asio::error_code ec;
    socket_.close(ec);
  }

 private:
  void Fail(const std::string& why) {
    ++t_->frames_refused_;
    spdlog::warn("peer connection from {} refused: {}", peer_, why);
    Close();
    t_->inbound_.erase(shared_from_this());
  }
  void ReadHeader() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(header_), [self](const asio::error_code& ec, size_t) {
      if (ec) {
        self->t_->inbound_.erase(self);
        return;
      }
      uint32_t len = (uint32_t(self->header_[0]) << 24) | (uint32_t(self->header_[1]) << 16) |
                     (uint32_t(self->header_[2]) << 8) | uint32_t(self->header_[3]);
      if (len > kPeerFrameBytesMax) {
        self->Fail("frame of " + std::to_string(len) + " bytes exceeds the limit");
        return;
      }
      self->body_.resize(len);
      self->ReadBody();
    });
  }
  void ReadBody() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(body_), [self](const asio::error_code& ec, size_t) {
      if (ec) {
        self->t_->inbound_.erase(self);
        return;
      }
      self->OnFrame();
    });
  }
  void OnFrame() {
    DecodedFrame frame;
    Status s = DecodeFrame(body_, &frame);
    if (!s.ok()) {
      Fail(s.message());
      return;
    }
    if (!hello_done_) {
      if (!frame.has_hello) {
        Fail("the first frame carries no hello");
        return;
      }
      if (frame.hello.protocol_version != kPeerProtocolVersion) {
        Fail("peer protocol version " + std::to_string(frame.hello.protocol_version) +
             ", this node speaks " + std::to_string(kPeerProtocolVersion));
        return;
      }
      if (frame.hello.cluster_id != t_->self_.cluster_id) {
        Fail("node " + std::to_string(frame.hello.node_id) + " belongs to cluster '" +
             frame.hello.cluster_id + "', this is cluster '" + t_->self_.cluster_id + "'");
        return;
      }
      if (frame.hello.node_id == 0 || frame.hello.node_id == t_->self_.node_id) {
        Fail("bad node id " + std::to_string(frame.hello.node_id));
        return;
      }
      hello_done_ = true;
      from_ = frame.hello.node_id;
      peer_ = "node " + std::to_string(from_);
      t_->resp_addresses_[from_] = frame.hello.resp_address;
    }
    for (Message& m : frame.messages) {
      if (m.from != from_ || m.to != t_->self_.node_id) {
        Fail("a message from " + std::to_string(m.from) + " to " + std::to_string(m.to) +
             " on node " + std::to_string(from_) + "'s link");
        return;
      }
      ++t_->messages_received_;
      t_->on_message_(std::move(m));
      if (t_->stopped_) return;
    }
    ReadHeader();
  }

  PeerTransport* t_;
  asio::ip::tcp::socket socket_;
  unsigned char header_[4];
  std::string body_;
  bool hello_done_ = false;
  NodeId from_ = 0;
  std::string peer_ = "an unknown peer";
};

PeerTransport::PeerTransport(asio::io_context& io, PeerHello self, std::map<NodeId, HostPort> peers,
                             HostPort listen, Handler on_message)
    : io_(io),
      self_(std::move(self)),
      listen_(std::move(listen)),
      on_message_(std::move(on_message)),
      acceptor_(io) {
  for (auto& [id, addr] : peers) {
    if (id == self_.node_id) continue;
    auto link = std::make_unique<OutLink>(io_, id, addr);
    link->stats.id = id;
    link->stats.address = addr.ToString();
    links_.emplace(id, std::move(link));
  }
}

PeerTransport::~PeerTransport() { Stop(); }

rkv::Status PeerTransport::Start() {
  asio::error_code ec;
  auto address = asio::ip::make_address(listen_.host, ec);
  if (ec) return Status::Invalid("--peer-listen: '" + listen_.host + "' is not an IP address");
  asio::ip::tcp::endpoint ep(address, listen_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("--peer-listen " + listen_.ToString() + ": " + ec.message());
  Accept();
  for (auto& [id, link] : links_) Connect(*link);
  return Status::Ok();
}

void PeerTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  for (auto& [id, link] : links_) {
    link->timer.cancel();
    link->socket.close(ec);
  }
  for (const auto& in : inbound_) in->Close();
  inbound_.clear();
}

void PeerTransport::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted && !stopped_) Accept();
      return;
    }
    asio::error_code oec;
    socket.set_option(asio::ip::tcp::no_delay(true), oec);
    auto in = std::make_shared<Inbound>(this, std::move(socket));
    inbound_.insert(in);
    in->Start();
    Accept();
  });
}

void PeerTransport::Connect(OutLink& link) {
  if (stopped_ || link.connecting || link.connected) return;
  link.connecting = true;
  uint64_t gen = ++link.generation;
  asio::error_code ec;
  auto address = asio::ip::make_address(link.address.host, ec);
  if (ec) {
    // A name, not an address: resolve it each time (it may move).
    asio::ip::tcp::resolver resolver(io_);
    auto results = resolver.resolve(link.address.host, std::to_string(link.address.port), ec);
    if (ec || results.empty()) {
      link.connecting = false;
      ScheduleReconnect(link);
      return;
    }
    address = results.begin()->endpoint().address();
  }
  link.socket = asio::ip::tcp::socket(io_);
  link.socket.async_connect(
      {address, link.address.port}, [this, &link, gen](const asio::error_code& ec) {
        if (gen != link.generation || stopped_) return;
        link.connecting = false;
        if (ec) {
          ScheduleReconnect(link);
          return;
        }
        asio::error_code oec;
        link.socket.set_option(asio::ip::tcp::no_delay(true), oec);
        // A peer that vanishes without a reset (a partition, a dead machine)
        // must not leave the link writing into a full buffer for minutes: fail
        // the connection when sent data stays unacknowledged, and reconnect.
        unsigned int user_timeout_ms = 3000;
        setsockopt(link.socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                   sizeof(user_timeout_ms));
        link.socket.set_option(asio::socket_base::keep_alive(true), oec);
        link.connected = true;
        link.stats.connected = true;
        link.backoff_ms = kReconnectMinMs;
        spdlog::info("peer link to node {} ({}) is up", link.id, link.address.ToString());
        // The hello goes first; anything queued meanwhile was dropped.
        link.pending_buf.clear();
        EncodeHelloFrame(self_, &link.pending_buf);
        if (!link.writing) WriteLink(link);
      });
}

void PeerTransport::ScheduleReconnect(OutLink& link) {
  if (stopped_) return;
  link.timer.expires_after(std::chrono::milliseconds(link.backoff_ms));
  link.backoff_ms = std::min(link.backoff_ms * 2, kReconnectMaxMs);
  link.timer.async_wait([this, &link](const asio::error_code& ec) {
    if (!ec) Connect(link);
  });
}

void PeerTransport::Send(Message m) {
  auto it = links_.find(m.to);
  if (it == links_.end() || stopped_) return;
  OutLink& link = *it->second;
  if (faults_.drop_to.count(m.to)) {
    ++link.stats.messages_dropped;
    return;
  }
  if (faults_.delay_ms > 0 && faults_.delay_to.count(m.to)) {
    auto timer =
        std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(faults_.delay_ms));
    auto msg = std::make_shared<Message>(std::move(m));
    NodeId to = msg->to;
    timer->async_wait([this, timer, msg, to](const asio::error_code& ec) {
      if (ec || stopped_) return;
      OutLink& l = *links_.at(to);
      l.queue.push_back(std::move(*msg));
      FlushLink(l);
    });
    return;
  }
  if (!link.connected || link.pending_buf.size() + link.writing_buf.size() > kLinkBacklogBytesMax) {
    ++link.stats.messages_dropped;
    return;
  }
  link.queue.push_back(std::move(m));
  if (!link.flush_scheduled) {
    // Everything this event produces for the peer goes out as one frame.
    link.flush_scheduled = true;
    asio::post(io_, [this, &link] {
      link.flush_scheduled = false;
      FlushLink(link);
    });
  }
}

void PeerTransport::FlushLink(OutLink& link) {
  if (link.queue.empty() || stopped_) return;
  if (!link.connected) {
    link.stats.messages_dropped += link.queue.size();
    link.queue.clear();
    return;
  }
  link.stats.messages_sent += link.queue.size();
  EncodeMessagesFrame(link.queue, &link.pending_buf);
  link.queue.clear();
  if (!link.writing) WriteLink(link);
}

void PeerTransport::WriteLink(OutLink& link) {
  if (link.pending_buf.empty() || !link.connected) return;
  link.writing = true;
  link.writing_buf.swap(link.pending_buf);
  link.pending_buf.clear();
  uint64_t gen = link.generation;
  asio::async_write(link.socket, asio::buffer(link.writing_buf),
                    [this, &link, gen](const asio::error_code& ec, size_t n) {
                      if (gen != link.generation || stopped_) return;
                      link.writing = false;
                      link.stats.bytes_sent += n;
                      link.writing_buf.clear();
                      if (ec) {
                        spdlog::info("peer link to node {} is down: {}", link.id, ec.message());
                        asio::error_code cec;
                        link.socket.close(cec);
                        link.connected = false;
                        link.stats.connected = false;
                        link.pending_buf.clear();
                        ++link.generation;
                        ScheduleReconnect(link);
                        return;
                      }
                      WriteLink(link);
                    });
}

std::vector<PeerLinkStatus> PeerTransport::LinkStatus() const {
  std::vector<PeerLinkStatus> out;
  for (const auto& [id, link] : links_) {
    PeerLinkStatus s = link->stats;
    s.resp_address = RespAddressOf(id);
    out.push_back(std::move(s));
  }
  return out;
}

std::string PeerTransport::RespAddressOf(NodeId id) const {
  auto it = resp_addresses_.find(id);
  return it == resp_addresses_.end() ? std::string() : it->second;
}

}  // namespace rkv
