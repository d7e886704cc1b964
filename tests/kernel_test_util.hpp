// Shared helpers for the kernel tests: the list of registered kernel ids as a gtest
// parameter source, a dataset buffer with a chosen misalignment and leading dimension, a
// random problem with data-aware steps, the expectations a numgrad/check.hpp result must meet,
// and an expectation of std::invalid_argument naming what is wrong.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "numgrad/check.hpp"
#include "numgrad/data.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/step.hpp"

namespace numgrad::testing {

inline std::vector<std::string> kernel_ids(bool (*keep)(const Kernel&) = nullptr) {
  std::vector<std::string> ids;
  for (const Kernel& k : registry())
    if (keep == nullptr || keep(k)) ids.push_back(k.id);
  return ids;
}

inline std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

// The thread counts a test runs the parallel kernels at: `counts`, less those above
// NUMGRAD_TEST_MAX_THREADS when that is set. The aarch64 cross build sets it to 1 for its runs
// under qemu-user (tests/CMakeLists.txt): there an emulated thread costs a host core each, and
// multi-thread determinism is covered by the native run. A value that is not a count >= 1 is an
// error, not a silent full run.
inline std::vector<int> test_thread_counts(std::initializer_list<int> counts) {
  const char* env = std::getenv("NUMGRAD_TEST_MAX_THREADS");
  int max = std::numeric_limits<int>::max();
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 4096)
      throw std::invalid_argument("NUMGRAD_TEST_MAX_THREADS='" + std::string(env) +
                                  "' is not a thread count");
    max = static_cast<int>(v);
  }
  std::vector<int> out;
  for (int t : counts)
    if (t <= max) out.push_back(t);
  return out;
}

// Skips the current test when the kernel cannot run on this CPU (or under NUMGRAD_ISA).
#define NUMGRAD_SKIP_UNSUPPORTED(k) \
  if (!(k).is_supported()) GTEST_SKIP() << (k).id << " is not supported on this CPU"

// Rows of X at `offset` elements past the start of an allocation, with leading dimension ld;
// y gets the same offset. The allocations end exactly at the batch's last element
// (offset + (b-1) ld + d for X), so a read past the batch is a heap overflow that the
// sanitizer build reports; padding between rows is NaN, so a kernel that uses it is caught.
template <class T>
struct Layout {
  std::vector<T> xbuf, ybuf;
  std::size_t offset, b, d, ld;
  Layout(std::size_t b_, std::size_t d_, std::size_t ld_, std::size_t offset_)
      : xbuf(offset_ + (b_ - 1) * ld_ + d_, std::numeric_limits<T>::quiet_NaN()),
        ybuf(offset_ + b_, std::numeric_limits<T>::quiet_NaN()),
        offset(offset_),
        b(b_),
        d(d_),
        ld(ld_) {}
  T& x(std::size_t i, std::size_t j) { return xbuf[offset + i * ld + j]; }
  T& y(std::size_t i) { return ybuf[offset + i]; }
  BatchView<T> view() const { return {xbuf.data() + offset, ybuf.data() + offset, b, d, ld}; }
};

// Normal X (leading dimension ld) and noisy targets; w ~ N(0, 1), away from the fit so that
// residuals are not tiny; the data-aware steps at w.
template <class T>
struct RandomProblem {
  Dataset<T> data;
  std::vector<T> w, h;
};
template <class T>
RandomProblem<T> random_problem(std::size_t b, std::size_t d, std::size_t ld, std::uint64_t seed) {
  SyntheticSpec spec;
  spec.n = b;
  spec.d = d;
  spec.ld = ld;
  spec.noise = 0.5;
  spec.seed = seed;
  RandomProblem<T> p{make_synthetic<T>(spec), std::vector<T>(d), std::vector<T>(d)};
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal;
  for (T& v : p.w) v = static_cast<T>(normal(rng));
  make_steps<T>(StepPolicy{}, p.data.all(), p.w, p.h);
  return p;
}

// f() throws std::invalid_argument whose message contains `needle`.
template <class F>
void expect_invalid(const F& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one naming '" << needle << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// An ErrorCheck within its bound; on failure the message names the worst coordinate.
inline void expect_within(const ErrorCheck& c, const std::string& what) {
  EXPECT_TRUE(c.ok()) << c.describe(what + "[" + std::to_string(c.worst) + "] ");
}

// A kernel's loss, analytic gradient and gradient each within its bound (the step policy
// check of verify is not asked: the tests choose their steps for other reasons).
inline void expect_within_bounds(const KernelCheck& c) {
  expect_within(c.loss, "loss");
  expect_within(c.analytic, "analytic");
  expect_within(c.central, "gradient");
}

}  // namespace numgrad::testing
