#include "server/admin_http.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "server/server_impl.h"

namespace rkv {

namespace {

const char* const kDashboard = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>ReplicaKV node</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style>
</head><body><h1>ReplicaKV node</h1><p>Live view of <code>/status</code>, refreshed every second.</p>
<pre id="s">loading…</pre>
<script>
async function tick(){try{const r=await fetch('/status');document.getElementById('s').textContent=
JSON.stringify(await r.json(),null,2);}catch(e){document.getElementById('s').textContent='unreachable: '+e;}}
tick();setInterval(tick,1000);
</script></body></html>)HTML";

}  // namespace

AdminHttp::AdminHttp(ServerImpl* server) : server_(server) {}

AdminHttp::~AdminHttp() { Stop(); }

Status AdminHttp::Start(const HostPort& address) {
  http_ = std::make_unique<httplib::Server>();
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    std::string body = server_->CallOnLoop([this] { return server_->StatusJson(); });
    if (body.empty()) {
      res.status = 503;
      res.set_content("{\"error\":\"event loop did not answer in time\"}", "application/json");
      return;
    }
    res.set_content(body, "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string body = server_->CallOnLoop([this] { return server_->MetricsText(); });
    if (body.empty()) {
      res.status = 503;
      return;
    }
    res.set_content(body, "text/plain; version=0.0.4");
  });
  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kDashboard, "text/html; charset=utf-8");
  });
  http_->Post("/faults", [this](const httplib::Request& req, httplib::Response& res) {
    if (!server_->config().allow_faults) {
      res.status = 403;
      res.set_content(
          "{\"error\":\"fault injection is disabled; start the node with --allow-faults\"}",
          "application/json");
      return;
    }
    std::string body = req.body;
    std::string error = server_->CallOnLoop([this, body] {
      std::string e = server_->ApplyFaults(body);
      return e.empty() ? std::string("ok") : e;
    });
    if (error == "ok") {
      res.set_content("{\"ok\":true}", "application/json");
    } else {
      res.status = 400;
      nlohmann::json j = {{"error", error}};
      res.set_content(j.dump(), "application/json");
    }
  });
  if (!http_->bind_to_port(address.host, address.port))
    return Status::IoError("--admin-listen " + address.ToString() + ": cannot bind");
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return Status::Ok();
}

void AdminHttp::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rkv
