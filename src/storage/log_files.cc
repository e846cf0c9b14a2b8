#include "storage/log_files.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "core/crc32c.h"
#include "core/encoding.h"

namespace rkv {

namespace {
constexpr size_t kRecordHeader = 8;  // crc32c, length
constexpr std::string_view kSuffix = ".rkvlog";
constexpr std::string_view kSpareSuffix = ".rkvspare";
constexpr size_t kSparesMax = 2;
constexpr std::string_view kMagic = "RKVLOG01";
constexpr size_t kHeaderBytes = 16;  // magic, nonce
constexpr uint64_t kBlock = 4096;    // what O_DIRECT writes align to

// A record's checksum starts from its segment's random nonce, so the records
// a reused file held before fail it: they end the segment like zeros do.
uint32_t SeedOf(const char* nonce) { return Crc32c(std::string_view(nonce, 8)); }

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const char* p, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

// Writes zeros over [from, to) and syncs them, a megabyte at a time: 64 MB
// handed to the disk at once would queue every other sync behind it.
Status ZeroFill(int fd, uint64_t from, uint64_t to, const std::string& path) {
  static const std::string kZeros(1 << 20, '\0');
  for (uint64_t at = from; at < to;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), to - at));
    RKV_RETURN_IF_ERROR(WriteAll(fd, kZeros.data(), n, at, path));
    ::sync_file_range(
        fd, static_cast<off_t>(at), static_cast<off_t>(n),
        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    at += n;
  }
  if (::fdatasync(fd) != 0) return Errno("cannot sync", path);
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync", dir);
  return Status::Ok();
}

// A segment's id from its file name (16 hex digits and the suffix).
bool ParseSegmentName(std::string_view name, uint64_t* id) {
  if (name.size() != 16 + kSuffix.size() || name.substr(16) != kSuffix) return false;
  uint64_t v = 0;
  for (char c : name.substr(0, 16)) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

class VectorIterator final : public Iterator {
 public:
  VectorIterator(std::vector<std::pair<std::string, std::string>> items, Status status)
      : items_(std::move(items)), status_(std::move(status)) {}
  void Seek(std::string_view key) override {
    at_ = static_cast<size_t>(
        std::lower_bound(items_.begin(), items_.end(), key,
                         [](const auto& item, std::string_view k) { return item.first < k; }) -
        items_.begin());
  }
  void SeekToFirst() override { at_ = 0; }
  bool Valid() const override { return at_ < items_.size(); }
  void Next() override { ++at_; }
  std::string_view key() const override { return items_[at_].first; }
  std::string_view value() const override { return items_[at_].second; }
  Status status() const override { return status_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
  Status status_;
  size_t at_ = 0;
};
}  // namespace

LogFiles::LogFiles(std::string dir, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

LogFiles::~LogFiles() {
  if (preparer_.joinable()) {
    {
      std::lock_guard lock(prep_mu_);
      prep_stop_ = true;
    }
    prep_cv_.notify_all();
    preparer_.join();
  }
  for (auto& [id, s] : segments_)
    if (s.fd >= 0) ::close(s.fd);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

void LogFiles::FreeAligned::operator()(char* p) const { std::free(p); }

std::string LogFiles::SegmentPath(uint64_t id) const {
  std::string be;
  PutFixed64BE(&be, id);
  return dir_ + "/" + ToHex(be) + std::string(kSuffix);
}

Result<std::unique_ptr<LogFiles>> LogFiles::Open(const std::string& dir, uint64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  std::unique_ptr<LogFiles> log(new LogFiles(dir, segment_bytes));
  std::vector<uint64_t> ids;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    uint64_t id = 0;
    const std::string name = entry.path().filename().string();
    if (ParseSegmentName(name, &id)) ids.push_back(id);
    if (name.size() > kSpareSuffix.size() &&
        name.compare(name.size() - kSpareSuffix.size(), kSpareSuffix.size(), kSpareSuffix) == 0) {
      log->spares_.push_back(entry.path().string());
      std::error_code size_error;
      const uint64_t size = entry.file_size(size_error);
      if (!size_error) log->spare_bytes_ += size;
    }
    std::error_code ignored;  // a segment being prepared at a crash: prepared again
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
      std::filesystem::remove(entry.path(), ignored);
  }
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    Segment s;
    s.id = id;
    std::string path = log->SegmentPath(id);
    s.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd < 0) return Errno("cannot open", path);
    Segment& placed = log->segments_[id] = s;
    RKV_RETURN_IF_ERROR(log->Replay(&placed));
  }
  // Writing goes on in the last segment, after zeroing what follows its last
  // whole record: after a power failure that may hold records written after
  // ones that were lost, which a later replay must not find.
  if (!log->segments_.empty() && log->segments_.rbegin()->second.end < segment_bytes) {
    Segment& last = log->segments_.rbegin()->second;
    RKV_RETURN_IF_ERROR(ZeroFill(last.fd, last.end, std::max(last.file_bytes, segment_bytes),
                                 log->SegmentPath(last.id)));
    last.file_bytes = std::max(last.file_bytes, segment_bytes);
    if (last.end == 0) RKV_RETURN_IF_ERROR(log->WriteHeader(&last));
  } else {
    RKV_RETURN_IF_ERROR(
        log->NewSegment(log->segments_.empty() ? 1 : log->segments_.rbegin()->first + 1));
  }
  RKV_RETURN_IF_ERROR(log->DropDeadSegments());
  log->preparer_ = std::thread([l = log.get()] { l->Prepare(); });
  if (log->spares_.empty()) log->PrepareNext(log->segments_.rbegin()->first + 1);
  return log;
}

Status LogFiles::Replay(Segment* s) {
  const std::string path = SegmentPath(s->id);
  struct stat st;
  if (::fstat(s->fd, &st) != 0) return Errno("cannot stat", path);
  s->file_bytes = static_cast<uint64_t>(st.st_size);
  std::string data(s->file_bytes, '\0');
  for (uint64_t at = 0; at < data.size();) {
    ssize_t r = ::pread(s->fd, data.data() + at, data.size() - at, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("cannot read", path);
    if (r == 0) {
      data.resize(at);
      break;
    }
    at += static_cast<uint64_t>(r);
  }
  // Records seen here are acted on (acknowledged to a leader): durable first.
  if (::fdatasync(s->fd) != 0) return Errno("cannot sync", path);
  s->end = 0;  // no header (a crash while the segment was made): no records
  if (data.size() < kHeaderBytes || std::string_view(data.data(), kMagic.size()) != kMagic)
    return Status::Ok();
  s->seed = SeedOf(data.data() + kMagic.size());
  const uint32_t seed = s->seed;
  uint64_t at = kHeaderBytes;
  while (data.size() - at >= kRecordHeader) {
    const uint32_t crc = DecodeFixed32BE(data.data() + at);
    const uint32_t length = DecodeFixed32BE(data.data() + at + 4);
    // Zeros (never written) or a record cut short or damaged: the end of
    // what this segment holds.
    if (length == 0 || length > data.size() - at - kRecordHeader) break;
    if (Crc32c(std::string_view(data.data() + at + 4, 4 + length), seed) != crc) break;
    std::string_view body(data.data() + at + kRecordHeader, length);
    WriteOp op;
    const uint8_t kind = static_cast<uint8_t>(body[0]);
    body.remove_prefix(1);
    if (kind > static_cast<uint8_t>(WriteOp::Kind::kDeleteRange) ||
        !GetLengthPrefixed(&body, &op.key) || !GetLengthPrefixed(&body, &op.value) || !body.empty())
      return Status::Corruption("log record at " + std::to_string(at) + " of " + path +
                                " has a valid checksum but cannot be decoded");
    op.kind = static_cast<WriteOp::Kind>(kind);
    op.cf = Cf::kLog;
    const uint64_t value_offset = static_cast<uint64_t>(op.value.data() - data.data());
    Apply(op, s->id, value_offset);
    at += kRecordHeader + length;
  }
  s->end = at;
  return Status::Ok();
}

Status LogFiles::NewSegment(uint64_t id) {
  const std::string path = SegmentPath(id);
  bool prepared = false;
  {
    std::unique_lock lock(prep_mu_);
    // Being prepared and no spare: waiting is shorter than writing it here.
    if (spares_.empty())
      prep_cv_.wait(lock, [&] { return prep_want_ != id || prep_ready_ == id || prep_stop_; });
    if (prep_ready_ == id) {
      if (::rename((path + ".tmp").c_str(), path.c_str()) != 0)
        return Errno("cannot rename", path + ".tmp");
      prepared = true;
    } else if (prep_want_ == id) {
      prep_want_ = 0;  // a spare will do: the preparer drops what it writes
    }
  }
  if (!prepared && !spares_.empty()) {
    // A dead segment's file, written full already: its old records fail the
    // new id's checksums.
    struct stat st {};
    const uint64_t spare_size = ::stat(spares_.back().c_str(), &st) == 0 ? st.st_size : 0;
    if (::rename(spares_.back().c_str(), path.c_str()) != 0)
      return Errno("cannot rename", spares_.back());
    spares_.pop_back();
    spare_bytes_ -= std::min<uint64_t>(spare_bytes_, spare_size);
    prepared = true;
  }
  Segment s;
  s.id = id;
  s.fd = ::open(path.c_str(),
                prepared ? (O_RDWR | O_CLOEXEC) : (O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC), 0644);
  if (s.fd < 0) return Errno(prepared ? "cannot open" : "cannot create", path);
  if (!prepared) {
    Status z = ZeroFill(s.fd, 0, segment_bytes_, path);
    if (!z.ok()) {
      ::close(s.fd);
      return z;
    }
  }
  s.file_bytes = segment_bytes_;
  Status hs = WriteHeader(&s);
  if (!hs.ok()) {
    ::close(s.fd);
    return hs;
  }
  // The new file's name must be durable before records synced into it count.
  Status ds = SyncDir(dir_);
  if (!ds.ok()) {
    ::close(s.fd);
    return ds;
  }
  {
    std::lock_guard lock(mu_);
    segments_[id] = s;
  }
  // The next segment, unless a spare will do.
  if (preparer_.joinable() && spares_.empty()) PrepareNext(id + 1);
  return Status::Ok();
}

// A fresh random nonce, synced: records written from here on check against it.
Status LogFiles::WriteHeader(Segment* s) {
  std::random_device random;
  const uint64_t nonce = (static_cast<uint64_t>(random()) << 32) ^ random();
  char header[kHeaderBytes];
  std::memcpy(header, kMagic.data(), kMagic.size());
  std::memcpy(header + kMagic.size(), &nonce, 8);
  const std::string path = SegmentPath(s->id);
  RKV_RETURN_IF_ERROR(WriteAll(s->fd, header, kHeaderBytes, 0, path));
  if (::fdatasync(s->fd) != 0) return Errno("cannot sync", path);
  s->seed = SeedOf(header + kMagic.size());
  s->end = kHeaderBytes;
  return Status::Ok();
}

void LogFiles::PrepareNext(uint64_t id) {
  {
    std::lock_guard lock(prep_mu_);
    prep_want_ = id;
  }
  prep_cv_.notify_all();
}

void LogFiles::Prepare() {
  pthread_setname_np(pthread_self(), "rkv-log-prep");
  std::unique_lock lock(prep_mu_);
  for (;;) {
    prep_cv_.wait(lock,
                  [&] { return prep_stop_ || (prep_want_ != 0 && prep_ready_ != prep_want_); });
    if (prep_stop_) return;
    const uint64_t id = prep_want_;
    lock.unlock();
    const std::string tmp = SegmentPath(id) + ".tmp";
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && ZeroFill(fd, 0, segment_bytes_, tmp).ok();
    if (fd >= 0) ::close(fd);
    lock.lock();
    if (ok && prep_want_ == id) {
      prep_ready_ = id;
    } else {
      // Not wanted any more (a spare was used), or failed: the writer then
      // creates the segment itself, and reports why if it cannot either.
      ::unlink(tmp.c_str());
      if (prep_want_ == id) prep_want_ = 0;
    }
    prep_cv_.notify_all();
  }
}

void LogFiles::Unref(const Location& at) {
  auto it = segments_.find(at.segment);
  if (it != segments_.end() && it->second.live > 0) --it->second.live;
}

void LogFiles::Apply(const WriteOp& op, uint64_t segment, uint64_t value_offset) {
  switch (op.kind) {
    case WriteOp::Kind::kPut: {
      Location loc{segment, value_offset, static_cast<uint32_t>(op.value.size())};
      auto it = index_.find(op.key);
      if (it != index_.end()) {
        Unref(it->second);
        it->second = loc;
      } else {
        index_.emplace(std::string(op.key), loc);
      }
      ++segments_[segment].live;
      break;
    }
    case WriteOp::Kind::kDelete: {
      auto it = index_.find(op.key);
      if (it != index_.end()) {
        Unref(it->second);
        index_.erase(it);
      }
      break;
    }
    case WriteOp::Kind::kDeleteRange: {
      auto it = index_.lower_bound(op.key);
      while (it != index_.end() && it->first < op.value) {
        Unref(it->second);
        it = index_.erase(it);
      }
      break;
    }
  }
}

Status LogFiles::DropDeadSegments() {
  // Oldest first: a segment's deletes may cover records of older segments,
  // which must be gone before those deletes are.
  bool changed = false;
  while (segments_.size() > 1 && segments_.begin()->second.live == 0) {
    Segment& s = segments_.begin()->second;
    ::close(s.fd);
    const std::string path = SegmentPath(s.id);
    // Kept for reuse: a written file needs no zeroing (see the header).
    const std::string spare =
        path.substr(0, path.size() - kSuffix.size()) + std::string(kSpareSuffix);
    if (spares_.size() >= kSparesMax || ::rename(path.c_str(), spare.c_str()) != 0) {
      ::unlink(path.c_str());
    } else {
      spares_.push_back(spare);
      spare_bytes_ += s.file_bytes;
    }
    segments_.erase(segments_.begin());
    changed = true;
  }
  // Durable in order: a segment that came back while a newer one holding its
  // deletes stayed gone would bring deleted records back.
  return changed ? SyncDir(dir_) : Status::Ok();
}

Status LogFiles::Append(const std::vector<WriteOp>& ops, bool sync) {
  if (ops.empty()) return Status::Ok();
  buf_.clear();
  starts_.clear();
  value_at_.clear();  // each op's value, from the start of buf_
  for (const WriteOp& op : ops) {
    const size_t start = buf_.size();
    starts_.push_back(start);
    buf_.resize(start + kRecordHeader);
    buf_.push_back(static_cast<char>(op.kind));
    PutLengthPrefixed(&buf_, op.key);
    PutVarint64(&buf_, op.value.size());
    value_at_.push_back(buf_.size());
    buf_.append(op.value);
    EncodeFixed32BE(buf_.data() + start + 4,
                    static_cast<uint32_t>(buf_.size() - start - kRecordHeader));
  }
  uint64_t id = segments_.rbegin()->first;
  if (segments_.rbegin()->second.end > kHeaderBytes &&
      segments_.rbegin()->second.end + buf_.size() > segment_bytes_) {
    RKV_RETURN_IF_ERROR(Sync());  // only the last segment may hold unsynced appends
    CloseDirect();                // the old segment is written no more
    RKV_RETURN_IF_ERROR(NewSegment(id + 1));
    ++id;
  }
  Segment& seg = segments_[id];
  for (size_t i = 0; i < starts_.size(); ++i) {
    const size_t start = starts_[i];
    const size_t end = i + 1 < starts_.size() ? starts_[i + 1] : buf_.size();
    EncodeFixed32BE(buf_.data() + start,
                    Crc32c(std::string_view(buf_.data() + start + 4, end - start - 4), seg.seed));
  }
  const uint64_t base = seg.end;
  bool direct = false;
  // Appends not yet synced are made durable by an fdatasync, not by a direct write.
  if (sync && !unsynced_) RKV_RETURN_IF_ERROR(AppendDirect(seg, base, &direct));
  if (!direct) {
    tail_known_ = false;
    RKV_RETURN_IF_ERROR(WriteAll(seg.fd, buf_.data(), buf_.size(), base, SegmentPath(id)));
    if (sync && ::fdatasync(seg.fd) != 0) return Errno("cannot sync", SegmentPath(id));
    unsynced_ = !sync;
  }
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ops.size(); ++i) Apply(ops[i], id, base + value_at_[i]);
  seg.end = base + buf_.size();
  seg.file_bytes = std::max(seg.file_bytes, seg.end);
  return DropDeadSegments();
}

void LogFiles::CloseDirect() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  direct_fd_ = -1;
  direct_segment_ = 0;
  tail_known_ = false;
}

Status LogFiles::AppendDirect(const Segment& seg, uint64_t base, bool* done) {
  *done = false;
  if (direct_unsupported_) return Status::Ok();
  if (direct_segment_ != seg.id) {
    CloseDirect();
    const int fd = ::open(SegmentPath(seg.id).c_str(), O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
    // Refused (tmpfs before Linux 6.6, for one): for good. Anything else (out of descriptors):
    // the page cache this time, the next append tries again.
    if (fd < 0) {
      direct_unsupported_ = errno == EINVAL;
      return Status::Ok();
    }
    direct_fd_ = fd;
    direct_segment_ = seg.id;
  }
  const uint64_t block_start = base & ~(kBlock - 1);
  if (!tail_known_) {
    tail_.resize(static_cast<size_t>(base - block_start));
    for (size_t at = 0; at < tail_.size();) {
      ssize_t r = ::pread(seg.fd, tail_.data() + at, tail_.size() - at,
                          static_cast<off_t>(block_start + at));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Errno("cannot read", SegmentPath(seg.id));
      if (r == 0)
        return Status::IoError("cannot read " + SegmentPath(seg.id) +
                               ": it ends before its records");
      at += static_cast<size_t>(r);
    }
    tail_known_ = true;
  }
  const size_t head = tail_.size();
  const size_t used = head + buf_.size();
  const size_t padded = static_cast<size_t>((used + kBlock - 1) & ~(kBlock - 1));
  // Never past the file's end (a segment size that is no multiple of a block):
  // that would change its size, which a sync must then journal.
  if (block_start + padded > seg.file_bytes) return Status::Ok();
  // The buffer fits the largest append lately: a one-off large one (moving an
  // old log out of RocksDB) does not keep its size for good.
  constexpr size_t kGrain = 64 << 10;
  if (padded > block_cap_ || (block_cap_ > 16 * kGrain && padded < block_cap_ / 4)) {
    const size_t cap = (padded + kGrain - 1) / kGrain * kGrain;
    std::unique_ptr<char, FreeAligned> fresh(static_cast<char*>(std::aligned_alloc(kBlock, cap)));
    if (!fresh) return Status::Ok();  // the page cache this time
    block_buf_ = std::move(fresh);
    block_cap_ = cap;
  }
  char* block = block_buf_.get();
  std::memcpy(block, tail_.data(), head);
  std::memcpy(block + head, buf_.data(), buf_.size());
  // Past the records: zeros, which end a segment (the file holds zeros there,
  // or a reused file's old records, which fail the new nonce's checksums).
  std::memset(block + used, 0, padded - used);
  for (size_t at = 0; at < padded;) {
    ssize_t w = ::pwrite(direct_fd_, block + at, padded - at, static_cast<off_t>(block_start + at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && at == 0) {
      direct_unsupported_ = true;  // O_DIRECT accepted at open, not at write
      CloseDirect();
      return Status::Ok();
    }
    if (w < 0) return Errno("cannot write", SegmentPath(seg.id));
    if (w == 0) return Status::IoError("cannot write " + SegmentPath(seg.id) + ": no progress");
    at += static_cast<size_t>(w);
  }
  const uint64_t end = base + buf_.size();
  const size_t keep_from = static_cast<size_t>((end & ~(kBlock - 1)) - block_start);
  tail_.assign(block + keep_from, used - keep_from);
  *done = true;
  return Status::Ok();
}

Status LogFiles::Sync() {
  if (!unsynced_) return Status::Ok();
  const Segment& last = segments_.rbegin()->second;
  if (::fdatasync(last.fd) != 0) return Errno("cannot sync", SegmentPath(last.id));
  unsynced_ = false;
  return Status::Ok();
}

Status LogFiles::ReadValue(const Location& at, std::string* value) const {
  auto it = segments_.find(at.segment);
  if (it == segments_.end())
    return Status::Corruption("log segment " + std::to_string(at.segment) + " is gone");
  value->resize(at.size);
  for (size_t done = 0; done < at.size;) {
    ssize_t r = ::pread(it->second.fd, value->data() + done, at.size - done,
                        static_cast<off_t>(at.offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Errno("cannot read", SegmentPath(at.segment));
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status LogFiles::Get(std::string_view key, std::string* value) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return Status::NotFound("key not found");
  return ReadValue(it->second, value);
}

std::unique_ptr<Iterator> LogFiles::NewIterator() {
  std::vector<std::pair<std::string, std::string>> items;
  std::lock_guard lock(mu_);
  items.reserve(index_.size());
  for (const auto& [key, at] : index_) {
    std::string value;
    Status s = ReadValue(at, &value);
    if (!s.ok()) return std::make_unique<VectorIterator>(decltype(items){}, std::move(s));
    items.emplace_back(key, std::move(value));
  }
  return std::make_unique<VectorIterator>(std::move(items), Status::Ok());
}

uint64_t LogFiles::Bytes() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const auto& [id, s] : segments_) total += s.file_bytes;
  return total + spare_bytes_;
}

size_t LogFiles::segments() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

}  // namespace rkv
