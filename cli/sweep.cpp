// `numgrad sweep-h`: the error of the central and forward differences against the exact
// gradient for steps h = 2^k, next to the step the data-aware rule predicts. This is where a
// user sees that the textbook steps (1e-5, cbrt(eps)) fail for float32 on this loss: the
// central difference has no truncation error, so its error only falls as h grows.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>

#include "cli.hpp"
#include "numgrad/reference.hpp"

namespace numgrad::cli {
namespace {

std::vector<OptionSpec> specs() {
  std::vector<OptionSpec> s = problem_option_specs();
  s.insert(s.begin(), {"kernel", "ID", "kernel id (required): a blackbox or residual kernel"});
  s.push_back({"kmin", "K", "smallest exponent: h = 2^K (default -26 for f32, -50 for f64)"});
  s.push_back({"kmax", "K", "largest exponent (default 12)"});
  s.push_back({"threads", "T", "threads for parallel kernels (default 0: NUMGRAD_THREADS or all)"});
  s.push_back(
      {"csv", "FILE", "write the table as CSV (- for stdout), for scripts/plot_sweep_h.py"});
  return s;
}

struct SweepRow {
  int k = 0;
  double h = 0;
  double central_abs = NAN, central_rel = NAN, forward_abs = NAN, forward_rel = NAN;
  double central_bound = NAN;  // max_j of the section 3 bound of this kernel's quotient
};

// Median of log2 values, as a power of two: one number for a per-coordinate rule.
double median_pow2(std::vector<double> v) {
  for (double& x : v) x = std::log2(x);
  std::sort(v.begin(), v.end());
  return std::exp2(std::round(v[v.size() / 2]));
}

// --kmin/--kmax, range-checked as given (64 bits) before the narrowing to int, so that
// 4294967297 is refused rather than read as 1. The range keeps 2^K a normal, finite double.
int exponent_option(const Options& opts, const char* name, std::int64_t fallback) {
  constexpr std::int64_t kLowest = -1000, kHighest = 100;
  const std::int64_t v = opts.integer(name, fallback);
  if (v < kLowest || v > kHighest)
    throw UsageError("option --" + std::string(name) + "=" + std::to_string(v) + ": must be from " +
                     std::to_string(kLowest) + " to " + std::to_string(kHighest));
  return static_cast<int>(v);
}

template <class T>
int run(const Kernel& k, const ProblemSpec& spec, const Options& opts, Exec exec,
        const std::string& csv_path) {
  const int kmin = exponent_option(opts, "kmin", sizeof(T) == 4 ? -26 : -50);
  const int kmax = exponent_option(opts, "kmax", 12);
  if (kmin > kmax) throw UsageError("option --kmin must not exceed --kmax");
  const Problem<T> p = make_problem<T>(spec);
  const BatchView<T>& B = p.batch;
  const std::size_t d = B.d;

  const Reference ref = reference<T>(B, p.w);
  double gscale = 0;
  for (double g : ref.grad) gscale = std::max(gscale, std::abs(g));
  const double denom = gscale > 0 ? gscale : 1;
  const double L0 = loss<T>(k, B, p.w, exec);
  const SumDepths depths = k.depths(B.rows, d);

  // Predictions: the data-aware rule per coordinate for the central difference; the forward
  // difference balances truncation h c_j / 2 against rounding 2 u L / h, which puts its
  // optimum sqrt(2u) times lower.
  std::vector<T> h_auto(d);
  make_steps<T>(StepPolicy{StepRule::data, 0}, B, p.w, h_auto);
  std::vector<double> ha(h_auto.begin(), h_auto.end());
  const double predicted = median_pow2(ha);
  const double u = unit_roundoff(k.acc);
  const double predicted_forward = median_pow2([&] {
    std::vector<double> v = ha;
    for (double& x : v) x *= std::sqrt(2 * u);
    return v;
  }());
  const double eps = std::numeric_limits<T>::epsilon();
  const double cbrt_eps = std::cbrt(eps);

  std::vector<SweepRow> rows;
  std::vector<T> h(d), wf(p.w);
  std::vector<double> g(d);
  for (int e = kmin; e <= kmax; ++e) {
    SweepRow r;
    r.k = e;
    r.h = std::exp2(e);
    std::fill(h.begin(), h.end(), static_cast<T>(r.h));
    // Only steps that move every w_j both ways and stay finite are a central difference.
    bool moves = std::isfinite(static_cast<T>(r.h)) && static_cast<T>(r.h) > 0;
    for (std::size_t j = 0; j < d && moves; ++j) moves = step_moves(p.w[j], h[j]);
    if (moves) {
      gradient<T>(k, B, p.w, h, g, exec);
      const CentralReference cr = central_reference<T>(B, p.w, h, ref, k.acc, depths);
      double ca = 0, fa = 0, cb = 0;
      bool forward_ok = true;
      for (std::size_t j = 0; j < d; ++j) {
        ca = std::max(ca, std::abs(g[j] - ref.grad[j]));
        cb = std::max(cb, cr.bound[j]);
        // Forward difference with the kernel's own loss, over the achieved step.
        wf[j] = static_cast<T>(p.w[j] + h[j]);
        const double step = static_cast<double>(wf[j]) - static_cast<double>(p.w[j]);
        const double gf = (loss<T>(k, B, wf, exec) - L0) / step;
        wf[j] = p.w[j];
        if (!(step > 0) || !std::isfinite(gf)) forward_ok = false;
        fa = std::max(fa, std::abs(gf - ref.grad[j]));
      }
      r.central_abs = ca;
      r.central_rel = ca / denom;
      r.central_bound = cb;
      if (forward_ok) {
        r.forward_abs = fa;
        r.forward_rel = fa / denom;
      }
    }
    rows.push_back(r);
  }

  std::cout << "kernel: " << k.id << "\nproblem: " << spec.describe() << "\n"
            << "exact gradient: max_j |g*_j| = " << fmt(gscale, 6) << ", loss " << fmt(ref.loss, 6)
            << "\n\n";
  auto nearest = [](double x) { return static_cast<int>(std::round(std::log2(x))); };
  Table table({"k", "h", "central abs", "central rel", "forward abs", "forward rel",
               "central bound", "note"},
              {true, true, true, true, true, true, true, false});
  for (const SweepRow& r : rows) {
    std::string note;
    auto add = [&](bool on, const char* what) {
      if (on) note += (note.empty() ? "<- " : ", ") + std::string(what);
    };
    add(r.k == nearest(predicted), "data-aware (median)");
    add(r.k == nearest(predicted_forward), "forward optimum (predicted)");
    add(r.k == nearest(1e-5), "1e-5");
    add(r.k == nearest(cbrt_eps), "cbrt(eps)");
    if (std::isnan(r.central_abs))
      note = "step does not move every w_j" + (note.empty() ? "" : "; " + note);
    table.row({std::to_string(r.k), fmt(r.h, 3), fmt(r.central_abs, 3), fmt(r.central_rel, 3),
               fmt(r.forward_abs, 3), fmt(r.forward_rel, 3), fmt(r.central_bound, 3), note});
  }
  table.print(std::cout);
  auto [lo, hi] = std::minmax_element(ha.begin(), ha.end());
  std::cout << "\nerrors are max_j |g_j - g*_j| against the exact gradient; rel divides by max_j "
               "|g*_j|.\n"
            << "predicted central optimum (data-aware rule ||r||/||X_j||): h = 2^"
            << nearest(predicted) << " (per coordinate 2^" << nearest(*lo) << " .. 2^"
            << nearest(*hi) << ")\n"
            << "predicted forward optimum (sqrt(2u) x that): h = 2^" << nearest(predicted_forward)
            << "\ntextbook steps: 1e-5 ~ 2^" << nearest(1e-5) << ", cbrt(eps_" << name(k.elem)
            << ") = " << fmt(cbrt_eps) << " ~ 2^" << nearest(cbrt_eps) << "\n";

  if (!csv_path.empty()) {
    write_output(csv_path, [&](std::ostream& out) {
      // Metadata as '#' lines, so the file stays a plain table for spreadsheets and numpy.
      out << "# kernel=" << k.id << "\n# problem=" << spec.describe() << "\n"
          << "# predicted_central=" << fmt(predicted, 17) << "\n"
          << "# predicted_forward=" << fmt(predicted_forward, 17) << "\n"
          << "# eps=" << fmt(eps, 17) << "\n# grad_scale=" << fmt(gscale, 17) << "\n"
          << "k,h,central_abs,central_rel,forward_abs,forward_rel,central_bound\n";
      for (const SweepRow& r : rows) {
        auto c = [](double v) { return std::isnan(v) ? std::string("nan") : fmt(v, 17); };
        out << r.k << "," << c(r.h) << "," << c(r.central_abs) << "," << c(r.central_rel) << ","
            << c(r.forward_abs) << "," << c(r.forward_rel) << "," << c(r.central_bound) << "\n";
      }
    });
  }
  return kExitOk;
}

}  // namespace

int cmd_sweep_h(int argc, char** argv) {
  const std::vector<OptionSpec> spec_list = specs();
  const Options opts("sweep-h", spec_list, argc, argv);
  if (opts.help()) {
    print_help(std::cout, "numgrad sweep-h --kernel ID [options]",
               "For h = 2^k, k = kmin..kmax (the same h for every coordinate), the max error of\n"
               "the kernel's central difference and of the forward difference\n"
               "(L(w + h e_j) - L(w)) / h (with the kernel's loss) against the exact gradient,\n"
               "and the section 3 bound of the central difference. The loss is quadratic, so\n"
               "the central difference has no truncation error (its error falls as 1/h until\n"
               "the growth of L(w +- h e_j) takes over) while the forward one has h c_j / 2.\n"
               "The steps marked: the data-aware rule's prediction, and the textbook 1e-5 and\n"
               "cbrt(eps). Plot the CSV with scripts/plot_sweep_h.py.",
               spec_list);
    return kExitOk;
  }
  if (!opts.has("kernel"))
    throw UsageError("sweep-h needs --kernel ID ('numgrad info' lists them)");
  const Kernel& k = kernel_by_id(opts.str("kernel"));
  if (k.algorithm == Algorithm::analytic)
    throw UsageError("kernel '" + k.id + "' computes the analytic gradient; sweep-h needs a " +
                     "central-difference kernel (blackbox or residual)");
  const ProblemSpec spec = problem_spec(opts);
  const Exec exec{threads_option(opts)};
  const std::string csv = output_option(opts, "csv", {".csv"}, true);
  return k.elem == DType::f32 ? run<float>(k, spec, opts, exec, csv)
                              : run<double>(k, spec, opts, exec, csv);
}

}  // namespace numgrad::cli
