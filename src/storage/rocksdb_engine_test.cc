#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "storage/engine.h"
#include "storage/group_commit.h"
#include "storage/test_dirs.h"

namespace rkv {
namespace {

TEST(RocksDbEngine, WritesSurviveReopenInEveryColumnFamily) {
  std::string dir = TempDir("reopen");
  {
    auto e = OpenRocksDbEngine({dir});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    WriteBatch b;
    for (int i = 0; i < kCfCount; ++i) b.Put(static_cast<Cf>(i), "k", CfName(static_cast<Cf>(i)));
    ASSERT_TRUE((*e)->Write(b, true).ok());
  }
  {
    auto e = OpenRocksDbEngine({dir});
    ASSERT_TRUE(e.ok());
    for (int i = 0; i < kCfCount; ++i) {
      std::string v;
      ASSERT_TRUE((*e)->Get(static_cast<Cf>(i), "k", &v).ok());
      EXPECT_EQ(v, CfName(static_cast<Cf>(i)));
    }
  }
  RemoveDir(dir);
}

// The log and data families use our own memtable (storage/sorted_memtable.h),
// which sorts on an 8-byte key prefix and breaks ties with the whole key.
// Keys that are prefixes of each other, share their first 8 bytes, hold zero
// bytes or are rewritten and deleted many times must come back in order, with
// their last value, from the memtable being written, from flushed ones (a
// small write buffer flushes every few hundred writes), after a reopen,
// through seeks and through Get. Run under ASan it also checks that no
// iterator leaks.
TEST(RocksDbEngine, MemtableKeepsKeyOrderThroughFlushesAndReopen) {
  std::string dir = TempDir("memtable-order");
  EngineOptions options{dir};
  options.write_buffer_bytes = 64 << 10;
  std::map<std::string, std::string> model;
  uint64_t state = 7;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  auto random_key = [&]() -> std::string {
    using namespace std::string_view_literals;  // keeps the zero bytes
    static const std::string_view kShapes[] = {
        "",          "a",        "abcdefg",          "abcdefgh", "abcdefgh\0"sv,
        "abcdefghi", "abcdefgz", "abc\0\0\0\0\0x"sv, "zz"};
    std::string k(kShapes[next() % 9]);
    if (next() % 2) k += std::to_string(next() % 300);
    return k;
  };
  auto check = [&](Engine* e, const char* when) {
    std::unique_ptr<Iterator> it = e->NewIterator(Cf::kData);
    auto m = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_NE(m, model.end()) << when << ": extra key " << it->key();
      ASSERT_EQ(it->key(), m->first) << when;
      ASSERT_EQ(it->value(), m->second) << when;
    }
    ASSERT_TRUE(it->status().ok());
    ASSERT_EQ(m, model.end()) << when << ": missing " << m->first;
    for (int i = 0; i < 200; ++i) {
      std::string target = random_key();
      std::string got;
      Status gs = e->Get(Cf::kData, target, &got);
      auto exact = model.find(target);
      ASSERT_EQ(gs.ok(), exact != model.end()) << when << ": get " << target;
      if (exact != model.end()) {
        ASSERT_EQ(got, exact->second) << when << ": get " << target;
      }
      it->Seek(target);
      auto want = model.lower_bound(target);
      ASSERT_EQ(it->Valid(), want != model.end()) << when << ": seek " << target;
      if (want != model.end()) {
        ASSERT_EQ(it->key(), want->first) << when << ": seek " << target;
      }
    }
  };
  {
    auto e = OpenRocksDbEngine(options);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    for (int round = 0; round < 40; ++round) {
      WriteBatch b;
      for (int i = 0; i < 100; ++i) {
        std::string k = random_key();
        if (next() % 5 == 0) {
          b.Delete(Cf::kData, k);
          model.erase(k);
        } else {
          std::string v = std::to_string(round) + "." + std::to_string(i) + std::string(100, 'v');
          b.Put(Cf::kData, k, v);
          model[k] = v;
        }
      }
      ASSERT_TRUE((*e)->Write(b, false).ok());
      if (round % 10 == 9) check(e->get(), "while writing");
    }
    check(e->get(), "before reopen");
  }
  {
    auto e = OpenRocksDbEngine(options);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    check(e->get(), "after reopen");
  }
  RemoveDir(dir);
}

// A write-ahead log file goes only when every family written in it has
// flushed. The meta family is written rarely and never fills its memtable, so
// without a bound on the log's total size every file since the first meta
// write stayed on disk (and was replayed at each start).
TEST(RocksDbEngine, WriteAheadLogStaysBoundedWhileOneFamilyIsRarelyWritten) {
  std::string dir = TempDir("wal-bound");
  EngineOptions options{dir};
  options.write_buffer_bytes = 64 << 10;  // log size bound: 256 KB
  constexpr int kBatches = 400;           // 4 MB through the data family
  auto wal_bytes = [&] {
    uint64_t total = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir + "/db")) {
      std::error_code ec;  // a flush may delete the file meanwhile
      uint64_t size = f.path().extension() == ".log" ? f.file_size(ec) : 0;
      if (!ec) total += size;
    }
    return total;
  };
  {
    auto e = OpenRocksDbEngine(options);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    WriteBatch meta;
    meta.Put(Cf::kMeta, "hard_state", "term 1");
    ASSERT_TRUE((*e)->Write(meta, true).ok());
    uint64_t most = 0;
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.Put(Cf::kData, "k" + std::to_string(i), std::string(10 << 10, 'v'));
      ASSERT_TRUE((*e)->Write(b, true).ok());
      most = std::max(most, wal_bytes());
    }
    // Flushes run in the background: allow a few files past the bound.
    EXPECT_LT(most, 1u << 20) << "write-ahead log files are not deleted";
  }
  auto e = OpenRocksDbEngine(options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::string v;
  ASSERT_TRUE((*e)->Get(Cf::kMeta, "hard_state", &v).ok());
  EXPECT_EQ(v, "term 1");
  for (int i = 0; i < kBatches; i += 37) {
    ASSERT_TRUE((*e)->Get(Cf::kData, "k" + std::to_string(i), &v).ok()) << i;
    EXPECT_EQ(v.size(), 10u << 10);
  }
  e->reset();
  RemoveDir(dir);
}

// The write-ahead log is preallocated with its size extended (fast fdatasync);
// a crash leaves its zeroed tail, and a reopen must still find every synced
// write. The copy of the open database is what a kill -9 leaves on disk.
TEST(RocksDbEngine, PreallocatedLogWithZeroedTailRecoversEverySyncedWrite) {
  std::string dir = TempDir("prealloc");
  std::string copy = dir + "-copy";
  constexpr int kWrites = 500;
  {
    auto e = OpenRocksDbEngine({dir});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    for (int i = 0; i < kWrites; ++i) {
      WriteBatch b;
      b.Put(Cf::kMeta, "k" + std::to_string(i), std::string(100, 'v'));
      ASSERT_TRUE((*e)->Write(b, true).ok());
    }
    uint64_t wal_size = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir + "/db"))
      if (f.path().extension() == ".log") wal_size = std::max(wal_size, f.file_size());
    // Preallocated: the file is larger than what was written into it.
    EXPECT_GT(wal_size, 4u << 20) << "the write-ahead log is not preallocated";
    std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
    std::filesystem::remove(copy + "/db/LOCK");
  }
  {
    auto e = OpenRocksDbEngine({copy});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    for (int i = 0; i < kWrites; ++i) {
      std::string v;
      ASSERT_TRUE((*e)->Get(Cf::kMeta, "k" + std::to_string(i), &v).ok()) << i;
      EXPECT_EQ(v, std::string(100, 'v'));
    }
  }
  RemoveDir(dir);
  RemoveDir(copy);
}

TEST(RocksDbEngine, SecondOpenOfTheSameDirectoryIsRefused) {
  std::string dir = TempDir("lock");
  {
    auto a = OpenRocksDbEngine({dir});
    ASSERT_TRUE(a.ok());
    auto b = OpenRocksDbEngine({dir});
    EXPECT_FALSE(b.ok());
  }
  RemoveDir(dir);
}

TEST(GroupCommit, ManyWritesShareSyncsAndCompleteInOrder) {
  std::string dir = TempDir("group");
  auto e = OpenRocksDbEngine({dir});
  ASSERT_TRUE(e.ok());
  std::vector<int> order;
  std::mutex mu;
  {
    GroupCommitWriter w(e->get());
    for (int i = 0; i < 2000; ++i) {
      WriteBatch b;
      b.Put(Cf::kLog, std::to_string(i), "x");
      w.Submit(std::move(b), true, [&, i](const Status& s) {
        ASSERT_TRUE(s.ok());
        std::lock_guard lock(mu);
        order.push_back(i);
      });
    }
  }  // the destructor writes everything queued
  ASSERT_EQ(order.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(order[i], i);
  e = Status::Internal("closed");
  RemoveDir(dir);
}

TEST(GroupCommit, SyncsFewerTimesThanWrites) {
  std::string dir = TempDir("group2");
  struct Cleanup {
    std::string d;
    ~Cleanup() { RemoveDir(d); }
  } cleanup{dir};
  auto e = OpenRocksDbEngine({dir});
  ASSERT_TRUE(e.ok());
  GroupCommitWriter w(e->get());
  std::atomic<int> done{0};
  for (int i = 0; i < 500; ++i) {
    WriteBatch b;
    b.Put(Cf::kLog, std::to_string(i), "x");
    w.Submit(std::move(b), true, [&](const Status&) { ++done; });
  }
  while (done < 500) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  GroupCommitStats st = w.stats();
  EXPECT_EQ(st.writes, 500u);
  EXPECT_LT(st.syncs, 500u) << "writes submitted during a sync join the next one";
}

}  // namespace
}  // namespace rkv

namespace rkv {
namespace {

TEST(RocksDbEngine, SnapshotExportImportRoundTrip) {
  std::string a_dir = TempDir("snap-a"), b_dir = TempDir("snap-b");
  {
    auto a = OpenRocksDbEngine({a_dir});
    auto b = OpenRocksDbEngine({b_dir});
    ASSERT_TRUE(a.ok() && b.ok());
    WriteBatch wa;
    for (int i = 0; i < 1000; ++i)
      wa.Put(Cf::kData, "k" + std::to_string(i), "v" + std::to_string(i));
    wa.Put(Cf::kMeta, "state_machine", "STATE");
    wa.Put(Cf::kMeta, "hard_state", "MINE");
    ASSERT_TRUE((*a)->Write(wa, true).ok());
    WriteBatch wb;
    wb.Put(Cf::kData, "old", "x");
    wb.Put(Cf::kLog, "entry", "x");
    wb.Put(Cf::kMeta, "hard_state", "B'S OWN");
    ASSERT_TRUE((*b)->Write(wb, true).ok());
    auto pin = (*a)->PinSnapshot();
    WriteBatch later;
    later.Put(Cf::kData, "after-the-pin", "x");
    ASSERT_TRUE((*a)->Write(later, true).ok());
    auto image = (*a)->ExportSnapshot(pin, {"state_machine", "absent"}, a_dir + "/export");
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_EQ(image->meta.size(), 1u);
    ASSERT_TRUE((*b)->ImportSnapshot(*image).ok());
    std::string v;
    EXPECT_TRUE((*b)->Get(Cf::kData, "k999", &v).ok());
    EXPECT_EQ(v, "v999");
    EXPECT_FALSE((*b)->Get(Cf::kData, "old", &v).ok()) << "the data is replaced";
    EXPECT_FALSE((*b)->Get(Cf::kData, "after-the-pin", &v).ok()) << "the pinned state only";
    EXPECT_FALSE((*b)->Get(Cf::kLog, "entry", &v).ok()) << "the log is emptied";
    ASSERT_TRUE((*b)->Get(Cf::kMeta, "state_machine", &v).ok());
    EXPECT_EQ(v, "STATE");
    ASSERT_TRUE((*b)->Get(Cf::kMeta, "hard_state", &v).ok());
    EXPECT_EQ(v, "B'S OWN") << "never the node's own term, vote or identity";
  }
  RemoveDir(a_dir);
  RemoveDir(b_dir);
}

}  // namespace
}  // namespace rkv

namespace rkv {
namespace {

TEST(GroupCommit, TasksRunAloneAndInOrder) {
  std::string dir = TempDir("group-task");
  std::vector<std::string> order;
  std::mutex mu;
  {
    auto e = OpenRocksDbEngine({dir});
    ASSERT_TRUE(e.ok());
    GroupCommitWriter w(e->get());
    auto note = [&](std::string what) {
      return [&, what](const Status& s) {
        ASSERT_TRUE(s.ok());
        std::lock_guard lock(mu);
        order.push_back(what);
      };
    };
    WriteBatch b1;
    b1.Put(Cf::kData, "k", "1");
    w.Submit(std::move(b1), true, note("write 1"));
    Engine* engine = e->get();
    w.SubmitTask(
        [engine]() {
          std::string v;
          // The write submitted before the task is already in the engine.
          return engine->Get(Cf::kData, "k", &v).ok() && v == "1"
                     ? Status::Ok()
                     : Status::Internal("out of order");
        },
        note("task"));
    WriteBatch b2;
    b2.Put(Cf::kData, "k", "2");
    w.Submit(std::move(b2), false, note("write 2"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"write 1", "task", "write 2"}));
  RemoveDir(dir);
}

}  // namespace
}  // namespace rkv
