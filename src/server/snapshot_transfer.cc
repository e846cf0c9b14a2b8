#include "server/snapshot_transfer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "core/crc32c.h"
#include "kv/kv_store.h"
#include "node/replica.h"
#include "server/server_impl.h"

namespace rkv {

namespace {
constexpr size_t kChunkBytes = 1 << 20;
constexpr uint64_t kWindowBytes = 8ULL << 20;
constexpr uint64_t kResendAfterNs = 2000000000ULL;   // silence before resending from the ack
constexpr uint64_t kGiveUpAfterNs = 30000000000ULL;  // silence before giving up
constexpr size_t kFinishedKept = 8;

void RemoveDir(const std::string& d) {
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
}
}  // namespace

struct SnapshotTransfer::Outgoing {
  uint64_t id = 0;
  uint64_t term = 0;
  std::string dir;
  std::string state = "exporting";
  SnapshotManifestMsg manifest;
  std::vector<std::string> paths;  // stream order
  std::string inline_data;
  uint64_t total = 0, sent = 0, acked = 0;
  uint64_t started_ns = 0;
  uint64_t last_progress_ns = 0;  // the last acknowledgement that moved `acked`
  uint64_t last_resend_ns = 0;    // resends are not progress: a stuck stream gives up
  uint64_t resumes = 0;
  uint64_t bytes_on_wire = 0;  // resent bytes count again
  std::thread exporter;
  std::ifstream file;  // the file being read
  size_t file_index = SIZE_MAX;
};

struct SnapshotTransfer::Incoming {
  uint64_t id = 0;
  uint64_t term = 0;
  std::string dir;
  std::string state = "receiving";
  SnapshotManifestMsg manifest;
  uint64_t total = 0, received = 0;
  uint64_t started_ns = 0;
  size_t file_index = 0;  // the file being written
  uint64_t file_written = 0;
  std::ofstream file;
};

SnapshotTransfer::SnapshotTransfer(asio::io_context& io, std::string data_dir, Engine* engine,
                                   PeerTransport* transport, std::function<Replica*()> replica,
                                   uint64_t bytes_per_sec)
    : io_(io),
      dir_(std::move(data_dir)),
      engine_(engine),
      transport_(transport),
      replica_(std::move(replica)),
      next_id_(MonotonicNowNs()),
      bytes_per_sec_(bytes_per_sec) {
  // Partial copies from before a restart start over.
  RemoveDir(dir_ + "/snapshot-in");
  RemoveDir(dir_ + "/snapshot-out");
}

SnapshotTransfer::~SnapshotTransfer() {
  for (auto& [id, out] : out_)
    if (out->exporter.joinable()) out->exporter.join();
}

void SnapshotTransfer::Send(NodeId to, uint64_t term, std::shared_ptr<const void> pin) {
  if (out_.count(to)) Finish(to, false, "superseded by a new snapshot");
  auto out = std::make_unique<Outgoing>();
  out->id = ++next_id_;
  out->term = term;
  out->dir = dir_ + "/snapshot-out/" + std::to_string(out->id);
  out->started_ns = out->last_progress_ns = MonotonicNowNs();
  Outgoing* raw = out.get();
  out_[to] = std::move(out);
  spdlog::info("exporting a snapshot for node {}", to);
  Engine* engine = engine_;
  uint64_t id = raw->id;
  raw->exporter = std::thread([this, engine, pin, to, id, dir = raw->dir] {
    auto image = engine->ExportSnapshot(pin, Replica::SnapshotMetaKeys(), dir);
    asio::post(io_, [this, to, id, image = std::move(image)]() mutable {
      auto it = out_.find(to);
      if (it == out_.end() || it->second->id != id) return;
      Outgoing& out = *it->second;
      if (out.exporter.joinable()) out.exporter.join();
      if (!image.ok()) {
        Finish(to, false, "export failed: " + image.status().message());
        return;
      }
      for (const auto& [k, v] : image->meta) out.manifest.meta.emplace_back(k, v);
      if (image->files.empty()) {
        out.manifest.inline_data = true;
        out.inline_data = std::move(image->inline_data);
        out.manifest.files.emplace_back("inline", out.inline_data.size());
        out.total = out.inline_data.size();
      } else {
        for (const std::string& path : image->files) {
          uint64_t size = std::filesystem::file_size(path);
          out.manifest.files.emplace_back(std::filesystem::path(path).filename().string(), size);
          out.paths.push_back(path);
          out.total += size;
        }
      }
      out.state = "sending";
      out.last_progress_ns = MonotonicNowNs();
      spdlog::info("sending a snapshot of {} bytes ({} files) to node {}", out.total,
                   out.manifest.files.size(), to);
      Pump(out);
    });
  });
}

bool SnapshotTransfer::ReadStream(Outgoing& out, uint64_t offset, size_t len, std::string* data) {
  data->clear();
  if (out.manifest.inline_data) {
    data->assign(out.inline_data, offset, len);
    return true;
  }
  // Find the file holding `offset`.
  uint64_t base = 0;
  size_t i = 0;
  for (; i < out.manifest.files.size(); ++i) {
    if (offset < base + out.manifest.files[i].second) break;
    base += out.manifest.files[i].second;
  }
  if (i == out.manifest.files.size()) return false;
  if (out.file_index != i) {
    out.file.close();
    out.file.open(out.paths[i], std::ios::binary);
    out.file_index = i;
  }
  uint64_t in_file = offset - base;
  size_t n = static_cast<size_t>(std::min<uint64_t>(len, out.manifest.files[i].second - in_file));
  data->resize(n);
  out.file.clear();
  out.file.seekg(static_cast<std::streamoff>(in_file));
  out.file.read(data->data(), static_cast<std::streamsize>(n));
  return static_cast<size_t>(out.file.gcount()) == n;
}

void SnapshotTransfer::Pump(Outgoing& out) {
  NodeId to = 0;
  for (auto& [id, o] : out_)
    if (o.get() == &out) to = id;
  std::string data;
  // Flow control: a window of unacknowledged bytes, and a bandwidth budget
  // (bytes allowed so far at the configured rate, from the start).
  uint64_t now = MonotonicNowNs();
  double allowed =
      double(bytes_per_sec_) * double(now - out.started_ns) / 1e9 + double(kChunkBytes);
  while (out.state == "sending" && out.sent < out.total && out.sent - out.acked < kWindowBytes &&
         double(out.bytes_on_wire) < allowed) {
    if (!ReadStream(out, out.sent, kChunkBytes, &data) || data.empty()) {
      Finish(to, false, "cannot read the exported snapshot");
      return;
    }
    SnapshotChunkMsg c;
    c.snapshot_id = out.id;
    c.term = out.term;
    c.offset = out.sent;
    c.total = out.total;
    c.crc32c = Crc32c(data);
    c.data = std::move(data);
    if (c.offset == 0) {
      c.has_manifest = true;
      c.manifest = out.manifest;
    }
    if (!transport_->SendChunk(to, c)) return;  // link down or full: Tick resends
    out.sent += c.data.size();
    out.bytes_on_wire += c.data.size();
  }
  if (out.total == 0 && out.sent == 0 && out.state == "sending") {
    // An empty state: one empty chunk carries the manifest.
    SnapshotChunkMsg c;
    c.snapshot_id = out.id;
    c.term = out.term;
    c.has_manifest = true;
    c.manifest = out.manifest;
    c.crc32c = Crc32c("");
    transport_->SendChunk(to, c);
  }
}

void SnapshotTransfer::OnAck(NodeId from, const SnapshotAckMsg& ack) {
  auto it = out_.find(from);
  if (it == out_.end() || it->second->id != ack.snapshot_id) return;
  Outgoing& out = *it->second;
  if (ack.failed) {
    Finish(from, false, "the receiver failed: " + ack.error);
    return;
  }
  if (ack.done) {
    Finish(from, true, "");
    return;
  }
  if (ack.received > out.acked) out.last_progress_ns = MonotonicNowNs();
  if (ack.resend && ack.received < out.sent) {
    // The receiver lost chunks: resend from what it holds. Below what it
    // acknowledged before, it started over (it restarted): so do we.
    out.sent = ack.received;
    out.acked = std::min(out.acked, ack.received);
    ++out.resumes;
  }
  out.acked = std::max(out.acked, ack.received);
  // It may hold more than we sent since a resend (its earlier acks lost).
  out.sent = std::max(out.sent, out.acked);
  Pump(out);
}

void SnapshotTransfer::Finish(NodeId to, bool ok, const std::string& why) {
  auto it = out_.find(to);
  if (it == out_.end()) return;
  std::unique_ptr<Outgoing> out = std::move(it->second);
  out_.erase(it);
  if (out->exporter.joinable()) out->exporter.join();
  uint64_t now = MonotonicNowNs();
  TransferStatus st{
      "send",     to,           ok ? "done" : "failed",       ok ? out->total : out->acked,
      out->total, out->resumes, (now - out->started_ns) / 1e6};
  finished_.push_back(st);
  if (finished_.size() > kFinishedKept) finished_.erase(finished_.begin());
  if (ok)
    spdlog::info("snapshot of {} bytes sent to node {} in {:.0f} ms ({} resumes)", out->total, to,
                 st.elapsed_ms, out->resumes);
  else
    spdlog::warn("snapshot to node {} failed: {}", to, why);
  out->file.close();
  RemoveDir(out->dir);
  LogPosition pos;
  for (const auto& [k, v] : out->manifest.meta)
    if (k == KvStore::StateMetaKey()) KvStore::DecodeApplied(v, &pos);
  if (Replica* r = replica_()) r->SnapshotDone(to, ok, pos.index);
}

void SnapshotTransfer::Ack(NodeId to, const Incoming& in, bool done, bool failed,
                           const std::string& error, bool resend) {
  transport_->SendAck(to, {in.id, in.received, done, failed, error, resend});
}

void SnapshotTransfer::OnChunk(NodeId from, const SnapshotChunkMsg& c) {
  auto it = in_.find(from);
  if (it != in_.end() && it->second->id != c.snapshot_id) {
    if (it->second->state == "installing") return;  // one at a time
    RemoveDir(it->second->dir);
    in_.erase(it);
    it = in_.end();
  }
  if (it == in_.end()) {
    if (c.offset != 0 || !c.has_manifest) {
      // We know nothing of this stream (we restarted): ask for it from the start.
      transport_->SendAck(from, {c.snapshot_id, 0, false, false, "", true});
      return;
    }
    auto in = std::make_unique<Incoming>();
    in->id = c.snapshot_id;
    in->term = c.term;
    in->total = c.total;
    in->manifest = c.manifest;
    in->dir = dir_ + "/snapshot-in/" + std::to_string(c.snapshot_id);
    in->started_ns = MonotonicNowNs();
    std::error_code ec;
    std::filesystem::create_directories(in->dir, ec);
    uint64_t sum = 0;
    for (const auto& [name, size] : in->manifest.files) sum += size;
    if (ec || sum != c.total) {
      transport_->SendAck(from,
                          {c.snapshot_id, 0, false, true,
                           ec ? "cannot create " + in->dir : "manifest does not add up", false});
      return;
    }
    spdlog::info("receiving a snapshot of {} bytes from node {}", c.total, from);
    it = in_.emplace(from, std::move(in)).first;
  }
  Incoming& in = *it->second;
  if (in.state != "receiving") return;
  if (c.offset != in.received || Crc32c(c.data) != c.crc32c) {
    if (c.offset > in.received || c.crc32c != Crc32c(c.data)) {
      Ack(from, in, false, false, "",
          /*resend=*/true);  // a gap or damage: resend from what we hold
    } else {
      // A duplicate below what we hold: the sender resent from an older
      // acknowledgement (ours were lost). Tell it where we are, or it
      // resends the same window for ever.
      Ack(from, in, false, false, "");
    }
    return;
  }
  // Write the chunk across file boundaries.
  std::string_view data = c.data;
  while (!data.empty()) {
    while (in.file_index < in.manifest.files.size() &&
           in.file_written == in.manifest.files[in.file_index].second) {
      in.file.close();
      ++in.file_index;
      in.file_written = 0;
    }
    if (in.file_index >= in.manifest.files.size()) break;
    if (!in.file.is_open())
      in.file.open(in.dir + "/" + in.manifest.files[in.file_index].first,
                   std::ios::binary | std::ios::trunc);
    uint64_t room = in.manifest.files[in.file_index].second - in.file_written;
    size_t n = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
    in.file.write(data.data(), static_cast<std::streamsize>(n));
    in.file_written += n;
    data.remove_prefix(n);
  }
  if (!in.file.good() && in.file.is_open()) {
    Ack(from, in, false, true, "cannot write the snapshot");
    return;
  }
  in.received += c.data.size();
  if (in.received < in.total) {
    Ack(from, in, false, false, "");
    return;
  }
  in.file.close();
  SnapshotImage image;
  image.meta = in.manifest.meta;
  image.bytes = in.total;
  for (const auto& [name, size] : in.manifest.files) {
    std::string path = in.dir + "/" + name;
    if (size == 0) continue;
    if (in.manifest.inline_data) {
      std::ifstream f(path, std::ios::binary);
      image.inline_data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    } else {
      image.files.push_back(path);
    }
  }
  in.state = "installing";
  double ms = (MonotonicNowNs() - in.started_ns) / 1e6;
  spdlog::info("snapshot of {} bytes from node {} received in {:.0f} ms; installing", in.total,
               from, ms);
  Ack(from, in, true, false, "");
  finished_.push_back({"receive", from, "done", in.total, in.total, 0, ms});
  if (finished_.size() > kFinishedKept) finished_.erase(finished_.begin());
  uint64_t term = in.term;
  std::string dir = in.dir;
  in_.erase(from);
  if (Replica* r = replica_()) r->InstallSnapshot(from, term, std::move(image));
  (void)dir;  // the import moves the files; the directory is removed at the next start
}

void SnapshotTransfer::Tick(uint64_t now_ns) {
  std::vector<NodeId> give_up;
  for (auto& [to, out] : out_) {
    if (out->state != "sending") continue;
    if (now_ns > out->last_progress_ns + kGiveUpAfterNs) {
      give_up.push_back(to);
    } else if (now_ns > std::max(out->last_progress_ns, out->last_resend_ns) + kResendAfterNs) {
      // Silence: resend from the last acknowledged byte (the link may have
      // dropped what was in flight, or only the acknowledgements).
      out->sent = out->acked;
      ++out->resumes;
      out->last_resend_ns = now_ns;
      Pump(*out);
    } else {
      Pump(*out);  // a window opening after the link came back
    }
  }
  for (NodeId to : give_up) Finish(to, false, "no progress for 30 s");
}

std::vector<TransferStatus> SnapshotTransfer::Status() const {
  std::vector<TransferStatus> s = finished_;
  uint64_t now = MonotonicNowNs();
  for (const auto& [to, out] : out_)
    s.push_back({"send", to, out->state, out->acked, out->total, out->resumes,
                 (now - out->started_ns) / 1e6});
  for (const auto& [from, in] : in_)
    s.push_back(
        {"receive", from, in->state, in->received, in->total, 0, (now - in->started_ns) / 1e6});
  return s;
}

}  // namespace rkv
