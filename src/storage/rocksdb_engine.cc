// The RocksDB engine: one database per node, one column family per Cf.
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <mutex>

#include "core/status.h"
#include "storage/engine.h"
#include "storage/log_files.h"
#include "storage/sorted_memtable.h"

namespace rkv {

namespace {

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  return Status::IoError(s.ToString());
}

class RocksIterator final : public Iterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  void Seek(std::string_view key) override { it_->Seek(ToSlice(key)); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  std::string_view key() const override {
    auto k = it_->key();
    return {k.data(), k.size()};
  }
  std::string_view value() const override {
    auto v = it_->value();
    return {v.data(), v.size()};
  }
  Status status() const override { return FromRocks(it_->status()); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Preallocates the write-ahead log with its file size extended. RocksDB's
// default keeps the size (FALLOC_FL_KEEP_SIZE), so every fdatasync of the
// growing log also journals the new size: on this machine an appending
// fdatasync takes 192 us p50, one inside a preallocated file 126 us
// (docs/PERFORMANCE.md). A crash leaves a zeroed tail, which RocksDB's log
// reader takes for the end of a preallocated file (kZeroType records); a clean
// close trims it.
class PreallocatedWalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  using rocksdb::FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "PreallocatedWalFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".log") != 0)
      return target()->NewWritableFile(name, options, file, dbg);
    rocksdb::FileOptions wal = options;
    wal.fallocate_with_keep_size = false;
    return target()->NewWritableFile(name, wal, file, dbg);
  }
};

// What the log can reproduce: the applied state and its position. Written
// with the log records that produce them, they need no sync of their own.
bool DerivedFromLog(const WriteOp& op) {
  return op.cf == Cf::kData ||
         (op.cf == Cf::kMeta && (op.key == kMetaAppliedKey || op.key == kMetaMembershipKey));
}

// Written on every write, read rarely and in ranges (see Open).
bool UsesSortedMemTable(Cf cf) { return cf == Cf::kLog || cf == Cf::kData || cf == Cf::kUndo; }

class RocksDbEngine final : public Engine {
 public:
  ~RocksDbEngine() override {
    // Stopped while RocksDB's lock still keeps another instance out: its
    // thread may be preparing a segment file in the directory.
    log_files_.reset();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    if (db_) db_->Close().PermitUncheckedError();
  }

  Status Open(const EngineOptions& o) {
    std::error_code ec;
    std::filesystem::create_directories(o.dir, ec);
    if (ec) return Status::IoError("cannot create " + o.dir + ": " + ec.message());

    rocksdb::Options options;
    env_ = rocksdb::NewCompositeEnv(
        std::make_shared<PreallocatedWalFileSystem>(rocksdb::FileSystem::Default()));
    options.env = env_.get();
    // Flushes and compactions yield the CPU to the event loop and the storage
    // thread: replicas share few cores, and a flush at normal priority showed
    // up as 30-40 ms spikes in follower lag (PERFORMANCE.md). Not their I/O
    // priority: RocksDB's is the idle class, which a busy disk can starve for
    // tens of seconds — a killed node then held its lock file that long (its
    // threads stuck in I/O), and a flush that never ends stalls every write.
    for (auto pool : {rocksdb::Env::Priority::HIGH, rocksdb::Env::Priority::LOW})
      env_->LowerThreadPoolCPUPriority(pool, rocksdb::CpuPriority::kLow).PermitUncheckedError();
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.max_background_jobs = 2;
    options.bytes_per_sync = 1 << 20;
    // The applied state's writes reach RocksDB's write-ahead log unsynced (the
    // log files are the sync point). Left to the kernel, its dirty pages went
    // out in bursts that the next log sync queued behind: follower lag p99
    // 21-41 ms under a pipelined load of new keys, 15-21 ms with the log
    // started out every megabyte (PERFORMANCE.md); throughput unchanged.
    options.wal_bytes_per_sync = 1 << 20;
    // The write-ahead log is the only sync point: group commit syncs it once
    // for every batch that arrived while the previous sync ran.
    options.manual_wal_flush = false;
    // A write-ahead log file is deleted only once every family with writes in
    // it has flushed. The meta family takes a few small writes and would not
    // fill its memtable for days, so every log file since its last flush was
    // kept: 10 files and 337 MB per node after a 6 s pipelined load, up to
    // RocksDB's default bound of 4x all write buffers (3.5 GB here), all of it
    // replayed by a restart. Past this size RocksDB flushes the families
    // holding the oldest file.
    options.max_total_wal_size = 4 * o.write_buffer_bytes;
    options.avoid_unnecessary_blocking_io = true;
    // One storage thread writes (group commit); the vector memtables below
    // require this off.
    options.allow_concurrent_memtable_write = false;

    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(o.block_cache_bytes);
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.write_buffer_size = o.write_buffer_bytes;
    // Room for three full memtables waiting for a flush before RocksDB stops
    // writes (its default, 2, allows one). Flush threads run at low priority
    // (below), so on a saturated machine a 32 MB flush took 1.3-1.7 s of wall
    // time for 0.28 s of CPU; with one spare memtable a pipelined 1M-key load
    // hit "Stopping writes" and a follower's synced write waited 90-300 ms
    // (its lag p99 150-580 ms). More immutable memtables cost memory only
    // while a flush is behind.
    cf_options.max_write_buffer_number = 4;
    // No bloom filters but for the meta family, the only one read by key
    // while running (the applied state is served from memory, the log is
    // read by range): building them was CPU spent on every flush.
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    rocksdb::BlockBasedTableOptions meta_table = table;
    meta_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
    for (int i = 0; i < kCfCount; ++i) {
      Cf cf = static_cast<Cf>(i);
      rocksdb::ColumnFamilyOptions opts = cf_options;
      if (cf == Cf::kMeta) opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(meta_table));
      if (UsesSortedMemTable(cf)) {
        // Written on every write and read only when the node starts, for a
        // snapshot or for a rollback: the core keeps the log in memory, the
        // applied state lives in KeyIndex. An unsorted vector memtable makes
        // an insert an append and sorts once, at flush (or for such a rare
        // reader). With the default skiplist, callgrind put a third of a
        // follower's instructions in skiplist inserts (~7k instructions per
        // insert). The skiplist's insert hints were tried first: Debian's
        // RocksDB 7.8 fails an assertion in InlineSkipList::Insert
        // (recompute_height <= max_height) under our write pattern. RocksDB's
        // own vector memtable then spent 18% of all CPU sorting at flush, a
        // cache miss per comparison; ours sorts on a key prefix held in the
        // vector (storage/sorted_memtable.h). The meta family keeps the
        // skiplist: it is small and read while running.
        opts.memtable_factory = NewSortedMemTableFactory();
      }
      cfs.emplace_back(std::string(CfName(cf)), opts);
    }

    options_ = options;
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::Status s = rocksdb::DB::Open(options, o.dir + "/db", cfs, &handles, &db);
    if (!s.ok()) return Status::IoError("cannot open RocksDB in " + o.dir + ": " + s.ToString());
    db_.reset(db);
    handles_ = std::move(handles);
    if (o.log_in_rocksdb) return Status::Ok();
    auto log = LogFiles::Open(o.dir + "/log", o.log_segment_bytes);
    if (!log.ok()) return log.status();
    log_files_ = std::move(*log);
    return MoveLogOutOfRocksDb();
  }

  // A data directory written before the log had files of its own holds it in
  // the log column family: copied into the files, synced, then deleted. A
  // crash in between copies it again.
  Status MoveLogOutOfRocksDb() {
    std::vector<std::pair<std::string, std::string>> records;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), Handle(Cf::kLog)));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      records.emplace_back(it->key().ToString(), it->value().ToString());
    RKV_RETURN_IF_ERROR(FromRocks(it->status()));
    if (records.empty()) return Status::Ok();
    std::vector<WriteOp> ops;
    for (const auto& [k, v] : records) ops.push_back({WriteOp::Kind::kPut, Cf::kLog, k, v});
    RKV_RETURN_IF_ERROR(log_files_->Append(ops, true));
    rocksdb::WriteBatch wb;
    RKV_RETURN_IF_ERROR(FromRocks(wb.DeleteRange(Handle(Cf::kLog), "", std::string(64, '\xff'))));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Write(wo, &wb));
  }

  // The log family goes to its files, the rest to RocksDB. Nothing a batch
  // writes is acted on before Write returns (a vote or an append is
  // acknowledged after), so a process crash between the two writes loses
  // nothing acknowledged. What matters is a power failure, which keeps what
  // was synced, and the order between the two stores:
  // - appends with only the state they produce (DerivedFromLog): the log
  //   first, and only its sync is needed; lost state is written again from
  //   the log at the next start.
  // - appends with anything else (the term and vote they belong to, a
  //   rollback count): RocksDB first, then the log, each synced when asked,
  //   so no log holds entries of a term its node has no record of.
  // - deletes of log records (compaction, a truncated suffix, a wipe):
  //   RocksDB first and synced — which makes every earlier state write
  //   durable — then the deletes, synced: the log never loses a record whose
  //   state could still be lost.
  Status Write(const WriteBatch& batch, bool sync) override {
    rocksdb::WriteBatch wb;
    std::lock_guard lock(write_mu_);  // one writer of the log files at a time
    std::vector<WriteOp>& log_ops = log_ops_;
    log_ops.clear();
    bool log_deletes = false;
    bool needs_own_sync = false;
    WriteOp op;
    for (size_t at = 0; batch.Next(&at, &op);) {
      if (log_files_ && op.cf == Cf::kLog) {
        log_deletes = log_deletes || op.kind != WriteOp::Kind::kPut;
        log_ops.push_back(op);
        continue;
      }
      needs_own_sync = needs_own_sync || !DerivedFromLog(op);
      rocksdb::ColumnFamilyHandle* cf = Handle(op.cf);
      rocksdb::Status s;
      switch (op.kind) {
        case WriteOp::Kind::kPut:
          s = wb.Put(cf, ToSlice(op.key), ToSlice(op.value));
          break;
        case WriteOp::Kind::kDelete:
          s = wb.Delete(cf, ToSlice(op.key));
          break;
        case WriteOp::Kind::kDeleteRange:
          s = wb.DeleteRange(cf, ToSlice(op.key), ToSlice(op.value));
          break;
      }
      if (!s.ok()) return FromRocks(s);
    }
    if (log_ops.empty()) {
      // A sync makes every earlier write durable, the log's too.
      if (sync && log_files_) RKV_RETURN_IF_ERROR(log_files_->Sync());
      return WriteRocks(&wb, sync);
    }
    if (log_deletes || needs_own_sync) {
      const bool sync_both = sync || log_deletes;
      if (wb.Count() > 0) {
        RKV_RETURN_IF_ERROR(WriteRocks(&wb, sync_both));
      } else if (sync_both) {
        RKV_RETURN_IF_ERROR(FromRocks(db_->SyncWAL()));
      }
      return log_files_->Append(log_ops, sync_both);
    }
    RKV_RETURN_IF_ERROR(log_files_->Append(log_ops, sync));
    if (wb.Count() == 0) return Status::Ok();
    return WriteRocks(&wb, false);
  }

  Status WriteRocks(rocksdb::WriteBatch* wb, bool sync) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocks(db_->Write(wo, wb));
  }

  Status Get(Cf cf, std::string_view key, std::string* value) override {
    if (log_files_ && cf == Cf::kLog) return log_files_->Get(key, value);
    if (UsesSortedMemTable(cf)) {
      // No point lookups in that memtable (storage/sorted_memtable.h): a seek.
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
      it->Seek(ToSlice(key));
      if (!it->status().ok()) return FromRocks(it->status());
      if (!it->Valid() || it->key() != ToSlice(key)) return Status::NotFound("key not found");
      value->assign(it->value().data(), it->value().size());
      return Status::Ok();
    }
    rocksdb::PinnableSlice pinned;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(cf), ToSlice(key), &pinned);
    if (!s.ok()) return FromRocks(s);
    value->assign(pinned.data(), pinned.size());
    return Status::Ok();
  }

  std::unique_ptr<Iterator> NewIterator(Cf cf) override {
    if (log_files_ && cf == Cf::kLog) return log_files_->NewIterator();
    return std::make_unique<RocksIterator>(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
  }

  uint64_t ApproximateBytes() override {
    uint64_t total = log_files_ ? log_files_->Bytes() : 0;
    for (int i = 0; i < kCfCount; ++i) {
      uint64_t v = 0;
      if (db_->GetIntProperty(handles_[i + 1], rocksdb::DB::Properties::kTotalSstFilesSize, &v))
        total += v;
      if (db_->GetIntProperty(handles_[i + 1], rocksdb::DB::Properties::kCurSizeAllMemTables, &v))
        total += v;
    }
    return total;
  }

  std::string_view name() const override { return "rocksdb"; }

  std::shared_ptr<const void> PinSnapshot() override {
    rocksdb::DB* db = db_.get();
    const rocksdb::Snapshot* snap = db->GetSnapshot();
    // Released when the last user drops the pin (the engine outlives it).
    return std::shared_ptr<const void>(snap, [db](const void* s) {
      db->ReleaseSnapshot(static_cast<const rocksdb::Snapshot*>(s));
    });
  }

  Result<SnapshotImage> ExportSnapshot(const std::shared_ptr<const void>& pin,
                                       const std::vector<std::string>& meta_keys,
                                       const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
    rocksdb::ReadOptions ro;
    ro.snapshot = static_cast<const rocksdb::Snapshot*>(pin.get());
    ro.fill_cache = false;
    SnapshotImage image;
    for (const std::string& k : meta_keys) {
      std::string v;
      rocksdb::Status s = db_->Get(ro, Handle(Cf::kMeta), k, &v);
      if (s.ok())
        image.meta.emplace_back(k, std::move(v));
      else if (!s.IsNotFound())
        return FromRocks(s);
    }
    // The data column family as SST files of at most ~64 MB each.
    constexpr uint64_t kFileBytesMax = 64ULL << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, Handle(Cf::kData)));
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    uint64_t in_file = 0;
    auto finish = [&]() -> Status {
      if (!writer) return Status::Ok();
      rocksdb::ExternalSstFileInfo info;
      rocksdb::Status s = writer->Finish(&info);
      writer.reset();
      if (!s.ok()) return FromRocks(s);
      image.bytes += info.file_size;
      return Status::Ok();
    };
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!writer) {
        writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options_);
        std::string path = dir + "/data-" + std::to_string(image.files.size()) + ".sst";
        rocksdb::Status s = writer->Open(path);
        if (!s.ok()) return FromRocks(s);
        image.files.push_back(path);
        in_file = 0;
      }
      rocksdb::Status s = writer->Put(it->key(), it->value());
      if (!s.ok()) return FromRocks(s);
      in_file += it->key().size() + it->value().size();
      if (in_file >= kFileBytesMax) RKV_RETURN_IF_ERROR(finish());
    }
    RKV_RETURN_IF_ERROR(FromRocks(it->status()));
    RKV_RETURN_IF_ERROR(finish());
    return image;
  }

  Status ImportSnapshot(const SnapshotImage& image) override {
    rocksdb::WriteBatch wb;
    std::string lo, hi(64, '\xff');
    for (Cf cf : {Cf::kData, Cf::kLog, Cf::kUndo})
      RKV_RETURN_IF_ERROR(FromRocks(wb.DeleteRange(Handle(cf), lo, hi)));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RKV_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb)));
    if (log_files_) {
      std::lock_guard lock(write_mu_);
      std::string hi_key(64, '\xff');
      RKV_RETURN_IF_ERROR(
          log_files_->Append({{WriteOp::Kind::kDeleteRange, Cf::kLog, "", hi_key}}, true));
    }
    if (!image.files.empty()) {
      rocksdb::IngestExternalFileOptions io;
      io.move_files = true;
      RKV_RETURN_IF_ERROR(FromRocks(db_->IngestExternalFile(Handle(Cf::kData), image.files, io)));
    }
    rocksdb::WriteBatch meta;
    for (const auto& [k, v] : image.meta)
      RKV_RETURN_IF_ERROR(FromRocks(meta.Put(Handle(Cf::kMeta), k, v)));
    return FromRocks(db_->Write(wo, &meta));
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(Cf cf) { return handles_[static_cast<int>(cf) + 1]; }

  std::unique_ptr<rocksdb::Env> env_;  // outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is "default"
  rocksdb::Options options_;
  std::unique_ptr<LogFiles> log_files_;  // null: the log family is in RocksDB
  std::mutex write_mu_;                  // Write's and the log files' writer
  std::vector<WriteOp> log_ops_;         // under write_mu_, reused
};

}  // namespace

Result<std::unique_ptr<Engine>> OpenRocksDbEngine(const EngineOptions& options) {
  auto engine = std::make_unique<RocksDbEngine>();
  Status s = engine->Open(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace rkv
