// `replicakv explore` has the shape the settings promise: async loses
// acknowledged writes under crashes and quorum never does; eventual reads are
// stale and miss the session's own writes, strong reads never; a single
// leader has no conflicts. Small on purpose (about a second): the soak and the
// simulator tests cover the seeds.
#include "explore/explore.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

const ExploreCell& Cell(const ExploreResult& r, AcksPolicy acks, const std::string& level,
                        const std::string& faults) {
  for (const ExploreCell& c : r.cells)
    if (c.setting.acks == acks && c.setting.consistency == level && c.scenario.name == faults)
      return c;
  ADD_FAILURE() << "no cell " << AcksPolicyName(acks) << " " << level << " " << faults;
  static ExploreCell none;
  return none;
}

ExploreScenario Scenario(const std::string& name) {
  for (const ExploreScenario& s : ExploreScenarios())
    if (s.name == name) return s;
  ADD_FAILURE() << name;
  return {};
}

ExploreResult Explore(std::vector<ExploreSetting> settings, std::vector<std::string> faults,
                      uint64_t seeds, unsigned jobs = 0) {
  ExploreOptions o;
  o.seeds = seeds;
  o.jobs = jobs;
  o.base.ops = 1000;
  o.settings = std::move(settings);
  for (const std::string& f : faults) o.scenarios.push_back(Scenario(f));
  return RunExplore(o);
}

TEST(Explore, SettingsAndScenariosAreTheFixedLists) {
  std::vector<ExploreSetting> s = ExploreSettings();
  ASSERT_EQ(s.size(), 16u) << "4 acks policies × 4 read levels";
  EXPECT_EQ(s.front().Name(), "acks=async, strong reads");
  for (const ExploreSetting& x : s) {
    ReadConsistency rc;
    std::string why;
    EXPECT_TRUE(ParseSimConsistency(x.consistency, &rc, &why)) << x.consistency << ": " << why;
  }
  std::vector<std::string> names;
  for (const ExploreScenario& x : ExploreScenarios()) names.push_back(x.name);
  EXPECT_EQ(names, (std::vector<std::string>{"none", "crash", "partition", "all"}));
  EXPECT_EQ(ExploreScenarios()[3].faults, static_cast<uint32_t>(kFaultAll));
}

TEST(Explore, TheTableHasTheShapeTheSettingsPromise) {
  std::vector<ExploreSetting> settings = {{AcksPolicy::kAsync, "strong"},
                                          {AcksPolicy::kQuorum, "strong"},
                                          {AcksPolicy::kQuorum, "eventual"},
                                          {AcksPolicy::kQuorum, "session"}};
  ExploreResult r = Explore(settings, {"crash", "partition", "all"}, 10);
  uint64_t async_lost = 0;
  for (const char* f : {"crash", "partition", "all"}) {
    async_lost += Cell(r, AcksPolicy::kAsync, "strong", f).lost;
    for (const ExploreCell& c : r.cells) {
      EXPECT_EQ(c.conflicts, 0u) << "a single leader orders every write";
      EXPECT_EQ(c.not_prefix_within_read, 0u)
          << c.setting.Name() << " " << f << ": every replica applies in log order";
      EXPECT_EQ(c.runs, 10u);
      EXPECT_GT(c.unavailable(), 0u) << c.setting.Name() << " " << f;
      if (c.setting.acks == AcksPolicy::kQuorum) {
        EXPECT_EQ(c.lost, 0u) << c.setting.Name() << " " << f << ": quorum loses nothing";
      }
    }
    const ExploreCell& strong = Cell(r, AcksPolicy::kQuorum, "strong", f);
    EXPECT_EQ(strong.stale_reads, 0u) << f;
    EXPECT_EQ(strong.read_your_writes, 0u) << f;
    EXPECT_EQ(strong.non_monotonic, 0u) << f;
    EXPECT_EQ(strong.not_prefix, 0u) << f;
    EXPECT_EQ(strong.non_linearizable, 0u) << f;
    EXPECT_GT(strong.reads, 10u * 200) << f << ": the checks judged the reads";
    const ExploreCell& eventual = Cell(r, AcksPolicy::kQuorum, "eventual", f);
    EXPECT_GT(eventual.stale_reads, 0u) << f;
    EXPECT_GT(eventual.read_your_writes, 0u) << f;
    EXPECT_GT(eventual.non_linearizable, 0u) << f;
    EXPECT_LT(eventual.read_p50_ns, strong.read_p50_ns) << f << ": a local read does not wait";
    const ExploreCell& session = Cell(r, AcksPolicy::kQuorum, "session", f);
    EXPECT_EQ(session.read_your_writes, 0u) << f;
    EXPECT_EQ(session.non_monotonic, 0u) << f;
    EXPECT_EQ(session.not_prefix, 0u) << f;
  }
  // Failover (a crashed or cut-off leader) is what loses them: rare under
  // crashes alone (the leader must die within a replication round trip),
  // common under partitions.
  EXPECT_GT(async_lost, 0u) << "async loses acknowledged writes at failover";
}

TEST(Explore, SameSeedsSameTableWhateverTheThreads) {
  std::vector<ExploreSetting> s = {{AcksPolicy::kOne, "eventual"}};
  ExploreResult a = Explore(s, {"partition"}, 3, 1);
  ExploreResult b = Explore(s, {"partition"}, 3, 3);
  EXPECT_EQ(FormatExplore(a, ExploreFormat::kJson), FormatExplore(b, ExploreFormat::kJson));
  std::string table = FormatExplore(a, ExploreFormat::kTable);
  EXPECT_NE(table.find("faults: partition"), std::string::npos) << table;
  EXPECT_NE(table.find("acks=one, eventual reads"), std::string::npos) << table;
  std::string md = FormatExplore(a, ExploreFormat::kMarkdown);
  EXPECT_NE(md.find("| setting | lost writes (recorded) | stale reads (rolled back) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("|---|---:|"), std::string::npos) << md;
  std::string json = FormatExplore(a, ExploreFormat::kJson);
  EXPECT_NE(json.find("\"read_your_writes_violations\""), std::string::npos) << json;
}

}  // namespace
}  // namespace rkv
