// `numgrad verify`: every supported kernel on one problem against the high-precision
// reference, judged by the docs/design.md §3.3 error bounds (never a hand-picked tolerance), then a
// bitwise determinism check of the parallel deterministic kernels across thread counts.
// Exit 0 when every row passes, 1 when one fails (with the command that reruns just it).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <regex>

#include "cli.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/registry.hpp"

namespace numgrad::cli {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// An error over its bound, the one way every ratio column is computed. A bound is exactly 0
// where the rounding it allows for has nothing to act on (an all-zero feature column, an exact
// fit), and a right kernel then has error 0: that passes (not 0/0 = NaN). A nonzero error against a
// zero bound, or a non-finite error, is +inf, so it fails; no ratio is ever NaN, which every
// comparison (and std::max) would silently let through.
double ratio(double err, double bnd) {
  if (!std::isfinite(err)) return kInf;
  if (err == 0) return 0;
  if (!(bnd > 0)) return kInf;  // 0 < err against a zero (or NaN) bound
  return err / bnd;
}

// acc = max(acc, v), but a NaN v makes acc +inf instead of vanishing as std::max lets it.
void keep_worst(double& acc, double v) {
  if (std::isnan(v))
    acc = kInf;
  else
    acc = std::max(acc, v);
}

struct Row {
  const Kernel* k = nullptr;
  double loss_abs = 0, loss_rel = 0, loss_ratio = 0;
  double grad_abs = 0, grad_ratio = 0;
  double cd_abs = 0, cd_rel = 0, cd_bound_ratio = 0, cd_tol_ratio = 0;
  std::size_t worst_j = 0;
  std::string error;   // an exception from the kernel call, if any
  std::string reason;  // why a ratio is +inf (a non-finite result, a zero bound), if one is
  bool pass() const {
    return error.empty() && loss_ratio <= 1 && grad_ratio <= 1 && cd_bound_ratio <= 1 &&
           cd_tol_ratio <= 1;
  }
  std::string verdict() const {
    if (!error.empty()) return "FAIL(error)";
    if (pass()) return "PASS";
    std::string s;
    auto add = [&](bool bad, const char* what) {
      if (bad) s += (s.empty() ? "" : ",") + std::string(what);
    };
    add(loss_ratio > 1, "loss");
    add(grad_ratio > 1, "grad");
    add(cd_bound_ratio > 1, "cd/bnd");
    add(cd_tol_ratio > 1, "cd/tol");
    return "FAIL(" + s + ")";
  }
};

// What every kernel of one element type shares: the problem, its steps and the reference.
template <class T>
struct Prepared {
  Problem<T> p;
  std::vector<T> h;
  Reference ref;
  std::vector<double> curvature;  // c_j = (2/b) sum_i x_ij^2, the second derivative along e_j
  double grad_scale = 0;          // max_j |g*_j|, the denominator of relative errors
};

template <class T>
Prepared<T> prepare(const ProblemSpec& spec, const StepPolicy& policy) {
  Prepared<T> s{make_problem<T>(spec), {}, {}, {}, 0};
  const BatchView<T>& B = s.p.batch;
  s.h.resize(B.d);
  make_steps<T>(policy, B, s.p.w, s.h);
  s.ref = reference<T>(B, s.p.w);
  std::vector<long double> c(B.d, 0.0L);
  for (std::size_t i = 0; i < B.rows; ++i)
    for (std::size_t j = 0; j < B.d; ++j)
      c[j] += static_cast<long double>(B.row(i)[j]) * B.row(i)[j];
  for (long double v : c) s.curvature.push_back(static_cast<double>(2 * v / B.rows));
  for (double g : s.ref.grad) s.grad_scale = std::max(s.grad_scale, std::abs(g));
  return s;
}

template <class T>
Row check_kernel(const Kernel& k, const Prepared<T>& s, Exec exec) {
  Row row;
  row.k = &k;
  const BatchView<T>& B = s.p.batch;
  const std::size_t d = B.d;
  const std::span<const T> w(s.p.w), h(s.h);
  try {
    const SumDepths depths = k.depths(B.rows, d);
    // The first reason a ratio is +inf (a non-finite result, or an error where the bound is
    // 0), stated once below the table: FAIL(loss) alone would not say which.
    auto explain = [&](double r, const std::string& what, double result, double err, double bnd) {
      if (!std::isinf(r) || !row.reason.empty()) return;
      if (!std::isfinite(result))
        row.reason = "non-finite " + what + " (" + (std::isnan(result) ? "nan" : fmt(result)) + ")";
      else
        row.reason = what + " error " + fmt(err) + " against a bound of " + fmt(bnd);
    };
    const double L = loss<T>(k, B, w, exec);
    keep_worst(row.loss_abs, std::abs(L - s.ref.loss));
    row.loss_rel = s.ref.loss != 0 ? row.loss_abs / std::abs(s.ref.loss) : row.loss_abs;
    const double loss_bnd = loss_bound(s.ref, k.acc, depths);
    row.loss_ratio = ratio(row.loss_abs, loss_bnd);
    explain(row.loss_ratio, "loss", L, row.loss_abs, loss_bnd);

    const std::vector<double> tau = gradient_bound(s.ref, k.acc, depths);
    std::vector<double> ga(d), g(d);
    analytic_gradient<T>(k, B, w, ga, exec);
    gradient<T>(k, B, w, h, g, exec);
    CentralReference cr;
    if (k.algorithm != Algorithm::analytic) cr = central_reference<T>(B, w, h, k.acc, depths);
    const double u_storage = unit_roundoff(dtype_of<T>);
    double worst = -1;
    for (std::size_t j = 0; j < d; ++j) {
      const std::string at = "[" + std::to_string(j) + "]";
      const double ga_err = std::abs(ga[j] - s.ref.grad[j]);
      keep_worst(row.grad_abs, ga_err);
      const double grad_ratio = ratio(ga_err, tau[j]);
      explain(grad_ratio, "analytic_gradient" + at, ga[j], ga_err, tau[j]);
      row.grad_ratio = std::max(row.grad_ratio, grad_ratio);
      const double err = std::abs(g[j] - s.ref.grad[j]);
      keep_worst(row.cd_abs, err);
      double bound_ratio, tol_ratio;
      if (k.algorithm == Algorithm::analytic) {
        // gradient() is the analytic gradient here: both checks use its bound.
        bound_ratio = tol_ratio = ratio(err, tau[j]);
        explain(bound_ratio, "gradient" + at, g[j], err, tau[j]);
      } else {
        // Kernel check: against the exact difference quotient at the points actually
        // evaluated, with that quotient's own bound.
        const double q_err = std::abs(g[j] - cr.grad[j]);
        bound_ratio = ratio(q_err, cr.bound[j]);
        explain(bound_ratio, "gradient" + at, g[j], q_err, cr.bound[j]);
        // Policy check: against the exact gradient, allowing what the analytic gradient of
        // this kernel may err plus the rounding of w_j +- h_j to T (it moves the midpoint
        // by at most u_T (|w_j| + h_j), which costs c_j times that).
        const double storage =
            s.curvature[j] * u_storage * (std::abs(static_cast<double>(w[j])) + h[j]);
        tol_ratio = ratio(err, tau[j] + storage);
        explain(tol_ratio, "gradient" + at, g[j], err, tau[j] + storage);
      }
      row.cd_bound_ratio = std::max(row.cd_bound_ratio, bound_ratio);
      row.cd_tol_ratio = std::max(row.cd_tol_ratio, tol_ratio);
      if (std::max(bound_ratio, tol_ratio) > worst) {
        worst = std::max(bound_ratio, tol_ratio);
        row.worst_j = j;
      }
    }
    row.cd_rel = s.grad_scale > 0 ? row.cd_abs / s.grad_scale : row.cd_abs;
  } catch (const std::exception& e) {
    row.error = e.what();
  }
  return row;
}

// One determinism result: bitwise equality of loss, gradient and analytic gradient across
// thread counts and repeats, against the first run with one thread.
struct Determinism {
  const Kernel* k = nullptr;
  int runs = 0;
  std::string mismatch;  // empty: identical
};

template <class T>
Determinism check_determinism(const Kernel& k, const Prepared<T>& s, int repeats) {
  Determinism out{&k, 0, {}};
  const BatchView<T>& B = s.p.batch;
  const std::size_t d = B.d;
  struct Result {
    double loss;
    std::vector<double> g, ga;
  };
  auto run = [&](int threads) {
    Result r{0, std::vector<double>(d), std::vector<double>(d)};
    const Exec exec{threads};
    r.loss = loss<T>(k, B, s.p.w, exec);
    gradient<T>(k, B, s.p.w, s.h, r.g, exec);
    analytic_gradient<T>(k, B, s.p.w, r.ga, exec);
    return r;
  };
  try {
    const Result base = run(1);
    for (int threads : {1, 2, 3, 4, 8}) {
      for (int rep = 0; rep < repeats; ++rep) {
        const Result r = run(threads);
        ++out.runs;
        std::string what;
        if (std::memcmp(&r.loss, &base.loss, sizeof(double)) != 0) what = "loss";
        for (std::size_t j = 0; j < d && what.empty(); ++j) {
          if (std::memcmp(&r.g[j], &base.g[j], sizeof(double)) != 0)
            what = "gradient[" + std::to_string(j) + "]";
          else if (std::memcmp(&r.ga[j], &base.ga[j], sizeof(double)) != 0)
            what = "analytic_gradient[" + std::to_string(j) + "]";
        }
        if (!what.empty() && out.mismatch.empty())
          out.mismatch = what + " differs at threads=" + std::to_string(threads) + " repeat " +
                         std::to_string(rep + 1) + " from threads=1";
      }
    }
  } catch (const std::exception& e) {
    out.mismatch = e.what();
  }
  return out;
}

std::vector<OptionSpec> specs() {
  std::vector<OptionSpec> s = problem_option_specs(true);
  s.push_back(step_option_spec("auto"));
  s.push_back({"kernels", "REGEX", "only kernels whose id matches (ECMAScript regex, searched)"});
  s.push_back({"threads", "T",
               "threads for the parallel kernels (default 0: " +
                   std::to_string(default_thread_count()) + " here)"});
  s.push_back({"repeats", "R", "determinism: runs per thread count in {1,2,3,4,8} (default 3)"});
  s.push_back({"json", "FILE", "also write the results as JSON (- for stdout)"});
  return s;
}

constexpr std::string_view kDescription =
    "Runs every supported kernel (or those --kernels selects) on one problem and compares\n"
    "it with a long-double, compensated reference. Per kernel: the loss error, the analytic\n"
    "gradient error and the central-difference error, each over its docs/design.md section 3.3\n"
    "bound, computed from the data for this kernel's summation depths and accumulator.\n"
    "Two checks on the central difference:\n"
    "  cd/bnd  the kernel: its quotient against the exact quotient at the points it\n"
    "          evaluates (w_j +- h_j rounded), over that quotient's rounding bound\n"
    "  cd/tol  the step, by a policy rather than a rigorous bound of the central\n"
    "          difference: its quotient against the exact gradient must be as\n"
    "          accurate as this kernel's analytic-gradient bound plus the storage\n"
    "          rounding of w_j +- h_j. A step that loses accuracy (e.g. --step\n"
    "          fixed:1e-5, or relative on float data with large residuals) fails\n"
    "          here although the kernel is right\n"
    "A row passes when every ratio is <= 1; an error of exactly 0 passes even where the\n"
    "bound is 0 (an all-zero column, an exact fit), and a non-finite result fails. Then\n"
    "the parallel deterministic kernels are run with 1, 2, 3, 4 and 8 threads, --repeats\n"
    "times each, and must agree bitwise.\n"
    "Default step: auto, the data-aware rule, because the loss is quadratic (no truncation\n"
    "error) and the best step is on the scale of the data.\n"
    "Exit status: 0 all pass, 1 a row or the determinism check fails, 2 bad input.";

}  // namespace

int cmd_verify(int argc, char** argv) {
  const std::vector<OptionSpec> spec_list = specs();
  const Options opts("verify", spec_list, argc, argv);
  if (opts.help()) {
    print_help(std::cout, "numgrad verify [options]", kDescription, spec_list);
    return kExitOk;
  }
  const ProblemSpec problem = problem_spec(opts);
  const StepPolicy policy = step_policy(opts);
  const std::string dtype = opts.str("dtype", "all");
  if (dtype != "f32" && dtype != "f64" && dtype != "all")
    throw UsageError("option --dtype: '" + dtype + "' is not one of f32, f64, all");
  const Exec exec{threads_option(opts)};
  const int repeats = static_cast<int>(opts.size("repeats", 3));
  const std::string json = output_option(opts, "json", {".json"}, true);
  std::regex filter;
  const std::string pattern = opts.str("kernels", "");
  try {
    filter = std::regex(pattern);
  } catch (const std::regex_error& e) {
    throw UsageError("option --kernels: '" + pattern + "' is not a valid regular expression (" +
                     e.what() + ")");
  }

  std::vector<const Kernel*> selected;
  for (const Kernel& k : registry()) {
    if (!k.is_supported() || !std::regex_search(k.id, filter)) continue;
    if (dtype != "all" && name(k.elem) != dtype) continue;
    selected.push_back(&k);
  }
  if (selected.empty())
    throw UsageError("no supported kernel matches --kernels '" + pattern + "'" +
                     (dtype != "all" ? " with --dtype " + dtype : std::string()) +
                     "; 'numgrad info' lists them");

  // Build each element type's problem only when a selected kernel needs it.
  std::optional<Prepared<float>> p32;
  std::optional<Prepared<double>> p64;
  for (const Kernel* k : selected) {
    if (k->elem == DType::f32 && !p32) p32 = prepare<float>(problem, policy);
    if (k->elem == DType::f64 && !p64) p64 = prepare<double>(problem, policy);
  }

  std::cout << "problem: " << problem.describe() << "\n"
            << "step: " << to_string(policy)
            << ", threads: " << (exec.threads == 0 ? default_thread_count() : exec.threads) << "\n";
  auto print_steps = [](const char* t, const auto& prep) {
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (auto v : prep.h) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
    std::cout << t << ": loss " << fmt(prep.ref.loss, 6) << ", max |g*_j| "
              << fmt(prep.grad_scale, 6) << ", steps h_j in [" << fmt(lo) << ", " << fmt(hi)
              << "]\n";
  };
  if (p32) print_steps("f32 problem", *p32);
  if (p64) print_steps("f64 problem", *p64);
  std::cout << "\n";

  std::vector<Row> rows;
  for (const Kernel* k : selected)
    rows.push_back(k->elem == DType::f32 ? check_kernel<float>(*k, *p32, exec)
                                         : check_kernel<double>(*k, *p64, exec));

  Table table({"kernel", "loss abs", "loss rel", "loss/bnd", "grad abs", "grad/bnd", "cd abs",
               "cd rel", "cd/bnd", "cd/tol", "worst j", "result"});
  std::vector<const Row*> failed;
  for (const Row& r : rows) {
    table.row({r.k->id, fmt(r.loss_abs, 2), fmt(r.loss_rel, 2), fmt(r.loss_ratio, 2),
               fmt(r.grad_abs, 2), fmt(r.grad_ratio, 2), fmt(r.cd_abs, 2), fmt(r.cd_rel, 2),
               fmt(r.cd_bound_ratio, 2), fmt(r.cd_tol_ratio, 2), std::to_string(r.worst_j),
               r.verdict()});
    if (!r.pass()) failed.push_back(&r);
  }
  table.print(std::cout);
  std::cout
      << "\nabs: max_j |value - exact|; rel: over |L| or max_j |g*_j|; x/bnd: error over its\n"
         "section 3 bound; cd/tol: a policy check, not a bound of the central difference:\n"
         "its error vs the exact gradient over the analytic gradient's bound + the storage\n"
         "rounding of w_j +- h_j. <= 1 passes.\n";
  for (const Row* r : failed) {
    if (!r->error.empty())
      std::cout << r->k->id << ": " << r->error << "\n";
    else if (!r->reason.empty())
      std::cout << r->k->id << ": " << r->reason << "\n";
  }
  std::cout << rows.size() - failed.size() << " of " << rows.size() << " kernels pass\n";

  // Determinism: only parallel kernels that promise it (serial ones are trivially so).
  std::vector<Determinism> det;
  for (const Kernel* k : selected) {
    if (!k->deterministic || k->axis == Axis::serial) continue;
    det.push_back(k->elem == DType::f32 ? check_determinism<float>(*k, *p32, repeats)
                                        : check_determinism<double>(*k, *p64, repeats));
  }
  std::cout << "\ndeterminism (threads 1,2,3,4,8 x " << repeats << " repeats, bitwise):\n";
  if (det.empty()) {
    std::cout << "  no parallel deterministic kernel selected; nothing to check\n";
  } else {
    // Only the failures get a line each: a pass is the same sentence for every kernel.
    std::size_t identical = 0;
    for (const Determinism& x : det) {
      if (x.mismatch.empty())
        ++identical;
      else
        std::cout << "  FAIL " << x.k->id << ": " << x.mismatch << "\n";
    }
    std::cout << "  " << identical << " of " << det.size() << " parallel deterministic kernels "
              << "identical across " << (det.front().runs) << " runs each\n";
  }

  std::vector<std::string> rerun;
  for (const Row* r : failed) rerun.push_back(r->k->id);
  for (const Determinism& x : det)
    if (!x.mismatch.empty()) rerun.push_back(x.k->id);
  if (!rerun.empty()) {
    std::string command = "numgrad verify";
    for (const auto& [name, value] : opts.given()) {
      if (name == "kernels" || name == "json") continue;
      const bool flag = std::any_of(spec_list.begin(), spec_list.end(), [&](const OptionSpec& s) {
        return s.name == name && s.value.empty();
      });
      command += " --" + name + (flag ? "" : " " + shell_quote(value));
    }
    std::string alternatives;
    for (const std::string& id : rerun) {
      std::string escaped;
      for (char c : id) escaped += c == '.' ? std::string("\\.") : std::string(1, c);
      alternatives += (alternatives.empty() ? "" : "|") + escaped;
    }
    command += " --kernels " + shell_quote("^(" + alternatives + ")$");
    std::cout << "\nFAILED: " << rerun.size() << " kernel(s). Rerun just them with:\n  " << command
              << "\n";
  }

  if (!json.empty()) {
    write_output(json, [&](std::ostream& out) {
      Json j(out);
      j.begin_object().value("command", "verify").value("problem", problem.describe());
      j.value("step", to_string(policy)).value("threads", exec.threads);
      j.begin_array("kernels");
      for (const Row& r : rows) {
        j.begin_object()
            .value("id", r.k->id)
            .value("loss_abs", r.loss_abs)
            .value("loss_rel", r.loss_rel)
            .value("loss_ratio", r.loss_ratio)
            .value("grad_abs", r.grad_abs)
            .value("grad_ratio", r.grad_ratio)
            .value("cd_abs", r.cd_abs)
            .value("cd_rel", r.cd_rel)
            .value("cd_bound_ratio", r.cd_bound_ratio)
            .value("cd_tol_ratio", r.cd_tol_ratio)
            .value("worst_j", r.worst_j)
            .value("pass", r.pass());
        if (!r.error.empty()) j.value("error", r.error);
        if (!r.reason.empty()) j.value("reason", r.reason);
        j.end_object();
      }
      j.end_array().begin_array("determinism");
      for (const Determinism& x : det) {
        j.begin_object()
            .value("id", x.k->id)
            .value("runs", x.runs)
            .value("pass", x.mismatch.empty());
        if (!x.mismatch.empty()) j.value("mismatch", x.mismatch);
        j.end_object();
      }
      j.end_array().value("pass", rerun.empty()).end_object();
    });
  }
  return rerun.empty() ? kExitOk : kExitFailed;
}

}  // namespace numgrad::cli
