// The data layer behind numgrad/data.hpp: aligned storage, batch views, the seeded synthetic
// generator, standardization and the intercept column. Everything here runs once, before any
// kernel, so it validates every argument and reports it by name and value; statistics are
// accumulated in double whatever the stored type, so float datasets lose nothing extra.
#include "numgrad/data.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace numgrad {

namespace {

constexpr std::size_t kAlignment = 64;

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << args);
  throw std::invalid_argument(out.str());
}

// double -> T without the undefined behaviour of narrowing an out-of-range value to float.
template <class T>
bool fits(double v) {
  return !std::isfinite(v) || std::fabs(v) <= static_cast<double>(std::numeric_limits<T>::max());
}

}  // namespace

template <class T>
AlignedBuffer<T>::AlignedBuffer(std::size_t n) : n_(n) {
  // memset as zero-initialisation is only valid for trivial types; the library stores floats.
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  if (n == 0) return;
  if (n > (std::numeric_limits<std::size_t>::max() - kAlignment) / sizeof(T)) {
    throw std::bad_array_new_length();
  }
  // aligned_alloc requires the size to be a multiple of the alignment.
  const std::size_t bytes = (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
  void* raw = std::aligned_alloc(kAlignment, bytes);
  if (raw == nullptr) throw std::bad_alloc();
  std::memset(raw, 0, bytes);
  p_.reset(static_cast<T*>(raw));
}

template <class T>
void AlignedBuffer<T>::Free::operator()(T* p) const {
  std::free(p);
}

template <class T>
BatchView<T> Dataset<T>::batch(std::size_t start, std::size_t b) const {
  if (b == 0) fail("batch: b=0 (a batch needs at least one row; start=", start, ", n=", n, ")");
  // Written as two comparisons so that start + b cannot overflow.
  if (start > n || b > n - start) fail("batch: start=", start, " + b=", b, " exceeds n=", n);
  return {x.data() + start * ld, y.data() + start, b, d, ld};
}

template <class T>
Dataset<T> make_synthetic(const SyntheticSpec& spec, std::vector<double>* w_star) {
  return make_synthetic_rows<T>(spec, 0, spec.n, w_star);
}

template <class T>
Dataset<T> make_synthetic_rows(const SyntheticSpec& spec, std::size_t first, std::size_t count,
                               std::vector<double>* w_star) {
  const std::size_t n = spec.n, d = spec.d;
  if (n == 0) fail("make_synthetic: n=0 (need at least one row)");
  if (d == 0) fail("make_synthetic: d=0 (need at least one feature)");
  const std::size_t ld = spec.ld == 0 ? d : spec.ld;
  if (ld < d) fail("make_synthetic: ld=", ld, " is less than d=", d);
  if (!std::isfinite(spec.noise) || spec.noise < 0) {
    fail("make_synthetic: noise=", spec.noise, " (must be finite and >= 0)");
  }
  if (!spec.column_scale.empty() && spec.column_scale.size() != d) {
    fail("make_synthetic: column_scale has ", spec.column_scale.size(),
         " entries (expected 0 or d=", d, ")");
  }
  for (std::size_t k = 0; k < spec.column_scale.size(); ++k) {
    if (!std::isfinite(spec.column_scale[k])) {
      fail("make_synthetic: column_scale[", k, "]=", spec.column_scale[k], " is not finite");
    }
  }
  if (n > std::numeric_limits<std::size_t>::max() / ld) {
    fail("make_synthetic: n=", n, " times ld=", ld, " overflows size_t");
  }
  if (first > n || count > n - first)
    fail("make_synthetic: rows [", first, ", ", first, " + ", count, ") leave n=", n);

  Dataset<T> data;
  data.n = count;
  data.d = d;
  data.ld = ld;
  data.x = AlignedBuffer<T>(count * ld);
  data.y = AlignedBuffer<T>(count);
  data.feature_names.reserve(d);
  for (std::size_t k = 0; k < d; ++k) {
    // Appending rather than "x" + to_string(k) sidesteps a GCC 12 -Wrestrict false positive.
    data.feature_names.push_back(std::string("x").append(std::to_string(k)));
  }

  // One engine, consumed in a fixed order (w*, then X row by row with each row's noise), so
  // a seed names one dataset regardless of T.
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);

  std::vector<double> w(d);
  for (double& v : w) v = normal(rng);

  // Rows before `first` are drawn and dropped: the engine's stream is sequential, so a row is
  // the same values whichever range holds it (costs first * d draws, no memory).
  std::vector<T> dropped(first > 0 ? ld : 0);
  for (std::size_t i = 0; i < first + count; ++i) {
    T* row = i < first ? dropped.data() : data.x.data() + (i - first) * ld;
    double yi = 0;
    for (std::size_t k = 0; k < d; ++k) {
      double v = spec.dist == Distribution::normal ? normal(rng) : uniform(rng);
      if (!spec.column_scale.empty()) v *= spec.column_scale[k];
      if (!fits<T>(v)) {
        fail("make_synthetic: column_scale[", k, "]=", spec.column_scale[k],
             " makes x values overflow ", name(dtype_of<T>));
      }
      row[k] = static_cast<T>(v);
      // y is built from the stored (rounded) x, so noise = 0 gives y = X w* up to the one
      // rounding of y itself.
      yi += static_cast<double>(row[k]) * w[k];
    }
    if (spec.noise > 0) yi += spec.noise * normal(rng);
    if (!fits<T>(yi)) fail("make_synthetic: y[", i, "]=", yi, " overflows ", name(dtype_of<T>));
    if (i >= first) data.y[i - first] = static_cast<T>(yi);
  }
  if (w_star != nullptr) *w_star = std::move(w);
  return data;
}

std::vector<double> lognormal_scales(std::size_t d, double sigma, std::uint64_t seed) {
  if (!std::isfinite(sigma) || sigma < 0) {
    fail("lognormal_scales: sigma=", sigma, " (must be finite and >= 0)");
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> scales(d);
  for (double& s : scales) s = std::exp(sigma * normal(rng));
  return scales;
}

namespace {

// Mean and population standard deviation of `count` values spaced `stride` apart, two-pass
// in double. A column whose values are all identical gets scale 1, decided by exact equality:
// the computed deviation of identical values can be a few ulps instead of 0, and dividing
// by that would blow the column up instead of leaving it at 0.
template <class T>
std::pair<double, double> column_stats(const T* p, std::size_t count, std::size_t stride,
                                       const char* what, std::size_t index) {
  double sum = 0;
  bool constant = true;
  for (std::size_t i = 0; i < count; ++i) {
    const double v = p[i * stride];
    if (!std::isfinite(v)) {
      fail("standardize: ", what, " ", index, " has a non-finite value (", v, ") in row ", i);
    }
    sum += v;
    constant = constant && p[i * stride] == p[0];
  }
  const double mean = sum / static_cast<double>(count);
  if (constant) return {static_cast<double>(p[0]), 1.0};
  double sq = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double dv = static_cast<double>(p[i * stride]) - mean;
    sq += dv * dv;
  }
  const double scale = std::sqrt(sq / static_cast<double>(count));
  if (!std::isfinite(mean) || !std::isfinite(scale)) {
    fail("standardize: ", what, " ", index, " overflows double while taking its mean and scale");
  }
  return {mean, scale > 0 ? scale : 1.0};
}

}  // namespace

template <class T>
Standardization standardize(Dataset<T>& data, bool standardize_target) {
  if (data.n == 0) fail("standardize: n=0 (no rows to take statistics from)");
  Standardization s;
  s.mean.resize(data.d);
  s.scale.resize(data.d);
  for (std::size_t k = 0; k < data.d; ++k) {
    std::tie(s.mean[k], s.scale[k]) = column_stats(data.x.data() + k, data.n, data.ld, "column", k);
  }
  if (standardize_target) {
    std::tie(s.y_mean, s.y_scale) = column_stats(data.y.data(), data.n, 1, "target", 0);
  }
  // Results are bounded by sqrt(n) in magnitude, so the narrowing to T cannot overflow.
  for (std::size_t i = 0; i < data.n; ++i) {
    T* row = data.x.data() + i * data.ld;
    for (std::size_t k = 0; k < data.d; ++k) {
      row[k] = static_cast<T>((static_cast<double>(row[k]) - s.mean[k]) / s.scale[k]);
    }
    if (standardize_target) {
      data.y[i] = static_cast<T>((static_cast<double>(data.y[i]) - s.y_mean) / s.y_scale);
    }
  }
  return s;
}

template <class T>
Dataset<T> with_intercept(const Dataset<T>& data) {
  Dataset<T> out;
  out.n = data.n;
  out.d = data.d + 1;
  // Reuse existing padding when there is room, so a padded layout stays padded.
  out.ld = data.ld >= out.d ? data.ld : out.d;
  out.x = AlignedBuffer<T>(out.n * out.ld);
  out.y = AlignedBuffer<T>(out.n);
  for (std::size_t i = 0; i < data.n; ++i) {
    const T* src = data.x.data() + i * data.ld;
    T* dst = out.x.data() + i * out.ld;
    for (std::size_t k = 0; k < data.d; ++k) dst[k] = src[k];
    dst[data.d] = T(1);
    out.y[i] = data.y[i];
  }
  out.feature_names = data.feature_names;
  out.feature_names.push_back("intercept");
  out.target_name = data.target_name;
  return out;
}

std::vector<double> unstandardize_weights(const std::vector<double>& w, const Standardization& s,
                                          std::ptrdiff_t intercept_index) {
  const std::size_t p = s.mean.size();
  if (s.scale.size() != p) {
    fail("unstandardize_weights: standardization has ", p, " means but ", s.scale.size(),
         " scales");
  }
  const bool has_intercept = intercept_index >= 0;
  if (w.size() != p + (has_intercept ? 1 : 0)) {
    fail("unstandardize_weights: w has ", w.size(), " entries (expected ", p,
         has_intercept ? " features + 1 intercept)" : " features, no intercept)");
  }
  if (has_intercept && static_cast<std::size_t>(intercept_index) >= w.size()) {
    fail("unstandardize_weights: intercept_index=", intercept_index, " is out of range for ",
         w.size(), " weights");
  }
  for (std::size_t k = 0; k < p; ++k) {
    if (!std::isfinite(s.scale[k]) || s.scale[k] == 0) {
      fail("unstandardize_weights: scale[", k, "]=", s.scale[k], " (must be finite, nonzero)");
    }
  }
  if (!has_intercept) {
    bool centred = s.y_mean == 0;
    for (double m : s.mean) centred = centred && m == 0;
    if (!centred) {
      fail("unstandardize_weights: intercept_index=", intercept_index,
           " but the standardization removed nonzero means; mapping back exactly needs an "
           "intercept column (use with_intercept after standardize)");
    }
  }

  // The model on standardized data is y_scale * (sum_k w_k (x_k - m_k) / s_k + w_0) + y_mean;
  // expanding it gives a slope w_k y_scale / s_k per feature and a constant into w_0.
  std::vector<double> out(w.size());
  double shift = 0;
  std::size_t k = 0;
  for (std::size_t j = 0; j < w.size(); ++j) {
    if (has_intercept && j == static_cast<std::size_t>(intercept_index)) continue;
    out[j] = w[j] * s.y_scale / s.scale[k];
    shift += w[j] * s.mean[k] / s.scale[k];
    ++k;
  }
  if (has_intercept) {
    const auto c = static_cast<std::size_t>(intercept_index);
    out[c] = s.y_scale * (w[c] - shift) + s.y_mean;
  }
  return out;
}

#define NUMGRAD_INSTANTIATE_DATA(T)                                                          \
  template class AlignedBuffer<T>;                                                           \
  template struct Dataset<T>;                                                                \
  template Dataset<T> make_synthetic<T>(const SyntheticSpec&, std::vector<double>*);         \
  template Dataset<T> make_synthetic_rows<T>(const SyntheticSpec&, std::size_t, std::size_t, \
                                             std::vector<double>*);                          \
  template Standardization standardize<T>(Dataset<T>&, bool);                                \
  template Dataset<T> with_intercept<T>(const Dataset<T>&);

NUMGRAD_INSTANTIATE_DATA(float)
NUMGRAD_INSTANTIATE_DATA(double)

#undef NUMGRAD_INSTANTIATE_DATA

}  // namespace numgrad
