// One client connection. Requests are parsed as they arrive and answered in
// request order, whatever order their work finishes in. Writes in a pipeline
// go to the core back to back (they are ordered by the log); a read waits for
// the writes before it on the same connection, so a client always reads its
// own writes; a write after a waiting read waits too.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kv/command_codec.h"
#include "node/read_service.h"
#include "node/replica.h"
#include "resp/parser.h"
#include "server/peer_codec.h"

namespace rkv {

struct CommandStats;

class ServerImpl;
struct KvCommandSpec;

class ClientConn : public std::enable_shared_from_this<ClientConn> {
 public:
  ClientConn(ServerImpl* server, asio::ip::tcp::socket socket, uint64_t id);
  ~ClientConn();
  void Start();
  // The outcome of a request this connection proposed (loop thread).
  void OnOutcome(uint64_t slot_seq, RequestOutcome outcome);
  // A write this connection proposed was applied: `replies` are its commands'
  // (moved from), part of its entry's.
  void OnApplied(uint64_t slot_seq, LogPosition position, std::span<Reply> replies);
  // Reads at a level (client_reads.cc): the read service decided, or a
  // forwarded read came back (`reply` is meaningful when `status` is ok).
  void OnReadDecision(uint64_t slot_seq, ReadDecision decision);
  void OnForwardedRead(uint64_t slot_seq, const Status& status, ReadReplyMsg reply);
  // The client poller saw the socket readable, writable or hung up
  // (ClientPoller::kInput | kOutput | kHangup).
  void OnReady(uint32_t events);
  void Close();
  // The flush DeferFlush asked the server for (ServerImpl::DeferClientFlush).
  void RunDeferredFlush() {
    flush_posted_ = false;
    FlushReplies();
  }

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& peer_address() const { return peer_address_; }
  uint64_t created_ms() const { return created_ms_; }
  int protocol() const { return protocol_; }
  size_t queued_requests() const { return slots_.size(); }

 private:
  // How a command may overlap with the unfinished ones before it.
  enum class Kind : uint8_t {
    kLocal,  // touches only connection state: runs once nothing ahead is waiting
    kRead,   // reads data: runs once everything ahead is finished
    kWrite,  // proposes a write: runs once no read is ahead
  };
  struct Slot {
    // kIdle: being run right now (counted nowhere).
    enum class State : uint8_t { kIdle, kWaiting, kReadInFlight, kWriteInFlight, kDone };
    State state = State::kIdle;
    Kind kind = Kind::kLocal;
    int protocol = 2;               // the protocol in force when the request arrived
    bool exec = false;              // an EXEC: the entry's replies form one array
    std::string reply;              // rendered, once done
    std::vector<std::string> argv;  // kept while waiting
    std::vector<std::vector<std::string>> transaction;  // an EXEC's queued commands
    uint64_t start_ns = 0;
    CommandStats* stats = nullptr;        // the command's metrics (by lower-case name)
    const KvCommandSpec* spec = nullptr;  // a data command's (looked up once)
  };

  // The slots in request order, as a ring: a popped slot is reused as it is
  // (its reply buffer's capacity kept), where std::deque freed and allocated
  // a block every few requests. References stay valid until the next
  // emplace_back (which may grow the ring), unlike a deque's.
  class SlotRing {
   public:
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    Slot& operator[](size_t i) { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    const Slot& operator[](size_t i) const { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    Slot& front() { return buf_[head_]; }
    Slot& back() { return (*this)[size_ - 1]; }
    void emplace_back();
    void pop_front();
    static constexpr size_t kReplyBufferKeptBytes = 16 << 10;

   private:
    std::vector<Slot> buf_;  // a power of two in size
    size_t head_ = 0, size_ = 0;
  };

  // What the poller watches the socket for: input unless paused or closing,
  // output while a write waits for room.
  void UpdateInterest();
  void OnRead(size_t n);
  void Write();
  void OnWritable();
  void HandleRequest(const Argv& argv);
  bool MayStart(Kind kind, size_t slot_index) const;
  void Pump();
  void Run(Slot& slot, uint64_t seq, const Argv& argv);
  void RunTransaction(Slot& slot, uint64_t seq);
  void Finish(Slot& slot, std::string reply_bytes, bool error);
  void SetState(Slot& slot, int state);  // keeps the in-flight counters
  void FinishReply(Slot& slot, const Reply& reply);
  // Where a slot's reply is rendered: straight into the output when nothing
  // is ahead of it (no copy, no allocation per reply), else into the slot.
  std::string* ReplyBuffer(Slot& slot) {
    return &slot == &slots_.front() ? &pending_ : &slot.reply;
  }
  // The slot's reply is rendered (ReplyBuffer): count it and mark it done.
  void Finished(Slot& slot, bool error);
  Kind Classify(const Argv& argv, const KvCommandSpec* spec) const;
  void FlushReplies();
  // Outcomes arrive one request at a time (a commit answers a whole
  // pipeline): they are written once, after the loop's current handlers.
  void DeferFlush();

  // Reads (client_reads.cc). TryReadNow serves a single read at once when its
  // level and routing allow; StartRead takes the slow path (wait, forward).
  bool TryReadNow(Slot& slot, const KvCommandSpec* spec, const Argv& argv);
  void StartRead(Slot& slot, uint64_t seq, std::vector<std::vector<std::string>> commands,
                 bool exec);
  void ServeRead(Slot& slot);
  void Forward(Slot& slot, uint64_t seq, NodeId to);
  ReadSpec CurrentReadSpec() const { return ReadSpec{consistency_, token_, true}; }
  void AdvanceToken(LogPosition p) { token_ = MaxPosition(token_, p); }
  Reply ConsistencyCommand(const Argv& argv);
  Reply SessionCommand(const Argv& argv);
  Reply ReadFromCommand(const Argv& argv);

  // Commands answered here (server_commands.cc).
  bool RunServerCommand(Slot& slot, uint64_t seq, const Argv& argv);
  Reply Hello(const Argv& argv);
  Reply Auth(const Argv& argv);
  Reply ClientCommand(const Argv& argv);
  Reply CommandCommand(const Argv& argv);
  Reply ConfigCommand(const Argv& argv);
  Reply Info(const Argv& argv);
  static bool IsServerCommand(std::string_view lower_name);

  ServerImpl* server_;
  asio::ip::tcp::socket socket_;  // until Start hands its descriptor to the poller
  int fd_ = -1;
  uint32_t watched_ = 0;  // what the client poller watches fd_ for
  uint64_t id_;
  std::string name_;
  std::string peer_address_;
  bool peer_is_loopback_ = true;
  uint64_t created_ms_;
  int protocol_ = 2;
  bool authenticated_ = false;

  std::string in_;
  Argv argv_;  // the request being parsed (its capacity kept between reads)
  RespParser parser_;
  std::vector<char> read_buf_;
  bool read_paused_ = false;

  std::string out_;      // being written (when writing_: the socket was full)
  size_t out_sent_ = 0;  // bytes of out_ already written
  std::string pending_;  // replies waiting for the current write to finish
  bool writing_ = false;
  bool flush_posted_ = false;
  bool close_after_reply_ = false;
  bool closed_ = false;

  SlotRing slots_;
  uint64_t front_seq_ = 0;  // seq of slots_.front()
  size_t waiting_ = 0;      // slots in kWaiting
  size_t reads_in_flight_ = 0;
  size_t writes_in_flight_ = 0;

  uint64_t last_write_index_ = 0;  // the log position of this client's last write (WAIT)
  // Read levels: this connection's level, routing and session token (the
  // newest log position it wrote or read).
  ReadConsistency consistency_;
  ReadFrom read_from_ = ReadFrom::kNearest;
  LogPosition token_;

  bool in_multi_ = false;
  bool multi_dirty_ = false;
  std::vector<std::vector<std::string>> multi_queue_;
};

}  // namespace rkv
