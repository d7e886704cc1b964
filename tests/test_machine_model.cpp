// The machine model's knee finding and claim checks on synthetic read-bandwidth curves: clean
// steps, noisy steps with outliers, a shared last level that slopes (as measured on a 2-core
// KVM guest), curves without levels, and a VM whose OS reports nonsense cache sizes.
// Tolerances: a knee must land within a factor 1.5 of the size where the synthetic curve
// starts to fall, i.e. within two quarter-octave samples of it, since the sweep cannot place a
// knee more finely than its spacing and the knee is the midpoint of a transition that the
// synthetic curves spread over one sample.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "machine_model.hpp"

namespace numgrad::bench {
namespace {

constexpr double KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

struct Level {
  double size, bw;  // bytes (0 for memory), bytes/s
};

// Each level's bandwidth up to its size, then a geometric transition to the next level's over
// `width` octaves, as a cyclic read through a cache with a not-quite-LRU policy shows.
std::vector<BandwidthPoint> synthetic(const std::vector<Level>& levels, double width = 0.5,
                                      double top = 1 * GiB) {
  std::vector<BandwidthPoint> c;
  for (int k = 0;; ++k) {
    const double s = 16 * KiB * std::exp2(k / 4.0);
    if (s > top) break;
    std::size_t i = 0;
    while (levels[i].size > 0 && s > levels[i].size * std::exp2(width)) ++i;
    double bw = levels[i].bw;
    if (levels[i].size > 0 && s > levels[i].size) {
      const double t = std::log2(s / levels[i].size) / width;
      bw = levels[i].bw * std::pow(levels[i + 1].bw / levels[i].bw, t);
    }
    c.push_back({s, bw});
  }
  return c;
}

const std::vector<Level> kServer = {
    {32 * KiB, 300e9}, {1 * MiB, 150e9}, {32 * MiB, 60e9}, {0, 20e9}};

void expect_levels(const std::vector<CacheLevel>& got, const std::vector<Level>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string name =
        i + 1 == want.size() ? "dram" : std::string("l").append(std::to_string(i + 1));
    EXPECT_EQ(got[i].name, name);
    EXPECT_NEAR(got[i].bw / want[i].bw, 1.0, 0.15) << got[i].name;
    if (want[i].size > 0) {
      EXPECT_GE(got[i].knee_bytes, want[i].size / 1.5) << got[i].name;
      EXPECT_LE(got[i].knee_bytes, want[i].size * 1.5) << got[i].name;
    } else {
      EXPECT_EQ(got[i].knee_bytes, 0) << got[i].name;
    }
  }
}

TEST(MachineModel, CleanStepsGiveEveryLevelAndKnee) {
  for (double width : {0.0, 0.5, 1.0}) {
    SCOPED_TRACE("transition over " + std::to_string(width) + " octaves");
    expect_levels(find_levels(synthetic(kServer, width)), kServer);
  }
}

TEST(MachineModel, NoisyStepsWithOutliersGiveTheSameLevels) {
  for (unsigned seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0, 0.03);
    auto c = synthetic(kServer);
    for (auto& p : c) p.bw *= std::exp(noise(rng));
    // Two disturbed samples (another process ran), each 30% slow.
    c[9].bw *= 0.7;
    c[40].bw *= 0.7;
    expect_levels(find_levels(c), kServer);
  }
}

// Measured on an AMD EPYC (Zen 4) KVM guest, 2 cores, one thread (GB/s at 16 KiB * 2^(k/4)):
// a 32 KiB L1, a 1 MiB L2 only ~20% faster than the L3, and a 32 MiB L3 shared with other
// tenants that slopes into memory from 8 MiB on.
TEST(MachineModel, SharedSlopingLastLevelOfAVm) {
  const double gbs[] = {203.5, 204.5, 202.9, 203.4, 197.2, 116.2, 115.2, 115.3, 112.8, 110.6, 112.0,
                        109.7, 111.8, 110.6, 111.8, 110.3, 107.1, 104.7, 105.1, 105.8, 105.2, 106.5,
                        104.4, 92.3,  90.7,  85.0,  85.4,  91.2,  93.8,  95.5,  89.7,  88.7,  87.9,
                        92.0,  89.9,  80.9,  98.0,  87.7,  75.8,  70.6,  59.9,  48.3,  40.1,  36.5,
                        28.8,  27.0,  24.2,  22.5,  19.4,  18.4,  19.6,  18.5,  18.8,  19.1,  19.1,
                        20.3,  21.4,  21.6,  21.9,  22.8,  23.0,  21.4,  21.4,  22.6,  21.4,  21.3};
  std::vector<BandwidthPoint> c;
  for (std::size_t k = 0; k < std::size(gbs); ++k)
    c.push_back({16 * KiB * std::exp2(k / 4.0), gbs[k] * 1e9});
  const auto lv = find_levels(c);
  ASSERT_EQ(lv.size(), 4u);
  EXPECT_EQ(lv[0].name, "l1");
  EXPECT_EQ(lv[3].name, "dram");
  EXPECT_GE(lv[0].knee_bytes, 32 * KiB / 1.5);
  EXPECT_LE(lv[0].knee_bytes, 32 * KiB * 1.5);
  EXPECT_GE(lv[1].knee_bytes, 1 * MiB / 1.5);
  EXPECT_LE(lv[1].knee_bytes, 1 * MiB * 1.5);
  EXPECT_GE(lv[2].knee_bytes, 8 * MiB);
  EXPECT_LE(lv[2].knee_bytes, 32 * MiB);
  EXPECT_NEAR(lv[3].bw, 21e9, 2e9);
}

TEST(MachineModel, FlatOrGentlySlopingCurvesHaveOneLevel) {
  auto flat = synthetic({{0, 50e9}});
  EXPECT_EQ(find_levels(flat).size(), 1u);
  // 5% slower per octave over 16 octaves: a slope, never a staircase of levels.
  for (auto& p : flat) p.bw *= std::pow(0.95, std::log2(p.bytes / (16 * KiB)));
  EXPECT_EQ(find_levels(flat).size(), 1u);
  EXPECT_TRUE(find_levels({}).empty());
}

MachineModel server_model(std::vector<ReportedCache> reported) {
  MachineModel m;
  m.key.memory_bytes = static_cast<std::size_t>(16 * GiB);
  m.sweep_max_total_bytes = 1 * GiB;
  m.threads[1].curve = synthetic(kServer);
  m.threads[1].levels = find_levels(m.threads[1].curve);
  m.threads[1].fma_f32 = 1e11;
  m.threads[1].fma_f64 = 5e10;
  m.reported = std::move(reported);
  return m;
}

TEST(MachineModel, NonsenseCacheClaimsOfAVmAreContradicted) {
  const MachineModel m = server_model({{"sysfs", "L2", 1 * MiB},
                                       {"sysconf", "L3", 508 * MiB},
                                       {"sysconf", "L4", 64 * GiB},
                                       {"sysfs", "L3", 32 * MiB}});
  const auto checks = check_claims(m);
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_TRUE(checks[0].agrees) << checks[0].evidence;
  EXPECT_FALSE(checks[1].agrees);
  EXPECT_NE(checks[1].evidence.find("memory speed"), std::string::npos) << checks[1].evidence;
  EXPECT_FALSE(checks[2].agrees);
  EXPECT_NE(checks[2].evidence.find("larger than the machine's memory"), std::string::npos);
  EXPECT_TRUE(checks[3].agrees) << checks[3].evidence;
}

TEST(MachineModel, CeilingIsThePlateauInsideALevelAndTheCurveAtAKnee) {
  const MachineModel m = server_model({});
  const ReadCeiling in_l2 = m.read_ceiling(256 * KiB, 1);
  ASSERT_NE(in_l2.level, nullptr);
  EXPECT_EQ(in_l2.level->name, "l2");
  EXPECT_EQ(in_l2.bw, in_l2.level->bw);
  EXPECT_FALSE(in_l2.at_knee);
  const ReadCeiling knee = m.read_ceiling(1.4 * MiB, 1);
  EXPECT_TRUE(knee.at_knee);
  EXPECT_LT(knee.bw, 150e9);
  EXPECT_GT(knee.bw, 60e9);
  EXPECT_EQ(m.read_ceiling(1e300, 1).level->name, "dram");
  EXPECT_EQ(m.read_ceiling(1 * MiB, 4).bw, 0);  // no curve for four threads
  EXPECT_GT(m.last_cache_bytes(), 16 * MiB);
}

TEST(MachineModel, TextRoundTripsAndNamesTheBadLine) {
  MachineModel m = server_model({{"sysconf", "L3", 508 * MiB}});
  m.key = {"host", "AMD EPYC (family 25 model 17 stepping 1)", "avx512", 2,
           static_cast<std::size_t>(16 * GiB)};
  m.created = "2026-12-02T16:00:00Z";
  const MachineModel back = from_text(to_text(m));
  EXPECT_TRUE(back.key == m.key);
  ASSERT_EQ(back.threads.at(1).curve.size(), m.threads.at(1).curve.size());
  EXPECT_EQ(back.threads.at(1).curve[5].bw, m.threads.at(1).curve[5].bw);
  EXPECT_EQ(back.threads.at(1).levels.size(), 4u);  // derived again on reading
  EXPECT_EQ(back.reported.size(), 1u);
  std::string bad = to_text(m);
  bad.insert(bad.find("read 1 "), "read 1 banana 3\n");
  try {
    from_text(bad);
    FAIL() << "a malformed line was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
  }
  EXPECT_THROW(from_text("something else\n"), std::runtime_error);
}

}  // namespace
}  // namespace numgrad::bench
