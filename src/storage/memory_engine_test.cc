#include "storage/memory_engine.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(MemoryEngine, PutGetDeleteRange) {
  MemoryEngine e;
  WriteBatch b;
  b.Put(Cf::kData, "a", "1");
  b.Put(Cf::kData, "b", "2");
  b.Put(Cf::kData, "c", "3");
  b.Put(Cf::kLog, "a", "log");
  ASSERT_TRUE(e.Write(b, false).ok());
  std::string v;
  ASSERT_TRUE(e.Get(Cf::kData, "b", &v).ok());
  EXPECT_EQ(v, "2");
  WriteBatch d;
  d.DeleteRange(Cf::kData, "a", "c");
  ASSERT_TRUE(e.Write(d, false).ok());
  EXPECT_EQ(e.Get(Cf::kData, "a", &v).code(), Code::kNotFound);
  EXPECT_EQ(e.Get(Cf::kData, "b", &v).code(), Code::kNotFound);
  EXPECT_TRUE(e.Get(Cf::kData, "c", &v).ok());
  EXPECT_TRUE(e.Get(Cf::kLog, "a", &v).ok()) << "other column families are untouched";
}

TEST(MemoryEngine, IteratorSeesKeysInOrderWhileWritesHappen) {
  MemoryEngine e;
  WriteBatch b;
  for (char c = 'a'; c <= 'e'; ++c) b.Put(Cf::kData, std::string(1, c), "v");
  ASSERT_TRUE(e.Write(b, false).ok());
  auto it = e.NewIterator(Cf::kData);
  it->Seek("b");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  WriteBatch del;
  del.Delete(Cf::kData, "c");
  ASSERT_TRUE(e.Write(del, false).ok());
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "d");
}

TEST(MemoryEngine, CrashKeepsSyncedAndAPrefixOfUnsynced) {
  MemoryEngine e(/*track_unsynced=*/true);
  auto put = [&](const char* k, bool sync) {
    WriteBatch b;
    b.Put(Cf::kData, k, "v");
    ASSERT_TRUE(e.Write(b, sync).ok());
  };
  put("a", false);
  put("b", true);  // makes a and b durable
  put("c", false);
  put("d", false);
  EXPECT_EQ(e.unsynced_batches(), 2u);
  e.Crash(/*keep_unsynced=*/1);
  std::string v;
  EXPECT_TRUE(e.Get(Cf::kData, "a", &v).ok());
  EXPECT_TRUE(e.Get(Cf::kData, "b", &v).ok());
  EXPECT_TRUE(e.Get(Cf::kData, "c", &v).ok());
  EXPECT_EQ(e.Get(Cf::kData, "d", &v).code(), Code::kNotFound);
}

}  // namespace
}  // namespace rkv
