// What only the SIMD families have: run-time ISA choice and the short-row paths.
// - simd.auto runs the simd.<best_isa()> kernels: bitwise identical results and depths.
// - NUMGRAD_ISA caps the choice and an unknown value is an error. isa.cpp reads the variable
//   once per process, so each case runs in a fresh process (a threadsafe death test; under
//   emulation a fork, see IsaCap).
// - Short rows, d = 1..32, contiguous (ld = d: rows packed several per register when d is a
//   power of two below the width) and padded (ld > d), b not a multiple of any width: every
//   result lies within the docs/design.md §3.3 bound from numgrad/reference.hpp, computed with the
//   kernel's own accumulator and depths. No tolerance here is a hand-picked constant.
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/isa.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/reference.hpp"

namespace numgrad::testing {
namespace {

std::vector<std::string> simd_ids() {
  std::vector<std::string> ids;
  for (const Kernel& k : registry())
    if (k.id.rfind("simd.", 0) == 0) ids.push_back(k.id);
  return ids;
}

// A random batch with NaN in every padding element (Layout) and steps that move w.
template <class T>
struct Problem {
  Layout<T> L;
  std::vector<T> w, h;
  Problem(std::size_t b, std::size_t d, std::size_t ld, std::size_t offset, unsigned seed)
      : L(b, d, ld, offset), w(d), h(d) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    for (std::size_t i = 0; i < b; ++i) {
      for (std::size_t j = 0; j < d; ++j) L.x(i, j) = static_cast<T>(normal(rng));
      L.y(i) = static_cast<T>(normal(rng));
    }
    for (std::size_t j = 0; j < d; ++j) {
      w[j] = static_cast<T>(normal(rng));
      h[j] = static_cast<T>(0.125);
    }
  }
};

template <class T>
void check_within_bounds(const Kernel& k, std::size_t b, std::size_t d, std::size_t ld,
                         unsigned seed) {
  SCOPED_TRACE(::testing::Message()
               << k.id << " b=" << b << " d=" << d << " ld=" << ld << " seed=" << seed);
  Problem<T> p(b, d, ld, 1, seed);
  const BatchView<T> B = p.L.view();
  expect_within_bounds(check_kernel<T>(k, B, p.w, p.h, reference<T>(B, p.w)));
}

class SimdShortRows : public ::testing::TestWithParam<std::string> {};

TEST_P(SimdShortRows, EveryShortWidthWithinBounds) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for (std::size_t d = 1; d <= 32; ++d)
    for (std::size_t ld : {d, d + 3})
      for (std::size_t b : {std::size_t{37}, std::size_t{203}}) {
        const auto seed = static_cast<unsigned>(1000 * d + 10 * ld + b);
        if (k.elem == DType::f32)
          check_within_bounds<float>(k, b, d, ld, seed);
        else
          check_within_bounds<double>(k, b, d, ld, seed);
        if (HasFailure()) return;
      }
}

INSTANTIATE_TEST_SUITE_P(Registry, SimdShortRows, ::testing::ValuesIn(simd_ids()), param_name);

// Rows of up to 16 full registers (12 on avx2/sse2, which have 16 registers) take an
// instantiation per register count (w held in registers), longer ones a run-time loop (after
// 16 held vectors on avx512 and neon64):
// widths on both sides of each ISA's limit (48/52 for 4 lanes and 12 registers, 64/68 for 4
// lanes and 16 (neon64 f32), 32/34 for 2 lanes and 16 (neon64 f64), 96/104 for 8, 256/272 for
// 16; sse2 f64's 24/26 are among SimdShortRows' widths), with and without a tail, contiguous
// and padded, one full block of rows and a partial one.
class SimdWideRows : public ::testing::TestWithParam<std::string> {};

TEST_P(SimdWideRows, HeldAndLoopedWidthsWithinBounds) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for (std::size_t d :
       {32, 34, 48, 49, 52, 64, 65, 68, 96, 97, 104, 128, 191, 192, 255, 256, 257, 272, 520})
    for (std::size_t ld : {d, d + 3}) {
      const auto seed = static_cast<unsigned>(7 * d + ld);
      if (k.elem == DType::f32)
        check_within_bounds<float>(k, 37, d, ld, seed);
      else
        check_within_bounds<double>(k, 37, d, ld, seed);
      if (HasFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Registry, SimdWideRows, ::testing::ValuesIn(simd_ids()), param_name);

// simd.auto.X and simd.<best>.X: the same function behind a forwarder, so bitwise equal.
// Returns an empty string when they agree, else what differs.
std::string auto_matches_best() {
  const std::string best = "simd." + std::string(name(best_isa())) + ".";
  for (const Kernel& a : registry()) {
    if (a.id.rfind("simd.auto.", 0) != 0) continue;
    const Kernel& k = find_kernel(best + a.id.substr(std::string("simd.auto.").size()));
    const std::size_t b = 203, d = 13;
    const SumDepths da = a.depths(b, d), dk = k.depths(b, d);
    if (da.batch != dk.batch || da.features != dk.features) return a.id + ": depths differ";
    auto compare = [&](auto zero) -> std::string {
      using T = decltype(zero);
      Problem<T> p(b, d, d + 1, 1, 7);
      const BatchView<T> B = p.L.view();
      if (loss<T>(a, B, p.w) != loss<T>(k, B, p.w)) return a.id + ": loss differs";
      std::vector<double> ga(d), gk(d);
      gradient<T>(a, B, p.w, p.h, ga);
      gradient<T>(k, B, p.w, p.h, gk);
      if (ga != gk) return a.id + ": gradient differs";
      return "";
    };
    const std::string diff = a.elem == DType::f32 ? compare(0.0f) : compare(0.0);
    if (!diff.empty()) return diff;
  }
  return "";
}

TEST(SimdAuto, RunsTheBestAvailableIsa) {
  EXPECT_NE(best_isa(), Isa::none);
  EXPECT_EQ(auto_matches_best(), "");
}

// Each case needs a process that has not read NUMGRAD_ISA: a threadsafe death test re-executes
// the binary for it. Under qemu-user an aarch64 binary cannot re-execute itself (no binfmt_misc
// handler), so the cross build runs these cases alone in a process of their own with
// NUMGRAD_TEST_FORK_DEATH set (tests/CMakeLists.txt), and a "fast" death test's fork of that
// process has read nothing either.
class IsaCap : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* fork = std::getenv("NUMGRAD_TEST_FORK_DEATH");
    GTEST_FLAG_SET(death_test_style, fork != nullptr && *fork != '\0' ? "fast" : "threadsafe");
  }
};

#if defined(__x86_64__)
// In a fresh process: cap at `cap`, then best_isa() must be the best ISA at or below it that
// the CPU runs, nothing above it is available, and simd.auto runs that ISA's kernels.
void run_capped(const char* cap, Isa ceiling) {
  setenv("NUMGRAD_ISA", cap, 1);
  Isa expected = Isa::sse2;
  if (ceiling != Isa::sse2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    expected = Isa::avx2;
  if (ceiling == Isa::avx512 && isa_available(Isa::avx512)) expected = Isa::avx512;
  bool ok = best_isa() == expected && auto_matches_best().empty();
  if (ceiling == Isa::sse2) ok = ok && !isa_available(Isa::avx2) && !isa_available(Isa::avx512);
  if (ceiling == Isa::avx2) ok = ok && !isa_available(Isa::avx512);
  std::exit(ok ? 0 : 1);
}

TEST_F(IsaCap, Sse2CapsEverySimdKernel) {
  EXPECT_EXIT(run_capped("sse2", Isa::sse2), ::testing::ExitedWithCode(0), "");
}
TEST_F(IsaCap, Avx2CapsAvx512) {
  EXPECT_EXIT(run_capped("avx2", Isa::avx2), ::testing::ExitedWithCode(0), "");
}
TEST_F(IsaCap, Avx512LeavesEverything) {
  EXPECT_EXIT(run_capped("avx512", Isa::avx512), ::testing::ExitedWithCode(0), "");
}
// The ISA names of the other architecture, and one it would accept there.
constexpr const char* kForeignIsa = "neon64";
constexpr const char* kValidIsa = "avx512";
#elif defined(__aarch64__)
// aarch64 has one ISA, so there is nothing to cap below it: the cap at its name leaves it,
// and simd.auto runs it.
TEST_F(IsaCap, Neon64LeavesEverything) {
  auto run = [] {
    setenv("NUMGRAD_ISA", "neon64", 1);
    std::exit(best_isa() == Isa::neon64 && isa_available(Isa::neon64) && auto_matches_best().empty()
                  ? 0
                  : 1);
  };
  EXPECT_EXIT(run(), ::testing::ExitedWithCode(0), "");
}
constexpr const char* kForeignIsa = "avx2";
constexpr const char* kValidIsa = "neon64";
#endif

// In a fresh process: NUMGRAD_ISA=value must make the first kernel call throw
// std::invalid_argument naming the variable, the value and (`valid`) a name it accepts.
void expect_unknown_isa_rejected(const char* value, const char* valid) {
  setenv("NUMGRAD_ISA", value, 1);
  std::vector<float> x(4, 1.0f), y(1, 0.0f), w(4, 0.5f);
  const BatchView<float> B{x.data(), y.data(), 1, 4, 4};
  try {
    loss<float>(find_kernel("simd.auto.residual.f32"), B, w);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    std::exit(what.find("NUMGRAD_ISA") != std::string::npos &&
                      what.find(value) != std::string::npos && what.find(valid) != std::string::npos
                  ? 0
                  : 2);
  }
  std::exit(1);
}

// An unknown value is reported at the API boundary with the variable's name and value.
TEST_F(IsaCap, UnknownValueIsAClearError) {
  EXPECT_EXIT(expect_unknown_isa_rejected("avx9", kValidIsa), ::testing::ExitedWithCode(0), "");
}
// The names are those of the architecture the binary was built for: another one's ISA is as
// unknown as a made-up one.
TEST_F(IsaCap, OtherArchitecturesIsaIsUnknown) {
  EXPECT_EXIT(expect_unknown_isa_rejected(kForeignIsa, kValidIsa), ::testing::ExitedWithCode(0),
              "");
}

}  // namespace
}  // namespace numgrad::testing
