// Turns serial building blocks ("Ops") into finished kernel functions, so that each
// algorithm (blackbox, residual, analytic) is written once for every family. Everything here
// sits in an unnamed namespace: each per-ISA translation unit gets its own copy, compiled
// with its own flags (docs/design.md §5).
//
// An Ops type works on a row range (a BatchView) and a coordinate range [j0, j1):
//   using value_type = T; using acc_type = Acc;
//   static Acc  loss_sum(rows, w)                  sum_i (x_i.w - y_i)^2
//   static void residuals(rows, w, r)              r_i = x_i.w - y_i
//   static Acc  residual_squares(rows, w, r, col2) r as residuals, col2_j = sum_i x_ij^2 for
//               all j (col2 padded to 64 bytes, as every sum array is), returns sum_i r_i^2:
//               the data-aware steps' sums in the pass that computes r
//   static void perturbed_sums(rows, r, dp, dm, j0, j1, plus, minus)
//               plus_j = sum_i (r_i + dp_j x_ij)^2, minus_j = sum_i (r_i - dm_j x_ij)^2
//   static void gradient_sums(rows, r, j0, j1, out) out_j = sum_i x_ij r_i
//   static void square_sums(rows, r, j0, j1, out)   out_j = sum_i x_ij^2 (r: the rows'
//               residuals, which a kernel may read for its layout but not for the values)
//   static SumDepths depths(b, d)                  its summation depths (docs/design.md §3.4)
// Sums over [j0, j1) overwrite out[j0..j1) (absolute indices), so a parallel wrapper can
// give each row chunk its own partial array and join the partials in index order.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "family.hpp"
#include "numgrad/kernel.hpp"
#include "scratch.hpp"

namespace numgrad::detail {
namespace {

constexpr std::size_t align64(std::size_t bytes) {
  return (bytes + 63) / 64 * 64;
}

// The two evaluation points of each coordinate, rounded to T as the model sees them, and
// the prediction shifts they cause per unit of x_ij, in the accumulator type.
template <class T, class Acc>
struct Steps {
  T* wp;    // fl(w_j + h_j)
  T* wm;    // fl(w_j - h_j)
  Acc* dp;  // wp_j - w_j
  Acc* dm;  // w_j - wm_j
};

// Restrict-qualified, so that the loop vectorises (through the Steps pointers GCC must assume
// that every store may change w and h).
template <class T, class Acc>
void fill_steps(const T* __restrict w, const T* __restrict h, std::size_t d, T* __restrict wp,
                T* __restrict wm, Acc* __restrict dp, Acc* __restrict dm) {
  for (std::size_t j = 0; j < d; ++j) {
    wp[j] = static_cast<T>(w[j] + h[j]);
    wm[j] = static_cast<T>(w[j] - h[j]);
    dp[j] = static_cast<Acc>(wp[j]) - static_cast<Acc>(w[j]);
    dm[j] = static_cast<Acc>(w[j]) - static_cast<Acc>(wm[j]);
  }
}
template <class T, class Acc>
Steps<T, Acc> prepare_steps(const T* w, const T* h, std::size_t d) {
  const std::size_t tb = align64(d * sizeof(T)), ab = align64(d * sizeof(Acc));
  auto* base = static_cast<char*>(scratch_bytes(kSlotSteps, 2 * tb + 2 * ab));
  Steps<T, Acc> s{reinterpret_cast<T*>(base), reinterpret_cast<T*>(base + tb),
                  reinterpret_cast<Acc*>(base + 2 * tb),
                  reinterpret_cast<Acc*>(base + 2 * tb + ab)};
  fill_steps(w, h, d, s.wp, s.wm, s.dp, s.dm);
  return s;
}

// g_j = (sum+ - sum-) / (b * (w+ - w-)). The difference and the achieved step are formed in
// double: exact for f32 accumulators, one rounding each for f64.
template <class T, class Acc>
void finish_central(std::size_t b, const Steps<T, Acc>& s, const Acc* plus, const Acc* minus,
                    std::size_t d, double* g) {
  for (std::size_t j = 0; j < d; ++j) {
    const double step = static_cast<double>(s.wp[j]) - static_cast<double>(s.wm[j]);
    g[j] = (static_cast<double>(plus[j]) - static_cast<double>(minus[j])) /
           (static_cast<double>(b) * step);
  }
}

template <class Acc>
void finish_analytic(std::size_t b, const Acc* sums, std::size_t d, double* g) {
  for (std::size_t j = 0; j < d; ++j) g[j] = 2.0 * static_cast<double>(sums[j]) / b;
}

// Two d-long accumulator arrays (plus, minus) in the sums slot.
template <class Acc>
Acc* sum_arrays(std::size_t d) {
  return static_cast<Acc*>(scratch_bytes(kSlotSums, 2 * align64(d * sizeof(Acc))));
}
template <class Acc>
Acc* second_array(Acc* first, std::size_t d) {
  return reinterpret_cast<Acc*>(reinterpret_cast<char*>(first) + align64(d * sizeof(Acc)));
}

template <class Acc>
Acc* residual_buffer(std::size_t rows) {
  return static_cast<Acc*>(scratch_bytes(kSlotResidual, rows * sizeof(Acc)));
}

template <class T>
T* weights_copy(const T* w, std::size_t d) {
  T* wbuf = static_cast<T*>(scratch_bytes(kSlotWeights, d * sizeof(T)));
  std::memcpy(wbuf, w, d * sizeof(T));
  return wbuf;
}

// --- Data-aware steps (docs/design.md §3.1) --------------------------------------------------

// The rounding error of a + b in T, exactly (Knuth's TwoSum): a + b = fl(a + b) + error.
template <class T>
T sum_error(T a, T b) {
  const T s = a + b, bv = s - a;
  return (a - (s - bv)) + (b - bv);
}

// How far the midpoint of the points the kernel really evaluates, fl(w + h) and fl(w - h),
// lies from w: 0 when both are exact. (A power of two of at least ulp(w) still rounds when
// w + h lands in the next binade up.)
template <class T>
double midpoint_shift(T w, T h) {
  return -(static_cast<double>(sum_error(w, h)) + static_cast<double>(sum_error(w, T(-h)))) / 2;
}

// The predicted error of the central difference with step h (data_aware_step), divided by
// u col2 / b: q / h + h from the rounding (inv_h = 1 / h, exact for a power of two) plus
// k_shift |shift| of the midpoint. fast_step evaluates the same expression in the same order,
// and every product is exact (powers of two, barring underflow), so that both paths score a
// step with the same bits, fused multiply-adds or not, and break exact ties alike.
inline double step_error(double h, double inv_h, double shift, double q, double k_shift) {
  return q * inv_h + h + k_shift * std::abs(shift);
}

// 2^e, built from its bits where it is a normal double (a call of ldexp per candidate would
// cost more than the candidate's arithmetic).
inline double pow2(int e) {
  if (e < -1022 || e > 1023) return std::ldexp(1.0, e);
  return std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52);
}
// Exponents read from the bits of a normal double v > 0 (frexp for the rest): of the power
// of two nearest sqrt(v) in octaves, and of the smallest power of two >= v. With
// v = 1.m 2^E, sqrt(v) lies in [2^(E/2), 2^(E/2) sqrt(2)) for even E, whose nearest power of
// two is 2^(E/2), and in [2^((E+1)/2) / sqrt(2), 2^((E+1)/2)) for odd E: ceil(E / 2) either
// way, whatever m is. No square root is taken.
inline int floor_log2(double v) {
  if (!(v >= 0x1p-1022) || !std::isfinite(v)) {
    int ex;
    std::frexp(v, &ex);
    return ex - 1;
  }
  return static_cast<int>(std::bit_cast<std::uint64_t>(v) >> 52) - 1023;
}
inline int nearest_sqrt_pow2_exponent(double v) {
  const int e = floor_log2(v);
  return e >= 0 ? (e + 1) / 2 : -(-e / 2);
}
inline int ceil_pow2_exponent(double v) {
  const int e = floor_log2(v);
  if (!(v >= 0x1p-1022) || !std::isfinite(v)) return v == std::ldexp(1.0, e) ? e : e + 1;
  return (std::bit_cast<std::uint64_t>(v) & ((std::uint64_t{1} << 52) - 1)) != 0 ? e + 1 : e;
}

// The largest k for which w + 2^k and w - 2^k are both exact in T (INT_MAX for w = 0). With
// |w| = M 2^q, M odd and below 2^p (p: T's precision), both are multiples of 2^min(q, k) no
// larger than |w| + 2^k, so they fit in T when |w| + 2^k < 2^(q + p), i.e. 2^k < (2^p - M) 2^q;
// smaller powers of two (down to ulp(w)) are always exact. Integer arithmetic on the bits.
template <class T>
int exact_exponent_limit(T w) {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr int p = std::numeric_limits<T>::digits, bias = std::numeric_limits<T>::max_exponent - 1;
  const U bits = std::bit_cast<U>(w) & ~(U{1} << (8 * sizeof(T) - 1));
  if (bits == 0) return std::numeric_limits<int>::max();
  const int biased = static_cast<int>(bits >> (p - 1));
  U mant = bits & ((U{1} << (p - 1)) - 1);
  int q = (biased == 0 ? 1 : biased) - bias - (p - 1);  // |w| = mant 2^q, mant < 2^p
  if (biased != 0) mant |= U{1} << (p - 1);
  const int tz = std::countr_zero(mant);
  mant >>= tz, q += tz;
  const U room = (U{1} << p) - mant;  // 2^k < room 2^q  <=>  k <= q + ceil(log2 room) - 1
  return q + static_cast<int>(std::bit_width(room - 1)) - 1;
}

// The data-aware step of one coordinate. With r2 = sum_i r_i^2 and col2 = sum_i x_ij^2, the
// central difference of this quadratic errs by about u (r2 + h^2 col2) / (b h) from the
// rounding of the two losses (u = eps / 2: a unit roundoff), smallest at h = sqrt(r2 / col2),
// plus (2 col2 / b) |shift| from evaluating at a shifted midpoint; scaled by b / (u col2) that
// is q / h + h + (4 / eps) |shift| with q = r2 / col2, whatever b. Over the powers of two 2^k,
// elo <= k <= ehi, the rounding part q / h + h is least at the one nearest the optimum in
// octaves (it is symmetric in log h), 2^e; when both its ends are exact (shift 0) that is the
// minimum. Otherwise the search walks away from e, downwards first, then upwards, bounded by
// the rounding part alone: downwards q / h grows, and below the largest exponent with exact ends
// (limit) every step is exact and only rounds more; upwards h grows. So the step found is the
// model's minimum, as a brute-force search over every power of two confirms
// (tests/test_steps.cpp); of tied steps, the first scored. Every step is a power of two, so
// dividing by one is a multiply.
template <class T>
T data_aware_step(T w, double r2, double col2, int elo, int ehi) {
  const double q = r2 / col2;  // 0 when it underflows: the smallest step
  const int e = q > 0 ? std::clamp(nearest_sqrt_pow2_exponent(q), elo, ehi) : elo;
  const int limit = exact_exponent_limit(w);
  if (e <= limit) return static_cast<T>(pow2(e));
  const double k_shift = 4 / static_cast<double>(std::numeric_limits<T>::epsilon());
  auto score = [&](int k) {
    const T h = static_cast<T>(pow2(k));
    return step_error(static_cast<double>(h), pow2(-k), midpoint_shift(w, h), q, k_shift);
  };
  int best_k = e;
  double best = score(e);
  for (int k = e - 1; k >= elo && q * pow2(-k) < best; --k) {
    if (const double sk = score(k); sk < best) best = sk, best_k = k;
    if (k <= limit) break;
  }
  for (int k = e + 1; k <= ehi && pow2(k) < best; ++k)
    if (const double sk = score(k); sk < best) best = sk, best_k = k;
  return static_cast<T>(pow2(best_k));
}

// 2^k for -1022 <= k <= 1023, from its bits, without a branch.
inline double pow2_bits(std::int64_t k) {
  return std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}
// c ? x : y by masks. GCC 12 keeps a ?: on doubles or on a comparison of doubles as a branch,
// which stops the vectoriser; bit operations on the values are if-converted.
inline std::uint64_t mask_of(bool c) {
  return std::uint64_t{0} - static_cast<std::uint64_t>(c);
}
inline double pick(bool c, double x, double y) {
  const std::uint64_t m = mask_of(c);
  return std::bit_cast<double>((std::bit_cast<std::uint64_t>(x) & m) |
                               (std::bit_cast<std::uint64_t>(y) & ~m));
}
inline std::int64_t pick(bool c, std::int64_t x, std::int64_t y) {
  const std::uint64_t m = mask_of(c);
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(x) & m) |
                                   (static_cast<std::uint64_t>(y) & ~m));
}

// data_aware_step's search within four exponents around the optimum, without branches so
// that the loop over coordinates vectorises. Scores are step_error's, q / h + h + K |shift|
// with q = r2 / col2 and K = 4 / eps, evaluated in the same order.
// With h_e = 2^e the nearest power of two (x = h_e / sqrt(q) in [2^-1/2, 2^1/2]), no shift
// costs more than 2h where h >= |w| (|shift| <= ulp(w + h) / 2 <= eps h / 2), so the best is at
// most S(e) <= sqrt(q) (1/x + 3x), and a step outside the window scores no less than its rounding
// part q / h + h. Above the optimum (x >= 1) the window is e-2 .. e+1: every k >= e+2 scores >=
// 2^(e+2) = 4x sqrt(q) >= S(e). Below it, e-1 .. e+2: every k <= e-2 scores >= q 2^-(e-2) = 4
// sqrt(q) / x >= S(e). Those bounds are checked, not assumed (a shift where h < |w| is bounded by
// ulp(w) instead, and e may have been clamped), together with: when the window's lowest step shifts
// no midpoint, every step below it scores more (it lies below sqrt(q), where q / h + h falls). When
// a check fails, or the sums are not normal numbers or w is not finite, 0 (never a step):
// data_aware_step then searches without a window. The nearest is scored first, so that it wins ties
// as it does there. Candidates are formed by multiplying h_e and 1/h_e by powers of two (exact),
// the exponent of e from the bits as in floor_log2: ceil(E_q / 2) with q = 1.m 2^E_q is ((E_q +
// 1023 + 1024) >> 1) - 1023 on the biased exponent, and x >= 1 exactly when E_q is odd (its biased
// exponent even) or q is a power of two. Bitwise & and |: every operand is computed anyway, and
// branches would stop the vectoriser.
template <class T>
[[gnu::always_inline]] inline T fast_step(T w, double r2, double col2, double eps, double tiny,
                                          std::int64_t ehi) {
  constexpr std::uint64_t kMant = (std::uint64_t{1} << 52) - 1;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double q = r2 / col2, aw = std::abs(static_cast<double>(w)), k_shift = 4 / eps;
  const std::uint64_t qb = std::bit_cast<std::uint64_t>(q);
  std::int64_t e = static_cast<std::int64_t>(((qb >> 52) + 1024) >> 1) - 1023;
  bool up = (((qb >> 52) & 1) == 0) | ((qb & kMant) == 0);
  const double v = pick(aw * eps > tiny, aw * eps, tiny);
  const std::uint64_t vb = std::bit_cast<std::uint64_t>(v);
  const std::int64_t elo =
      static_cast<std::int64_t>(vb >> 52) - 1022 + static_cast<std::int64_t>((vb & kMant) != 0);
  up = (up | (e > ehi)) & (e >= elo);  // a clamped e: the window toward admissible steps
  e = pick(e < elo, elo, e);
  e = pick(e > ehi, ehi, e);
  const double he = pow2_bits(e), ie = pow2_bits(-e), hlo = pow2_bits(elo), hhi = pow2_bits(ehi);
  // The window in the search's order (data_aware_step: e, then down, then up), so that ties go
  // the same way: e, e-1, e-2, e+1 above the optimum and e, e-1, e+1, e+2 below it.
  const double m2 = pick(up, 0.25, 2.0), m3 = pick(up, 2.0, 4.0);
  const double mul[4] = {1.0, 0.5, m2, m3};
  const double inv[4] = {1.0, 2.0, pick(up, 4.0, 0.5), pick(up, 0.5, 0.25)};
  double best = kInf, best_h = 0, shift_low = 0;
#pragma GCC unroll 4
  for (std::size_t i = 0; i < 4; ++i) {
    const double h = he * mul[i];
    const bool valid = (i == 0) | ((h >= hlo) & (h <= hhi));  // e is clamped into range
    const T ht = static_cast<T>(h);
    const double shift = std::abs(midpoint_shift(w, ht));
    const double score = q * (ie * inv[i]) + h + k_shift * shift;
    const bool better = valid & (score < best);
    best = pick(better, score, best);
    best_h = pick(better, h, best_h);
    const bool lowest = ((i == 2) & up) | ((i == 1) & !up);
    shift_low = pick(lowest, pick(valid, shift, 0.0), shift_low);
  }
  // The window's lowest and highest exponents: e-2 and e+1 above the optimum, e-1 and e+2 below.
  const double h_high = he * pick(up, 2.0, 4.0);
  const bool below = (shift_low == 0) | (q * (ie * pick(up, 8.0, 4.0)) >= best);
  const bool above = (h_high >= hhi) | (2 * h_high >= best);
  const bool normal = (q >= 0x1p-1022) & (q <= std::numeric_limits<double>::max());
  return static_cast<T>(pick(normal & below & above & (best < kInf), best_h, 0.0));
}

// fast_step for every coordinate; returns how many it left at 0 (for the search).
template <class T, class Acc>
[[gnu::noinline]] std::size_t fast_steps(const T* __restrict w, double r2,
                                         const Acc* __restrict col2, std::size_t d, double eps,
                                         double tiny, std::int64_t ehi, T* __restrict h) {
  std::size_t left = 0;
  for (std::size_t j = 0; j < d; ++j) {
    h[j] = fast_step(w[j], r2, static_cast<double>(col2[j]), eps, tiny, ehi);
    left += h[j] == T(0);
  }
  return left;
}

// The data-aware steps of every coordinate from the batch's sums (r2 = sum_i r_i^2, col2_j =
// sum_i x_ij^2 over b rows; docs/design.md §3.1). An exact fit or an all-zero column makes
// every step equally good: the generic relative rule's magnitude then, so the step still
// moves w_j. Steps stay between two units in the last place of w_j and max(T) / 4.
// Two passes: fast_step for every coordinate (vectorised: data_aware_step costs 100-200
// instructions a coordinate, which at b <= 64 was more than the gradient itself), then
// data_aware_step for the coordinates it left at 0. Both give the model's minimum.
// The window vectorises with AVX2, AVX-512 and NEON, not in a baseline x86-64 unit (SSE2 has no
// 64-bit integer compares): there it ran scalar, about 400 instructions a coordinate, and the
// search alone, with its early exit for an exact nearest step, took 0.5x its time on 16
// coordinates repeated and 0.7x on 4096 random ones, whose branches no predictor learns. Both
// paths choose the same step, ties included (step_error), which the bitwise comparisons of a
// kernel's steps with make_steps' and with MPI joins (baseline units) rely on.
#if defined(__x86_64__) && !defined(__AVX2__)
constexpr bool kVectorWindow = false;
#else
constexpr bool kVectorWindow = true;
#endif
template <class T, class Acc>
void finish_steps(const T* w, double r2, const Acc* col2, std::size_t d, T* h) {
  // The rounding is scored at the unit roundoff of T, not of the accumulator: the data and w
  // live in T, and one set of steps then serves every kernel of that type (an f32acc64
  // kernel's losses round far less, but its midpoint shifts as much as an f32 kernel's).
  constexpr double eps = std::numeric_limits<T>::epsilon();
  constexpr double tiny = static_cast<double>(std::numeric_limits<T>::min());
  // The largest step: the largest power of two up to max(T) / 4.
  constexpr int ehi = std::numeric_limits<T>::max_exponent - 3;
  if constexpr (kVectorWindow)
    if (fast_steps(w, r2, col2, d, eps, tiny, ehi, h) == 0) return;
  double relative = 0;  // cbrt(eps), once and only when needed: cbrt is not cheap
  for (std::size_t j = 0; j < d; ++j) {
    if constexpr (kVectorWindow)
      if (h[j] != T(0)) continue;
    const double wj = std::abs(static_cast<double>(w[j]));
    // The smallest step: two units in the last place of w_j (of the smallest normal at 0).
    const int elo = 1 + ceil_pow2_exponent(std::max(wj * eps, tiny));
    double c2 = static_cast<double>(col2[j]), rr = r2;
    if (!(rr > 0 && c2 > 0 && std::isfinite(rr / c2))) {
      if (relative == 0) relative = std::cbrt(eps);
      const double v = relative * std::max(1.0, wj);  // score only the shift
      rr = v * v, c2 = 1;
    }
    h[j] = data_aware_step(w[j], rr, c2, elo, ehi);
  }
}

// finish_steps as compiled in the unit of Ops' passes: TableOps (a baseline wrapper composing
// another unit's tables) brings that unit's copy, whose window vectorises where that unit's ISA
// allows; this baseline copy runs the search alone.
template <class Ops, class T, class Acc>
void ops_finish_steps(const T* w, double r2, const Acc* col2, std::size_t d, T* h) {
  if constexpr (requires { Ops::finish_steps(w, r2, col2, d, h); })
    Ops::finish_steps(w, r2, col2, d, h);
  else
    finish_steps(w, r2, col2, d, h);
}

// sum_i r_i^2 in double, for the paths that split coordinates (the others take it from
// residual_squares). The sums of a step are not the kernel's result, so any fixed order does:
// eight interleaved chains, since one would wait on its own additions (4 cycles each).
template <class Acc>
double squared_norm(const Acc* r, std::size_t n) {
  double s[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t k = 0; k < 8; ++k) s[k] += static_cast<double>(r[i + k]) * r[i + k];
  for (; i < n; ++i) s[0] += static_cast<double>(r[i]) * r[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Blackbox central difference on a row range: each perturbed loss is a full evaluation of
// the model at w +- h_j e_j, 2 (j1 - j0) loss passes. `wbuf` holds a copy of w and is
// restored before returning.
template <class Ops, class T, class Acc>
void blackbox_sums(const BatchView<T>& rows, const T* w, const Steps<T, Acc>& s, std::size_t j0,
                   std::size_t j1, T* wbuf, Acc* plus, Acc* minus) {
  for (std::size_t j = j0; j < j1; ++j) {
    wbuf[j] = s.wp[j];
    plus[j] = Ops::loss_sum(rows, wbuf);
    wbuf[j] = s.wm[j];
    minus[j] = Ops::loss_sum(rows, wbuf);
    wbuf[j] = w[j];
  }
}

// The whole batch as one row range, all d coordinates at once: what one tile of Tiled<>
// (tiled.hpp) computes, and so what the serial kernel computes for a batch of one chunk.
template <class Ops>
struct Whole {
  using T = typename Ops::value_type;
  using Acc = typename Ops::acc_type;

  static double loss(const BatchView<T>& B, const T* w, const Exec&) {
    return static_cast<double>(Ops::loss_sum(B, w)) / static_cast<double>(B.rows);
  }
  static void blackbox(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec&) {
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    Acc* plus = sum_arrays<Acc>(B.d);
    Acc* minus = second_array(plus, B.d);
    blackbox_sums<Ops>(B, w, s, 0, B.d, weights_copy(w, B.d), plus, minus);
    finish_central(B.rows, s, plus, minus, B.d, g);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec&) {
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    Acc* r = residual_buffer<Acc>(B.rows);
    Ops::residuals(B, w, r);
    Acc* plus = sum_arrays<Acc>(B.d);
    Acc* minus = second_array(plus, B.d);
    Ops::perturbed_sums(B, r, s.dp, s.dm, 0, B.d, plus, minus);
    finish_central(B.rows, s, plus, minus, B.d, g);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec&) {
    Acc* r = residual_buffer<Acc>(B.rows);
    Ops::residuals(B, w, r);
    Acc* sums = sum_arrays<Acc>(B.d);
    Ops::gradient_sums(B, r, 0, B.d, sums);
    finish_analytic(B.rows, sums, B.d, g);
  }
  // The steps' sums leave r in the residual buffer, where residual_auto reuses it.
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec&) {
    Acc* r = residual_buffer<Acc>(B.rows);
    Acc* col2 = sum_arrays<Acc>(B.d);
    const double r2 = static_cast<double>(Ops::residual_squares(B, w, r, col2));
    ops_finish_steps<Ops>(w, r2, col2, B.d, h);
  }
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    steps(B, w, h, e);
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    const Acc* r = residual_buffer<Acc>(B.rows);
    Acc* plus = sum_arrays<Acc>(B.d);
    Acc* minus = second_array(plus, B.d);
    Ops::perturbed_sums(B, r, s.dp, s.dm, 0, B.d, plus, minus);
    finish_central(B.rows, s, plus, minus, B.d, g);
  }
  static SumDepths depths(std::size_t b, std::size_t d) { return Ops::depths(b, d); }
};

// Wraps a template Ops<T, Acc> as a table of function pointers (what crosses TU borders).
template <class Ops>
constexpr OpsTable<typename Ops::value_type, typename Ops::acc_type> ops_table() {
  using T = typename Ops::value_type;
  using Acc = typename Ops::acc_type;
  return {&Ops::loss_sum,      &Ops::residuals,   &Ops::residual_squares, &Ops::perturbed_sums,
          &Ops::gradient_sums, &Ops::square_sums, &Ops::depths,           &finish_steps<T, Acc>};
}
template <template <class T, class Acc> class Ops>
constexpr OpsFamily ops_family() {
  return {ops_table<Ops<float, float>>(), ops_table<Ops<float, double>>(),
          ops_table<Ops<double, double>>()};
}

// Finished functions of an implementation (Serial<Ops> or a parallel wrapper with the same
// static members), for the three type combinations.
template <class Impl, class T = typename Impl::T>
void analytic_ignoring_h(const BatchView<T>& B, const T* w, const T*, double* g, const Exec& e) {
  Impl::analytic(B, w, g, e);
}
// A gradient with its data-aware steps chosen first, where nothing is shared between the two
// (blackbox re-evaluates the loss anyway; analytic ignores h but reports it).
template <class Impl, class T = typename Impl::T>
void blackbox_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
  Impl::steps(B, w, h, e);
  Impl::blackbox(B, w, h, g, e);
}
template <class Impl, class T = typename Impl::T>
void analytic_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
  Impl::steps(B, w, h, e);
  Impl::analytic(B, w, g, e);
}
template <class Impl>
constexpr ImplFns<typename Impl::T> impl_fns() {
  return {&Impl::loss,          &Impl::blackbox, &Impl::residual,      &analytic_ignoring_h<Impl>,
          &Impl::analytic,      &Impl::steps,    &blackbox_auto<Impl>, &Impl::residual_auto,
          &analytic_auto<Impl>, &Impl::depths,   &Impl::chunk_sums};
}
template <template <class T, class Acc> class Impl>
constexpr FamilyFns family_fns() {
  return {impl_fns<Impl<float, float>>(), impl_fns<Impl<float, double>>(),
          impl_fns<Impl<double, double>>()};
}

// Adapter: an OpsTable seen as an Ops type, for wrappers compiled in baseline units that
// compose the kernels of another unit (one indirect call per row range, not per row).
template <const auto& Table>
struct TableOps {
  using Tab = std::remove_cvref_t<decltype(Table)>;
  using value_type = typename Tab::value_type;
  using acc_type = typename Tab::acc_type;
  static acc_type loss_sum(const BatchView<value_type>& rows, const value_type* w) {
    return Table.loss_sum(rows, w);
  }
  static void residuals(const BatchView<value_type>& rows, const value_type* w, acc_type* r) {
    Table.residuals(rows, w, r);
  }
  static acc_type residual_squares(const BatchView<value_type>& rows, const value_type* w,
                                   acc_type* r, acc_type* col2) {
    return Table.residual_squares(rows, w, r, col2);
  }
  static void perturbed_sums(const BatchView<value_type>& rows, const acc_type* r,
                             const acc_type* dp, const acc_type* dm, std::size_t j0, std::size_t j1,
                             acc_type* plus, acc_type* minus) {
    Table.perturbed_sums(rows, r, dp, dm, j0, j1, plus, minus);
  }
  static void gradient_sums(const BatchView<value_type>& rows, const acc_type* r, std::size_t j0,
                            std::size_t j1, acc_type* out) {
    Table.gradient_sums(rows, r, j0, j1, out);
  }
  static void square_sums(const BatchView<value_type>& rows, const acc_type* r, std::size_t j0,
                          std::size_t j1, acc_type* out) {
    Table.square_sums(rows, r, j0, j1, out);
  }
  static SumDepths depths(std::size_t b, std::size_t d) { return Table.depths(b, d); }
  static void finish_steps(const value_type* w, double r2, const acc_type* col2, std::size_t d,
                           value_type* h) {
    Table.finish_steps(w, r2, col2, d, h);
  }
};

}  // namespace
}  // namespace numgrad::detail
