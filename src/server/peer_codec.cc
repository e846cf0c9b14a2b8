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

namespace {

// The replication hot path writes PeerFrame{messages} in protobuf's wire
// format directly: building proto::RaftMessage/LogEntry objects cost an
// allocation per message, per entry and per entry's data copy (callgrind: 11%
// of a leader's instructions under 50 SET clients). Fields go out in field
// order and zero values are left out, as protobuf itself serializes them, so
// the bytes are the same (peer_codec_test.cc holds that) and any protobuf
// parser reads them.
constexpr uint32_t kWireVarint = 0, kWireBytes = 2;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Field numbers here are all below 16: a tag is one byte.
size_t VarintFieldSize(uint64_t v) { return v ? 1 + VarintSize(v) : 0; }
size_t BytesFieldSize(size_t len) { return len ? 1 + VarintSize(len) + len : 0; }

void PutVarintField(std::string* out, uint32_t field, uint64_t v) {
  if (!v) return;
  out->push_back(static_cast<char>(field << 3 | kWireVarint));
  PutVarint64(out, v);
}

void PutBytesField(std::string* out, uint32_t field, std::string_view bytes) {
  if (bytes.empty()) return;
  out->push_back(static_cast<char>(field << 3 | kWireBytes));
  PutVarint64(out, bytes.size());
  out->append(bytes);
}

// proto::LogEntry
size_t EntrySize(const Entry& e) {
  return VarintFieldSize(e.term) + VarintFieldSize(e.index) +
         VarintFieldSize(static_cast<uint32_t>(e.kind)) + VarintFieldSize(e.origin) +
         VarintFieldSize(e.request_id) + BytesFieldSize(e.data.size());
}

// proto::RaftMessage. Appends each entry's size, then the message's, to
// *sizes: computed once, they are the length prefixes when writing.
size_t MessageSize(const Message& m, std::vector<size_t>* sizes) {
  size_t n = VarintFieldSize(static_cast<uint32_t>(m.type)) + VarintFieldSize(m.from) +
             VarintFieldSize(m.to) + VarintFieldSize(m.term) + VarintFieldSize(m.log_term) +
             VarintFieldSize(m.index) + VarintFieldSize(m.commit) + VarintFieldSize(m.applied) +
             VarintFieldSize(m.context) + VarintFieldSize(m.reject_hint) +
             VarintFieldSize(m.reject ? 1 : 0) + BytesFieldSize(m.data.size());
  for (const Entry& e : m.entries) {
    size_t es = EntrySize(e);
    sizes->push_back(es);
    n += 1 + VarintSize(es) + es;
  }
  sizes->push_back(n);
  return n;
}

}  // namespace

void EncodeMessagesFrame(const std::vector<Message>& messages, std::string* out) {
  thread_local std::vector<size_t> sizes;  // reused: no allocation per frame
  sizes.clear();
  size_t body = 0;
  for (const Message& m : messages) {
    size_t ms = MessageSize(m, &sizes);
    body += 1 + VarintSize(ms) + ms;
  }
  out->reserve(out->size() + 4 + body);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((body >> (24 - 8 * i)) & 0xff));
  size_t at = 0;  // into sizes: this message's entries, then the message
  for (const Message& m : messages) {
    const size_t* entry_sizes = &sizes[at];
    at += m.entries.size();
    out->push_back(static_cast<char>(2 << 3 | kWireBytes));  // PeerFrame.messages
    PutVarint64(out, sizes[at++]);
    PutVarintField(out, 1, static_cast<uint32_t>(m.type));
    PutVarintField(out, 2, m.from);
    PutVarintField(out, 3, m.to);
    PutVarintField(out, 4, m.term);
    PutVarintField(out, 5, m.log_term);
    PutVarintField(out, 6, m.index);
    PutVarintField(out, 7, m.commit);
    PutVarintField(out, 8, m.applied);
    PutVarintField(out, 9, m.context);
    PutVarintField(out, 10, m.reject_hint);
    PutVarintField(out, 11, m.reject ? 1 : 0);
    for (size_t j = 0; j < m.entries.size(); ++j) {
      const Entry& e = m.entries[j];
      out->push_back(static_cast<char>(12 << 3 | kWireBytes));  // RaftMessage.entries
      PutVarint64(out, entry_sizes[j]);
      PutVarintField(out, 1, e.term);
      PutVarintField(out, 2, e.index);
      PutVarintField(out, 3, static_cast<uint32_t>(e.kind));
      PutVarintField(out, 4, e.origin);
      PutVarintField(out, 5, e.request_id);
      PutBytesField(out, 6, e.data);
    }
    PutBytesField(out, 13, m.data);
  }
}

namespace {

// Reads protobuf's wire format by hand, for the frames that carry only Raft
// messages (every replication frame): parsing into proto objects and copying
// out cost allocations per message, per entry and per entry's data
// (callgrind: ~5k instructions per replicated write on a follower). Fields
// are read as protobuf reads them — unknown ones skipped, a repeated scalar's
// last value wins, uint32 fields truncated — and malformed bytes are an error.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70 && !rest_.empty(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Tag(uint32_t* field, uint32_t* wire) {
    uint64_t t = 0;
    if (!Varint(&t) || (t >> 3) == 0 || (t >> 3) > 0x1fffffff) return false;
    *field = static_cast<uint32_t>(t >> 3);
    *wire = static_cast<uint32_t>(t & 7);
    return true;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > rest_.size()) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool Skip(uint32_t wire) {
    uint64_t v = 0;
    std::string_view s;
    switch (wire) {
      case 0:
        return Varint(&v);
      case 1:
        return Fixed(8);
      case 2:
        return Bytes(&s);
      case 5:
        return Fixed(4);
      default:
        return false;  // groups (3, 4) are not in our schema
    }
  }

 private:
  bool Fixed(size_t n) {
    if (rest_.size() < n) return false;
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest_;
};

const Status kMalformed = Status::Corruption("peer frame is not a valid PeerFrame");

// A varint field into *v, or false if the wire type or bytes are wrong.
bool ReadVarintField(WireReader* r, uint32_t wire, uint64_t* v) {
  return wire == kWireVarint && r->Varint(v);
}

Status DecodeEntryWire(std::string_view bytes, Entry* e) {
  WireReader r(bytes);
  uint64_t kind = 0;
  while (!r.done()) {
    uint32_t field = 0, wire = 0;
    if (!r.Tag(&field, &wire)) return kMalformed;
    bool ok = true;
    std::string_view data;
    switch (field) {
      case 1:
        ok = ReadVarintField(&r, wire, &e->term);
        break;
      case 2:
        ok = ReadVarintField(&r, wire, &e->index);
        break;
      case 3:
        ok = ReadVarintField(&r, wire, &kind);
        kind = static_cast<uint32_t>(kind);
        break;
      case 4:
        ok = ReadVarintField(&r, wire, &e->origin);
        break;
      case 5:
        ok = ReadVarintField(&r, wire, &e->request_id);
        break;
      case 6:
        ok = wire == kWireBytes && r.Bytes(&data);
        if (ok) e->data.assign(data);
        break;
      default:
        ok = r.Skip(wire);
    }
    if (!ok) return kMalformed;
  }
  if (kind > static_cast<uint32_t>(EntryKind::kBarrier))
    return Status::Corruption("log entry of unknown kind " + std::to_string(kind));
  e->kind = static_cast<EntryKind>(kind);
  return Status::Ok();
}

Status DecodeMessageWire(std::string_view bytes, Message* m) {
  WireReader r(bytes);
  uint64_t type = 0, reject = 0;
  while (!r.done()) {
    uint32_t field = 0, wire = 0;
    if (!r.Tag(&field, &wire)) return kMalformed;
    bool ok = true;
    std::string_view sub;
    switch (field) {
      case 1:
        ok = ReadVarintField(&r, wire, &type);
        type = static_cast<uint32_t>(type);
        break;
      case 2:
        ok = ReadVarintField(&r, wire, &m->from);
        break;
      case 3:
        ok = ReadVarintField(&r, wire, &m->to);
        break;
      case 4:
        ok = ReadVarintField(&r, wire, &m->term);
        break;
      case 5:
        ok = ReadVarintField(&r, wire, &m->log_term);
        break;
      case 6:
        ok = ReadVarintField(&r, wire, &m->index);
        break;
      case 7:
        ok = ReadVarintField(&r, wire, &m->commit);
        break;
      case 8:
        ok = ReadVarintField(&r, wire, &m->applied);
        break;
      case 9:
        ok = ReadVarintField(&r, wire, &m->context);
        break;
      case 10:
        ok = ReadVarintField(&r, wire, &m->reject_hint);
        break;
      case 11:
        ok = ReadVarintField(&r, wire, &reject);
        break;
      case 12: {
        ok = wire == kWireBytes && r.Bytes(&sub);
        if (!ok) break;
        Entry& e = m->entries.emplace_back();
        Status s = DecodeEntryWire(sub, &e);
        if (!s.ok()) return s;
        break;
      }
      case 13:
        ok = wire == kWireBytes && r.Bytes(&sub);
        if (ok) m->data.assign(sub);
        break;
      default:
        ok = r.Skip(wire);
    }
    if (!ok) return kMalformed;
  }
  if (type > static_cast<uint32_t>(MsgType::kJoin))
    return Status::Corruption("peer message of unknown type " + std::to_string(type));
  m->type = static_cast<MsgType>(type);
  m->reject = reject != 0;
  return Status::Ok();
}

Status CheckEntries(const Message& m) {
  uint64_t expect = m.index + 1;
  for (const Entry& e : m.entries) {
    if (m.type == MsgType::kAppend && (e.index != expect || e.term > m.term || e.term == 0))
      return Status::Corruption("append carries entries out of order or from a future term");
    ++expect;
  }
  return Status::Ok();
}

// A frame of Raft messages only (field 2), decoded by hand; false (with
// nothing decoded) when the frame holds anything else: protobuf reads it.
bool OnlyMessages(std::string_view body) {
  WireReader r(body);
  while (!r.done()) {
    uint32_t field = 0, wire = 0;
    if (!r.Tag(&field, &wire) || field != 2 || wire != kWireBytes || !r.Skip(wire)) return false;
  }
  return true;
}

}  // namespace

Status DecodeFrame(std::string_view body, DecodedFrame* out) {
  if (OnlyMessages(body)) {
    WireReader r(body);
    while (!r.done()) {
      uint32_t field = 0, wire = 0;
      std::string_view sub;
      r.Tag(&field, &wire);
      r.Bytes(&sub);
      Message& m = out->messages.emplace_back();
      RKV_RETURN_IF_ERROR(DecodeMessageWire(sub, &m));
      RKV_RETURN_IF_ERROR(CheckEntries(m));
    }
    return Status::Ok();
  }
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
