// The API boundary: every check happens here, once per call, so kernels can assume valid
// arguments and never throw inside a hot loop. Also the names of the interface's enums, the
// sequential summation depths every serial loop has, and the chunk grid and the joins of
// numgrad/chunks.hpp (in the kernel's accumulator type, finished by compose.hpp's own code).
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "numgrad/chunks.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/threads.hpp"
#include "tiled.hpp"

namespace numgrad {

std::string_view name(Algorithm a) {
  switch (a) {
    case Algorithm::blackbox:
      return "blackbox";
    case Algorithm::residual:
      return "residual";
    case Algorithm::analytic:
      return "analytic";
  }
  return "?";
}
std::string_view name(Axis a) {
  switch (a) {
    case Axis::serial:
      return "serial";
    case Axis::weights:
      return "weights";
    case Axis::samples:
      return "samples";
    case Axis::both:
      return "both";
  }
  return "?";
}
std::string_view name(Isa i) {
  switch (i) {
    case Isa::none:
      return "none";
#define NUMGRAD_ISA_NAME(isa, runs_here) \
  case Isa::isa:                         \
    return #isa;
      NUMGRAD_ISAS(NUMGRAD_ISA_NAME)
#undef NUMGRAD_ISA_NAME
    case Isa::dispatch:
      return "dispatch";
  }
  return "?";
}

SumDepths sequential_depths(std::size_t b, std::size_t d) {
  return {static_cast<double>(b), static_cast<double>(d + 1)};
}

namespace {

[[noreturn]] void fail(const std::string& msg) {
  throw std::invalid_argument(msg);
}

template <class V>
std::string str(V v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

template <class T>
void check_batch(const BatchView<T>& b) {
  if (b.x == nullptr) fail("batch.x: null pointer");
  if (b.y == nullptr) fail("batch.y: null pointer");
  if (b.rows == 0) fail("batch.rows (b): must be positive, got 0");
  if (b.d == 0) fail("batch.d: must be positive, got 0");
  if (b.ld < b.d) fail("batch.ld=" + str(b.ld) + " is less than batch.d=" + str(b.d));
}

template <class T>
void check_kernel(const Kernel& k) {
  if (k.elem != dtype_of<T>)
    fail("kernel: '" + k.id + "' takes " + std::string(name(k.elem)) + " data, called with " +
         std::string(name(dtype_of<T>)));
  if (!k.is_supported())
    throw std::runtime_error("kernel: '" + k.id + "' is not supported on this CPU");
}

// Once per call, so kernels never range-check (or throw) on their parallel path. A default
// (0) reads NUMGRAD_THREADS here too, so a bad value is reported at the boundary.
void check_exec(const Exec& exec) {
  if (exec.threads < 0 || exec.threads > kMaxThreads)
    fail("exec.threads=" + str(exec.threads) + ": expected 0 (the default) or a count from 1 to " +
         str(kMaxThreads));
  if (exec.threads == 0) default_threads();
}

template <class T, class U>
void check_length(const char* what, std::span<U> s, std::size_t d) {
  if (s.data() == nullptr && d > 0) fail(std::string(what) + ": null pointer");
  if (s.size() != d)
    fail(std::string(what) + ": length " + str(s.size()) + ", expected d=" + str(d));
}

template <class T>
void check_weights(std::span<const T> w, std::size_t d) {
  check_length<T>("w", w, d);
  for (std::size_t j = 0; j < d; ++j)
    if (!std::isfinite(w[j])) fail("w[" + str(j) + "]=" + str(w[j]) + " is not finite");
}

// A step must be positive, finite, and large enough that w_j +- h_j are two different
// numbers of type T (otherwise the achieved step is 0 and the quotient meaningless).
template <class T>
void check_steps(std::span<const T> w, std::span<const T> h, std::size_t d) {
  check_length<T>("h", h, d);
  for (std::size_t j = 0; j < d; ++j) {
    if (!(h[j] > 0) || !std::isfinite(h[j]))
      fail("h[" + str(j) + "]=" + str(h[j]) + ": a step must be positive and finite");
    if (!step_moves(w[j], h[j]))
      fail("h[" + str(j) + "]=" + str(h[j]) + " does not move w[" + str(j) + "]=" + str(w[j]) +
           " in " + std::string(name(dtype_of<T>)));
  }
}

}  // namespace

void validate_batch(const BatchView<float>& batch) {
  check_batch(batch);
}
void validate_batch(const BatchView<double>& batch) {
  check_batch(batch);
}

template <class T>
double loss(const Kernel& k, const BatchView<T>& batch, std::span<const T> w, Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  check_batch(batch);
  check_weights(w, batch.d);
  return k.fns<T>().loss(batch, w.data(), exec);
}

template <class T>
void gradient(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
              std::span<const T> h, std::span<double> g, Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  check_batch(batch);
  check_weights(w, batch.d);
  check_steps(w, h, batch.d);
  check_length<T>("g", g, batch.d);
  k.fns<T>().gradient(batch, w.data(), h.data(), g.data(), exec);
}

template <class T>
void analytic_gradient(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                       std::span<double> g, Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  check_batch(batch);
  check_weights(w, batch.d);
  check_length<T>("g", g, batch.d);
  k.fns<T>().analytic_gradient(batch, w.data(), g.data(), exec);
}

template <class T>
void gradient_auto(const Kernel& k, const BatchView<T>& batch, std::span<const T> w, std::span<T> h,
                   std::span<double> g, Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  check_batch(batch);
  check_weights(w, batch.d);
  check_length<T>("h", h, batch.d);
  check_length<T>("g", g, batch.d);
  k.fns<T>().gradient_auto(batch, w.data(), h.data(), g.data(), exec);
}

template <class T>
void data_aware_steps(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                      std::span<T> h, Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  check_batch(batch);
  check_weights(w, batch.d);
  check_length<T>("h", h, batch.d);
  k.fns<T>().steps(batch, w.data(), h.data(), exec);
}

template <class T>
std::string find_non_finite(const BatchView<T>& b) {
  check_batch(b);
  for (std::size_t i = 0; i < b.rows; ++i) {
    for (std::size_t j = 0; j < b.d; ++j)
      if (!std::isfinite(b.row(i)[j])) return "x[" + str(i) + "][" + str(j) + "]";
    if (!std::isfinite(b.y[i])) return "y[" + str(i) + "]";
  }
  return {};
}

// --- Sums over row chunks (numgrad/chunks.hpp) ------------------------------------------------

ChunkGrid chunk_grid(std::size_t b, std::size_t d) {
  if (d == 0) fail("d: must be positive, got 0");
  if (b == 0) return {0, 0, 0};
  const detail::RowChunks rc = detail::row_chunks(b, d);
  return {rc.rows, rc.size, rc.count};
}

std::size_t sums_per_chunk(Sums what, std::size_t d) {
  switch (what) {
    case Sums::loss:
      return 1;
    case Sums::blackbox:
    case Sums::residual:
      return 2 * d;
    case Sums::analytic:
      return d;
    case Sums::steps:
      return d + 1;
  }
  return 0;
}

Sums gradient_sums(Algorithm a) {
  switch (a) {
    case Algorithm::blackbox:
      return Sums::blackbox;
    case Algorithm::residual:
      return Sums::residual;
    case Algorithm::analytic:
      break;
  }
  return Sums::analytic;
}

namespace {

bool uses_steps(Sums what) {
  return what == Sums::blackbox || what == Sums::residual;
}

void check_count(const char* what, std::size_t got, std::size_t want, const std::string& why) {
  if (got != want)
    fail(std::string(what) + ": length " + str(got) + ", expected " + str(want) + " (" + why + ")");
}

ChunkGrid checked_grid(std::size_t b, std::size_t d) {
  if (b == 0) fail("b: must be positive, got 0");
  return chunk_grid(b, d);
}

// The partials of every chunk of the grid, joined in chunk order: columns [0, acc_cols) in
// Acc, as the kernels join their chunk partials (tiled.hpp join_chunks), the rest in double.
template <class Acc>
std::vector<Acc> join_columns(std::span<const double> partials, std::size_t count,
                              std::size_t width, std::size_t acc_cols, double* rest) {
  std::vector<Acc> sums(acc_cols);
  for (std::size_t j = 0; j < acc_cols; ++j) sums[j] = static_cast<Acc>(partials[j]);
  for (std::size_t j = acc_cols; j < width; ++j) rest[j - acc_cols] = partials[j];
  for (std::size_t k = 1; k < count; ++k) {
    const double* p = partials.data() + k * width;
    for (std::size_t j = 0; j < acc_cols; ++j) sums[j] += static_cast<Acc>(p[j]);
    for (std::size_t j = acc_cols; j < width; ++j) rest[j - acc_cols] += p[j];
  }
  return sums;
}

// Calls f(Acc{}) with the kernel's accumulator type.
template <class F>
void with_acc(const Kernel& k, const F& f) {
  if (k.acc == DType::f32)
    f(float{});
  else
    f(double{});
}

}  // namespace

template <class T>
void chunk_sums(const Kernel& k, Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                std::size_t k1, std::span<const T> w, std::span<const T> h, std::span<double> out,
                Exec exec) {
  check_kernel<T>(k);
  check_exec(exec);
  const std::size_t d = rows.d;
  const ChunkGrid grid = checked_grid(b, d);
  if (k0 > k1 || k1 > grid.count)
    fail("chunks [" + str(k0) + ", " + str(k1) + "): not a range of the " + str(grid.count) +
         " chunks of a batch of b=" + str(b) + " rows, d=" + str(d));
  check_weights(w, d);
  if (uses_steps(what)) check_steps(w, h, d);
  check_count("out", out.size(), (k1 - k0) * sums_per_chunk(what, d),
              "values per chunk times chunks");
  if (k0 == k1) return;
  check_batch(rows);
  if (rows.rows != grid.end(k1 - 1) - grid.first(k0))
    fail("rows.rows=" + str(rows.rows) + ": chunks [" + str(k0) + ", " + str(k1) +
         ") of a batch of b=" + str(b) + " rows hold " + str(grid.end(k1 - 1) - grid.first(k0)));
  k.fns<T>().chunk_sums(what, rows, b, k0, k1, w.data(), h.data(), out.data(), exec);
}

template <class T>
double join_loss(const Kernel& k, std::size_t b, std::size_t d, std::span<const double> partials) {
  check_kernel<T>(k);
  const ChunkGrid grid = checked_grid(b, d);
  check_count("partials", partials.size(), grid.count, "one per chunk");
  double loss = 0;
  with_acc(k, [&](auto acc) {
    using Acc = decltype(acc);
    const auto sum = join_columns<Acc>(partials, grid.count, 1, 1, nullptr);
    loss = static_cast<double>(sum[0]) / static_cast<double>(b);
  });
  return loss;
}

template <class T>
void join_gradient(const Kernel& k, Sums what, std::size_t b, std::span<const T> w,
                   std::span<const T> h, std::span<const double> partials, std::span<double> g) {
  check_kernel<T>(k);
  if (what != Sums::analytic && !uses_steps(what))
    fail("what: a gradient joins blackbox, residual or analytic sums");
  const std::size_t d = w.size();
  const ChunkGrid grid = checked_grid(b, d);
  check_weights(w, d);
  if (uses_steps(what)) check_steps(w, h, d);
  check_length<T>("g", g, d);
  const std::size_t width = sums_per_chunk(what, d);
  check_count("partials", partials.size(), grid.count * width, "values per chunk times chunks");
  with_acc(k, [&](auto acc) {
    using Acc = decltype(acc);
    const std::vector<Acc> sums = join_columns<Acc>(partials, grid.count, width, width, nullptr);
    if (what == Sums::analytic) return detail::finish_analytic(b, sums.data(), d, g.data());
    const auto s = detail::prepare_steps<T, Acc>(w.data(), h.data(), d);
    detail::finish_central(b, s, sums.data(), sums.data() + d, d, g.data());
  });
}

template <class T>
void join_steps(const Kernel& k, std::size_t b, std::span<const T> w,
                std::span<const double> partials, std::span<T> h) {
  check_kernel<T>(k);
  const std::size_t d = w.size();
  const ChunkGrid grid = checked_grid(b, d);
  check_weights(w, d);
  check_length<T>("h", h, d);
  const std::size_t width = sums_per_chunk(Sums::steps, d);
  check_count("partials", partials.size(), grid.count * width, "values per chunk times chunks");
  with_acc(k, [&](auto acc) {
    using Acc = decltype(acc);
    double r2 = 0;
    const std::vector<Acc> col2 = join_columns<Acc>(partials, grid.count, width, d, &r2);
    detail::finish_steps(w.data(), r2, col2.data(), d, h.data());
  });
}

#define NUMGRAD_INSTANTIATE_CHUNKS(T)                                                             \
  template void chunk_sums<T>(const Kernel&, Sums, const BatchView<T>&, std::size_t, std::size_t, \
                              std::size_t, std::span<const T>, std::span<const T>,                \
                              std::span<double>, Exec);                                           \
  template double join_loss<T>(const Kernel&, std::size_t, std::size_t, std::span<const double>); \
  template void join_gradient<T>(const Kernel&, Sums, std::size_t, std::span<const T>,            \
                                 std::span<const T>, std::span<const double>, std::span<double>); \
  template void join_steps<T>(const Kernel&, std::size_t, std::span<const T>,                     \
                              std::span<const double>, std::span<T>);
NUMGRAD_INSTANTIATE_CHUNKS(float)
NUMGRAD_INSTANTIATE_CHUNKS(double)
#undef NUMGRAD_INSTANTIATE_CHUNKS

#define NUMGRAD_INSTANTIATE(T)                                                               \
  template double loss<T>(const Kernel&, const BatchView<T>&, std::span<const T>, Exec);     \
  template void gradient<T>(const Kernel&, const BatchView<T>&, std::span<const T>,          \
                            std::span<const T>, std::span<double>, Exec);                    \
  template void analytic_gradient<T>(const Kernel&, const BatchView<T>&, std::span<const T>, \
                                     std::span<double>, Exec);                               \
  template void gradient_auto<T>(const Kernel&, const BatchView<T>&, std::span<const T>,     \
                                 std::span<T>, std::span<double>, Exec);                     \
  template void data_aware_steps<T>(const Kernel&, const BatchView<T>&, std::span<const T>,  \
                                    std::span<T>, Exec);                                     \
  template std::string find_non_finite<T>(const BatchView<T>&);
NUMGRAD_INSTANTIATE(float)
NUMGRAD_INSTANTIATE(double)
#undef NUMGRAD_INSTANTIATE

}  // namespace numgrad
