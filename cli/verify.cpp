// `numgrad verify`: every supported kernel on one problem against the high-precision
// reference, judged by the docs/design.md §3.3 error bounds (never a hand-picked tolerance), then a
// bitwise determinism check of the parallel deterministic kernels across thread counts.
// Exit 0 when every row passes, 1 when one fails (with the command that reruns just it).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <optional>
#include <regex>

#include "cli.hpp"
#include "numgrad/check.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/registry.hpp"

namespace numgrad::cli {
namespace {

// One kernel's row: the checks of numgrad/check.hpp, or the exception its call threw.
struct Row {
  const Kernel* k = nullptr;
  KernelCheck check;
  double loss_rel = 0, cd_rel = 0;  // the loss error over |L|, the cd error over max_j |g*_j|
  std::string error;                // an exception from the kernel call, if any
  bool pass() const { return error.empty() && check.ok(); }
  // The coordinate of the larger of the two central-difference ratios.
  std::size_t worst_j() const {
    return check.central.ratio >= check.step.ratio ? check.central.worst : check.step.worst;
  }
  std::string verdict() const {
    if (!error.empty()) return "FAIL(error)";
    if (pass()) return "PASS";
    std::string s;
    auto add = [&](const ErrorCheck& c, const char* what) {
      if (!c.ok()) s += (s.empty() ? "" : ",") + std::string(what);
    };
    add(check.loss, "loss");
    add(check.analytic, "grad");
    add(check.central, "cd/bnd");
    add(check.step, "cd/tol");
    return "FAIL(" + s + ")";
  }
  // Why the first failing ratio is +inf (a non-finite result, or an error where the bound is
  // 0), stated below the table: FAIL(loss) alone would not say which.
  std::string reason() const {
    const std::pair<const ErrorCheck*, std::string> checks[] = {
        {&check.loss, "loss"},
        {&check.analytic, "analytic_gradient[" + std::to_string(check.analytic.worst) + "]"},
        {&check.central, "gradient[" + std::to_string(check.central.worst) + "]"},
        {&check.step, "gradient[" + std::to_string(check.step.worst) + "]"}};
    for (const auto& [c, what] : checks) {
      if (!std::isinf(c->ratio)) continue;
      if (!std::isfinite(c->got))
        return "non-finite " + what + " (" + (std::isnan(c->got) ? "nan" : fmt(c->got)) + ")";
      return what + " error " + fmt(c->error) + " against a bound of " + fmt(c->bound);
    }
    return "";
  }
};

// What every kernel of one element type shares: the problem, its steps and the reference.
template <class T>
struct Prepared {
  Problem<T> p;
  std::vector<T> h;
  Reference ref;
  double grad_scale = 0;  // max_j |g*_j|, the denominator of relative errors
  // The smallest and the largest step h_j, printed and written with the problem.
  double step_min() const { return *std::min_element(h.begin(), h.end()); }
  double step_max() const { return *std::max_element(h.begin(), h.end()); }
};

template <class T>
Prepared<T> prepare(const ProblemSpec& spec, const StepPolicy& policy) {
  Prepared<T> s{make_problem<T>(spec), {}, {}, 0};
  const BatchView<T>& B = s.p.batch;
  s.h.resize(B.d);
  make_steps<T>(policy, B, s.p.w, s.h);
  s.ref = reference<T>(B, s.p.w);
  for (double g : s.ref.grad) s.grad_scale = std::max(s.grad_scale, std::abs(g));
  return s;
}

template <class T>
Row check_row(const Kernel& k, const Prepared<T>& s, Exec exec) {
  Row row;
  row.k = &k;
  try {
    row.check = check_kernel<T>(k, s.p.batch, s.p.w, s.h, s.ref, exec);
    const double cd_abs = row.check.step.max_error;  // |g_j - g*_j|, whichever algorithm
    row.loss_rel = s.ref.loss != 0 ? row.check.loss.max_error / std::abs(s.ref.loss)
                                   : row.check.loss.max_error;
    row.cd_rel = s.grad_scale > 0 ? cd_abs / s.grad_scale : cd_abs;
  } catch (const std::exception& e) {
    row.error = e.what();
  }
  return row;
}

// The thread counts of the determinism check, each run --repeats times.
constexpr int kDeterminismThreads[] = {1, 2, 3, 4, 8};

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
    for (int threads : kDeterminismThreads) {
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
  std::vector<OptionSpec> s = problem_option_specs();
  s.push_back({"dtype", "T",
               "f32, f64 or all (default all): element type of the kernels to run;\n"
               "f32 kernels see the problem rounded to float"});
  s.push_back(step_option_spec("auto"));
  s.push_back({"kernels", "REGEX", "only kernels whose id matches (ECMAScript regex, searched)"});
  s.push_back({"threads", "T",
               "threads for the parallel kernels (default 0: " +
                   std::to_string(default_thread_count()) + " here)"});
  s.push_back({"repeats", "R", "determinism: runs per thread count in {1,2,3,4,8} (default 3)"});
  s.push_back(
      {"json", "FILE", "also write the results as JSON (-: to stdout, the report to stderr)"});
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

// What one `numgrad verify` run was asked to do.
struct Settings {
  ProblemSpec problem;
  StepPolicy policy;
  std::string dtype, pattern, json;
  Exec exec;
  int repeats = 3;
};

Settings read_settings(const Options& opts) {
  Settings s{problem_spec(opts),
             step_policy(opts),
             opts.str("dtype", "all"),
             opts.str("kernels", ""),
             output_option(opts, "json", {".json"}, true),
             Exec{threads_option(opts)},
             static_cast<int>(opts.size("repeats", 3))};
  if (s.dtype != "f32" && s.dtype != "f64" && s.dtype != "all")
    throw UsageError("option --dtype: '" + s.dtype + "' is not one of f32, f64, all");
  return s;
}

std::vector<const Kernel*> select_kernels(const Settings& s) {
  std::regex filter;
  try {
    filter = std::regex(s.pattern);
  } catch (const std::regex_error& e) {
    throw UsageError("option --kernels: '" + s.pattern + "' is not a valid regular expression (" +
                     e.what() + ")");
  }
  std::vector<const Kernel*> selected;
  for (const Kernel& k : registry())
    if (k.is_supported() && std::regex_search(k.id, filter) &&
        (s.dtype == "all" || name(k.elem) == s.dtype))
      selected.push_back(&k);
  if (selected.empty())
    throw UsageError("no supported kernel matches --kernels '" + s.pattern + "'" +
                     (s.dtype != "all" ? " with --dtype " + s.dtype : std::string()) +
                     "; 'numgrad info' lists them");
  return selected;
}

// Each element type's problem, built only when a selected kernel needs it.
struct Problems {
  std::optional<Prepared<float>> f32;
  std::optional<Prepared<double>> f64;
};

Problems prepare_problems(const Settings& s, const std::vector<const Kernel*>& selected) {
  Problems p;
  for (const Kernel* k : selected) {
    if (k->elem == DType::f32 && !p.f32) p.f32 = prepare<float>(s.problem, s.policy);
    if (k->elem == DType::f64 && !p.f64) p.f64 = prepare<double>(s.problem, s.policy);
  }
  return p;
}

void print_problems(const Settings& s, const Problems& p) {
  std::ostream& out = report();
  out << "problem: " << s.problem.describe() << "\n"
      << "step: " << to_string(s.policy) << ", threads: " << resolved_threads(s.exec) << "\n";
  auto print_steps = [&](const char* t, const auto& prep) {
    out << t << ": loss " << fmt(prep.ref.loss, 6) << ", max |g*_j| " << fmt(prep.grad_scale, 6)
        << ", steps h_j in [" << fmt(prep.step_min()) << ", " << fmt(prep.step_max()) << "]\n";
  };
  if (p.f32) print_steps("f32 problem", *p.f32);
  if (p.f64) print_steps("f64 problem", *p.f64);
  out << "\n";
}

// The table of every row and the failures' reasons; returns the failed rows.
std::vector<const Row*> print_rows(const std::vector<Row>& rows) {
  Table table({"kernel", "loss abs", "loss rel", "loss/bnd", "grad abs", "grad/bnd", "cd abs",
               "cd rel", "cd/bnd", "cd/tol", "worst j", "result"});
  std::vector<const Row*> failed;
  for (const Row& r : rows) {
    const KernelCheck& c = r.check;
    table.row({r.k->id, fmt(c.loss.max_error, 2), fmt(r.loss_rel, 2), fmt(c.loss.ratio, 2),
               fmt(c.analytic.max_error, 2), fmt(c.analytic.ratio, 2), fmt(c.step.max_error, 2),
               fmt(r.cd_rel, 2), fmt(c.central.ratio, 2), fmt(c.step.ratio, 2),
               std::to_string(r.worst_j()), r.verdict()});
    if (!r.pass()) failed.push_back(&r);
  }
  std::ostream& out = report();
  table.print(out);
  out << "\nabs: max_j |value - exact|; rel: over |L| or max_j |g*_j|; x/bnd: error over its\n"
         "section 3 bound; cd/tol: a policy check, not a bound of the central difference:\n"
         "its error vs the exact gradient over the analytic gradient's bound + the storage\n"
         "rounding of w_j +- h_j. <= 1 passes.\n";
  for (const Row* r : failed)
    if (const std::string why = r->error.empty() ? r->reason() : r->error; !why.empty())
      out << r->k->id << ": " << why << "\n";
  out << rows.size() - failed.size() << " of " << rows.size() << " kernels pass\n";
  return failed;
}

// Only parallel kernels that promise determinism (serial ones are trivially so).
std::vector<Determinism> check_all_determinism(const std::vector<const Kernel*>& selected,
                                               const Problems& p, int repeats) {
  std::vector<Determinism> det;
  for (const Kernel* k : selected)
    if (k->deterministic && k->axis != Axis::serial)
      det.push_back(k->elem == DType::f32 ? check_determinism<float>(*k, *p.f32, repeats)
                                          : check_determinism<double>(*k, *p.f64, repeats));
  return det;
}

void print_determinism(const std::vector<Determinism>& det, int repeats) {
  std::ostream& out = report();
  out << "\ndeterminism (threads ";
  for (int t : kDeterminismThreads) out << (t == kDeterminismThreads[0] ? "" : ",") << t;
  out << " x " << repeats << " repeats, bitwise):\n";
  if (det.empty()) {
    out << "  no parallel deterministic kernel selected; nothing to check\n";
    return;
  }
  // Only the failures get a line each: a pass is the same sentence for every kernel.
  std::size_t identical = 0;
  for (const Determinism& x : det) {
    if (x.mismatch.empty())
      ++identical;
    else
      out << "  FAIL " << x.k->id << ": " << x.mismatch << "\n";
  }
  out << "  " << identical << " of " << det.size() << " parallel deterministic kernels "
      << "identical across " << (det.front().runs) << " runs each\n";
}

// The command that reruns just the failed kernels, with the same options.
void print_rerun(const Options& opts, const std::vector<OptionSpec>& spec_list,
                 const std::vector<std::string>& rerun) {
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
  report() << "\nFAILED: " << rerun.size() << " kernel(s). Rerun just them with:\n  " << command
           << "\n";
}

// The JSON holds what the report prints, in the same units: the threads as the count used
// (never 0 for "the default"), each problem's line, each row with its verdict, the
// determinism settings and results.
void write_json(const Settings& s, const Problems& p, const std::vector<Row>& rows,
                const std::vector<Determinism>& det, bool pass) {
  write_output(s.json, [&](std::ostream& out) {
    Json j(out);
    j.begin_document("verify", 1).value("problem", s.problem.describe());
    j.value("step", to_string(s.policy)).value("threads", resolved_threads(s.exec));
    j.begin_array("problems");
    auto problem = [&](const char* dtype, const auto& prep) {
      j.begin_object()
          .value("dtype", dtype)
          .value("loss", prep.ref.loss)
          .value("grad_scale", prep.grad_scale)
          .value("step_min", prep.step_min())
          .value("step_max", prep.step_max())
          .end_object();
    };
    if (p.f32) problem("f32", *p.f32);
    if (p.f64) problem("f64", *p.f64);
    j.end_array().begin_array("kernels");
    for (const Row& r : rows) {
      const KernelCheck& c = r.check;
      j.begin_object()
          .value("id", r.k->id)
          .value("loss_abs", c.loss.max_error)
          .value("loss_rel", r.loss_rel)
          .value("loss_ratio", c.loss.ratio)
          .value("grad_abs", c.analytic.max_error)
          .value("grad_ratio", c.analytic.ratio)
          .value("cd_abs", c.step.max_error)
          .value("cd_rel", r.cd_rel)
          .value("cd_bound_ratio", c.central.ratio)
          .value("cd_tol_ratio", c.step.ratio)
          .value("worst_j", r.worst_j())
          .value("result", r.verdict())
          .value("pass", r.pass());
      if (!r.error.empty()) j.value("error", r.error);
      if (const std::string why = r.reason(); !why.empty() && r.error.empty())
        j.value("reason", why);
      j.end_object();
    }
    j.end_array().begin_object("determinism").begin_array("threads");
    for (int t : kDeterminismThreads) j.value("", t);
    j.end_array().value("repeats", s.repeats).begin_array("kernels");
    for (const Determinism& x : det) {
      j.begin_object().value("id", x.k->id).value("runs", x.runs).value("pass", x.mismatch.empty());
      if (!x.mismatch.empty()) j.value("mismatch", x.mismatch);
      j.end_object();
    }
    j.end_array().end_object().value("pass", pass).end_object();
  });
}

}  // namespace

// Select -> prepare -> check -> print -> determinism -> rerun command -> JSON.
int cmd_verify(int argc, char** argv) {
  const std::vector<OptionSpec> spec_list = specs();
  const Options opts("verify", spec_list, argc, argv);
  if (opts.help()) {
    print_help(std::cout, "numgrad verify [options]", kDescription, spec_list);
    return kExitOk;
  }
  const Settings settings = read_settings(opts);
  const std::vector<const Kernel*> selected = select_kernels(settings);
  const Problems problems = prepare_problems(settings, selected);
  print_problems(settings, problems);

  std::vector<Row> rows;
  for (const Kernel* k : selected)
    rows.push_back(k->elem == DType::f32 ? check_row<float>(*k, *problems.f32, settings.exec)
                                         : check_row<double>(*k, *problems.f64, settings.exec));
  const std::vector<const Row*> failed = print_rows(rows);
  const std::vector<Determinism> det = check_all_determinism(selected, problems, settings.repeats);
  print_determinism(det, settings.repeats);

  std::vector<std::string> rerun;
  for (const Row* r : failed) rerun.push_back(r->k->id);
  for (const Determinism& x : det)
    if (!x.mismatch.empty()) rerun.push_back(x.k->id);
  if (!rerun.empty()) print_rerun(opts, spec_list, rerun);
  if (!settings.json.empty()) write_json(settings, problems, rows, det, rerun.empty());
  return rerun.empty() ? kExitOk : kExitFailed;
}

}  // namespace numgrad::cli
