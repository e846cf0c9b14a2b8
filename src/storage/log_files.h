// The log column family in files of its own, beside RocksDB (which keeps the
// applied state and the metadata). Every client write used to be written to
// RocksDB twice — as a log record and as its applied value — each time through
// its write-ahead log, memtable and flushes; a log record is written once,
// read only when the node starts, and deleted in index order, which is what a
// segmented append-only file does best (etcd's WAL, Kafka's log). A prototype
// gave quorum SET at 50 clients +10-20% (docs/PERFORMANCE.md).
//
// Files: DIR/NNNNNNNNNNNNNNNN.rkvlog, segments of kSegmentBytes (16 MB: the
// log is compacted at 16 MiB by default, so two or three hold it) written full
// of zeros before use, so that a sync after an append has no file size and no
// unwritten extent to journal (fallocate leaves extents "unwritten": quorum
// SET at 50 clients was 37-39k against 41-44k ops/s zero-filled). Dead
// segments' files are kept (two) and reused, written full already; a thread
// zero-fills the next segment when there is none. Each holds
// a header ["RKVLOG01"][random nonce u64], synced before any record, then
// records [crc32c u32][length u32][body: kind u8, varint key size, key,
// varint value size, value], the CRC over length and body, started from the
// nonce: a record of zeros or a bad CRC ends a segment (a crash's torn or
// unwritten tail, or what a reused file held before — random, so no client
// value can be shaped into a record a later segment would accept). Opening
// syncs and replays every segment in order into an in-memory index, zeroes
// what follows the last segment's last whole record (after a power failure it
// may hold records written after lost ones) and goes on writing there. A
// segment is deleted, or kept as a spare, once every record it holds was
// overwritten or deleted and every older segment is gone (its deletes then no
// longer matter).
//
// Synced appends are written direct, as whole blocks (the members below).
//
// Put, Delete and DeleteRange keep their key-value meaning; the engine
// (rocksdb_engine.cc) orders them against its RocksDB writes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "storage/engine.h"

namespace rkv {

class LogFiles {
 public:
  static constexpr uint64_t kSegmentBytes = 16ULL << 20;

  // Creates DIR if needed and replays what it holds.
  static Result<std::unique_ptr<LogFiles>> Open(const std::string& dir,
                                                uint64_t segment_bytes = kSegmentBytes);
  ~LogFiles();
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;

  // Appends `ops` (all of the log family), in order, as one write; with
  // sync, durable when this returns. One writer at a time (the storage
  // thread); reads may run beside it.
  Status Append(const std::vector<WriteOp>& ops, bool sync);
  // NotFound when absent.
  Status Get(std::string_view key, std::string* value);
  // Every record as of the call, in key order.
  std::unique_ptr<Iterator> NewIterator();
  // Makes every append so far durable (a no-op when it is).
  Status Sync();
  // Bytes of the segment files and of the spares kept for reuse (preallocated
  // space included; not the one file being prepared).
  uint64_t Bytes() const;
  size_t segments() const;

 private:
  struct Segment {
    uint64_t id = 0;
    int fd = -1;
    uint64_t end = 0;   // where the next record goes
    uint64_t live = 0;  // records the index still points at
    uint64_t file_bytes = 0;
    uint32_t seed = 0;  // of its records' checksums, from the header's nonce
  };
  struct Location {
    uint64_t segment = 0;
    uint64_t offset = 0;  // of the value
    uint32_t size = 0;
  };

  LogFiles(std::string dir, uint64_t segment_bytes);
  Status Replay(Segment* s);
  Status NewSegment(uint64_t id);
  Status WriteHeader(Segment* s);
  void Prepare();  // the preparing thread
  void PrepareNext(uint64_t id);
  void Apply(const WriteOp& op, uint64_t segment, uint64_t value_offset);
  void Unref(const Location& at);
  Status DropDeadSegments();
  Status ReadValue(const Location& at, std::string* value) const;
  // Writes buf_ at `base` of the last segment through its direct descriptor:
  // false in *done when that descriptor cannot be had (the caller writes and
  // syncs through the page cache instead).
  Status AppendDirect(const Segment& seg, uint64_t base, bool* done);
  void CloseDirect();
  std::string SegmentPath(uint64_t id) const;

  const std::string dir_;
  const uint64_t segment_bytes_;
  mutable std::mutex mu_;  // index_ and segments_ (the writer holds it to update them)
  std::map<std::string, Location, std::less<>> index_;
  std::map<uint64_t, Segment> segments_;   // by id; the last is written
  std::string buf_;                        // records being appended
  bool unsynced_ = false;                  // the last segment has appends not yet synced
  std::vector<size_t> starts_, value_at_;  // within buf_
  std::vector<std::string> spares_;        // dead segments' files, for reuse
  std::atomic<uint64_t> spare_bytes_{0};   // their sizes, for Bytes() on other threads

  // Synced appends go to the disk as whole 4 KiB blocks through a second
  // descriptor of the last segment, opened O_DIRECT|O_DSYNC: one request
  // with no page cache, where write + fdatasync costs two system calls and
  // the page cache's write-back (measured in docs/PERFORMANCE.md). The
  // block an append starts in is rewritten from tail_, its bytes so far.
  struct FreeAligned {
    void operator()(char* p) const;
  };
  int direct_fd_ = -1;               // of segment direct_segment_
  uint64_t direct_segment_ = 0;      // 0: none open
  bool direct_unsupported_ = false;  // the file system refused O_DIRECT
  std::string tail_;                 // direct_segment_'s bytes from its last block's start to end
  bool tail_known_ = false;          // tail_ holds them (a write through the page cache clears it)
  std::unique_ptr<char, FreeAligned> block_buf_;
  size_t block_cap_ = 0;

  std::mutex prep_mu_;
  std::condition_variable prep_cv_;
  uint64_t prep_want_ = 0;   // the segment id to prepare next (0: none)
  uint64_t prep_ready_ = 0;  // the id whose file is ready, zero-filled
  bool prep_stop_ = false;
  std::thread preparer_;
};

}  // namespace rkv
