#include "server/client_poller.h"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace rkv {

ClientPoller::ClientPoller(asio::io_context& io, ReadyHandler on_ready)
    : epoll_(io), on_ready_(std::move(on_ready)) {}

Status ClientPoller::Open() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Status::IoError(std::string("epoll_create1: ") + std::strerror(errno));
  asio::error_code ec;
  epoll_.assign(fd, ec);
  if (ec) return Status::IoError("cannot watch the client epoll set: " + ec.message());
  Arm();
  return Status::Ok();
}

void ClientPoller::Watch(int fd, uint64_t conn_id, uint32_t interest, uint32_t* registered) {
  if (interest == *registered) return;
  epoll_event ev{};
  // Level-triggered: input left unread, or room to write, is reported again.
  ev.events = ((interest & kInput) ? EPOLLIN : 0u) | ((interest & kOutput) ? EPOLLOUT : 0u);
  ev.data.u64 = conn_id;
  // No interest removes the socket from the set rather than clearing its
  // events: a hung-up socket reports EPOLLHUP whatever its events are.
  int op = interest == 0 ? EPOLL_CTL_DEL : *registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (::epoll_ctl(epoll_.native_handle(), op, fd, &ev) != 0) {
    spdlog::warn("epoll_ctl on client {}'s socket: {}", conn_id, std::strerror(errno));
    return;
  }
  *registered = interest;
}

void ClientPoller::Arm() {
  epoll_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // closed
    // Up to 256 sockets per turn; more stay ready (level-triggered) and come
    // next turn, after the loop's other work.
    epoll_event events[256];
    int n = ::epoll_wait(epoll_.native_handle(), events, 256, 0);
    for (int i = 0; i < n; ++i) {
      uint32_t e = events[i].events;
      uint32_t ready = ((e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? kInput : 0u) |
                       ((e & (EPOLLOUT | EPOLLERR)) ? kOutput : 0u) |
                       ((e & (EPOLLHUP | EPOLLERR)) ? kHangup : 0u);
      // By id: a connection closed by an earlier one in this batch is not
      // found (ids are never reused; descriptors are).
      on_ready_(events[i].data.u64, ready);
    }
    if (epoll_.is_open()) Arm();
  });
}

void ClientPoller::Close() {
  asio::error_code ec;
  epoll_.close(ec);
}

}  // namespace rkv
