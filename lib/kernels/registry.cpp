// The one list of kernels, built from the families' exported tables and the ISA list: tests,
// benchmarks and tools all read it, and nothing else lists kernels.
#include "numgrad/registry.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "numgrad/isa.hpp"
#include "tables.hpp"

namespace numgrad {
namespace {

using detail::FamilyFns;
using detail::ImplFns;

template <class T>
KernelFns<T> kernel_fns(const ImplFns<T>& f, Algorithm a) {
  KernelFns<T> k;
  k.loss = f.loss;
  k.analytic_gradient = f.analytic;
  k.steps = f.steps;
  k.chunk_sums = f.chunk_sums;
  switch (a) {
    case Algorithm::blackbox:
      k.gradient = f.blackbox;
      k.gradient_auto = f.blackbox_auto;
      break;
    case Algorithm::residual:
      k.gradient = f.residual;
      k.gradient_auto = f.residual_auto;
      break;
    case Algorithm::analytic:
      k.gradient = f.analytic_central;
      k.gradient_auto = f.analytic_auto;
      break;
  }
  return k;
}

// Appends the nine entries of a family: {blackbox, residual, analytic} x {f32, f32acc64, f64},
// with ids "<prefix>.<algorithm>.<types>". Every family is deterministic (docs/design.md §6).
void add_family(std::vector<Kernel>& out, const FamilyFns& fns, const std::string& prefix,
                Axis axis, Isa isa) {
  auto add = [&](const auto& f, DType elem, DType acc, const char* types) {
    for (Algorithm a : {Algorithm::blackbox, Algorithm::residual, Algorithm::analytic}) {
      Kernel k;
      k.id = prefix + "." + std::string(name(a)) + "." + types;
      k.elem = elem;
      k.acc = acc;
      k.algorithm = a;
      k.axis = axis;
      k.isa = isa;
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

// The list, from the tables: scalar; autovec for each ISA of the list that has it, simd for
// each ISA of numgrad/isa_list.hpp; simd.auto; the three oneTBB axes over scalar and over each simd
// family.
std::vector<Kernel> build() {
  std::vector<Kernel> v;
  add_family(v, detail::scalar_family, "scalar", Axis::serial, Isa::none);
  for (const auto& f : detail::kAutovecFamilies)
    add_family(v, *f.fns, "autovec." + std::string(name(f.isa)), Axis::serial, f.isa);
  for (const auto& f : detail::kSimdFamilies)
    add_family(v, *f.fns, "simd." + std::string(name(f.isa)), Axis::serial, f.isa);
  add_family(v, detail::simd_auto_family, "simd.auto", Axis::serial, Isa::dispatch);
  for (std::size_t i = 0; i < detail::kParallelFamilyCount; ++i) {
    const detail::ParallelFamilies& p = detail::kParallelFamilies[i];
    add_family(v, *p.weights, std::string("tbb.weights.") + p.inner, Axis::weights, p.isa);
    add_family(v, *p.samples, std::string("tbb.samples.") + p.inner, Axis::samples, p.isa);
    add_family(v, *p.both, std::string("tbb.both.") + p.inner, Axis::both, p.isa);
  }
  return v;
}

}  // namespace

const std::vector<Kernel>& registry() {
  static const std::vector<Kernel> kernels = build();
  return kernels;
}

const Kernel& find_kernel(std::string_view id) {
  for (const Kernel& k : registry())
    if (k.id == id) return k;
  // The ids that contain the one given (a missing element type, say), else all of them: one
  // line either way, but not 180 ids where a handful would answer.
  std::string near, ids;
  for (const Kernel& k : registry()) {
    ids += (ids.empty() ? "" : ", ") + k.id;
    if (!id.empty() && k.id.find(id) != std::string::npos)
      near += (near.empty() ? "" : ", ") + k.id;
  }
  throw std::invalid_argument("kernel: unknown id '" + std::string(id) + "'; " +
                              (near.empty() ? "valid ids: " + ids : "ids containing it: " + near));
}

}  // namespace numgrad
