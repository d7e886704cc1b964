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
#include "numgrad/version.hpp"

namespace numgrad::cli {
namespace {

std::vector<OptionSpec> specs() {
  std::vector<OptionSpec> s = problem_option_specs();
  s.insert(s.begin(), {"kernel", "ID", "kernel id (required): a blackbox or residual kernel"});
  s.push_back({"kmin", "K", "smallest exponent: h = 2^K (default -26 for f32, -50 for f64)"});
  s.push_back({"kmax", "K", "largest exponent (default 12)"});
  s.push_back({"threads", "T", "threads for parallel kernels (default 0: NUMGRAD_THREADS or all)"});
  s.push_back({"csv", "FILE",
               "write the table as CSV, for scripts/plot_sweep_h.py\n"
               "(-: to stdout, the report to stderr)"});
  s.push_back({"json", "FILE",
               "write the table and the predictions as JSON (-: to stdout, the report\n"
               "to stderr; not with --csv -)"});
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

// What every row is measured against: the exact gradient at the problem's w and its scale,
// the kernel's own L(w) (the forward difference's base) and its summation depths (the bound).
struct Exact {
  Reference ref;
  double scale = 0;  // max_j |g*_j|, the denominator of relative errors
  double loss = 0;
  SumDepths depths;
};

template <class T>
Exact exact(const Kernel& k, const Problem<T>& p, Exec exec) {
  Exact x{reference<T>(p.batch, p.w), 0, loss<T>(k, p.batch, p.w, exec),
          k.depths(p.batch.rows, p.batch.d)};
  for (double g : x.ref.grad) x.scale = std::max(x.scale, std::abs(g));
  return x;
}

// The steps the rules predict. The central difference: the data-aware rule per coordinate
// (its median marks the table, its range is printed). The forward difference balances
// truncation h c_j / 2 against rounding 2 u L / h, which puts its optimum sqrt(2u) times lower.
struct Prediction {
  double central = 0, forward = 0;  // powers of two
  double lo = 0, hi = 0;            // the per-coordinate data-aware steps
  double eps = 0;                   // of the element type, for the textbook cbrt(eps)
};

template <class T>
Prediction predict(const Kernel& k, const Problem<T>& p) {
  std::vector<T> h(p.batch.d);
  make_steps<T>(StepPolicy{StepRule::data, 0}, p.batch, p.w, h);
  std::vector<double> steps(h.begin(), h.end());
  Prediction out;
  out.central = median_pow2(steps);
  const auto [lo, hi] = std::minmax_element(steps.begin(), steps.end());
  out.lo = *lo;
  out.hi = *hi;
  for (double& x : steps) x *= std::sqrt(2 * unit_roundoff(k.acc));
  out.forward = median_pow2(steps);
  out.eps = std::numeric_limits<T>::epsilon();
  return out;
}

// The kernel's central difference at step h for every coordinate: its largest error against
// the exact gradient, and the largest section 3 bound of its quotient.
template <class T>
void central_errors(const Kernel& k, const Problem<T>& p, const std::vector<T>& h, const Exact& x,
                    Exec exec, SweepRow& r) {
  std::vector<double> g(p.batch.d);
  gradient<T>(k, p.batch, p.w, h, g, exec);
  const CentralReference cr = central_reference<T>(p.batch, p.w, h, x.ref, k.acc, x.depths);
  double err = 0, bound = 0;
  for (std::size_t j = 0; j < g.size(); ++j) {
    err = std::max(err, std::abs(g[j] - x.ref.grad[j]));
    bound = std::max(bound, cr.bound[j]);
  }
  r.central_abs = err;
  r.central_rel = err / (x.scale > 0 ? x.scale : 1);
  r.central_bound = bound;
}

// The forward difference (L(w + h e_j) - L(w)) / (achieved step) with the kernel's own loss;
// left NaN when a step does not move w_j or a quotient is not finite.
template <class T>
void forward_errors(const Kernel& k, const Problem<T>& p, const std::vector<T>& h, const Exact& x,
                    Exec exec, SweepRow& r) {
  std::vector<T> wf(p.w);
  double err = 0;
  for (std::size_t j = 0; j < wf.size(); ++j) {
    wf[j] = static_cast<T>(p.w[j] + h[j]);
    const double step = static_cast<double>(wf[j]) - static_cast<double>(p.w[j]);
    const double gf = (loss<T>(k, p.batch, wf, exec) - x.loss) / step;
    wf[j] = p.w[j];
    if (!(step > 0) || !std::isfinite(gf)) return;
    err = std::max(err, std::abs(gf - x.ref.grad[j]));
  }
  r.forward_abs = err;
  r.forward_rel = err / (x.scale > 0 ? x.scale : 1);
}

// One row per h = 2^e, e = kmin..kmax. Only a step that moves every w_j both ways and stays
// finite is a central difference; the others are rows of NaN ('-').
template <class T>
std::vector<SweepRow> sweep(const Kernel& k, const Problem<T>& p, const Exact& x, int kmin,
                            int kmax, Exec exec) {
  std::vector<SweepRow> rows;
  for (int e = kmin; e <= kmax; ++e) {
    SweepRow r;
    r.k = e;
    r.h = std::exp2(e);
    const std::vector<T> h(p.batch.d, static_cast<T>(r.h));
    bool moves = std::isfinite(h[0]) && h[0] > 0;
    for (std::size_t j = 0; j < h.size() && moves; ++j) moves = step_moves(p.w[j], h[j]);
    if (moves) {
      central_errors(k, p, h, x, exec, r);
      forward_errors(k, p, h, x, exec, r);
    }
    rows.push_back(r);
  }
  return rows;
}

int nearest_exponent(double x) {
  return static_cast<int>(std::round(std::log2(x)));
}

// The table, each row's h marked where a rule or a textbook step falls.
void print_table(const std::vector<SweepRow>& rows, const Prediction& pr) {
  Table table({"k", "h", "central abs", "central rel", "forward abs", "forward rel",
               "central bound", "note"},
              {true, true, true, true, true, true, true, false});
  for (const SweepRow& r : rows) {
    std::string note;
    auto add = [&](double step, const char* what) {
      if (r.k == nearest_exponent(step)) note += (note.empty() ? "<- " : ", ") + std::string(what);
    };
    add(pr.central, "data-aware (median)");
    add(pr.forward, "forward optimum (predicted)");
    add(1e-5, "1e-5");
    add(std::cbrt(pr.eps), "cbrt(eps)");
    if (std::isnan(r.central_abs))
      note = "step does not move every w_j" + (note.empty() ? "" : "; " + note);
    table.row({std::to_string(r.k), fmt(r.h, 3), fmt(r.central_abs, 3), fmt(r.central_rel, 3),
               fmt(r.forward_abs, 3), fmt(r.forward_rel, 3), fmt(r.central_bound, 3), note});
  }
  table.print(report());
}

void print_predictions(const Kernel& k, const Prediction& pr) {
  report() << "\nerrors are max_j |g_j - g*_j| against the exact gradient; rel divides by max_j "
              "|g*_j|.\n"
           << "predicted central optimum (data-aware rule ||r||/||X_j||): h = 2^"
           << nearest_exponent(pr.central) << " (per coordinate 2^" << nearest_exponent(pr.lo)
           << " .. 2^" << nearest_exponent(pr.hi) << ")\n"
           << "predicted forward optimum (sqrt(2u) x that): h = 2^" << nearest_exponent(pr.forward)
           << "\ntextbook steps: 1e-5 ~ 2^" << nearest_exponent(1e-5) << ", cbrt(eps_"
           << name(k.elem) << ") = " << fmt(std::cbrt(pr.eps)) << " ~ 2^"
           << nearest_exponent(std::cbrt(pr.eps)) << "\n";
}

// --csv: metadata as '#' lines, so the file stays a plain table for spreadsheets and numpy.
void write_csv(const std::string& path, const Kernel& k, const ProblemSpec& spec, const Exact& x,
               const Prediction& pr, const std::vector<SweepRow>& rows) {
  write_output(path, [&](std::ostream& out) {
    out << "# numgrad=" << kVersion << " (" << kGitDescribe << ")\n"
        << "# kernel=" << k.id << "\n# problem=" << spec.describe() << "\n"
        << "# predicted_central=" << fmt(pr.central, 17) << "\n"
        << "# predicted_forward=" << fmt(pr.forward, 17) << "\n"
        << "# eps=" << fmt(pr.eps, 17) << "\n# grad_scale=" << fmt(x.scale, 17) << "\n"
        << "k,h,central_abs,central_rel,forward_abs,forward_rel,central_bound\n";
    for (const SweepRow& r : rows) {
      auto c = [](double v) { return std::isnan(v) ? std::string("nan") : fmt(v, 17); };
      out << r.k << "," << c(r.h) << "," << c(r.central_abs) << "," << c(r.central_rel) << ","
          << c(r.forward_abs) << "," << c(r.forward_rel) << "," << c(r.central_bound) << "\n";
    }
  });
}

// --json: the CSV's rows and metadata, with the exact loss and the data-aware rule's range
// that the report prints. Steps are values of h (the report shows them as 2^k); a step that
// does not move every w_j has null errors, as the report's '-'.
void write_json(const std::string& path, const Kernel& k, const ProblemSpec& spec, Exec exec,
                const Exact& x, const Prediction& pr, const std::vector<SweepRow>& rows) {
  write_output(path, [&](std::ostream& out) {
    Json j(out);
    j.begin_document("sweep-h", 1).value("kernel", k.id).value("problem", spec.describe());
    j.value("threads", kernel_threads(k, exec));
    j.value("loss", x.ref.loss).value("grad_scale", x.scale).value("eps", pr.eps);
    j.value("predicted_central", pr.central).value("predicted_central_min", pr.lo);
    j.value("predicted_central_max", pr.hi).value("predicted_forward", pr.forward);
    j.begin_array("rows");
    for (const SweepRow& r : rows)
      j.begin_object()
          .value("k", r.k)
          .value("h", r.h)
          .value("central_abs", r.central_abs)
          .value("central_rel", r.central_rel)
          .value("forward_abs", r.forward_abs)
          .value("forward_rel", r.forward_rel)
          .value("central_bound", r.central_bound)
          .end_object();
    j.end_array().end_object();
  });
}

// The output files of one run: --csv and --json, either of them "-".
struct Outputs {
  std::string csv, json;
};

// Range -> problem -> exact values and predictions -> sweep -> print -> CSV and JSON.
template <class T>
int run(const Kernel& k, const ProblemSpec& spec, const Options& opts, Exec exec,
        const Outputs& outputs) {
  const int kmin = exponent_option(opts, "kmin", sizeof(T) == 4 ? -26 : -50);
  const int kmax = exponent_option(opts, "kmax", 12);
  if (kmin > kmax) throw UsageError("option --kmin must not exceed --kmax");
  const Problem<T> p = make_problem<T>(spec);
  const Exact x = exact(k, p, exec);
  const Prediction pr = predict(k, p);
  const std::vector<SweepRow> rows = sweep(k, p, x, kmin, kmax, exec);

  report() << "kernel: " << k.id << "\nproblem: " << spec.describe() << "\n"
           << "exact gradient: max_j |g*_j| = " << fmt(x.scale, 6) << ", loss "
           << fmt(x.ref.loss, 6) << "\n\n";
  print_table(rows, pr);
  print_predictions(k, pr);
  if (!outputs.csv.empty()) write_csv(outputs.csv, k, spec, x, pr, rows);
  if (!outputs.json.empty()) write_json(outputs.json, k, spec, exec, x, pr, rows);
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
  const Outputs outputs{output_option(opts, "csv", {".csv"}, true),
                        output_option(opts, "json", {".json"}, true)};
  return k.elem == DType::f32 ? run<float>(k, spec, opts, exec, outputs)
                              : run<double>(k, spec, opts, exec, outputs);
}

}  // namespace numgrad::cli
