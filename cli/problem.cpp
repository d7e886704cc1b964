// The problem verify and sweep-h run on: a seeded synthetic dataset (normal, lognormal
// column scales, or a near-fit w) or the user's CSV, its first b rows as the batch, and the
// weights. One spec builds the same problem in f32 and f64, so every kernel sees one problem.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "cli.hpp"

namespace numgrad::cli {

std::vector<OptionSpec> problem_option_specs(bool with_dtype_all) {
  std::vector<OptionSpec> s = {
      {"data", "FILE.csv", "use this CSV (header row, numeric rows) instead of synthetic data"},
      {"target", "COL", "target column of --data: a name or 0-based index (default: last)"},
      {"intercept", "", "append a column of ones named 'intercept' to the features"},
      weights_option_spec(),
      {"dist", "KIND",
       "synthetic data (default normal):\n"
       "  normal     X ~ N(0,1), y = X w* + N(0, 0.1^2), w ~ N(0,1) far from w*\n"
       "  lognormal  as normal, columns scaled by exp(sigma N(0,1)) (ill-conditioned)\n"
       "  nearfit    noise-free y = X w*, w = w* + perturb N(0,1): w* is the\n"
       "             least-squares solution up to storage rounding, so residuals\n"
       "             are small and the loss is dominated by cancellation"},
      {"n", "N", "rows of the synthetic dataset (default 4096)"},
      {"d", "D", "features (default 64)"},
      {"b", "B",
       "batch: the first B rows are what kernels see (default min(1024, n);\n"
       "with --data, every row)"},
      {"sigma", "S", "lognormal column-scale spread (default 2)"},
      {"perturb", "P", "nearfit distance of w from w* (default 1e-3)"},
      {"seed", "S", "seed of the synthetic data and weights (default 1)"},
  };
  if (with_dtype_all)
    s.push_back({"dtype", "T",
                 "f32, f64 or all (default all): element type of the kernels to run;\n"
                 "f32 kernels see the problem rounded to float"});
  return s;
}

OptionSpec weights_option_spec() {
  return {"weights", "W.csv|W.json",
          "weights for --data (default zeros): what 'numgrad train --out' writes,\n"
          "'name,number' lines or a header row of names (matched to the features in\n"
          "any order), or d numbers in feature order (one row, or one per line)"};
}

OptionSpec step_option_spec(std::string_view default_text) {
  return {"step", "RULE",
          "central-difference step: fixed:H, relative (cbrt(eps) max(1,|w_j|), the\n"
          "generic checker rule) or auto (data-aware: ||r|| / ||X_j|| rounded to a\n"
          "power of two). Default " +
              std::string(default_text) +
              ". The loss is exactly quadratic in w, so the\n"
              "central difference has no truncation error: the step only trades the\n"
              "rounding of the two losses (which shrinks as 1/h) against their growth\n"
              "(h^2 c_j), balanced at ||r|| / ||X_j||. The textbook steps are far too\n"
              "small when residuals are large; see 'numgrad sweep-h'."};
}

StepPolicy step_policy(const Options& opts) {
  try {
    return parse_step_policy(opts.str("step", "auto"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("option --") + e.what());
  }
}

ProblemSpec problem_spec(const Options& opts) {
  ProblemSpec p;
  p.csv = opts.str("data");
  p.target = opts.str("target");
  p.weights_file = opts.str("weights");
  p.intercept = opts.has("intercept");
  if (p.csv.empty()) {
    for (const char* o : {"target", "intercept", "weights"})
      if (opts.has(o))
        throw UsageError(std::string("option --") + o + " applies only with --data FILE.csv");
  } else {
    for (const char* o : {"dist", "n", "d", "sigma", "perturb", "seed"})
      if (opts.has(o))
        throw UsageError(std::string("option --") + o + " describes synthetic data; it cannot " +
                         "be combined with --data");
  }
  p.dist = opts.str("dist", "normal");
  if (p.dist != "normal" && p.dist != "lognormal" && p.dist != "nearfit")
    throw UsageError("option --dist: '" + p.dist + "' is not one of normal, lognormal, nearfit");
  p.n = opts.size("n", 4096);
  p.d = opts.size("d", 64);
  p.b = opts.size("b", p.csv.empty() ? std::min<std::size_t>(1024, p.n) : 0);
  if (p.csv.empty() && p.b > p.n)
    throw UsageError("option --b=" + std::to_string(p.b) + " exceeds --n=" + std::to_string(p.n));
  p.sigma = opts.real("sigma", 2.0);
  if (p.sigma < 0) throw UsageError("option --sigma must be >= 0");
  p.perturb = opts.real("perturb", 1e-3);
  p.seed = opts.seed("seed", 1);
  return p;
}

std::string ProblemSpec::describe() const {
  std::ostringstream o;
  if (!csv.empty()) {
    o << csv << (target.empty() ? "" : " target=" + target) << (intercept ? " +intercept" : "")
      << " b=" << (b == 0 ? std::string("all") : std::to_string(b))
      << " weights=" << (weights_file.empty() ? "zeros" : weights_file);
  } else {
    o << "synthetic " << dist << " n=" << n << " d=" << d << " b=" << b;
    if (dist == "lognormal") o << " sigma=" << sigma;
    if (dist == "nearfit") o << " perturb=" << perturb;
    o << " seed=" << seed;
  }
  return o.str();
}

template <class T>
Problem<T> make_problem(const ProblemSpec& spec) {
  Problem<T> p;
  std::string source;
  if (!spec.csv.empty()) {
    CsvOptions csv;
    csv.target = spec.target;
    p.data = load_csv<T>(spec.csv, csv);  // errors already read "FILE:LINE:COL: ..."
    if (spec.intercept) p.data = with_intercept(p.data);
    const std::size_t b = spec.b == 0 ? p.data.n : spec.b;
    if (b > p.data.n)
      throw UsageError("option --b=" + std::to_string(b) + " exceeds the " +
                       std::to_string(p.data.n) + " rows of " + spec.csv);
    p.batch = p.data.batch(0, b);
    source = spec.csv;
    if (spec.weights_file.empty()) {
      p.w.assign(p.data.d, T(0));
    } else {
      p.w = load_weights<T>(spec.weights_file, p.data.feature_names);
    }
  } else {
    SyntheticSpec s;
    s.n = spec.n;
    s.d = spec.d;
    s.seed = spec.seed;
    s.dist = Distribution::normal;
    s.noise = spec.dist == "nearfit" ? 0.0 : 0.1;
    if (spec.dist == "lognormal")
      s.column_scale = lognormal_scales(spec.d, spec.sigma, spec.seed + 1);
    std::vector<double> w_star;
    p.data = make_synthetic<T>(s, &w_star);
    p.batch = p.data.batch(0, spec.b);
    // The weights come from their own stream, so changing the problem kind keeps X and w*.
    std::mt19937_64 rng(spec.seed ^ 0x9E3779B97F4A7C15ull);
    std::normal_distribution<double> normal(0.0, 1.0);
    p.w.resize(spec.d);
    for (std::size_t j = 0; j < spec.d; ++j) {
      const double z = normal(rng);
      p.w[j] = static_cast<T>(spec.dist == "nearfit" ? w_star[j] + spec.perturb * z : z);
    }
    source = "synthetic data";
  }
  const std::string bad = find_non_finite(p.batch);
  if (!bad.empty()) {
    // "x[i][j]" / "y[i]" (0-based, in the batch) told in the user's terms: data row and name.
    std::size_t i = 0, j = 0;
    std::string where = bad;
    if (std::sscanf(bad.c_str(), "x[%zu][%zu]", &i, &j) == 2 && j < p.data.feature_names.size())
      where = "data row " + std::to_string(i + 1) + ", feature '" + p.data.feature_names[j] + "'";
    else if (std::sscanf(bad.c_str(), "y[%zu]", &i) == 1)
      where = "data row " + std::to_string(i + 1) + ", target '" + p.data.target_name + "'";
    throw UsageError(source + ": " + where + " is not finite (as " +
                     std::string(name(dtype_of<T>)) + "); the kernels need finite data");
  }
  return p;
}

template Problem<float> make_problem<float>(const ProblemSpec&);
template Problem<double> make_problem<double>(const ProblemSpec&);

}  // namespace numgrad::cli
