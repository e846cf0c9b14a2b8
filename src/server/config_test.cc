#include "server/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace rkv {
namespace {

TEST(ServerConfig, ErrorsNameTheFlagAndValue) {
  ServerConfig c;
  Status s = SetServerOption(&c, "acks", "most");
  EXPECT_EQ(s.message(), "--acks: invalid value 'most': expected one of async, one, quorum, all");
  s = SetServerOption(&c, "listen", "127.0.0.1:99999");
  EXPECT_NE(s.message().find("--listen"), std::string::npos);
  s = SetServerOption(&c, "peers", "1=a:1,1=b:2");
  EXPECT_NE(s.message().find("appears twice"), std::string::npos);
  s = SetServerOption(&c, "election-timeout-ms", "abc");
  EXPECT_NE(s.message().find("--election-timeout-ms"), std::string::npos);
  EXPECT_FALSE(SetServerOption(&c, "no_such", "1").ok());
}

TEST(ServerConfig, DefaultsDeriveFromListen) {
  ServerConfig c;
  ASSERT_TRUE(SetServerOption(&c, "listen", "127.0.0.1:9000").ok());
  ASSERT_TRUE(FinishServerConfig(&c).ok());
  EXPECT_EQ(c.peer_listen.port, 9100);
  EXPECT_EQ(c.admin_listen.port, 9200);
}

TEST(ServerConfig, LeaderModeNeedsPeersIncludingSelf) {
  ServerConfig c;
  ASSERT_TRUE(SetServerOption(&c, "mode", "leader").ok());
  EXPECT_FALSE(FinishServerConfig(&c).ok());
  ASSERT_TRUE(SetServerOption(&c, "peers", "2=127.0.0.1:1,3=127.0.0.1:2").ok());
  Status s = FinishServerConfig(&c);
  EXPECT_NE(s.message().find("must include this node's id 1"), std::string::npos);
}

TEST(ServerConfig, TomlFileUsesTheSameKeys) {
  std::string path = std::filesystem::temp_directory_path().string() + "/rkv-config-" +
                     std::to_string(getpid()) + ".toml";
  {
    std::ofstream f(path);
    f << "id = 3\ndata_dir = \"/tmp/x\"\ndurability = \"none\"\nallow_faults = true\n";
  }
  ServerConfig c;
  ASSERT_TRUE(LoadServerConfigFile(&c, path).ok());
  EXPECT_EQ(c.id, 3u);
  EXPECT_EQ(c.durability, "none");
  EXPECT_TRUE(c.allow_faults);
  {
    std::ofstream f(path);
    f << "durabilty = \"none\"\n";
  }
  Status s = LoadServerConfigFile(&c, path);
  EXPECT_NE(s.message().find("unknown key 'durabilty'"), std::string::npos);
  {
    std::ofstream f(path);
    f << "id = [1\n";
  }
  s = LoadServerConfigFile(&c, path);
  EXPECT_NE(s.message().find("line"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rkv
