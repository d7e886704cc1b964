// `numgrad grad`: the loss and the central-difference gradient of one kernel on the user's
// own CSV and weights (or synthetic data), with the same kernel's analytic gradient beside it,
// so a user can see what a numerical gradient of their data looks like before trusting it.
#include <cmath>
#include <iostream>

#include "cli.hpp"

namespace numgrad::cli {
namespace {

std::vector<OptionSpec> specs() {
  std::vector<OptionSpec> s = problem_option_specs();
  s.push_back({"kernel", "ID", "kernel id (required; 'numgrad info' lists them)"});
  s.push_back(step_option_spec("auto"));
  s.push_back({"threads", "T", "threads for parallel kernels (default 0: NUMGRAD_THREADS or all)"});
  s.push_back({"json", "FILE",
               "also write loss, steps and both gradients as JSON\n"
               "(-: to stdout, the report to stderr)"});
  return s;
}

template <class T>
int run(const Kernel& k, const ProblemSpec& spec, const StepPolicy& policy, const Exec exec,
        const std::string& json_path) {
  const Problem<T> p = make_problem<T>(spec);
  const BatchView<T>& B = p.batch;
  const std::size_t d = B.d;
  std::vector<T> h(d);
  make_steps<T>(policy, B, p.w, h);
  const double L = loss<T>(k, B, p.w, exec);
  std::vector<double> g(d), ga(d);
  gradient<T>(k, B, p.w, h, g, exec);
  analytic_gradient<T>(k, B, p.w, ga, exec);

  const int threads = kernel_threads(k, exec);
  std::ostream& out = report();
  out << "data: " << spec.data.describe() << " (" << B.rows << " rows, d=" << d << ", target '"
      << p.data.target_name << "')\n"
      << "kernel: " << k.id << ", step: " << to_string(policy) << ", threads: " << threads << "\n"
      << "loss: " << fmt(L, 17) << "\n\n";
  Table table({"j", "feature", "w", "h", "central", "analytic", "central-analytic"},
              {true, false, true, true, true, true, true});
  for (std::size_t j = 0; j < d; ++j)
    table.row({std::to_string(j), p.data.feature_names[j], fmt(static_cast<double>(p.w[j]), 9),
               fmt(static_cast<double>(h[j]), 3), fmt(g[j], 9), fmt(ga[j], 9),
               fmt(g[j] - ga[j], 3)});
  table.print(out);
  if (k.algorithm == Algorithm::analytic)
    out << "(" << k.id << " is an analytic kernel: its gradient ignores the step)\n";

  if (!json_path.empty()) {
    write_output(json_path, [&](std::ostream& file) {
      Json j(file);
      j.begin_document("grad", 1).value("data", spec.data.describe());
      j.value("rows", B.rows).value("target", p.data.target_name).value("kernel", k.id);
      j.value("step", to_string(policy)).value("threads", threads).value("loss", L);
      j.begin_array("features");
      for (const std::string& f : p.data.feature_names) j.value("", f);
      j.end_array();
      std::vector<double> w(p.w.begin(), p.w.end()), hd(h.begin(), h.end());
      j.numbers("weights", w).numbers("steps", hd).numbers("gradient", g);
      j.numbers("analytic_gradient", ga).end_object();
    });
  }
  return kExitOk;
}

}  // namespace

int cmd_grad(int argc, char** argv) {
  const std::vector<OptionSpec> spec_list = specs();
  const Options opts("grad", spec_list, argc, argv);
  if (opts.help()) {
    print_help(std::cout, "numgrad grad (--data FILE.csv | --n N) --kernel ID [options]",
               "Prints the loss L(w) = (1/b) sum_i (w.x_i - y_i)^2 over the batch (--b; every\n"
               "row of a CSV), the kernel's gradient (the central difference for blackbox and\n"
               "residual kernels) and its analytic gradient (2/b) X^T (X w - y), with the steps\n"
               "used.\n"
               "Default step: auto (data-aware), because the loss is quadratic: the central\n"
               "difference has no truncation error and the textbook steps only lose digits.",
               spec_list);
    return kExitOk;
  }
  const ProblemSpec spec = problem_spec(opts, {.source_required = true});
  if (!opts.has("kernel")) throw UsageError("grad needs --kernel ID ('numgrad info' lists them)");
  const Kernel& k = kernel_by_id(opts.str("kernel"));
  const StepPolicy policy = step_policy(opts);
  const Exec exec{threads_option(opts)};
  const std::string json = output_option(opts, "json", {".json"}, true);
  return k.elem == DType::f32 ? run<float>(k, spec, policy, exec, json)
                              : run<double>(k, spec, policy, exec, json);
}

}  // namespace numgrad::cli
