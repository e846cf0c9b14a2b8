#include "server/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/encoding.h"

namespace rkv {

namespace {
constexpr size_t kLinkBacklogBytesMax = 64u << 20;  // unsent bytes before a link drops messages
constexpr uint64_t kReconnectMinMs = 20;
constexpr uint64_t kReconnectMaxMs = 1000;
// A link to a node outside the membership closes after this long unused.
constexpr uint64_t kDepartedLinkIdleMs = 30000;

uint64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

asio::ip::address Resolve(asio::io_context& io, const HostPort& hp, asio::error_code& ec) {
  auto address = asio::ip::make_address(hp.host, ec);
  if (!ec) return address;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) return {};
  return results.begin()->endpoint().address();
}
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
  bool closed = false;        // no longer a member (or a non-member nobody sends to)
  uint64_t last_send_ms = 0;  // links to non-members: closed when idle
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
  void Start() { Read(); }
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
  // Reads whatever the socket holds: one recv for every frame that has
  // arrived, where reading each frame's length and then its body took two
  // per frame (plus the one that finds the socket empty).
  void Read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(read_buf_), [self](const asio::error_code& ec, size_t n) {
      if (ec) {
        self->t_->inbound_.erase(self);
        return;
      }
      self->in_.append(self->read_buf_.data(), n);
      if (self->HandleFrames()) self->Read();
    });
  }
  // Handles each whole frame read so far and keeps a partial one; false when
  // the link was refused or the transport stopped.
  bool HandleFrames() {
    size_t at = 0;
    while (in_.size() - at >= 4) {
      const uint32_t len = DecodeFixed32BE(in_.data() + at);
      if (len > kPeerFrameBytesMax) {
        Fail("frame of " + std::to_string(len) + " bytes exceeds the limit");
        return false;
      }
      if (in_.size() - at - 4 < len) break;
      // Decoded messages own their bytes: the view is not kept.
      const std::string_view body(in_.data() + at + 4, len);
      at += 4 + len;
      if (!OnFrame(body)) return false;
    }
    in_.erase(0, at);
    return true;
  }
  bool CheckHello(const PeerHello& h) {
    if (h.protocol_version != kPeerProtocolVersion) {
      Fail("peer protocol version " + std::to_string(h.protocol_version) + ", this node speaks " +
           std::to_string(kPeerProtocolVersion));
      return false;
    }
    if (h.node_id == 0 || h.node_id == t_->self_.node_id) {
      Fail("bad node id " + std::to_string(h.node_id));
      return false;
    }
    if (h.cluster_id.empty()) {
      join_only_ = true;  // a node asking to join: it may send join requests, nothing else
    } else if (t_->self_.cluster_id.empty()) {
      t_->self_.cluster_id = h.cluster_id;  // we are joining: this is our cluster now
      if (t_->handlers_.cluster_id) t_->handlers_.cluster_id(h.cluster_id);
    } else if (h.cluster_id != t_->self_.cluster_id) {
      Fail("node " + std::to_string(h.node_id) + " belongs to cluster '" + h.cluster_id +
           "', this is cluster '" + t_->self_.cluster_id + "'");
      return false;
    }
    from_ = h.node_id;
    peer_ = "node " + std::to_string(from_);
    if (!join_only_ && t_->handlers_.identity) {
      std::string why;
      if (!t_->handlers_.identity(from_, h.node_uuid, &why)) {
        t_->refused_[from_] = why;
        Fail(why);
        return false;
      }
      t_->refused_.erase(from_);
    }
    if (!join_only_) {
      t_->resp_addresses_[from_] = h.resp_address;
      if (auto hp = ParseHostPort(h.peer_address); hp.ok()) {
        t_->peer_addresses_[from_] = *hp;
        // A member we have no link to yet (we are joining and know no
        // members): dial it back, so we can answer.
        if (!t_->links_.count(from_)) t_->AddLink(from_, *hp, !t_->OutsideMembership(from_));
      }
    }
    return true;
  }
  // False when the link was refused or the transport stopped.
  bool OnFrame(std::string_view body) {
    DecodedFrame frame;
    Status s = DecodeFrame(body, &frame);
    if (!s.ok()) {
      Fail(s.message());
      return false;
    }
    if (!hello_done_) {
      if (!frame.has_hello) {
        Fail("the first frame carries no hello");
        return false;
      }
      if (!CheckHello(frame.hello)) return false;
      hello_done_ = true;
    }
    if (join_only_ && (!frame.chunks.empty() || !frame.acks.empty() || !frame.reads.empty() ||
                       !frame.read_replies.empty())) {
      Fail("a node outside the cluster may only ask to join");
      return false;
    }
    for (Message& m : frame.messages) {
      if (m.type == MsgType::kJoin && m.to == 0) m.to = t_->self_.node_id;  // "whoever answers"
      if (m.from != from_ || m.to != t_->self_.node_id ||
          (join_only_ && m.type != MsgType::kJoin)) {
        Fail("a message from " + std::to_string(m.from) + " to " + std::to_string(m.to) + " on " +
             peer_ + "'s link" + (join_only_ ? " (join only)" : ""));
        return false;
      }
      ++t_->messages_received_;
      t_->handlers_.message(std::move(m));
      if (t_->stopped_) return false;
    }
    for (SnapshotChunkMsg& c : frame.chunks) {
      t_->handlers_.chunk(from_, std::move(c));
      if (t_->stopped_) return false;
    }
    for (SnapshotAckMsg& a : frame.acks) {
      t_->handlers_.ack(from_, std::move(a));
      if (t_->stopped_) return false;
    }
    for (ReadForwardMsg& r : frame.reads) {
      if (t_->handlers_.read) t_->handlers_.read(from_, std::move(r));
      if (t_->stopped_) return false;
    }
    for (ReadReplyMsg& r : frame.read_replies) {
      if (t_->handlers_.read_reply) t_->handlers_.read_reply(from_, std::move(r));
      if (t_->stopped_) return false;
    }
    return true;
  }

  PeerTransport* t_;
  asio::ip::tcp::socket socket_;
  std::vector<char> read_buf_ = std::vector<char>(64 << 10);
  std::string in_;  // read, not yet handled: at most a partial frame between reads
  bool hello_done_ = false;
  bool join_only_ = false;
  NodeId from_ = 0;
  std::string peer_ = "an unknown peer";
};

PeerTransport::PeerTransport(asio::io_context& io, PeerHello self, HostPort listen,
                             PeerHandlers handlers)
    : io_(io),
      self_(std::move(self)),
      listen_(std::move(listen)),
      handlers_(std::move(handlers)),
      acceptor_(io) {}

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

void PeerTransport::SetMembers(const std::map<NodeId, HostPort>& members) {
  members_.clear();
  for (const auto& [id, addr] : members) members_.insert(id);
  for (auto it = links_.begin(); it != links_.end();) {
    auto m = members.find(it->first);
    if (m != members.end() && m->second.ToString() == it->second->address.ToString()) {
      it->second->stats.member = true;
      ++it;
      continue;
    }
    // Gone (or moved): close its link.
    auto link = it->second;
    link->closed = true;
    ++link->generation;
    asio::error_code ec;
    link->timer.cancel();
    link->socket.close(ec);
    it = links_.erase(it);
  }
  for (const auto& [id, addr] : members)
    if (id != self_.node_id && !links_.count(id)) AddLink(id, addr);
}

void PeerTransport::AddLink(NodeId id, const HostPort& addr, bool member) {
  auto link = std::make_shared<OutLink>(io_, id, addr);
  link->stats.id = id;
  link->stats.address = addr.ToString();
  link->stats.member = member;
  link->last_send_ms = SteadyMs();
  links_.emplace(id, link);
  if (acceptor_.is_open()) Connect(link);
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

void PeerTransport::Connect(const std::shared_ptr<OutLink>& link) {
  if (stopped_ || link->closed || link->connecting || link->connected) return;
  link->connecting = true;
  uint64_t gen = ++link->generation;
  asio::error_code ec;
  asio::ip::address address = Resolve(io_, link->address, ec);
  if (ec) {
    link->connecting = false;
    ScheduleReconnect(link);
    return;
  }
  link->socket = asio::ip::tcp::socket(io_);
  link->socket.async_connect(
      {address, link->address.port}, [this, link, gen](const asio::error_code& ec) {
        if (gen != link->generation || stopped_ || link->closed) return;
        link->connecting = false;
        if (ec) {
          ScheduleReconnect(link);
          return;
        }
        asio::error_code oec;
        link->socket.set_option(asio::ip::tcp::no_delay(true), oec);
        // A peer that vanishes without a reset (a partition, a dead machine)
        // must not leave the link writing into a full buffer for minutes: fail
        // the connection when sent data stays unacknowledged, and reconnect.
        unsigned int user_timeout_ms = 3000;
        setsockopt(link->socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                   sizeof(user_timeout_ms));
        link->socket.set_option(asio::socket_base::keep_alive(true), oec);
        link->connected = true;
        link->stats.connected = true;
        link->backoff_ms = kReconnectMinMs;
        spdlog::info("peer link to node {} ({}) is up", link->id, link->address.ToString());
        // The hello goes first; anything queued meanwhile was dropped.
        link->pending_buf.clear();
        EncodeHelloFrame(self_, &link->pending_buf);
        if (!link->writing) WriteLink(link);
      });
}

void PeerTransport::ScheduleReconnect(const std::shared_ptr<OutLink>& link) {
  if (stopped_ || link->closed) return;
  if (!link->stats.member && SteadyMs() > link->last_send_ms + kDepartedLinkIdleMs) {
    // Nobody has sent to this non-member for a while: stop dialling it.
    link->closed = true;
    auto it = links_.find(link->id);
    if (it != links_.end() && it->second == link) links_.erase(it);
    return;
  }
  link->timer.expires_after(std::chrono::milliseconds(link->backoff_ms));
  link->backoff_ms = std::min(link->backoff_ms * 2, kReconnectMaxMs);
  link->timer.async_wait([this, link](const asio::error_code& ec) {
    if (!ec) Connect(link);
  });
}

void PeerTransport::Send(Message m) {
  if (stopped_) return;
  auto it = links_.find(m.to);
  if (it == links_.end()) {
    // Not a member: a removed node the leader tells the log. Dial the
    // address its hello gave; this message is lost (the core retries).
    auto addr = peer_addresses_.find(m.to);
    if (addr == peer_addresses_.end() || m.to == self_.node_id) return;
    AddLink(m.to, addr->second, /*member=*/false);
    it = links_.find(m.to);
  }
  std::shared_ptr<OutLink> link = it->second;
  if (!link->stats.member) link->last_send_ms = SteadyMs();  // only these close when idle
  if (faults_.drop_to.count(m.to)) {
    ++link->stats.messages_dropped;
    return;
  }
  if (faults_.delay_ms > 0 && faults_.delay_to.count(m.to)) {
    auto timer =
        std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(faults_.delay_ms));
    auto msg = std::make_shared<Message>(std::move(m));
    timer->async_wait([this, timer, msg, link](const asio::error_code& ec) {
      if (ec || stopped_ || link->closed) return;
      link->queue.push_back(std::move(*msg));
      FlushLink(link);
    });
    return;
  }
  if (!link->connected ||
      link->pending_buf.size() + link->writing_buf.size() > kLinkBacklogBytesMax) {
    ++link->stats.messages_dropped;
    return;
  }
  link->queue.push_back(std::move(m));
  if (!link->flush_scheduled) {
    // Everything this event produces for the peer goes out as one frame.
    link->flush_scheduled = true;
    asio::post(io_, [this, link] {
      link->flush_scheduled = false;
      FlushLink(link);
    });
  }
}

bool PeerTransport::SendChunk(NodeId to, const SnapshotChunkMsg& chunk) {
  auto it = links_.find(to);
  if (it == links_.end() || stopped_ || faults_.drop_to.count(to)) return false;
  std::shared_ptr<OutLink> link = it->second;
  if (!link->connected ||
      link->pending_buf.size() + link->writing_buf.size() > kLinkBacklogBytesMax)
    return false;
  EncodeChunkFrame(chunk, &link->pending_buf);
  if (!link->writing) WriteLink(link);
  return true;
}

bool PeerTransport::SendAck(NodeId to, const SnapshotAckMsg& ack) {
  auto it = links_.find(to);
  if (it == links_.end() || stopped_ || faults_.drop_to.count(to)) return false;
  std::shared_ptr<OutLink> link = it->second;
  if (!link->connected) return false;
  EncodeAckFrame(ack, &link->pending_buf);
  if (!link->writing) WriteLink(link);
  return true;
}

bool PeerTransport::SendFrameBytes(NodeId to, std::string frame) {
  auto it = links_.find(to);
  if (it == links_.end() || stopped_) return false;
  std::shared_ptr<OutLink> link = it->second;
  if (!link->connected ||
      link->pending_buf.size() + link->writing_buf.size() > kLinkBacklogBytesMax)
    return false;
  if (faults_.drop_to.count(to)) return true;  // lost on the way: the sender times out
  if (faults_.delay_ms > 0 && faults_.delay_to.count(to)) {
    auto timer =
        std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(faults_.delay_ms));
    auto bytes = std::make_shared<std::string>(std::move(frame));
    timer->async_wait([this, timer, bytes, link](const asio::error_code& ec) {
      if (ec || stopped_ || link->closed || !link->connected) return;
      link->pending_buf += *bytes;
      if (!link->writing) WriteLink(link);
    });
    return true;
  }
  link->pending_buf += frame;
  if (!link->writing) WriteLink(link);
  return true;
}

bool PeerTransport::SendRead(NodeId to, const ReadForwardMsg& m) {
  std::string frame;
  EncodeReadForwardFrame(m, &frame);
  return SendFrameBytes(to, std::move(frame));
}

bool PeerTransport::SendReadReply(NodeId to, const ReadReplyMsg& m) {
  std::string frame;
  EncodeReadReplyFrame(m, &frame);
  return SendFrameBytes(to, std::move(frame));
}

void PeerTransport::SendJoin(const HostPort& target, const Message& m) {
  asio::error_code ec;
  asio::ip::address address = Resolve(io_, target, ec);
  if (ec) return;
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  auto buf = std::make_shared<std::string>();
  PeerHello hello = self_;
  hello.cluster_id.clear();  // we have none yet; the member accepts join requests only
  EncodeHelloFrame(hello, buf.get());
  EncodeMessagesFrame({m}, buf.get());
  socket->async_connect({address, target.port}, [socket, buf](const asio::error_code& ec) {
    if (ec) return;
    asio::async_write(*socket, asio::buffer(*buf), [socket, buf](const asio::error_code&, size_t) {
      asio::error_code cec;
      socket->shutdown(asio::ip::tcp::socket::shutdown_send, cec);
      socket->close(cec);
    });
  });
}

void PeerTransport::FlushLink(const std::shared_ptr<OutLink>& link) {
  if (link->queue.empty() || stopped_ || link->closed) return;
  if (!link->connected) {
    link->stats.messages_dropped += link->queue.size();
    link->queue.clear();
    return;
  }
  link->stats.messages_sent += link->queue.size();
  EncodeMessagesFrame(link->queue, &link->pending_buf);
  link->queue.clear();
  if (!link->writing) WriteLink(link);
}

void PeerTransport::WriteLink(const std::shared_ptr<OutLink>& link) {
  if (link->pending_buf.empty() || !link->connected || link->closed) return;
  link->writing = true;
  link->writing_buf.swap(link->pending_buf);
  link->pending_buf.clear();
  uint64_t gen = link->generation;
  asio::async_write(link->socket, asio::buffer(link->writing_buf),
                    [this, link, gen](const asio::error_code& ec, size_t n) {
                      if (gen != link->generation || stopped_ || link->closed) return;
                      link->writing = false;
                      link->stats.bytes_sent += n;
                      link->writing_buf.clear();
                      if (ec) {
                        spdlog::info("peer link to node {} is down: {}", link->id, ec.message());
                        asio::error_code cec;
                        link->socket.close(cec);
                        link->connected = false;
                        link->stats.connected = false;
                        link->pending_buf.clear();
                        ++link->generation;
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
