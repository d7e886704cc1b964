// The one list of kernels. A family is a table of functions from its own source file plus one
// line below; tests, benchmarks and tools all read this list.
#include "numgrad/registry.hpp"

#include <stdexcept>

#include "family.hpp"
#include "numgrad/isa.hpp"

namespace numgrad {
namespace detail {

extern const FamilyFns scalar_family;
extern const FamilyFns autovec_sse2_family, autovec_avx2_family, autovec_avx512_family;
extern const FamilyFns simd_sse2_family, simd_avx2_family, simd_avx512_family, simd_auto_family;
bool simd_auto_supported();
extern const FamilyFns tbb_weights_scalar_family, tbb_samples_scalar_family, tbb_both_scalar_family;
extern const FamilyFns tbb_weights_simd_sse2_family, tbb_samples_simd_sse2_family,
    tbb_both_simd_sse2_family;
extern const FamilyFns tbb_weights_simd_avx2_family, tbb_samples_simd_avx2_family,
    tbb_both_simd_avx2_family;
extern const FamilyFns tbb_weights_simd_avx512_family, tbb_samples_simd_avx512_family,
    tbb_both_simd_avx512_family;

namespace {

template <Isa I>
bool isa_supported() {
  return isa_available(I);
}

template <class T>
KernelFns<T> kernel_fns(const ImplFns<T>& f, Algorithm a) {
  KernelFns<T> k;
  k.loss = f.loss;
  k.analytic_gradient = f.analytic;
  switch (a) {
    case Algorithm::blackbox:
      k.gradient = f.blackbox;
      break;
    case Algorithm::residual:
      k.gradient = f.residual;
      break;
    case Algorithm::analytic:
      k.gradient = f.analytic_central;
      break;
  }
  return k;
}

std::vector<Kernel> build() {
  std::vector<Kernel> v;
  add_family(v, scalar_family, {"scalar", Axis::serial, Isa::none, true, nullptr});
  add_family(v, autovec_sse2_family,
             {"autovec.sse2", Axis::serial, Isa::sse2, true, &isa_supported<Isa::sse2>});
  add_family(v, autovec_avx2_family,
             {"autovec.avx2", Axis::serial, Isa::avx2, true, &isa_supported<Isa::avx2>});
  add_family(v, autovec_avx512_family,
             {"autovec.avx512", Axis::serial, Isa::avx512, true, &isa_supported<Isa::avx512>});
  add_family(v, simd_sse2_family,
             {"simd.sse2", Axis::serial, Isa::sse2, true, &isa_supported<Isa::sse2>});
  add_family(v, simd_avx2_family,
             {"simd.avx2", Axis::serial, Isa::avx2, true, &isa_supported<Isa::avx2>});
  add_family(v, simd_avx512_family,
             {"simd.avx512", Axis::serial, Isa::avx512, true, &isa_supported<Isa::avx512>});
  add_family(v, simd_auto_family,
             {"simd.auto", Axis::serial, Isa::dispatch, true, &simd_auto_supported});
  add_family(v, tbb_weights_scalar_family,
             {"tbb.weights.scalar", Axis::weights, Isa::none, true, nullptr});
  add_family(v, tbb_samples_scalar_family,
             {"tbb.samples.scalar", Axis::samples, Isa::none, true, nullptr});
  add_family(v, tbb_both_scalar_family, {"tbb.both.scalar", Axis::both, Isa::none, true, nullptr});
  add_family(v, tbb_weights_simd_sse2_family,
             {"tbb.weights.simd.sse2", Axis::weights, Isa::sse2, true, &isa_supported<Isa::sse2>});
  add_family(v, tbb_samples_simd_sse2_family,
             {"tbb.samples.simd.sse2", Axis::samples, Isa::sse2, true, &isa_supported<Isa::sse2>});
  add_family(v, tbb_both_simd_sse2_family,
             {"tbb.both.simd.sse2", Axis::both, Isa::sse2, true, &isa_supported<Isa::sse2>});
  add_family(v, tbb_weights_simd_avx2_family,
             {"tbb.weights.simd.avx2", Axis::weights, Isa::avx2, true, &isa_supported<Isa::avx2>});
  add_family(v, tbb_samples_simd_avx2_family,
             {"tbb.samples.simd.avx2", Axis::samples, Isa::avx2, true, &isa_supported<Isa::avx2>});
  add_family(v, tbb_both_simd_avx2_family,
             {"tbb.both.simd.avx2", Axis::both, Isa::avx2, true, &isa_supported<Isa::avx2>});
  add_family(
      v, tbb_weights_simd_avx512_family,
      {"tbb.weights.simd.avx512", Axis::weights, Isa::avx512, true, &isa_supported<Isa::avx512>});
  add_family(
      v, tbb_samples_simd_avx512_family,
      {"tbb.samples.simd.avx512", Axis::samples, Isa::avx512, true, &isa_supported<Isa::avx512>});
  add_family(v, tbb_both_simd_avx512_family,
             {"tbb.both.simd.avx512", Axis::both, Isa::avx512, true, &isa_supported<Isa::avx512>});
  return v;
}

}  // namespace

void add_family(std::vector<Kernel>& out, const FamilyFns& fns, const Traits& t) {
  auto add = [&](const auto& f, DType elem, DType acc, const char* types) {
    for (Algorithm a : {Algorithm::blackbox, Algorithm::residual, Algorithm::analytic}) {
      Kernel k;
      k.id = t.prefix + "." + std::string(name(a)) + "." + types;
      k.elem = elem;
      k.acc = acc;
      k.algorithm = a;
      k.axis = t.axis;
      k.isa = t.isa;
      k.deterministic = t.deterministic;
      k.supported = t.supported;
      k.depths = f.depths;
      if constexpr (std::is_same_v<std::decay_t<decltype(f)>, ImplFns<float>>)
        k.f32 = kernel_fns(f, a);
      else
        k.f64 = kernel_fns(f, a);
      out.push_back(std::move(k));
    }
  };
  add(fns.f32, DType::f32, DType::f32, "f32");
  add(fns.f32acc64, DType::f32, DType::f64, "f32acc64");
  add(fns.f64, DType::f64, DType::f64, "f64");
}

}  // namespace detail

const std::vector<Kernel>& registry() {
  static const std::vector<Kernel> kernels = detail::build();
  return kernels;
}

const Kernel& find_kernel(std::string_view id) {
  for (const Kernel& k : registry())
    if (k.id == id) return k;
  std::string ids;
  for (const Kernel& k : registry()) ids += (ids.empty() ? "" : ", ") + k.id;
  throw std::invalid_argument("kernel: unknown id '" + std::string(id) + "'; valid ids: " + ids);
}

}  // namespace numgrad
