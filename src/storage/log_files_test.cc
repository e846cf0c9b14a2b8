// The log's own files (storage/log_files.h): key-value semantics against a
// model across reopens and segment changes, dead segments deleted, torn and
// lost tails, and the RocksDB engine moving an older data directory's log out
// of RocksDB.
#include "storage/log_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "storage/engine.h"
#include "storage/test_dirs.h"

namespace rkv {
namespace {

std::map<std::string, std::string> ReadAll(LogFiles* log) {
  std::map<std::string, std::string> out;
  auto it = log->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[std::string(it->key())] = it->value();
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

std::vector<std::filesystem::path> Segments(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".rkvlog") out.push_back(f.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Key(uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(i));
  return buf;
}

// Appends in index order, deletes from the front (compaction), a truncated
// suffix now and then, across segments of 4 KB and reopens: what comes back
// is the model, and old segments go once nothing in them is live.
TEST(LogFiles, KeepsKeyValueSemanticsAcrossSegmentsAndReopens) {
  std::string dir = TempDir("logfiles-model");
  std::map<std::string, std::string> model;
  uint64_t next = 1, first = 1;
  for (int reopen = 0; reopen < 6; ++reopen) {
    auto log = LogFiles::Open(dir, 4096);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_EQ(ReadAll(log->get()), model) << "after reopen " << reopen;
    for (int round = 0; round < 60; ++round) {
      std::vector<std::string> keys, values;  // the ops' views point here
      std::vector<WriteOp> ops;
      keys.reserve(64);
      values.reserve(64);
      if (round % 17 == 5 && next - first > 4) {  // a conflicting suffix goes
        next -= 3;
        keys.push_back(Key(next));
        values.push_back(Key(UINT32_MAX));
        ops.push_back({WriteOp::Kind::kDeleteRange, Cf::kLog, keys.back(), values.back()});
        model.erase(model.lower_bound(keys.back()), model.end());
      }
      for (int i = 0; i < 5; ++i, ++next) {
        keys.push_back(Key(next));
        values.push_back(std::string(50 + (next * 37) % 300, static_cast<char>('a' + next % 26)));
        ops.push_back({WriteOp::Kind::kPut, Cf::kLog, keys.back(), values.back()});
        model[keys.back()] = values.back();
      }
      if (round % 4 == 3) {  // compaction: point deletes from the front
        for (; first + 20 < next; ++first) {
          keys.push_back(Key(first));
          ops.push_back({WriteOp::Kind::kDelete, Cf::kLog, keys.back(), {}});
          model.erase(keys.back());
        }
      }
      ASSERT_TRUE((*log)->Append(ops, round % 3 == 0).ok());
      std::string v;
      auto probe = model.begin();
      if (probe != model.end()) {
        ASSERT_TRUE((*log)->Get(probe->first, &v).ok());
        EXPECT_EQ(v, probe->second);
      }
      EXPECT_EQ((*log)->Get(Key(first - 1), &v).code(), Code::kNotFound);
    }
    ASSERT_EQ(ReadAll(log->get()), model);
    // About 20 live records (~4 KB): dead segments must not pile up.
    EXPECT_LE((*log)->segments(), 6u) << "dead segments are not deleted";
    // What it reports is what the segments and the spares take on disk (the
    // file being prepared aside).
    uint64_t on_disk = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".rkvlog") || name.ends_with(".rkvspare")) on_disk += entry.file_size();
    }
    EXPECT_EQ((*log)->Bytes(), on_disk) << "after reopen " << reopen;
  }
  RemoveDir(dir);
}

// Synced appends go to the disk as whole 4 KiB blocks, each rewriting the
// block it starts in (log_files.h). Records of every size across block and
// segment boundaries, with unsynced appends between: each reads back at once
// and after a reopen, so no rewrite ever clobbered an earlier record.
TEST(LogFiles, SyncedAppendsRewriteTheirFirstBlockWithoutLosingIt) {
  std::string dir = TempDir("logfiles-blocks");
  std::map<std::string, std::string> model;
  uint64_t next = 1;
  for (int reopen = 0; reopen < 3; ++reopen) {
    auto log = LogFiles::Open(dir, 64 << 10);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_EQ(ReadAll(log->get()), model) << "after reopen " << reopen;
    for (int round = 0; round < 120; ++round) {
      std::vector<std::string> keys, values;
      std::vector<WriteOp> ops;
      const int n = 1 + round % 4;
      keys.reserve(n);
      values.reserve(n);
      for (int i = 0; i < n; ++i, ++next) {
        keys.push_back(Key(next));
        // 1 byte to 5 KB: some records fit in a block's rest, some span two.
        values.push_back(std::string((next * 977) % 5000 + 1, static_cast<char>('a' + next % 26)));
        ops.push_back({WriteOp::Kind::kPut, Cf::kLog, keys.back(), values.back()});
        model[keys.back()] = values.back();
      }
      ASSERT_TRUE((*log)->Append(ops, round % 5 != 4).ok());
      for (const std::string& k : {keys.front(), Key(1 + (next - 1) / 2)}) {
        std::string v;
        ASSERT_TRUE((*log)->Get(k, &v).ok()) << k;
        ASSERT_EQ(v, model[k]) << k << " after round " << round;
      }
    }
    ASSERT_EQ(ReadAll(log->get()), model);
    if (reopen == 0) {
      // Where the file system allows it (not tmpfs before Linux 6.6), the appends went direct.
      const std::string probe = dir + "/probe";
      const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
      if (fd >= 0) {
        ::close(fd);
        std::filesystem::remove(probe);
        bool direct = false;
        for (const auto& f : std::filesystem::directory_iterator("/proc/self/fd")) {
          std::error_code ec;
          if (std::filesystem::read_symlink(f.path(), ec).extension() != ".rkvlog") continue;
          std::ifstream info("/proc/self/fdinfo/" + f.path().filename().string());
          std::string field, flags;
          while (info >> field && field != "flags:") {
          }
          info >> flags;
          direct = direct || (std::stoul(flags, nullptr, 8) & O_DIRECT) != 0;
        }
        EXPECT_TRUE(direct) << "no segment is open for direct writes";
      }
    }
  }
  RemoveDir(dir);
}

// A crash can leave a record cut short, or (after a power failure) a record
// that was written after one that never reached the disk. Neither may come
// back: replay stops at the first bad record, and writing resumes there with
// the rest of the segment zeroed.
TEST(LogFiles, TornAndLostTailsNeverComeBack) {
  std::string dir = TempDir("logfiles-tail");
  auto put = [](LogFiles* log, const std::string& k, const std::string& v) {
    ASSERT_TRUE(log->Append({{WriteOp::Kind::kPut, Cf::kLog, k, v}}, true).ok());
  };
  {
    auto log = LogFiles::Open(dir, 1 << 20);
    ASSERT_TRUE(log.ok());
    put(log->get(), "a", std::string(100, 'a'));
    put(log->get(), "b", std::string(100, 'b'));
    put(log->get(), "c", std::string(100, 'c'));
  }
  // "b" never reached the disk; "c" did.
  auto segments = Segments(dir);
  ASSERT_EQ(segments.size(), 1u);
  const off_t header = 16;                       // the segment's magic and nonce
  const off_t record = 8 + 1 + 1 + 1 + 1 + 100;  // header, kind, key, value size, value
  int fd = ::open(segments[0].c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::string zeros(record, '\0');
  ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), header + record), record);
  ::close(fd);
  {
    auto log = LogFiles::Open(dir, 1 << 20);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(ReadAll(log->get()),
              (std::map<std::string, std::string>{{"a", std::string(100, 'a')}}));
    put(log->get(), "d", std::string(100, 'd'));  // as long as "b": "c" would follow it
  }
  {
    auto log = LogFiles::Open(dir, 1 << 20);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(ReadAll(log->get()), (std::map<std::string, std::string>{
                                       {"a", std::string(100, 'a')}, {"d", std::string(100, 'd')}}))
        << "a record written after a lost one came back";
    put(log->get(), "e", "e");
  }
  // A record cut short at the end (a crash inside the write).
  segments = Segments(dir);
  fd = ::open(segments.back().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t end = header + 2 * record + (8 + 1 + 1 + 1 + 1 + 1);  // "a", "d", then "e"
  std::string partial = "\x12\x34\x56\x78\x00\x00\x00\x40xx";
  ASSERT_EQ(::pwrite(fd, partial.data(), partial.size(), end),
            static_cast<ssize_t>(partial.size()));
  ::close(fd);
  {
    auto log = LogFiles::Open(dir, 1 << 20);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(ReadAll(log->get()).size(), 3u);
    put(log->get(), "f", "f");
  }
  auto log = LogFiles::Open(dir, 1 << 20);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(
      ReadAll(log->get()),
      (std::map<std::string, std::string>{
          {"a", std::string(100, 'a')}, {"d", std::string(100, 'd')}, {"e", "e"}, {"f", "f"}}));
  log->reset();  // stops the thread preparing the next segment in `dir`
  RemoveDir(dir);
}

// A dead segment's file is reused for a new segment, old records and all:
// its records' checksums start from the segment id, so the old ones, which
// here sit exactly where a record boundary falls, fail and end the segment.
TEST(LogFiles, AReusedFilesOldRecordsNeverComeBack) {
  std::string dir = TempDir("logfiles-reuse");
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) keys.push_back("a" + Key(i).substr(6));  // "a00".."a29"
  const std::string value(100, 'x');
  auto put_all = [&](LogFiles* log) {
    std::vector<WriteOp> ops;
    for (const auto& k : keys) ops.push_back({WriteOp::Kind::kPut, Cf::kLog, k, value});
    ASSERT_TRUE(log->Append(ops, true).ok());  // 30 records of 114 bytes
  };
  // 8 + 1 + (1 + 3) + (2 + 2037) = 2052 = 18 records of 114 bytes
  const std::string big(2037, 'b');
  {
    auto log = LogFiles::Open(dir, 4096);
    ASSERT_TRUE(log.ok());
    put_all(log->get());
    ASSERT_TRUE((*log)
                    ->Append({{WriteOp::Kind::kPut, Cf::kLog, "pad", std::string(2000, 'p')}}, true)
                    .ok());
    std::vector<WriteOp> deletes;
    for (const auto& k : keys) deletes.push_back({WriteOp::Kind::kDelete, Cf::kLog, k, {}});
    ASSERT_TRUE((*log)->Append(deletes, true).ok());  // the first segment is dead: a spare
    ASSERT_TRUE((*log)->Append({{WriteOp::Kind::kPut, Cf::kLog, "bg1", big}}, true).ok());
    ASSERT_TRUE((*log)->Append({{WriteOp::Kind::kPut, Cf::kLog, "bg2", big}}, true).ok());
  }
  auto log = LogFiles::Open(dir, 4096);
  ASSERT_TRUE(log.ok());
  auto all = ReadAll(log->get());
  EXPECT_EQ(all.count("a18"), 0u) << "a record of the reused file's old life came back";
  EXPECT_EQ(all.size(), 3u);
  log->reset();  // stops the thread preparing the next segment in `dir`
  RemoveDir(dir);
}

// A data directory from before the log had files of its own keeps its log in
// RocksDB's log family: the engine moves it over at open, once.
TEST(LogFiles, EngineMovesAnOlderDirectorysLogOutOfRocksDb) {
  std::string dir = TempDir("logfiles-move");
  EngineOptions legacy{dir};
  legacy.log_in_rocksdb = true;
  {
    auto e = OpenRocksDbEngine(legacy);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    WriteBatch b;
    for (int i = 1; i <= 50; ++i) b.Put(Cf::kLog, Key(i), "entry " + std::to_string(i));
    b.Put(Cf::kData, "k", "v");
    ASSERT_TRUE((*e)->Write(b, true).ok());
  }
  for (int open = 0; open < 2; ++open) {
    auto e = OpenRocksDbEngine({dir});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    auto it = (*e)->NewIterator(Cf::kLog);
    int n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      EXPECT_EQ(it->value(), "entry " + std::to_string(n));
    }
    EXPECT_EQ(n, 50);
    std::string v;
    EXPECT_TRUE((*e)->Get(Cf::kData, "k", &v).ok());
    // Compaction from the front, as the replica does.
    WriteBatch c;
    c.Delete(Cf::kLog, Key(1 + open));
    c.Put(Cf::kLog, Key(1 + open), "entry " + std::to_string(1 + open));  // and back
    ASSERT_TRUE((*e)->Write(c, false).ok());
  }
  {
    auto e = OpenRocksDbEngine(legacy);
    ASSERT_TRUE(e.ok());
    auto it = (*e)->NewIterator(Cf::kLog);
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid()) << "the log is still in RocksDB";
  }
  RemoveDir(dir);
}

}  // namespace
}  // namespace rkv
