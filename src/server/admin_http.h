// The admin HTTP endpoints (/status, /metrics, /, /faults) on cpp-httplib's
// own threads. Handlers ask the event loop for fresh data (ServerImpl::CallOnLoop).
#pragma once

#include <memory>
#include <thread>

#include "server/config.h"

namespace httplib {
class Server;
}

namespace rkv {

class ServerImpl;

class AdminHttp {
 public:
  explicit AdminHttp(ServerImpl* server);
  ~AdminHttp();
  Status Start(const HostPort& address);
  void Stop();

 private:
  ServerImpl* server_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace rkv
