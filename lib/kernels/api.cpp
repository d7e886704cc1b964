// The API boundary: every check happens here, once per call, so kernels can assume valid
// arguments and never throw inside a hot loop. Also the names of the interface's enums and
// the sequential summation depths every serial loop has.
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "numgrad/kernel.hpp"
#include "numgrad/threads.hpp"

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
