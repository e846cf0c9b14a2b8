// The simulator as the main test of the single-leader protocol: every acks
// policy over many seeds with every fault, determinism, and the mutations that
// must be caught.
#include "sim/sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

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
  uint64_t rolled_back = 0, committed_recorded = 0;  // writes reported rolled back; false ones
  uint64_t reads_forwarded = 0, reads_stale = 0, max_staleness_ns = 0;
  uint64_t not_linearizable = 0;  // runs whose history the linearizable check rejected
  uint64_t failed_otherwise = 0;  // runs failed by anything but that check
  std::string first_failure, first_other_failure;
  // The session checks, which judge every run's reads: per guarantee, the
  // reads that broke it and the runs with at least one such read.
  std::map<std::string, uint64_t> broke, runs_breaking;
  uint64_t reads_judged = 0, stale_reads = 0;
  std::string first_session_violation;
  uint64_t SessionViolations() const {
    uint64_t n = 0;
    for (const char* g : kSessionGuarantees) n += broke.count(g) ? broke.at(g) : 0;
    return n;
  }
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
    t.rolled_back += r.stats.rolled_back;
    t.committed_recorded += r.stats.committed_entries_recorded;
    t.reads_forwarded += r.stats.reads_forwarded;
    t.reads_stale += r.stats.reads_stale;
    t.max_staleness_ns = std::max(t.max_staleness_ns, r.stats.max_staleness_ns);
    const CheckResult* lin = FindCheck(r.checks, "linearizable");
    bool linearizable = !lin || lin->ok();
    if (!linearizable) ++t.not_linearizable;
    for (const char* g : kSessionGuarantees) {
      const CheckResult* sc = FindCheck(r.checks, g);
      uint64_t n = sc ? sc->counts.at("violations") : 0;
      t.broke[g] += n;
      t.runs_breaking[g] += n > 0;
      if (n > 0 && t.first_session_violation.empty() && !sc->details.empty())
        t.first_session_violation = ReproduceCommand(c) + "\n" + sc->details[0];
    }
    if (const CheckResult* stale = FindCheck(r.checks, "stale-reads")) {
      t.reads_judged += stale->counts.at("reads");
      t.stale_reads += stale->counts.at("violations");
    }
    if (!r.ok) {
      ++t.failed;
      if (t.first_failure.empty()) t.first_failure = ReproduceCommand(c) + "\n  " + r.verdict;
      if (r.verdict.rfind("FAIL: not linearizable", 0) != 0) {
        ++t.failed_otherwise;
        if (t.first_other_failure.empty())
          t.first_other_failure = ReproduceCommand(c) + "\n  " + r.verdict;
      }
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

// One seed's run: it passes, and every acknowledged write it lost is in a
// rollback record.
SimResult ExpectPassesAndRecordsEveryLoss(const SimConfig& c) {
  SimResult r = RunSimulation(c);
  EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
  EXPECT_EQ(r.checks[0].counts.at("lost"), r.checks[0].counts.at("recorded"))
      << ReproduceCommand(c);
  return r;
}

TEST(Sim, QuorumLosesNothingUnderAllFaults) {
  Totals t = RunSeeds(Config(AcksPolicy::kQuorum), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.not_linearizable, 0u) << "strong (read-index) reads under quorum are linearizable";
  EXPECT_EQ(t.lost, 0u);
  EXPECT_GT(t.ok, t.runs * 1000) << "the workload made progress";
}

// Under acks=all a new leader cannot know how far its predecessor
// acknowledged, so its strong reads wait until every voter holds its first
// entry (LeaderCore::ReadsAllowed). Before that fix this test failed 16 of 60
// seeds (first: `replicakv sim --acks all --seed 8 --faults all`): reads
// served at the new leader's commit index missed acknowledged writes.
TEST(Sim, AllLosesNothingUnderAllFaults) {
  Totals t = RunSeeds(Config(AcksPolicy::kAll), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.lost, 0u);
}

TEST(Sim, AllStrongReadsAreLinearizable) {
  for (int nodes : {3, 5}) {
    Totals t = RunSeeds(Config(AcksPolicy::kAll, nodes), Seeds(60));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
  }
}

TEST(Sim, OneWithThreeVotersLosesNothing) {
  Totals t = RunSeeds(Config(AcksPolicy::kOne), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.not_linearizable, 0u) << "strong reads under one with 3 voters are linearizable";
  EXPECT_EQ(t.lost, 0u);
}

TEST(Sim, FiveVoterQuorumAndAllLoseNothing) {
  Totals q = RunSeeds(Config(AcksPolicy::kQuorum, 5), Seeds(25));
  EXPECT_EQ(q.failed, 0u) << q.first_failure;
  EXPECT_EQ(q.lost, 0u);
  Totals a = RunSeeds(Config(AcksPolicy::kAll, 5), Seeds(25));
  EXPECT_EQ(a.failed, 0u) << a.first_failure;
  EXPECT_EQ(a.lost, 0u);
}

// Bounded reads: the simulator knows when each write was committed, so it
// measures the true staleness of every read and fails a run whose bounded
// reads exceed the bound (stretched by the skewed clocks' slowest rate).
TEST(SimReadLevels, BoundedReadsStayWithinTheBound) {
  for (const char* level : {"bounded:100", "bounded:20"}) {
    SimConfig c = Config(AcksPolicy::kQuorum);
    c.consistency = level;
    Totals t = RunSeeds(c, Seeds(40));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
    EXPECT_GT(t.max_staleness_ns, 0u) << "the staleness measure is not vacuous";
    EXPECT_LE(t.max_staleness_ns, AllowedStalenessNs(c));
    EXPECT_GT(t.reads_forwarded, 0u) << "replicas that cannot prove freshness hand reads on";
  }
}

// Under acks=all an entry is visible only once every voter holds it: with a
// voter down, a majority holds entries that no read may show yet, and a
// bounded read is measured against what is visible, not against the majority
// (scripts/soak once failed 149 of 150 seeds here: "1641 ms stale").
TEST(SimReadLevels, BoundedReadsUnderAcksAllStayWithinTheBound) {
  SimConfig c = Config(AcksPolicy::kAll);
  c.consistency = "bounded:250";
  Totals t = RunSeeds(c, Seeds(20));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_GT(t.max_staleness_ns, 0u);
  EXPECT_LE(t.max_staleness_ns, AllowedStalenessNs(c));
}

// Eventual reads are not bounded: the same runs show reads seconds stale,
// which is what makes the bounded check above mean something.
TEST(SimReadLevels, EventualReadsCanBeFarBehind) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.consistency = "eventual";
  Totals t = RunSeeds(c, Seeds(20));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_GT(t.max_staleness_ns, 1000u * 1000 * 1000) << "an eventual read a second behind";
  EXPECT_EQ(t.reads_forwarded, 0u);
}

// Session reads keep read-your-writes, monotonic reads and consistent prefix:
// the session checks judge every history (clients pick a random node for
// every operation, so sessions move between nodes under crashes, partitions
// and lag), and a session run that breaks one fails.
TEST(SimReadLevels, SessionReadsKeepTheSessionGuaranteesUnderQuorum) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.consistency = "session";
  Totals t = RunSeeds(c, Seeds(40));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  EXPECT_EQ(t.SessionViolations(), 0u) << t.first_session_violation;
  EXPECT_GT(t.reads_judged, t.runs * 300) << "the checks judged the reads";
  EXPECT_GT(t.stale_reads, 0u) << "session reads may miss other sessions' writes: the checks "
                                  "see staleness, and the session guarantees still hold";
}

// The promise holds under every acks setting that rolls nothing acknowledged
// back.
TEST(SimReadLevels, SessionReadsKeepTheSessionGuaranteesUnderOneAndAll) {
  for (AcksPolicy acks : {AcksPolicy::kOne, AcksPolicy::kAll}) {
    SimConfig c = Config(acks);
    c.consistency = "session";
    Totals t = RunSeeds(c, Seeds(20));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
    EXPECT_EQ(t.SessionViolations(), 0u) << t.first_session_violation;
  }
}

// The same checks on eventual reads find every kind of violation in most
// runs, so the zeros above are not vacuous; eventual promises none of them,
// so the runs do not fail.
TEST(SimReadLevels, EventualReadsBreakTheSessionGuarantees) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.consistency = "eventual";
  Totals t = RunSeeds(c, Seeds(20));
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
  for (const char* g : kSessionGuarantees) {
    // Seeds 1..20: read-your-writes in 20, monotonic reads in 19, consistent
    // prefix in 19.
    EXPECT_GE(t.runs_breaking[g] * 2, t.runs) << g << ": found in at least half the runs";
    EXPECT_GE(t.broke[g], t.runs) << g;
  }
}

TEST(Sim, OnlyStrongReadsAreCheckedForLinearizability) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.seed = 3;
  SimResult strong = RunSimulation(c);
  const CheckResult* lin = FindCheck(strong.checks, "linearizable");
  ASSERT_NE(lin, nullptr);
  EXPECT_TRUE(lin->ok()) << lin->summary;
  EXPECT_GT(lin->counts.at("ops"), 1000u);
  c.consistency = "eventual";
  EXPECT_EQ(FindCheck(RunSimulation(c).checks, "linearizable"), nullptr)
      << "local-replica reads promise no order";
}

TEST(Sim, AsyncReportsNonLinearizableHistoriesWithoutFailing) {
  // Rolled-back writes make async histories legitimately non-linearizable:
  // the check runs and says so, the run does not fail for it.
  Totals t = RunSeeds(Config(AcksPolicy::kAsync), Seeds(20));
  EXPECT_GT(t.not_linearizable, 0u);
  EXPECT_EQ(t.failed, 0u) << t.first_failure;
}

TEST(Sim, AsyncLosesWritesButRecordsEveryOne) {
  Totals t = RunSeeds(Config(AcksPolicy::kAsync), Seeds(60));
  EXPECT_EQ(t.failed, 0u) << "every lost write must be in a rollback record: " << t.first_failure;
  EXPECT_GT(t.lost, 0u) << "async under crashes loses acknowledged writes";
  EXPECT_EQ(t.lost, t.recorded);
  // Reports of loss are true: a restarted node knows the state it recovered
  // is committed (it once took everything above its compacted prefix for
  // replaced: 94% of its records were false), and a snapshot carries the
  // sender's term starts, so the entries it replaces that the sender's
  // history holds are not recorded (27% of the records were still false).
  // (Entries above the snapshot's index, or older than the starts it keeps,
  // can still be recorded and committed: none at these seeds.)
  EXPECT_GT(t.rolled_back, 0u);
  EXPECT_LT(t.committed_recorded * 20, t.rolled_back)
      << t.committed_recorded << " of " << t.rolled_back << " recorded writes were committed";
}

TEST(Sim, BatchedDrainsLoseNothingUnrecorded) {
  // The server drains a replica once per event-loop turn, so several inputs
  // meet in one Ready; the simulator does the same with --batch-drains.
  for (AcksPolicy acks : {AcksPolicy::kQuorum, AcksPolicy::kAsync}) {
    SimConfig c = Config(acks);
    c.batch_drains = true;
    Totals t = RunSeeds(c, Seeds(40));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
    EXPECT_EQ(t.lost, t.recorded) << AcksPolicyName(acks);
    if (acks == AcksPolicy::kQuorum) {
      EXPECT_EQ(t.lost, 0u);
    }
  }
}

TEST(Sim, ARunIsJudgedOnlyOnceEveryReadyIsDrained) {
  // A seed that once failed (soak, 2026-11-29): under async with membership
  // changes and batched drains, a removed leader learned that its entry
  // 4.1190, a write it had acknowledged, was replaced. The core truncated it
  // at once; the rollback record waited in a Ready for the deferred drain.
  // The run was judged in between (the core's log looked settled) and called
  // the loss silent. The simulator now waits for every Ready to be drained.
  SimConfig c = Config(AcksPolicy::kAsync);
  c.membership = true;
  c.batch_drains = true;
  c.seed = 860723;
  SimResult r = ExpectPassesAndRecordsEveryLoss(c);
  EXPECT_GT(r.checks[0].counts.at("lost"), 0u) << "the scenario still happens at this seed";
}

TEST(Sim, ATruncationVoidsTheAppliesQueuedInTheSameReady) {
  // A seed that once failed (found by a review, reproduced with batched
  // drains): under async a follower queued speculative applies, and a new
  // leader's append truncated those entries in the same Ready. The core
  // asked the driver to roll back to before entries it had never applied,
  // and then to apply them anyway: "entry 1174 applied after 1172", an
  // assertion. Queued applies from the truncation on are now dropped, and
  // the rollback covers only what the driver applied.
  SimConfig c = Config(AcksPolicy::kAsync);
  c.batch_drains = true;
  c.seed = 118;
  ExpectPassesAndRecordsEveryLoss(c);
}

TEST(Sim, HeldStateWritesOfUndoneEntriesWaitForTheirOwnEntries) {
  // A seed that once failed: the engine holds committed state only, and a
  // node's writes for entries 7.122-7.126 waited for the commit to reach 126.
  // A rollback to 121 undid them, and when 8.122 committed, the batch "at
  // 122" — 7.122's writes — went to the engine; a restart loaded it (replicas
  // diverged on k0, async, strong reads, all faults, seed 48).
  SimConfig c = Config(AcksPolicy::kAsync);
  c.consistency = "strong";
  c.seed = 48;
  SimResult r = RunSimulation(c);
  EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
}

TEST(Sim, ADuplicatedForwardAfterALeaderStepsDownIsNotRefused) {
  // A seed that once failed (scripts/soak): a write forwarded to the leader
  // was appended and committed, a network duplicate of the forward reached
  // the same node after it stepped down, and it refused the copy as "not
  // the leader; not applied" — a definite failure for a write a strong read
  // then saw (quorum, strong reads, membership changes, seed 700096).
  SimConfig c = Config(AcksPolicy::kQuorum);
  c.consistency = "strong";
  c.membership = true;
  c.seed = 700096;
  SimResult r = RunSimulation(c);
  EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
}

TEST(Sim, SnapshotFromAnOlderTermIsNotImported) {
  // Seeds that once failed: a restarted node in a later term received a
  // snapshot a leader of an earlier term had begun to send; the driver
  // imported it, the core refused it, and the core then applied entry 806 to
  // a state at 908 (5 voters, quorum, all faults, seeds 32 and 35).
  for (uint64_t seed : {32, 35}) {
    SimConfig c = Config(AcksPolicy::kQuorum, 5);
    c.seed = seed;
    SimResult r = RunSimulation(c);
    EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
  }
}

TEST(Sim, AsyncCompactionStopsAtTheMajorityCommit) {
  // Seeds that once failed: under async a node compacted its log up to its
  // applied index, above the majority commit. A new leader then truncated
  // the compacted entries (assertion in RaftLog::at, eventual reads, seed
  // 114); a snapshot replaced them without a rollback record for the ones
  // compacted away (49 acknowledged writes lost, 12 recorded: session reads,
  // seed 1); or the leader, with its followers needing a snapshot, could
  // send none until the commit caught up with its applied state — and the
  // commit needed those followers (no convergence: crashes only, seed 5).
  // Holding the applied state back while a snapshot waited fixed seed 5 but
  // not a state already ahead: 4 voters after a removal, two of them needing
  // a snapshot, commit 655 and applied 1082 (membership, seed 900168). The
  // snapshot is now the engine's committed state, sent whatever the applied.
  struct Case {
    const char* consistency;
    uint32_t faults;
    uint64_t seed;
    bool membership;
  };
  for (const Case& k :
       {Case{"eventual", kFaultAll, 114, false}, Case{"session", kFaultAll, 1, false},
        Case{"eventual", kFaultCrash, 5, false}, Case{"strong", kFaultAll, 900168, true}}) {
    SimConfig c = Config(AcksPolicy::kAsync);
    c.consistency = k.consistency;
    c.faults = k.faults;
    c.seed = k.seed;
    c.membership = k.membership;
    ExpectPassesAndRecordsEveryLoss(c);
  }
}

TEST(Sim, AsyncFollowerServesAReadIndexOnlyOnTheLeadersLog) {
  // Seeds that once failed: a deposed leader (or a follower of one), now a
  // follower in a later term, still held speculative entries of its old term
  // up to index 202; the new leader had committed other entries from 188 on.
  // Its freshness round came back with a read index at or below 202, and the index
  // alone said "applied": bounded reads were served from the diverged state,
  // 1426 ms behind the commit (seed 126; 925 ms, seed 290). A read index now
  // carries the term of its entry and is served only on the same log.
  for (uint64_t seed : {126u, 290u}) {
    SimConfig c = Config(AcksPolicy::kAsync);
    c.consistency = "bounded:250";
    c.faults = kFaultAll;
    c.seed = seed;
    SimResult r = RunSimulation(c);
    EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
    EXPECT_LE(r.stats.max_staleness_ns, AllowedStalenessNs(c)) << ReproduceCommand(c);
  }
}

TEST(Sim, AsyncSessionTokenIsHeldOnlyOnItsOwnLog) {
  // Seeds that once failed: a session read on a node whose applied position
  // compared above the session's token (a later term first) but whose state
  // lacked the token's entries: a newer leader's speculative entries, rolled
  // back later, while the token's were committed. A session read missed a
  // write (3.773) an earlier read (at 3.776) had seen, on a node at 4.772
  // (seed 184), and its own write (2.531) on a node at 3.530 (seed 251). The
  // token is now held by the same term at its index, by the commit, or past
  // a committed entry of a later term.
  for (uint64_t seed : {184u, 251u}) {
    SimConfig c = Config(AcksPolicy::kAsync);
    c.consistency = "session";
    c.faults = kFaultAll;
    c.seed = seed;
    SimResult r = RunSimulation(c);
    EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
  }
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

TEST(Sim, MembershipChangesUnderOneAndAsyncRecordEveryLoss) {
  // Joins take the voters to 4 and 5, where `one` acknowledges before the
  // majority commit, as async always does: strong reads are then not
  // promised linearizable (seeds 31 and 32 of `one` once failed only for
  // that), but every loss must be recorded.
  for (AcksPolicy acks : {AcksPolicy::kOne, AcksPolicy::kAsync}) {
    SimConfig c = Config(acks);
    c.membership = true;
    Totals t = RunSeeds(c, Seeds(acks == AcksPolicy::kOne ? 40 : 30));
    EXPECT_EQ(t.failed, 0u) << t.first_failure;
    EXPECT_EQ(t.lost, t.recorded) << AcksPolicyName(acks);
  }
}

TEST(Sim, ARemovedLeaderRollsBackWhatItAcknowledged) {
  // A seed that once failed: under async the leader of term 3 acknowledged a
  // write (index 928) and lost leadership before replicating it; the next
  // leader removed it while it was cut off. Nobody sent it anything again, so
  // the write never reached a rollback record (lost silently, seed 73). Its
  // pre-votes now make the leader send it the log through its removal.
  SimConfig c = Config(AcksPolicy::kAsync);
  c.membership = true;
  c.seed = 73;
  ExpectPassesAndRecordsEveryLoss(c);
}

TEST(Sim, ARemovedNodeThatKnowsItIsOutAsksForTheLog) {
  // Seeds that once failed: under async a leader removed itself (or learned
  // of its removal), was cut off, and acknowledged writes alone; the others
  // committed the removal and replaced those entries. Knowing it was no
  // longer a member, it never campaigned, so nobody told it: the writes were
  // lost silently (seeds 903574, 900504, 900691). It now asks the leader for
  // the log while it holds entries it cannot tell are committed. Seed 901497
  // also needs the run to wait until such a node has settled (it would have
  // recorded its loss 1.6 virtual seconds after the members converged).
  for (uint64_t seed : {900504, 900691, 901497}) {
    // Since snapshots carry term starts, what the removed node recorded at
    // these seeds (committed entries) is no longer recorded; they must still
    // lose nothing silently.
    SimConfig c = Config(AcksPolicy::kAsync);
    c.membership = true;
    c.seed = seed;
    ExpectPassesAndRecordsEveryLoss(c);
  }
  // Each of these fails without the asking (checked by disabling it).
  for (uint64_t seed : {903574, 900079, 900331, 900744}) {
    SimConfig c = Config(AcksPolicy::kAsync);
    c.membership = true;
    c.seed = seed;
    SimResult r = ExpectPassesAndRecordsEveryLoss(c);
    // The scenario still happens at this seed: a removed node recorded what
    // it learned was replaced.
    EXPECT_GT(r.stats.removed_node_rollbacks, 0u) << ReproduceCommand(c);
  }
}

TEST(Sim, CompactionAndSnapshotsHappen) {
  // Every run compacts its log (small bounds in the simulator), so followers
  // that fall behind get snapshots: make sure that path is really exercised.
  SimConfig c = Config(AcksPolicy::kQuorum);
  // The bounds scale with the seed count (the sanitizer build runs fewer).
  uint64_t installed = 0, joins = 0, membership_runs = 0;
  const uint64_t seeds = Seeds(20);
  for (uint64_t s = 1; s <= seeds; ++s) {
    c.seed = s;
    c.membership = s % 2 == 0;
    membership_runs += c.membership;
    SimResult r = RunSimulation(c);
    EXPECT_TRUE(r.ok) << ReproduceCommand(c) << "\n  " << r.verdict;
    installed += r.stats.snapshots_installed;
    joins += r.stats.joins;
  }
  EXPECT_GE(installed, seeds / 2) << "snapshots installed over " << seeds << " seeds";
  EXPECT_GE(joins, membership_runs) << "joins over " << membership_runs << " membership runs";
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
// A leader that answers reads without confirming it still leads: only the
// linearizable check can see it (nothing is lost, replicas converge), and it
// needs a deposed leader answering while a new one takes writes: a few seeds
// in a hundred have one (seed 7 is the first today; it moves when schedules do).
TEST(SimMutations, ReadWithoutQuorumIsCaughtByTheLinearizableCheck) {
  SimConfig c = Config(AcksPolicy::kQuorum);
  ASSERT_TRUE(c.mutations.Set("read-without-quorum"));
  uint64_t caught = 0;
  for (uint64_t s = 1; s <= 50 && !caught; ++s) {
    c.seed = s;
    SimResult r = RunSimulation(c);
    if (r.ok) continue;
    caught = s;
    EXPECT_EQ(r.verdict.rfind("FAIL: not linearizable", 0), 0u) << r.verdict;
    EXPECT_TRUE(r.checks[0].ok() && r.checks[1].ok()) << "no lost write, replicas converge";
    ASSERT_GE(r.checks[2].details.size(), 2u);
    EXPECT_NE(r.checks[2].details[1].find("invoked t="), std::string::npos)
        << "the counterexample names operations with their times";
  }
  EXPECT_GT(caught, 0u);
}

}  // namespace
}  // namespace rkv
