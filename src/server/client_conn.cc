#include "server/client_conn.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/limits.h"
#include "kv/commands.h"
#include "kv/numbers.h"
#include "resp/writer.h"
#include "server/server_impl.h"

namespace rkv {

namespace {

// Requests queued on one connection before it stops reading, and the reply
// bytes waiting to be sent before it does the same (resumed at half).
constexpr size_t kSlotsHighWater = 4096;
constexpr size_t kReplyBytesHighWater = 64ULL << 20;
constexpr size_t kReadBufferBytes = 64 * 1024;

// Redis 7's text for an unknown command, argument views and all.
std::string UnknownCommandError(const Argv& argv) {
  auto cstr = [](std::string_view s) { return s.substr(0, s.find('\0')); };
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    std::string_view a = cstr(argv[i]).substr(0, 128 - args.size());
    args += "'" + std::string(a) + "' ";
  }
  return "ERR unknown command '" + std::string(cstr(argv[0]).substr(0, 128)) +
         "', with args beginning with: " + args;
}

std::string ArityError(std::string_view name) {
  return "ERR wrong number of arguments for '" + ToLower(name) + "' command";
}

bool IsOneOf(std::string_view name, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set)
    if (EqualsIgnoreCase(name, s)) return true;
  return false;
}

}  // namespace

ClientConn::ClientConn(ServerImpl* server, asio::ip::tcp::socket socket, uint64_t id)
    : server_(server),
      socket_(std::move(socket)),
      id_(id),
      created_ms_(WallNowMs()),
      read_buf_(kReadBufferBytes) {}

ClientConn::~ClientConn() {
  if (fd_ >= 0) ::close(fd_);  // a server torn down without closing it
}

void ClientConn::Start() {
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    peer_address_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    peer_is_loopback_ = ep.address().is_loopback();
  }
  // From here on the socket belongs to the client poller (client_poller.h),
  // not to Asio's reactor: non-blocking reads and writes on the descriptor.
  fd_ = socket_.release(ec);
  if (ec || fd_ < 0 || ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK) != 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    Close();
    return;
  }
  authenticated_ = server_->config().password.empty();
  consistency_ = server_->config().consistency;
  read_from_ = server_->config().read_from;
  if (server_->config().password.empty() && server_->config().protected_mode &&
      !peer_is_loopback_) {
    pending_ =
        "-DENIED ReplicaKV is running in protected mode: no password is set, so only loopback "
        "clients are served. Set --password, or --protected-mode false to accept this client.\r\n";
    close_after_reply_ = true;
    FlushReplies();
    return;
  }
  UpdateInterest();
}

void ClientConn::UpdateInterest() {
  if (fd_ < 0 || closed_) return;
  bool input = !read_paused_ && !close_after_reply_;
  uint32_t interest = (input ? ClientPoller::kInput : 0u) | (writing_ ? ClientPoller::kOutput : 0u);
  server_->client_poller().Watch(fd_, id_, interest, &watched_);
}

void ClientConn::OnReady(uint32_t events) {
  if (closed_) return;
  if (events & ClientPoller::kOutput) {
    OnWritable();
    if (closed_) return;
  }
  if (!(events & (ClientPoller::kInput | ClientPoller::kHangup))) return;
  if (!(watched_ & ClientPoller::kInput)) {
    // Input is paused, yet the socket hung up or failed: it would be reported
    // every turn, and no reply can reach the client any more.
    if (events & ClientPoller::kHangup) Close();
    return;
  }
  ssize_t n = ::recv(fd_, read_buf_.data(), read_buf_.size(), 0);
  if (n > 0) {
    OnRead(static_cast<size_t>(n));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  Close();  // the end of input, or a reset
}

void ClientConn::OnWritable() {
  if (!writing_) return;
  ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close();
    return;
  }
  server_->metrics().net_output_bytes += static_cast<uint64_t>(n);
  out_sent_ += static_cast<size_t>(n);
  if (out_sent_ < out_.size()) return;
  out_.clear();
  out_sent_ = 0;
  writing_ = false;
  UpdateInterest();
  FlushReplies();
}

void ClientConn::OnRead(size_t n) {
  if (closed_) return;
  server_->metrics().net_input_bytes += n;
  in_.append(read_buf_.data(), n);
  if (in_.size() > limits::kClientQueryBufferBytesMax) {
    // Redis closes a client whose query buffer passes the limit, without a reply.
    Close();
    return;
  }
  Argv& argv = argv_;
  std::string error;
  while (!close_after_reply_ && !closed_) {
    RespParser::Outcome o = parser_.Next(in_, &argv, &error);
    if (o == RespParser::Outcome::kNeedMore) break;
    if (o == RespParser::Outcome::kError) {
      ++server_->metrics().protocol_errors;
      slots_.emplace_back();
      Slot& s = slots_.back();
      s.state = Slot::State::kDone;
      WriteError(error, &s.reply);
      close_after_reply_ = true;
      break;
    }
    if (!argv.empty()) HandleRequest(argv);
  }
  size_t consumable = parser_.consumable();
  if (consumable > 0 && (consumable == in_.size() || consumable >= kReadBufferBytes)) {
    in_.erase(0, consumable);
    parser_.Consumed(consumable);
  }
  FlushReplies();
  if (slots_.size() >= kSlotsHighWater || pending_.size() + out_.size() >= kReplyBytesHighWater)
    read_paused_ = true;
  UpdateInterest();
}

ClientConn::Kind ClientConn::Classify(const Argv& argv, const KvCommandSpec* spec) const {
  if (waiting_ > 0) return Kind::kRead;  // decided again when it runs; be conservative
  std::string_view name = argv[0];
  if (in_multi_ && !IsOneOf(name, {"exec", "discard", "multi", "quit", "watch", "reset"}))
    return Kind::kLocal;
  if (EqualsIgnoreCase(name, "exec")) {
    for (const auto& cmd : multi_queue_) {
      const KvCommandSpec* spec = FindKvCommand(cmd[0]);
      if (spec && (spec->flags & kCmdWrite)) return Kind::kWrite;
    }
    return Kind::kRead;
  }
  if (spec != nullptr) {
    if (spec->flags & kCmdWrite) return Kind::kWrite;
    if (spec->flags & kCmdReadOnly) return Kind::kRead;
    return Kind::kLocal;
  }
  // RKV.SESSION shows a token that must include the writes before it.
  if (IsOneOf(name, {"info", "rkv.status", "wait", "rkv.session"})) return Kind::kRead;
  return Kind::kLocal;
}

void ClientConn::SetState(Slot& slot, int state) {
  auto count = [this](Slot::State st) -> size_t* {
    switch (st) {
      case Slot::State::kWaiting:
        return &waiting_;
      case Slot::State::kReadInFlight:
        return &reads_in_flight_;
      case Slot::State::kWriteInFlight:
        return &writes_in_flight_;
      case Slot::State::kIdle:
      case Slot::State::kDone:
        return nullptr;
    }
    return nullptr;
  };
  if (size_t* c = count(slot.state)) --*c;
  slot.state = static_cast<Slot::State>(state);
  if (size_t* c = count(slot.state)) ++*c;
}

bool ClientConn::MayStart(Kind kind, size_t slot_index) const {
  size_t waiting = 0, reads = 0, writes = 0;
  for (size_t i = 0; i < slot_index; ++i) {
    switch (slots_[i].state) {
      case Slot::State::kWaiting:
        ++waiting;
        break;
      case Slot::State::kReadInFlight:
        ++reads;
        break;
      case Slot::State::kWriteInFlight:
        ++writes;
        break;
      case Slot::State::kIdle:
      case Slot::State::kDone:
        break;
    }
  }
  if (waiting > 0) return false;
  switch (kind) {
    case Kind::kLocal:
      return true;
    case Kind::kRead:
      return reads == 0 && writes == 0;
    case Kind::kWrite:
      return reads == 0;
  }
  return false;
}

void ClientConn::SlotRing::emplace_back() {
  if (size_ == buf_.size()) {
    std::vector<Slot> grown(buf_.empty() ? 4 : buf_.size() * 2);
    for (size_t i = 0; i < size_; ++i) grown[i] = std::move((*this)[i]);
    buf_ = std::move(grown);
    head_ = 0;
  }
  Slot& s = (*this)[size_++];
  std::string reply = std::move(s.reply);
  reply.clear();
  s = Slot();
  s.reply = std::move(reply);  // its capacity, for the next reply rendered here
}

void ClientConn::SlotRing::pop_front() {
  // A reply buffer is kept for reuse only while small: one large reply
  // (GET of a big value) must not stay pinned in an idle connection.
  std::string& reply = buf_[head_].reply;
  if (reply.capacity() > kReplyBufferKeptBytes) std::string().swap(reply);
  head_ = (head_ + 1) & (buf_.size() - 1);
  --size_;
  // A deep pipeline grew the ring: memory back once it drains.
  if (size_ == 0 && buf_.size() > 64) {
    buf_.clear();
    buf_.shrink_to_fit();
    head_ = 0;
  }
}

void ClientConn::HandleRequest(const Argv& argv) {
  // The name is lower-cased once, on the stack, for the lookup and metrics.
  char buf[16];
  std::string_view lower = LowerCommandName(argv[0], buf);
  const KvCommandSpec* spec = lower.empty() ? nullptr : FindKvCommandLowered(lower);
  Kind kind = Classify(argv, spec);
  slots_.emplace_back();
  Slot& s = slots_.back();
  s.spec = spec;
  uint64_t seq = front_seq_ + slots_.size() - 1;
  s.kind = kind;
  s.protocol = protocol_;
  s.start_ns = MonotonicNowNs();
  if (spec != nullptr) {
    s.stats = server_->KvCommandStats(spec);
  } else {
    // Unknown names share one entry, as Redis counts only commands it has:
    // an entry per name a client makes up would grow without bound (and
    // put client bytes in a Prometheus label).
    s.stats = &server_->metrics().For(!lower.empty() && IsServerCommand(lower) ? lower : "unknown");
  }
  // Whether everything ahead of it allows it to run now.
  bool free_to_run =
      waiting_ == 0 && reads_in_flight_ == 0 && (kind != Kind::kRead || writes_in_flight_ == 0);
  if (free_to_run) {
    Run(s, seq, argv);
  } else {
    SetState(s, static_cast<int>(Slot::State::kWaiting));
    s.argv.assign(argv.begin(), argv.end());
  }
}

void ClientConn::Pump() {
  if (waiting_ == 0) return;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.state != Slot::State::kWaiting) continue;
    if (!MayStart(s.kind, i)) return;
    SetState(s, static_cast<int>(Slot::State::kIdle));
    std::vector<std::string> owned = std::move(s.argv);
    s.argv.clear();
    Argv argv(owned.begin(), owned.end());
    s.protocol = protocol_;
    Run(s, front_seq_ + i, argv);
    if (close_after_reply_) return;
  }
}

void ClientConn::FinishReply(Slot& slot, const Reply& reply) {
  WriteReply(reply, slot.protocol, ReplyBuffer(slot));
  Finished(slot, reply.is_error());
}

void ClientConn::Finish(Slot& slot, std::string reply_bytes, bool error) {
  std::string* out = ReplyBuffer(slot);
  if (out->empty())
    *out = std::move(reply_bytes);
  else
    out->append(reply_bytes);
  Finished(slot, error);
}

void ClientConn::Finished(Slot& slot, bool error) {
  SetState(slot, static_cast<int>(Slot::State::kDone));
  if (slot.stats != nullptr) {
    ++slot.stats->calls;
    if (error) ++slot.stats->errors;
    slot.stats->latency.Record(MonotonicNowNs() - slot.start_ns);
    ++server_->metrics().commands_processed;
  }
}

void ClientConn::Run(Slot& slot, uint64_t seq, const Argv& argv) {
  std::string_view name = argv[0];
  if (!authenticated_ && !IsOneOf(name, {"auth", "hello", "quit"})) {
    FinishReply(slot, Reply::Error("NOAUTH Authentication required."));
    return;
  }
  if (in_multi_ && !IsOneOf(name, {"exec", "discard", "multi", "quit", "watch", "reset"})) {
    const KvCommandSpec* spec = FindKvCommand(name);
    if (spec == nullptr) {
      multi_dirty_ = true;
      bool known =
          IsOneOf(name, {"hello", "auth", "select", "info", "command", "client", "config",
                         "rkv.status", "rkv.consistency", "rkv.session", "rkv.readfrom", "wait"});
      FinishReply(slot, Reply::Error(known ? "ERR ReplicaKV does not support '" + ToLower(name) +
                                                 "' inside MULTI"
                                           : UnknownCommandError(argv)));
      return;
    }
    if (!ArityOk(spec->arity, argv.size())) {
      multi_dirty_ = true;
      FinishReply(slot, Reply::Error(ArityError(spec->name)));
      return;
    }
    if (multi_queue_.size() >= limits::kMultiQueuedCommandsMax) {
      multi_dirty_ = true;
      FinishReply(slot, Reply::Error("ERR too many commands in MULTI (limit " +
                                     std::to_string(limits::kMultiQueuedCommandsMax) + ")"));
      return;
    }
    multi_queue_.emplace_back(argv.begin(), argv.end());
    FinishReply(slot, Reply::Status("QUEUED"));
    return;
  }
  // Data commands and server commands have no name in common: a data
  // command skips the server-command chain.
  const KvCommandSpec* spec = slot.spec;
  if (spec == nullptr && RunServerCommand(slot, seq, argv)) return;
  if (spec == nullptr) {
    FinishReply(slot, Reply::Error(UnknownCommandError(argv)));
    return;
  }
  if (!ArityOk(spec->arity, argv.size())) {
    FinishReply(slot, Reply::Error(ArityError(spec->name)));
    return;
  }
  if (spec->flags & kCmdWrite) {
    if (spec->check) {
      if (std::optional<Reply> err = spec->check(argv)) {
        FinishReply(slot, *err);
        return;
      }
    }
    SetState(slot, static_cast<int>(Slot::State::kWriteInFlight));
    // FLUSHALL is applied only once majority-committed: undoing it would need
    // the whole state.
    if (IsOneOf(name, {"flushall", "flushdb"})) {
      std::string data;
      EncodeCommand(argv, &data);
      server_->Propose(this, seq, RequestKind::kWrite, std::move(data), true);
    } else {
      server_->ProposeCommand(this, seq, argv);
    }
    return;
  }
  if (spec->flags & kCmdReadOnly) {
    if (!TryReadNow(slot, spec, argv))
      StartRead(slot, seq, {std::vector<std::string>(argv.begin(), argv.end())}, false);
    return;
  }
  ApplyContext ctx{&server_->replica().store(), {}};
  FinishReply(slot, spec->run(ctx, argv));
}

// EXEC of a clean transaction, its commands in slot.transaction.
void ClientConn::RunTransaction(Slot& slot, uint64_t seq) {
  bool has_write = false;
  for (const auto& cmd : slot.transaction) {
    const KvCommandSpec* spec = FindKvCommand(cmd[0]);
    if (spec && (spec->flags & kCmdWrite)) has_write = true;
  }
  slot.exec = true;
  if (!has_write) {
    // Reads only: at the connection's level, then all at one applied position
    // (the loop runs nothing else meanwhile).
    std::vector<std::vector<std::string>> commands = std::move(slot.transaction);
    slot.transaction.clear();
    StartRead(slot, seq, std::move(commands), true);
    return;
  }
  std::vector<Argv> commands;
  bool barrier = false;
  for (const auto& cmd : slot.transaction) {
    commands.emplace_back(cmd.begin(), cmd.end());
    barrier = barrier || IsOneOf(cmd[0], {"flushall", "flushdb"});
  }
  std::string data;
  EncodeCommands(commands, &data);
  slot.transaction.clear();
  SetState(slot, static_cast<int>(Slot::State::kWriteInFlight));
  server_->Propose(this, seq, RequestKind::kWrite, std::move(data), barrier);
}

void ClientConn::OnApplied(uint64_t slot_seq, LogPosition position, std::span<Reply> replies) {
  if (closed_ || slot_seq < front_seq_ || slot_seq - front_seq_ >= slots_.size()) return;
  Slot& slot = slots_[slot_seq - front_seq_];
  last_write_index_ = std::max(last_write_index_, position.index);
  AdvanceToken(position);
  if (slot.exec) {
    FinishReply(slot, Reply::Array(std::vector<Reply>(std::make_move_iterator(replies.begin()),
                                                      std::make_move_iterator(replies.end()))));
  } else if (replies.empty()) {
    FinishReply(slot, Reply::Ok());
  } else {
    FinishReply(slot, replies[0]);  // rendered from where it is: no copy
  }
  Pump();
  DeferFlush();
}

void ClientConn::OnOutcome(uint64_t slot_seq, RequestOutcome outcome) {
  if (outcome.kind == RequestOutcome::Kind::kApplied) {
    OnApplied(slot_seq, outcome.position, outcome.replies);
    return;
  }
  if (closed_ || slot_seq < front_seq_ || slot_seq - front_seq_ >= slots_.size()) return;
  Slot& slot = slots_[slot_seq - front_seq_];
  switch (outcome.kind) {
    case RequestOutcome::Kind::kApplied:
      break;  // above
    case RequestOutcome::Kind::kFailed: {
      std::string prefix = outcome.status.code() == Code::kTimeout    ? "TIMEOUT "
                           : outcome.status.code() == Code::kStale    ? "STALE "
                           : outcome.status.code() == Code::kTryAgain ? "TRYAGAIN "
                                                                      : "ERR ";
      FinishReply(slot, Reply::Error(prefix + outcome.status.message()));
      break;
    }
    case RequestOutcome::Kind::kReadReady:
      // Linearizable reads arrive with leader mode; until then nothing proposes one.
      FinishReply(slot, Reply::Error("ERR unexpected read outcome"));
      break;
  }
  Pump();
  DeferFlush();
}

void ClientConn::DeferFlush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  server_->DeferClientFlush(shared_from_this());
}

void ClientConn::FlushReplies() {
  while (!slots_.empty() && slots_.front().state == Slot::State::kDone) {
    pending_ += slots_.front().reply;
    slots_.pop_front();
    ++front_seq_;
  }
  if (!writing_ && !pending_.empty()) Write();
  if (read_paused_ && slots_.size() < kSlotsHighWater / 2 &&
      pending_.size() + out_.size() < kReplyBytesHighWater / 2) {
    read_paused_ = false;
    // Requests already buffered may be parsed now.
    if (!in_.empty()) {
      asio::post(server_->io(), [self = shared_from_this()] { self->OnRead(0); });
    } else {
      UpdateInterest();
    }
  }
  if (close_after_reply_ && !writing_ && pending_.empty() && slots_.empty()) Close();
}

void ClientConn::Write() {
  if (closed_) return;
  // Written at once when the socket takes it all, as it nearly always does:
  // no completion handler to run, so a turn that only answered requests ends
  // without an extra poll of the reactor (Asio polls once more when a handler
  // is queued). Only what the socket did not take waits for writability.
  ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      Close();
      return;
    }
    n = 0;
  }
  server_->metrics().net_output_bytes += static_cast<uint64_t>(n);
  if (static_cast<size_t>(n) == pending_.size()) {
    pending_.clear();
    return;
  }
  writing_ = true;
  out_.swap(pending_);
  out_sent_ = static_cast<size_t>(n);
  pending_.clear();
  UpdateInterest();  // the rest goes when the socket is writable (OnWritable)
}

void ClientConn::Close() {
  if (closed_) return;
  closed_ = true;
  if (fd_ >= 0) {
    server_->client_poller().Watch(fd_, id_, 0, &watched_);
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
  } else {
    asio::error_code ec;
    socket_.close(ec);
  }
  server_->ConnectionClosed(id_);
}

}  // namespace rkv
