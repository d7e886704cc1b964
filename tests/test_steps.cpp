// The data-aware step rule (docs/design.md §3.1) at unit level: for random w_j, sums r2 and
// col2_j and batch sizes, from far from the fit to near it, the step finish_steps chooses is
// the error model's minimum over every admissible power of two, found here by brute force with
// the same score. Both of the rule's paths are checked: the vectorised window (fast_step) and
// the full search (data_aware_step), which runs where the window cannot vouch for its step
// and, in baseline x86-64 units, for every coordinate. A sweep near the top of a binade
// reaches the window's edge cases. No tolerance: the scores are one formula (both paths scale
// it by b / (u col2)), so the chosen step's must equal the minimum up to ties (1e-12).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "kernels/compose.hpp"

namespace numgrad::testing {
namespace {

using detail::fast_step;
using detail::finish_steps;

// The model's score of step h (docs/design.md §3.1): rounding u (r2 + h^2 col2) / (b h) plus
// (2/b) col2 |shift|, with the midpoint's shift exact by TwoSum in T.
template <class T>
double score(T w, T h, double r2, double col2, double b) {
  auto err = [](T a, T c) {  // a + c - fl(a + c), exactly
    const T s = a + c, cv = s - a;
    return static_cast<double>((a - (s - cv)) + (c - cv));
  };
  const double u = std::numeric_limits<T>::epsilon() / 2, hd = static_cast<double>(h);
  const double shift = (err(w, h) + err(w, T(-h))) / 2;
  return u * r2 / (b * hd) + u * col2 * hd / b + 2 * col2 / b * std::abs(shift);
}

template <class T>
T random_weight(std::mt19937_64& rng) {
  constexpr int p = std::numeric_limits<T>::digits;
  const int q = static_cast<int>(rng() % 61) - 30;
  const int m = 1 + static_cast<int>(rng() % (p - 3));
  switch (rng() % 10) {
    case 8:  // below the top of a binade by 2^(q - m), odd: w + 2^k rounds only for k >= q - m
    case 9:
      return std::ldexp(T(2) - std::ldexp(T(1), -m) + std::ldexp(T(1), 1 - p), q);
    case 0:
      return std::ldexp(T(2) - std::ldexp(T(1), 1 - p), q);  // top of a binade, odd
    case 1:
      return -std::ldexp(T(1) + std::ldexp(T(1), 1 - p), q);  // bottom of one, odd
    case 2:
      return std::ldexp(T(1.5), q);  // trailing zeros
    case 3:
      return T(0);
    case 4:
      return std::numeric_limits<T>::min() * T(rng() % 7 + 1);
    default: {
      std::uniform_real_distribution<double> m(-2, 2);
      return static_cast<T>(std::ldexp(m(rng), q));
    }
  }
}

// finish_steps' step for one coordinate, and the vectorised window's where it vouches for one,
// must score the brute-force minimum over every admissible power of two: from twice |w| eps
// (or twice T's smallest normal), rounded up to a power of two, to max(T) / 4. (On x86-64 this
// baseline unit's finish_steps runs the search alone; units with AVX2, AVX-512 or NEON run the
// window first, so both paths are checked.) Returns whether the window vouched.
template <class T>
bool expect_minimum(T w, double r2, double col2, double b) {
  constexpr double eps = std::numeric_limits<T>::epsilon();
  constexpr double tiny = static_cast<double>(std::numeric_limits<T>::min());
  T h;
  finish_steps<T, double>(&w, r2, &col2, 1, &h);
  const T window = fast_step(w, r2, col2, eps, tiny, std::numeric_limits<T>::max_exponent - 3);
  const double v = std::max(std::abs(static_cast<double>(w)) * eps, tiny);
  int ev;
  std::frexp(v, &ev);
  const int lo = 1 + (std::ldexp(1.0, ev - 1) == v ? ev - 1 : ev);
  const int hi = std::numeric_limits<T>::max_exponent - 3;
  double best = std::numeric_limits<double>::infinity();
  for (int k = lo; k <= hi; ++k)
    best = std::min(best, score<T>(w, std::ldexp(T(1), k), r2, col2, b));
  const std::pair<T, const char*> chosen[] = {{h, "finish_steps"}, {window, "window"}};
  for (const auto& [step, path] : chosen) {
    if (step == T(0)) continue;  // the window's "cannot vouch"
    int e;
    EXPECT_EQ(std::frexp(step, &e), T(0.5)) << "h=" << step << " is not a power of two";
    EXPECT_GE(e - 1, lo) << "w=" << w;
    EXPECT_LE(e - 1, hi);
    EXPECT_LE(score<T>(w, step, r2, col2, b), best * (1 + 1e-12))
        << "w=" << w << " r2=" << r2 << " col2=" << col2 << " b=" << b << " h=" << step << " ("
        << path << ")";
  }
  EXPECT_NE(h, T(0)) << "w=" << w;
  // Units with and without the window must choose the same step, ties included: a kernel's
  // own steps are compared bitwise with make_steps' and with MPI joins (baseline units).
  if (window != T(0)) {
    EXPECT_EQ(window, h) << "w=" << w << " r2=" << r2 << " col2=" << col2 << " b=" << b;
  }
  return window != T(0);
}

template <class T>
void expect_minimum_over_random_coordinates() {
  std::mt19937_64 rng(11);
  std::size_t vouched = 0, declined = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const T w = random_weight<T>(rng);
    const double b = static_cast<double>(std::size_t{1} << (rng() % 13));
    // r2 from far beyond the data's scale down to near the fit; col2 over 2^-60 .. 2^60.
    // Every third trial puts the optimum 3 to 24 octaves below |w| instead: there a w_j just
    // below the top of a binade has exact ends only well below the nearest step.
    const double col2 =
        std::ldexp(1.0 + (rng() % 1000) / 1000.0, static_cast<int>(rng() % 121) - 60);
    int ew;
    std::frexp(static_cast<double>(w), &ew);
    const double r2 =
        trial % 3 == 0 && w != T(0)
            ? col2 * std::ldexp(1.0 + (rng() % 1000) / 1000.0,
                                2 * (ew - 3 - static_cast<int>(rng() % 22)))
            : std::ldexp(1.0 + (rng() % 1000) / 1000.0, static_cast<int>(rng() % 201) - 150);
    // An exact fit, or sums that are not normal numbers, take the documented fallback instead.
    if (!std::isnormal(r2) || !std::isnormal(r2 / col2)) continue;
    ++(expect_minimum(w, r2, col2, b) ? vouched : declined);
  }
  // Both paths must have been exercised for the test to mean anything.
  EXPECT_GT(vouched, 1000u);
  EXPECT_GT(declined, 100u);
}

// Where the window's checks decide: w_j just below the top of a binade (2 - 2^-m, with odd
// low bits; at the largest m some of these round to 2 or above it, still valid points), so
// that steps from about 2^-m up move w_j + h into the next binade and round, and the optimum
// swept in 16 steps per octave from 6 octaves below 2^-m to 6 above. Random draws rarely
// land where only the window's lower bound, its fourth candidate or the lowest candidate's
// shift tells the window from the minimum; this grid does, at every m. Where sqrt_q is a power
// of two, steps tie exactly (e.g. w = 1.5 + ulp, q = 16: 4 and 2), and with b = 3 a search that
// scored with a rounded u / b broke such ties otherwise than the window.
template <class T>
void expect_minimum_near_a_binade_top() {
  constexpr int p = std::numeric_limits<T>::digits;
  std::size_t vouched = 0, declined = 0;
  for (int m = 1; m < p - 2; ++m)
    for (int low = 1; low < 8; low += 2)
      for (int f = 0; f < 16 * 12; ++f) {
        const T w = T(2) - std::ldexp(T(1), -m) + T(low) * std::ldexp(T(1), 1 - p);
        const double sqrt_q = std::ldexp(1.0 + (f % 16) / 16.0, f / 16 - m - 6);
        for (const double b : {1.0, 3.0})
          ++(expect_minimum(w, sqrt_q * sqrt_q, 1.0, b) ? vouched : declined);
      }
  EXPECT_GT(vouched, 1000u);
  EXPECT_GT(declined, 1000u);
}

TEST(DataStepRule, MinimumOverRandomCoordinatesF32) {
  expect_minimum_over_random_coordinates<float>();
}
TEST(DataStepRule, MinimumOverRandomCoordinatesF64) {
  expect_minimum_over_random_coordinates<double>();
}
TEST(DataStepRule, MinimumNearABinadeTopF32) {
  expect_minimum_near_a_binade_top<float>();
}
TEST(DataStepRule, MinimumNearABinadeTopF64) {
  expect_minimum_near_a_binade_top<double>();
}

}  // namespace
}  // namespace numgrad::testing
