// Exact-arithmetic cases (docs/design.md §3.6): x, y small integers, w and h multiples of powers of
// two, sizes small enough that every product and partial sum is exact in f32. The only
// rounding left is the final division by b (and by the achieved step, a power of two), which
// every kernel does identically in double, so every kernel's loss, central difference and
// analytic gradient must equal the exact answer bitwise. No tolerance is involved.
// Sweeps b and d over tail-hitting sizes, with misaligned pointers and ld > d.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/kernel.hpp"

namespace numgrad::testing {
namespace {

const std::size_t kSizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};

class Exact : public ::testing::TestWithParam<std::string> {};

// Magnitudes: |x| <= 1, |w +- h| <= 1.5, |y| <= 4, so |r| <= 1.5 * 65 + 4 = 101.5, a multiple
// of 1/4: at most 406 quarters. r^2 is a multiple of 1/16 below 406^2 = 164836 sixteenths, and
// a sum of 65 of them stays below 65 * 164836 < 2^24 sixteenths: every partial sum, product
// and square is exactly representable in f32, whatever the seed.
template <class T>
void run_exact(const Kernel& k, std::size_t b, std::size_t d, std::size_t ld, std::size_t off,
               std::mt19937& rng) {
  std::uniform_int_distribution<int> xi(-1, 1), wi(-2, 2), yi(-4, 4), hi(1, 2);
  Layout<T> L(b, d, ld, off);
  for (std::size_t i = 0; i < b; ++i) {
    for (std::size_t j = 0; j < d; ++j) L.x(i, j) = static_cast<T>(xi(rng));
    L.y(i) = static_cast<T>(yi(rng));
  }
  std::vector<T> w(d), h(d);
  for (std::size_t j = 0; j < d; ++j) {
    w[j] = static_cast<T>(wi(rng)) / 2;  // multiples of 1/2 in [-1, 1]
    h[j] = static_cast<T>(hi(rng)) / 4;  // 1/4 or 1/2: w +- h exact, step 2h a power of two
  }
  // Exact answers: integer arithmetic on the values scaled by 4 (w) and 1 (x, y).
  std::int64_t sum_r2 = 0;             // sum (4 r)^2
  std::vector<std::int64_t> xr(d, 0);  // sum x_ij (4 r_i)
  for (std::size_t i = 0; i < b; ++i) {
    std::int64_t r4 = -4 * static_cast<std::int64_t>(L.y(i));
    for (std::size_t j = 0; j < d; ++j)
      r4 += static_cast<std::int64_t>(L.x(i, j)) * static_cast<std::int64_t>(w[j] * 4);
    sum_r2 += r4 * r4;
    for (std::size_t j = 0; j < d; ++j) xr[j] += static_cast<std::int64_t>(L.x(i, j)) * r4;
  }
  const double bd = static_cast<double>(b);
  const double loss_exact = static_cast<double>(sum_r2) / 16.0 / bd;

  const BatchView<T> B = L.view();
  const double loss = numgrad::loss<T>(k, B, w);
  std::vector<double> g(d), ga(d);
  numgrad::gradient<T>(k, B, w, h, g);
  numgrad::analytic_gradient<T>(k, B, w, ga);
  ASSERT_EQ(loss, loss_exact) << "b=" << b << " d=" << d << " ld=" << ld << " offset=" << off;
  for (std::size_t j = 0; j < d; ++j) {
    // (2/b) sum x r, with sum x r = xr / 4 exactly; 2 * (xr / 4) is exact, then one division.
    const double g_exact = 2.0 * (static_cast<double>(xr[j]) / 4.0) / bd;
    ASSERT_EQ(ga[j], g_exact) << "analytic j=" << j << " b=" << b << " d=" << d << " ld=" << ld
                              << " offset=" << off;
    ASSERT_EQ(g[j], g_exact) << "gradient j=" << j << " b=" << b << " d=" << d << " ld=" << ld
                             << " offset=" << off;
  }
}

TEST_P(Exact, EveryShapeBitwise) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  std::mt19937 rng(12345);
  for (std::size_t b : kSizes)
    for (std::size_t d : kSizes)
      for (auto [pad, off] : {std::pair<std::size_t, std::size_t>{0, 0}, {3, 1}, {17, 3}}) {
        if (k.elem == DType::f32)
          run_exact<float>(k, b, d, d + pad, off, rng);
        else
          run_exact<double>(k, b, d, d + pad, off, rng);
        if (::testing::Test::HasFatalFailure()) return;
      }
}

INSTANTIATE_TEST_SUITE_P(Registry, Exact, ::testing::ValuesIn(kernel_ids()), param_name);

// A batch larger than L2 (1.2 MiB in f32, 2.5 MiB in f64), split into several chunks by the
// parallel kernels. With f64 accumulation a 4500-row batch is still exact: |4r| <= 418, so the
// sum of 4500 squares stays below 2^30 sixteenths, far inside f64's 2^53.
bool accumulates_in_f64(const Kernel& k) {
  return k.acc == DType::f64;
}

class ExactLarge : public ::testing::TestWithParam<std::string> {};

TEST_P(ExactLarge, AboveL2Bitwise) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  std::mt19937 rng(777);
  if (k.elem == DType::f32)
    run_exact<float>(k, 4500, 67, 70, 1, rng);
  else
    run_exact<double>(k, 4500, 67, 70, 1, rng);
}

INSTANTIATE_TEST_SUITE_P(Registry, ExactLarge, ::testing::ValuesIn(kernel_ids(accumulates_in_f64)),
                         param_name);

}  // namespace
}  // namespace numgrad::testing
