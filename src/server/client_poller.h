// The client connections' sockets, watched through one level-triggered epoll
// set that the event loop waits on as a single descriptor.
//
// Why not Asio's reactor per socket: Asio re-arms a socket after each read
// with a speculative read that finds nothing (or, for async_wait, an
// epoll_ctl), so a request-reply client cost three system calls per request
// against Redis's two. Here a socket is registered once and stays armed while
// it wants input; the set is re-armed once per loop turn for every connection
// (docs/PERFORMANCE.md has the measurement).
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <functional>

#include "core/status.h"

namespace rkv {

class ClientPoller {
 public:
  // `on_ready(conn_id, events)`: that connection's socket is readable (or at
  // its end, or failed) and/or writable. Called on the loop thread.
  using ReadyHandler = std::function<void(uint64_t conn_id, uint32_t events)>;
  static constexpr uint32_t kInput = 1;
  static constexpr uint32_t kOutput = 2;
  static constexpr uint32_t kHangup = 4;  // reported with kInput and/or kOutput

  ClientPoller(asio::io_context& io, ReadyHandler on_ready);

  Status Open();
  // Sets what `fd` is watched for (kInput | kOutput, or 0 to stop watching);
  // `*registered` is the caller's record of the current interest, starting
  // at 0. A connection sets 0 before it closes its socket.
  void Watch(int fd, uint64_t conn_id, uint32_t interest, uint32_t* registered);
  void Close();

 private:
  void Arm();

  asio::posix::stream_descriptor epoll_;
  ReadyHandler on_ready_;
};

}  // namespace rkv
