#include "server/peer_codec.h"

#include "core/encoding.h"
#include "proto/replicakv.pb.h"

namespace rkv {

namespace {

void AppendFrame(const proto::PeerFrame& frame, std::string* out) {
  size_t at = out->size();
  out->append(4, '\0');
  frame.AppendToString(out);
  uint32_t len = static_cast<uint32_t>(out->size() - at - 4);
  for (int i = 0; i < 4; ++i) (*out)[at + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
}

}  // namespace

void EncodeHelloFrame(const PeerHello& hello, std::string* out) {
  proto::PeerFrame frame;
  proto::Hello* h = frame.mutable_hello();
  h->set_protocol_version(hello.protocol_version);
  h->set_cluster_id(hello.cluster_id);
  h->set_node_id(hello.node_id);
  h->set_resp_address(hello.resp_address);
  h->set_admin_address(hello.admin_address);
  h->set_peer_address(hello.peer_address);
  h->set_node_uuid(hello.node_uuid);
  AppendFrame(frame, out);
}

void EncodeMessagesFrame(const std::vector<Message>& messages, std::string* out) {
  proto::PeerFrame frame;
  for (const Message& m : messages) {
    proto::RaftMessage* p = frame.add_messages();
    p->set_type(static_cast<uint32_t>(m.type));
    p->set_from(m.from);
    p->set_to(m.to);
    p->set_term(m.term);
    p->set_log_term(m.log_term);
    p->set_index(m.index);
    p->set_commit(m.commit);
    p->set_applied(m.applied);
    p->set_context(m.context);
    p->set_reject_hint(m.reject_hint);
    p->set_reject(m.reject);
    if (!m.data.empty()) p->set_data(m.data);
    for (const Entry& e : m.entries) {
      proto::LogEntry* pe = p->add_entries();
      pe->set_term(e.term);
      pe->set_index(e.index);
      pe->set_kind(static_cast<uint32_t>(e.kind));
      pe->set_origin(e.origin);
      pe->set_request_id(e.request_id);
      pe->set_data(e.data);
    }
  }
  AppendFrame(frame, out);
}

Status DecodeFrame(std::string_view body, DecodedFrame* out) {
  proto::PeerFrame frame;
  if (!frame.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return Status::Corruption("peer frame is not a valid PeerFrame");
  if (frame.has_hello()) {
    out->has_hello = true;
    out->hello.protocol_version = frame.hello().protocol_version();
    out->hello.cluster_id = frame.hello().cluster_id();
    out->hello.node_id = frame.hello().node_id();
    out->hello.resp_address = frame.hello().resp_address();
    out->hello.admin_address = frame.hello().admin_address();
    out->hello.peer_address = frame.hello().peer_address();
    out->hello.node_uuid = frame.hello().node_uuid();
  }
  out->messages.reserve(frame.messages_size());
  for (const proto::RaftMessage& p : frame.messages()) {
    if (p.type() > static_cast<uint32_t>(MsgType::kJoin))
      return Status::Corruption("peer message of unknown type " + std::to_string(p.type()));
    Message m;
    m.type = static_cast<MsgType>(p.type());
    m.from = p.from();
    m.to = p.to();
    m.term = p.term();
    m.log_term = p.log_term();
    m.index = p.index();
    m.commit = p.commit();
    m.applied = p.applied();
    m.context = p.context();
    m.reject_hint = p.reject_hint();
    m.reject = p.reject();
    m.data = p.data();
    uint64_t expect = m.index + 1;
    for (const proto::LogEntry& pe : p.entries()) {
      if (pe.kind() > static_cast<uint32_t>(EntryKind::kBarrier))
        return Status::Corruption("log entry of unknown kind " + std::to_string(pe.kind()));
      if (m.type == MsgType::kAppend &&
          (pe.index() != expect || pe.term() > m.term || pe.term() == 0))
        return Status::Corruption("append carries entries out of order or from a future term");
      ++expect;
      Entry e;
      e.term = pe.term();
      e.index = pe.index();
      e.kind = static_cast<EntryKind>(pe.kind());
      e.origin = pe.origin();
      e.request_id = pe.request_id();
      e.data = pe.data();
      m.entries.push_back(std::move(e));
    }
    out->messages.push_back(std::move(m));
  }
  for (const proto::SnapshotChunk& c : frame.chunks()) {
    SnapshotChunkMsg m;
    m.snapshot_id = c.snapshot_id();
    m.term = c.term();
    m.offset = c.offset();
    m.total = c.total();
    m.data = c.data();
    m.crc32c = c.crc32c();
    if (m.offset + m.data.size() > m.total)
      return Status::Corruption("snapshot chunk past the end");
    if (c.has_manifest()) {
      const proto::SnapshotManifest& man = c.manifest();
      m.has_manifest = true;
      m.manifest.inline_data = man.inline_data();
      if (man.meta_keys_size() != man.meta_values_size())
        return Status::Corruption("snapshot manifest meta keys and values differ in number");
      for (const proto::SnapshotFile& f : man.files()) {
        if (f.name().empty() || f.name().find('/') != std::string::npos || f.name()[0] == '.')
          return Status::Corruption("snapshot file name '" + f.name() + "' is not a plain name");
        m.manifest.files.emplace_back(f.name(), f.size());
      }
      for (int i = 0; i < man.meta_keys_size(); ++i)
        m.manifest.meta.emplace_back(man.meta_keys(i), man.meta_values(i));
    }
    out->chunks.push_back(std::move(m));
  }
  for (const proto::SnapshotAck& a : frame.acks()) {
    out->acks.push_back(
        {a.snapshot_id(), a.received(), a.done(), a.failed(), a.error(), a.resend()});
  }
  for (const proto::ReadForward& r : frame.reads()) {
    ReadForwardMsg m;
    m.id = r.id();
    if (r.level() > static_cast<uint32_t>(ReadLevel::kEventual))
      return Status::Corruption("forwarded read of unknown level " + std::to_string(r.level()));
    m.spec.consistency.level = static_cast<ReadLevel>(r.level());
    m.spec.consistency.bound_ms = r.bound_ms();
    if (m.spec.consistency.level == ReadLevel::kBounded &&
        (r.bound_ms() == 0 || r.bound_ms() > kBoundedReadMsMax))
      return Status::Corruption("forwarded bounded read with bound " +
                                std::to_string(r.bound_ms()));
    m.spec.token = {r.token_term(), r.token_index()};
    m.spec.may_forward = false;
    if (r.protocol() != 2 && r.protocol() != 3)
      return Status::Corruption("forwarded read for RESP protocol " + std::to_string(r.protocol()));
    m.protocol = static_cast<int>(r.protocol());
    m.exec = r.exec();
    if (r.commands_size() == 0 || (!m.exec && r.commands_size() != 1) ||
        r.commands_size() > static_cast<int>(kForwardedReadCommandsMax))
      return Status::Corruption("forwarded read with " + std::to_string(r.commands_size()) +
                                " commands");
    for (const proto::ReadCommand& c : r.commands()) {
      if (c.args_size() == 0) return Status::Corruption("forwarded read with an empty command");
      m.commands.emplace_back(c.args().begin(), c.args().end());
    }
    out->reads.push_back(std::move(m));
  }
  for (const proto::ReadReply& r : frame.read_replies()) {
    if (r.reply().empty()) return Status::Corruption("forwarded read reply is empty");
    out->read_replies.push_back({r.id(), r.reply(), {r.term(), r.index()}});
  }
  return Status::Ok();
}

void EncodeReadForwardFrame(const ReadForwardMsg& m, std::string* out) {
  proto::PeerFrame frame;
  proto::ReadForward* p = frame.add_reads();
  p->set_id(m.id);
  p->set_level(static_cast<uint32_t>(m.spec.consistency.level));
  p->set_bound_ms(m.spec.consistency.bound_ms);
  p->set_token_term(m.spec.token.term);
  p->set_token_index(m.spec.token.index);
  p->set_protocol(static_cast<uint32_t>(m.protocol));
  p->set_exec(m.exec);
  for (const auto& cmd : m.commands) {
    proto::ReadCommand* c = p->add_commands();
    for (const std::string& a : cmd) c->add_args(a);
  }
  AppendFrame(frame, out);
}

void EncodeReadReplyFrame(const ReadReplyMsg& m, std::string* out) {
  proto::PeerFrame frame;
  proto::ReadReply* p = frame.add_read_replies();
  p->set_id(m.id);
  p->set_reply(m.reply);
  p->set_term(m.position.term);
  p->set_index(m.position.index);
  AppendFrame(frame, out);
}

void EncodeChunkFrame(const SnapshotChunkMsg& c, std::string* out) {
  proto::PeerFrame frame;
  proto::SnapshotChunk* p = frame.add_chunks();
  p->set_snapshot_id(c.snapshot_id);
  p->set_term(c.term);
  p->set_offset(c.offset);
  p->set_total(c.total);
  p->set_data(c.data);
  p->set_crc32c(c.crc32c);
  if (c.has_manifest) {
    proto::SnapshotManifest* m = p->mutable_manifest();
    m->set_inline_data(c.manifest.inline_data);
    for (const auto& [name, size] : c.manifest.files) {
      proto::SnapshotFile* f = m->add_files();
      f->set_name(name);
      f->set_size(size);
    }
    for (const auto& [k, v] : c.manifest.meta) {
      m->add_meta_keys(k);
      m->add_meta_values(v);
    }
  }
  AppendFrame(frame, out);
}

void EncodeAckFrame(const SnapshotAckMsg& a, std::string* out) {
  proto::PeerFrame frame;
  proto::SnapshotAck* p = frame.add_acks();
  p->set_snapshot_id(a.snapshot_id);
  p->set_received(a.received);
  p->set_done(a.done);
  p->set_failed(a.failed);
  p->set_error(a.error);
  p->set_resend(a.resend);
  AppendFrame(frame, out);
}

}  // namespace rkv
