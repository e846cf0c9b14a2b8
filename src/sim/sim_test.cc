// The simulator as the main test of the single-leader protocol: every acks
// policy over many seeds with every fault, determinism, and the mutations that
// must be caught.
#include "sim/sim.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace rkv {
namespace {

// Sanitizer builds run fewer seeds: the same code, ~5x slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kScale = 5;
#else
constexpr uint64_t kScale = 1;
#endif

uint64_t Seeds(uint64_t n) {
  if (const char* env = std::getenv("RKV_SIM_SEEDS")) return std::strtoull(env, nullptr, 10);
  return std::max<uint64_t>(n / kScale, 4);
}

struct Totals {
  uint64_t runs = 0, failed = 0, lost = 0, recorded = 0, info = 0, ok = 0;
  std::string first_failure;
};

Totals RunSeeds(SimConfig c, uint64_t seeds) {
  Totals t;
  for (uint64_t s = 1; s <= seeds; ++s) {
    c.seed = s;
    SimResult r = RunSimulation(c);
    ++t.runs;
    t.ok += r.stats.ok;
    t.info += r.stats.info;
    t.lost += r.checks[0].counts.at("lost");
    t.recorded += r.checks[0].counts.at("recorded");
    if (!r.ok) {
      ++t.failed;
      if (t.first_failure.empty()) t.first_failure = ReproduceCommand(c) + "\n  " + r.verdict;
    }
  }
  return t;
}

SimConfig Config(AcksPolicy acks, int nodes = 3) {
  SimConfig c;
  c.acks = acks;
  c.nodes = nodes;
  c.faults = kFaultAll;
  return c;
}

TEST(Sim, QuorumLosesNothingUnderAllFaults) {
  Totals t = RunSeeds(Config(AcksPolicy::kQuorum), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, 0u);
  EXPECT_GT(t.ok, t.runs * 1000) << "the workload made progress";
}

TEST(Sim, AllLosesNothingUnderAllFaults) {
  Totals t = RunSeeds(Config(AcksPolicy::kAll), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, 0u);
}

TEST(Sim, OneWithThreeVotersLosesNothing) {
  Totals t = RunSeeds(Config(AcksPolicy::kOne), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, 0u);
}

TEST(Sim, FiveVoterQuorumAndAllLoseNothing) {
  for (AcksPolicy p : {AcksPolicy::kQuorum, AcksPolicy::kAll}) {
    Totals t = RunSeeds(Config(p, 5), Seeds(25));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
    EXPECT_EQ(t.lost, 0u);
  }
}

TEST(Sim, AsyncLosesWritesButRecordsEveryOne) {
  Totals t = RunSeeds(Config(AcksPolicy::kAsync), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << "every lost write must be in a rollback record: " << t.first_failure;
  EXPECT_GT(t.lost, 0u) << "async under crashes loses acknowledged writes";
  EXPECT_EQ(t.lost, t.recorded);
}

TEST(Sim, OneWithFiveVotersLosesWritesButRecordsEveryOne) {
  Totals t = RunSeeds(Config(AcksPolicy::kOne, 5), Seeds(40));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_GT(t.lost, 0u);
  EXPECT_EQ(t.lost, t.recorded);
}

TEST(Sim, MembershipChangesUnderFaultsLoseNothing) {
  // Nodes join as learners, get a snapshot and the log, are promoted, and
  // voters are removed — all while crashes, partitions and pauses go on.
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.membership = true;
  Totals t = RunSeeds(c, Seeds(40));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, 0u);
}

TEST(Sim, MembershipChangesUnderAsyncRecordEveryLoss) {
  SimConfig c = Config(AcksPolicy::kAsync);
  c.membership = true;
  Totals t = RunSeeds(c, Seeds(30));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, t.recorded);
}

TEST(Sim, CompactionAndSnapshotsHappen) {
  // Every run compacts its log (small bounds in the simulator), so followers
  // that fall behind get snapshots: make sure that path is really exercised.
  SimConfig c = Config(AcksPolicy::kQuorum);
  uint64_t installed = 0, joins = 0;
  for (uint64_t s = 1; s <= Seeds(20); ++s) {
    c.seed = s;
    c.membership = s % 2 == 0;
    SimResult r = RunSimulation(c);
    EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
    installed += r.stats.snapshots_installed;
    joins += r.stats.joins;
  }
  EXPECT_GT(installed, 10u);
  EXPECT_GT(joins, 5u);
}

TEST(Sim, SameSeedSameHistory) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.seed = 7;
  SimResult a = RunSimulation(c);
  SimResult b = RunSimulation(c);
  ASSERT_EQ(a.history.events.size(), b.history.events.size());
  for (size_t i = 0; i < a.history.events.size(); ++i)
    ASSERT_EQ(FormatEvent(a.history.events[i]), FormatEvent(b.history.events[i])) << i;
  EXPECT_EQ(a.stats.events, b.stats.events);
  c.seed = 8;
  SimResult d = RunSimulation(c);
  EXPECT_NE(a.stats.events, d.stats.events) << "another seed, another run";
}

// Each deliberate bug is caught (a failed run) within the CI seeds.
uint64_t SeedsToCatch(const char* mutation, uint64_t max_seeds) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  EXPECT_TRUE(c.mutations.Set(mutation));
  for (uint64_t s = 1; s <= max_seeds; ++s) {
    c.seed = s;
    if (!RunSimulation(c).ok) return s;
  }
  return 0;
}

TEST(SimMutations, AckBeforeQuorumIsCaught) {
  EXPECT_GT(SeedsToCatch("ack-before-quorum", 50), 0u);
}
TEST(SimMutations, SkipConsistencyCheckIsCaught) {
  EXPECT_GT(SeedsToCatch("skip-consistency-check", 150), 0u);
}
TEST(SimMutations, VoteWithoutLogCheckIsCaught) {
  EXPECT_GT(SeedsToCatch("vote-without-log-check", 50), 0u);
}
TEST(SimMutations, ApplyBeforeCommitIsCaught) {
  EXPECT_GT(SeedsToCatch("apply-before-commit", 100), 0u);
}

}  // namespace
}  // namespace rkv
