// The data every command runs on and the point the checking commands evaluate: one option
// vocabulary (--data/--target/--intercept or the synthetic --dist/--n/--d/--noise/--sigma/
// --seed; --b/--weights/--perturb for the point) and one loader, make_dataset, so that
// verify, grad, sweep-h and train read the same options the same way and see the same data.
#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>
#include <string_view>

#include "cli.hpp"

namespace numgrad::cli {
namespace {

constexpr double kDefaultNoise = 0.1;

OptionSpec weights_option_spec() {
  return {"weights", "W.csv|W.json",
          "the weights (default: zeros for --data; for synthetic data drawn, w ~ N(0,1)\n"
          "far from w*, or nearfit's w* + perturb N(0,1)): what 'numgrad train --out'\n"
          "writes, 'name,number' lines or a header row of names (matched to the\n"
          "features in any order), or d numbers in feature order (one row, or one per\n"
          "line)"};
}

// Synthetic data from SyntheticSpec: X ~ N(0, 1) (column-scaled for lognormal), y = X w* +
// noise. The scales come from seed + 1, so a lognormal problem keeps the normal one's w*.
template <class T>
Dataset<T> synthetic(const DataSpec& spec, std::vector<double>& w_star) {
  SyntheticSpec s;
  s.n = spec.n;
  s.d = spec.d;
  s.seed = spec.seed;
  s.dist = Distribution::normal;
  s.noise = spec.noise;
  if (spec.dist == "lognormal")
    s.column_scale = lognormal_scales(spec.d, spec.sigma, spec.seed + 1);
  return make_synthetic<T>(s, &w_star);
}

// The kernels need finite data; find_non_finite's "x[i][j]" / "y[i]" (0-based) is told in
// the user's terms: the data row and the feature or target name.
template <class T>
void check_finite(const Dataset<T>& data, const std::string& source) {
  const std::string bad = find_non_finite(data.all());
  if (bad.empty()) return;
  std::size_t i = 0, j = 0;
  std::string where = bad;
  if (std::sscanf(bad.c_str(), "x[%zu][%zu]", &i, &j) == 2 && j < data.feature_names.size())
    where = "data row " + std::to_string(i + 1) + ", feature '" + data.feature_names[j] + "'";
  else if (std::sscanf(bad.c_str(), "y[%zu]", &i) == 1)
    where = "data row " + std::to_string(i + 1) + ", target '" + data.target_name + "'";
  throw UsageError(source + ": " + where + " is not finite (as " + std::string(name(dtype_of<T>)) +
                   "); the kernels need finite data");
}

// The weights of a problem without --weights: zeros for a CSV; for synthetic data N(0, 1),
// far from w*, or nearfit's w* + perturb N(0, 1) (an intercept's w* is 0). They come from
// their own stream, so changing the problem kind keeps X and w*.
template <class T>
std::vector<T> default_weights(const ProblemSpec& spec, const std::vector<double>& w_star,
                               std::size_t d) {
  std::vector<T> w(d, T(0));
  if (!spec.data.csv.empty()) return w;
  std::mt19937_64 rng(spec.data.seed ^ 0x9E3779B97F4A7C15ull);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t j = 0; j < d; ++j) {
    const double z = normal(rng);
    const double star = j < w_star.size() ? w_star[j] : 0.0;
    w[j] = static_cast<T>(spec.data.dist == "nearfit" ? star + spec.perturb * z : z);
  }
  return w;
}

// A synthetic-only option given with --data: a mistake, never quietly ignored.
void reject_with_data(const Options& opts, std::string_view option) {
  if (opts.has(std::string(option)))
    throw UsageError("option --" + std::string(option) +
                     " describes synthetic data; it cannot be combined with --data");
}

}  // namespace

std::vector<OptionSpec> data_option_specs(std::string_view seed_also) {
  return {
      {"data", "FILE.csv",
       "the data: a CSV file with a header row of names, then numeric rows\n"
       "(else synthetic data, below)"},
      {"target", "COL", "target column of --data: a name or 0-based index (default: last)"},
      {"intercept", "", "append a column of ones named 'intercept' to the features"},
      {"dist", "KIND",
       "synthetic data (default normal):\n"
       "  normal     X ~ N(0,1), y = X w* + noise N(0,1), w* ~ N(0,1)\n"
       "  lognormal  as normal, columns scaled by exp(sigma N(0,1)) (ill-conditioned)\n"
       "  nearfit    noise-free y = X w*: w* is the least-squares solution up to\n"
       "             storage rounding"},
      {"n", "N", "rows of the synthetic data (default 4096)"},
      {"d", "D", "features of the synthetic data (default 64)"},
      {"noise", "S", "sigma of the noise added to y (default 0.1; nearfit has none)"},
      {"sigma", "S", "lognormal column-scale spread (default 2)"},
      {"seed", "S",
       "seed of the synthetic data and of the " + std::string(seed_also) + " (default 1)"},
  };
}

std::vector<OptionSpec> problem_option_specs() {
  std::vector<OptionSpec> s = data_option_specs("weights drawn for it");
  s.push_back({"b", "B",
               "batch: the first B rows are what kernels see (default min(1024, n);\n"
               "with --data, every row)"});
  s.push_back(weights_option_spec());
  s.push_back({"perturb", "P",
               "nearfit distance of w from w* (default 1e-3): residuals are small and the\n"
               "loss is dominated by cancellation"});
  return s;
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

DataSpec data_spec(const Options& opts, DataUse use) {
  DataSpec s;
  s.csv = opts.str("data");
  s.target = opts.str("target");
  s.intercept = opts.has("intercept");
  if (use.source_required && !opts.has("data") && !opts.has("n"))
    throw UsageError(opts.command() + " needs --data FILE.csv, or --n N for synthetic data");
  if (s.csv.empty() && opts.has("target"))
    throw UsageError("option --target applies only with --data FILE.csv");
  if (!s.csv.empty()) {
    for (std::string_view o : {"dist", "n", "d", "noise", "sigma"}) reject_with_data(opts, o);
    if (!use.seed_shuffles) reject_with_data(opts, "seed");
  }
  s.dist = opts.str("dist", "normal");
  if (s.dist != "normal" && s.dist != "lognormal" && s.dist != "nearfit")
    throw UsageError("option --dist: '" + s.dist + "' is not one of normal, lognormal, nearfit");
  s.n = opts.size("n", 4096);
  s.d = opts.size("d", 64);
  s.noise = opts.real("noise", s.dist == "nearfit" ? 0.0 : kDefaultNoise);
  if (s.noise < 0) throw UsageError("option --noise must be >= 0");
  if (s.dist == "nearfit" && opts.has("noise"))
    throw UsageError(
        "option --noise does not apply to --dist nearfit: its y = X w* is "
        "noise-free, so that w* is the least-squares fit");
  s.sigma = opts.real("sigma", 2.0);
  if (s.sigma < 0) throw UsageError("option --sigma must be >= 0");
  s.seed = opts.seed("seed", 1);
  return s;
}

std::string DataSpec::describe() const {
  if (!csv.empty()) return csv;
  std::ostringstream o;
  o << "synthetic " << dist;
  if (dist == "lognormal") o << ", sigma " << sigma;
  if (dist != "nearfit") o << ", noise " << noise;
  o << ", seed " << seed;
  return o.str();
}

template <class T>
LoadedData<T> make_dataset(const DataSpec& spec) {
  LoadedData<T> out;
  out.data = spec.csv.empty() ? synthetic<T>(spec, out.w_star)
                              : load_csv<T>(spec.csv, CsvOptions{spec.target});
  check_finite(out.data, spec.describe());
  if (spec.standardize) out.standardization = standardize(out.data);
  if (spec.intercept) out.data = with_intercept(out.data);
  return out;
}

ProblemSpec problem_spec(const Options& opts, DataUse use) {
  ProblemSpec p;
  p.data = data_spec(opts, use);
  const bool synthetic = p.data.csv.empty();
  if (!synthetic) reject_with_data(opts, "perturb");
  p.b = opts.size("b", synthetic ? std::min<std::size_t>(1024, p.data.n) : 0);
  if (synthetic && p.b > p.data.n)
    throw UsageError("option --b=" + std::to_string(p.b) +
                     " exceeds --n=" + std::to_string(p.data.n));
  p.weights_file = opts.str("weights");
  p.perturb = opts.real("perturb", 1e-3);
  return p;
}

std::string ProblemSpec::describe() const {
  const DataSpec& s = data;
  std::ostringstream o;
  if (!s.csv.empty()) {
    o << s.csv << (s.target.empty() ? "" : " target=" + s.target)
      << (s.intercept ? " +intercept" : "")
      << " b=" << (b == 0 ? std::string("all") : std::to_string(b))
      << " weights=" << (weights_file.empty() ? "zeros" : weights_file);
    return o.str();
  }
  o << "synthetic " << s.dist << " n=" << s.n << " d=" << s.d << " b=" << b;
  if (s.dist != "nearfit" && s.noise != kDefaultNoise) o << " noise=" << s.noise;
  if (s.dist == "lognormal") o << " sigma=" << s.sigma;
  if (s.dist == "nearfit") o << " perturb=" << perturb;
  o << " seed=" << s.seed << (s.intercept ? " +intercept" : "");
  if (!weights_file.empty()) o << " weights=" << weights_file;
  return o.str();
}

template <class T>
Problem<T> make_problem(const ProblemSpec& spec) {
  LoadedData<T> loaded = make_dataset<T>(spec.data);
  Problem<T> p{std::move(loaded.data), {}, {}};
  const std::size_t b = spec.b == 0 ? p.data.n : spec.b;
  if (b > p.data.n)
    throw UsageError("option --b=" + std::to_string(b) + " exceeds the " +
                     std::to_string(p.data.n) + " rows of " + spec.data.describe());
  p.batch = p.data.batch(0, b);
  p.w = spec.weights_file.empty() ? default_weights<T>(spec, loaded.w_star, p.data.d)
                                  : load_weights<T>(spec.weights_file, p.data.feature_names);
  return p;
}

#define NUMGRAD_INSTANTIATE_PROBLEM(T)                     \
  template LoadedData<T> make_dataset<T>(const DataSpec&); \
  template Problem<T> make_problem<T>(const ProblemSpec&);
NUMGRAD_INSTANTIATE_PROBLEM(float)
NUMGRAD_INSTANTIATE_PROBLEM(double)
#undef NUMGRAD_INSTANTIATE_PROBLEM

}  // namespace numgrad::cli
