#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "storage/engine.h"
#include "storage/group_commit.h"

namespace rkv {
namespace {

std::string TempDir(const char* name) {
  std::string d = std::filesystem::temp_directory_path().string() + "/rkv-test-" + name + "-" +
                  std::to_string(getpid());
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
  return d;
}

void RemoveDir(const std::string& d) {
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
}

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
