// `numgrad train`: mini-batch SGD on a CSV file or synthetic data with any kernel's gradient
// (numgrad/train.hpp), printing the full-dataset loss, time and rows/s per epoch, then the
// closed-form least-squares loss the run should approach, and writing the weights (in the
// data's original units when --standardize was used). Exit 0, 1 when training diverged or stalled,
// 2 for bad input (thrown to main, which prints one line).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli.hpp"
#include "numgrad/train.hpp"

namespace numgrad::cli {
namespace {

std::vector<OptionSpec> specs() {
  std::vector<OptionSpec> s = data_option_specs("per-epoch shuffle");
  const std::vector<OptionSpec> own = {
      {"kernel", "ID",
       "kernel whose gradient drives SGD (default scalar.residual.f64, or\n"
       "scalar.residual.f32acc64 with --dtype f32); 'numgrad info' lists them"},
      {"dtype", "f32|f64",
       "element type of the data and weights (default: the kernel's, else f64)"},
      {"batch", "B", "rows per batch (default 32); the last batch holds the rest"},
      {"epochs", "E", "epochs (default 20)"},
      {"lr", "LR", "learning rate (default 0.01)"},
      {"decay", "K", "learning-rate decay: lr / (1 + K * epoch) (default 0)"},
      {"momentum", "M", "heavy-ball momentum in [0, 1) (default 0)"},
      {"tol", "TOL",
       "stop early once an epoch changes the loss by at most TOL times itself\n"
       "(default 0: run every epoch)"},
      {"allow-divergence", "",
       "run every epoch even while the loss grows (by default a loss that rose in\n"
       "each of the last 3 epochs to over 2x the initial one, or over 1e6x it,\n"
       "stops the run with exit 1); a loss or weight that is not finite still stops"},
      step_option_spec("auto"),
      {"analytic", "", "use the kernel's analytic gradient instead of the central difference"},
      {"standardize", "",
       "scale every feature to mean 0, sd 1 before training (needs --intercept);\n"
       "weights are reported and written in the original units"},
      {"threads", "T", "threads for parallel kernels (default 0: NUMGRAD_THREADS or all)"},
      {"out", "W.csv|W.json",
       "write the final weights: CSV 'feature,weight' lines, or JSON with the\n"
       "history and the least-squares fit ('numgrad grad --weights' reads both);\n"
       "checked before training, written atomically (a failed write keeps the old file)"},
      {"print-every", "K", "print every K-th epoch (default: all up to 25 epochs, else ~20 lines)"},
      {"no-lstsq", "", "skip the closed-form least-squares comparison (O(n d^2))"},
  };
  s.insert(s.end(), own.begin(), own.end());
  return s;
}

struct Settings {
  DataSpec data;
  std::string kernel_id;
  TrainOptions train;
  bool lstsq = true;
  std::string out;
  std::size_t print_every = 0;
};

Settings parse_settings(const Options& opts) {
  Settings s;
  s.data = data_spec(opts, {.source_required = true, .seed_shuffles = true});

  const std::string dtype = opts.str("dtype");
  if (!dtype.empty() && dtype != "f32" && dtype != "f64")
    throw UsageError("option --dtype: '" + dtype + "' is not one of f32, f64");
  s.kernel_id =
      opts.str("kernel", dtype == "f32" ? "scalar.residual.f32acc64" : "scalar.residual.f64");

  TrainOptions& t = s.train;
  t.batch = opts.size("batch", 32);
  t.epochs = opts.size("epochs", 20);
  t.lr = opts.real("lr", 0.01);
  t.decay = opts.real("decay", 0);
  t.momentum = opts.real("momentum", 0);
  t.tol = opts.real("tol", 0);
  t.seed = opts.seed("seed", 1);
  t.step = step_policy(opts);
  t.use_analytic = opts.has("analytic");
  t.allow_divergence = opts.has("allow-divergence");
  t.exec.threads = threads_option(opts);
  try {
    validate(t);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("option --") + e.what());
  }

  s.data.standardize = opts.has("standardize");
  if (s.data.standardize && !s.data.intercept)
    throw UsageError(
        "option --standardize needs --intercept: centring the features moves the model's "
        "constant term into the intercept, and the weights cannot be mapped back without it");
  s.lstsq = !opts.has("no-lstsq");
  s.out = output_option(opts, "out", {".csv", ".json"}, false);
  s.print_every = opts.size("print-every", 0, 1);
  if (!dtype.empty()) {
    const Kernel& k = kernel_by_id(s.kernel_id);
    if (name(k.elem) != dtype)
      throw UsageError("option --dtype " + dtype + " conflicts with --kernel " + k.id +
                       ", which takes " + std::string(name(k.elem)) + " data");
  }
  return s;
}

std::string duration(double seconds) {
  char buf[32];
  if (seconds < 1e-3)
    std::snprintf(buf, sizeof buf, "%.3g us", seconds * 1e6);
  else if (seconds < 1)
    std::snprintf(buf, sizeof buf, "%.3g ms", seconds * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3g s", seconds);
  return buf;
}

// A one-line bar on stderr, only when stderr is a terminal and the run has lasted over half
// a second (short runs and logs stay clean); redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::size_t epochs, std::size_t n)
      : enabled_(isatty(STDERR_FILENO) == 1), epochs_(epochs), n_(n) {}
  bool enabled() const { return enabled_; }
  void update(std::size_t epoch, std::size_t rows) {
    const auto now = clock::now();
    if (now - start_ < std::chrono::milliseconds(500) ||
        now - last_ < std::chrono::milliseconds(100))
      return;
    last_ = now;
    const double done =
        (static_cast<double>(epoch - 1) * static_cast<double>(n_) + static_cast<double>(rows)) /
        (static_cast<double>(epochs_) * static_cast<double>(n_));
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const int width = 30, filled = static_cast<int>(done * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  epoch %zu/%zu  eta %s\033[K",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 done * 100, epoch, epochs_,
                 duration(done > 0 ? elapsed * (1 - done) / done : 0).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void clear() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  using clock = std::chrono::steady_clock;
  bool enabled_, drawn_ = false;
  std::size_t epochs_, n_;
  clock::time_point start_ = clock::now(), last_{};
};

// The gradient the run follows: the kernel's analytic one (--analytic, or an analytic kernel)
// or its central difference.
bool analytic(const Kernel& k, const TrainOptions& o) {
  return o.use_analytic || k.algorithm == Algorithm::analytic;
}

// What a finished run shows and writes: the trainer's result, the wall time of the whole run,
// the least-squares fit, and both weight vectors in the data's original units.
struct Fit {
  TrainResult result;
  double seconds = 0;
  std::optional<LeastSquares> ls;
  std::vector<double> w, w_ls;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The three lines above the table: the data, the kernel and its gradient, the SGD settings.
template <class T>
void print_setup(const Kernel& k, const Settings& s, const Dataset<T>& data) {
  const TrainOptions& o = s.train;
  const std::size_t b = std::min(o.batch, data.n), batches = (data.n + b - 1) / b;
  const std::size_t last = data.n - (batches - 1) * b;
  std::cout << "data: " << s.data.describe() << ": " << data.n << " rows, "
            << data.d - (s.data.intercept ? 1 : 0) << " features"
            << (s.data.intercept ? " + intercept" : "") << ", target '" << data.target_name << "'"
            << (s.data.standardize ? "; features standardized" : "") << "\n";
  std::cout << "kernel: " << k.id << " ("
            << (analytic(k, o) ? std::string("analytic gradient")
                               : "central difference, step " + to_string(o.step))
            << "), threads "
            << (k.axis == Axis::serial ? std::string("1 (serial kernel)")
                                       : std::to_string(resolved_threads(o.exec)))
            << (ranks() != nullptr ? " per rank, MPI ranks " + std::to_string(ranks()->size()) +
                                         " (rows sharded; the weights of one process)"
                                   : std::string())
            << "\n";
  std::cout << "sgd: batch " << b << " (" << batches << " per epoch"
            << (last != b ? ", the last of " + std::to_string(last) + " rows" : std::string())
            << "), epochs " << o.epochs << ", lr " << fmt(o.lr, 6) << ", decay " << fmt(o.decay, 6)
            << ", momentum " << fmt(o.momentum, 6) << ", seed " << o.seed << "\n\n";
}

// Trains, printing the epoch table: epoch 0 (the loss at the starting weights, zeros, one
// extra pass) before the first epoch runs, so that a slow first epoch does not leave the
// table empty; then the first, every `every`-th and the last epoch run.
template <class T>
Fit run_epochs(const Kernel& k, const Settings& s, const Dataset<T>& data) {
  const TrainOptions& o = s.train;
  const std::size_t every =
      s.print_every > 0 ? s.print_every : (o.epochs <= 25 ? 1 : (o.epochs + 19) / 20);
  ProgressBar bar(o.epochs, data.n);
  TrainOptions opts = o;
  if (bar.enabled()) opts.on_batch = [&](std::size_t e, std::size_t rows) { bar.update(e, rows); };
  std::printf("%6s  %14s  %10s  %10s  %10s\n", "epoch", "loss", "lr", "time", "rows/s");
  const std::vector<T> w0(data.d, T(0));
  std::printf("%6d  %14.8g\n", 0, loss<T>(k, data.all(), w0, o.exec));
  std::fflush(stdout);
  auto print_epoch = [&](const EpochReport& e) {
    bar.clear();
    std::printf("%6zu  %14.8g  %10.4g  %10s  %10.3g\n", e.epoch, e.loss, e.lr,
                duration(e.seconds).c_str(), e.rows_per_second);
    std::fflush(stdout);
  };
  std::size_t printed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Fit fit;
  const Ranks::OnEpoch on_epoch = [&](const EpochReport& e) {
    if (e.epoch == 1 || e.epoch % every == 0 || e.epoch == e.epochs) {
      print_epoch(e);
      printed = e.epoch;
    }
  };
  fit.result = ranks() != nullptr ? ranks()->train(k, &data, opts, on_epoch)
                                  : train(k, data, opts, on_epoch);
  bar.clear();
  const std::vector<EpochReport>& history = fit.result.history;
  if (!history.empty() && printed != history.back().epoch) print_epoch(history.back());
  fit.seconds = seconds_since(t0);
  return fit;
}

// A run that diverged or stalled: its message, with advice, as the one line on stderr.
bool stopped(const TrainResult& r, const Settings& s) {
  const TrainOptions& o = s.train;
  if (r.stop == StopReason::diverged) {
    std::cerr << "numgrad train: " << r.message << " (e.g. --lr " << fmt(o.lr / 10, 3)
              << (s.data.standardize ? "" : ", or --standardize --intercept")
              << (o.allow_divergence ? "" : "; --allow-divergence runs on regardless") << ")\n";
    return true;
  }
  if (r.stop == StopReason::stalled) {
    std::cerr << "numgrad train: " << r.message << "\n";
    return true;
  }
  return false;
}

// How the run ended and how long it took; the initial and final loss.
void print_summary(const Fit& fit, std::size_t n) {
  const TrainResult& r = fit.result;
  double train_seconds = 0;
  for (const EpochReport& e : r.history) train_seconds += e.seconds;
  std::cout << "\n"
            << (r.stop == StopReason::converged
                    ? r.message
                    : "ran all " + std::to_string(r.epochs_run) + " epochs")
            << "; " << duration(fit.seconds) << " in all, "
            << duration(train_seconds / r.epochs_run) << " per epoch of updates, "
            << fmt(n * r.epochs_run / train_seconds, 3) << " rows/s\n";
  std::cout << "initial loss " << fmt(r.initial_loss, 8) << ", final loss " << fmt(r.final_loss, 8)
            << " (mean squared error, in target units squared)"
            << (r.final_loss > r.initial_loss ? "; the loss grew over the run" : "") << "\n";
}

// The closed-form fit SGD should approach, and how far above its loss the run ended.
template <class T>
LeastSquares compare_least_squares(const Dataset<T>& data, double final_loss) {
  const auto t0 = std::chrono::steady_clock::now();
  LeastSquares ls = least_squares(data);
  std::cout << "least squares: loss " << fmt(ls.loss, 8)
            << " (normal equations in long double, rank " << ls.rank << " of " << data.d << ", "
            << duration(seconds_since(t0)) << ")\n";
  char rel[64];
  std::snprintf(rel, sizeof rel, "%+.4f%%", (final_loss / ls.loss - 1) * 100);
  std::cout << "SGD / least squares: " << fmt(final_loss / ls.loss, 8) << " (" << rel << ")\n";
  return ls;
}

// Weights fitted on the training data in the data's own units (undoing --standardize, whose
// shift the intercept, the last column, absorbs).
template <class T>
std::vector<double> original_units(const LoadedData<T>& loaded, const std::vector<double>& w) {
  if (!loaded.standardization) return w;
  return unstandardize_weights(w, *loaded.standardization,
                               static_cast<std::ptrdiff_t>(loaded.data.d - 1));
}

void print_weights(const std::vector<std::string>& names, const Fit& fit, const Settings& s) {
  // A table of hundreds of weights buries the summary above it; --out has them all.
  constexpr std::size_t kMaxPrinted = 40;
  if (fit.w.size() > kMaxPrinted) {
    std::cout << "\n"
              << fit.w.size() << " weights" << (s.out.empty() ? "; --out W.csv writes them" : "")
              << "\n";
    return;
  }
  std::cout << "\nweights" << (s.data.standardize ? " (original units)" : "") << ":\n";
  std::vector<std::string> header = {"feature", "sgd"};
  if (fit.ls) header.push_back("least squares");
  Table table(header);
  for (std::size_t j = 0; j < fit.w.size(); ++j) {
    std::vector<std::string> row = {names[j], fmt(fit.w[j], 8)};
    if (fit.ls) row.push_back(fmt(fit.w_ls[j], 8));
    table.row(row);
  }
  table.print(std::cout);
}

// Quotes a CSV field when it holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string g17(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// --out W.csv: 'feature,weight' lines, what 'numgrad grad --weights' reads back.
void write_csv(std::ostream& out, const std::vector<std::string>& names,
               const std::vector<double>& w) {
  out << "feature,weight\n";
  for (std::size_t j = 0; j < w.size(); ++j) out << csv_field(names[j]) << "," << g17(w[j]) << "\n";
}

// --out W.json: the settings, the outcome, both weight vectors and the history.
template <class T>
void write_json(std::ostream& out, const Kernel& k, const Settings& s, const Dataset<T>& data,
                const Fit& fit) {
  const TrainOptions& o = s.train;
  const TrainResult& r = fit.result;
  Json j(out);
  j.begin_document("train", 1).value("data", s.data.describe()).value("rows", data.n);
  j.value("target", data.target_name).value("kernel", k.id);
  j.value("gradient", analytic(k, o) ? std::string("analytic") : "central:" + to_string(o.step));
  j.value("threads", kernel_threads(k, o.exec));
  j.value("ranks", ranks() != nullptr ? ranks()->size() : 1);
  j.value("standardized", s.data.standardize).value("intercept", s.data.intercept);
  j.value("batch", std::min(o.batch, data.n)).value("epochs", o.epochs).value("lr", o.lr);
  j.value("decay", o.decay).value("momentum", o.momentum);
  j.value("seed", static_cast<std::int64_t>(o.seed));
  j.value("epochs_run", r.epochs_run).value("stop", name(r.stop)).value("seconds", fit.seconds);
  j.value("initial_loss", r.initial_loss).value("final_loss", r.final_loss);
  if (fit.ls) j.value("least_squares_loss", fit.ls->loss).value("least_squares_rank", fit.ls->rank);
  j.begin_array("features");
  for (const std::string& f : data.feature_names) j.value("", f);
  j.end_array().numbers("weights", fit.w);
  if (fit.ls) j.numbers("least_squares_weights", fit.w_ls);
  j.begin_array("history");
  for (const EpochReport& e : r.history)
    j.begin_object()
        .value("epoch", e.epoch)
        .value("loss", e.loss)
        .value("lr", e.lr)
        .value("seconds", e.seconds)
        .value("rows_per_second", e.rows_per_second)
        .end_object();
  j.end_array().end_object();
}

// Load -> train -> summarise -> write. A diverged or stalled run ends after training, with
// exit 1 and no --out file.
// Under mpirun rank 0 loads the data, prints and writes what one process would; every rank
// trains on its share of the rows.
template <class T>
int run(const Kernel& k, const Settings& s) {
  Ranks* const r = ranks();
  std::optional<LoadedData<T>> read;
  const auto load = [&] {
    if (r == nullptr || r->rank() == 0) read.emplace(make_dataset<T>(s.data));
  };
  r != nullptr ? r->agree(load) : load();
  if (!read) {
    const TrainResult result = r->train(k, static_cast<const Dataset<T>*>(nullptr), s.train, {});
    return result.stop == StopReason::diverged || result.stop == StopReason::stalled ? kExitFailed
                                                                                     : kExitOk;
  }
  const LoadedData<T>& loaded = *read;
  const Dataset<T>& data = loaded.data;
  print_setup(k, s, data);

  Fit fit = run_epochs(k, s, data);
  if (stopped(fit.result, s)) return kExitFailed;

  print_summary(fit, data.n);
  if (s.lstsq) fit.ls = compare_least_squares(data, fit.result.final_loss);
  fit.w = original_units(loaded, fit.result.weights);
  if (fit.ls) fit.w_ls = original_units(loaded, fit.ls->weights);
  print_weights(data.feature_names, fit, s);

  if (s.out.empty()) return kExitOk;
  write_output(s.out, [&](std::ostream& out) {
    if (lower(s.out).ends_with(".json"))
      write_json(out, k, s, data, fit);
    else
      write_csv(out, data.feature_names, fit.w);
  });
  std::cout << "weights written to " << s.out << "\n";
  return kExitOk;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  const std::vector<OptionSpec> sp = specs();
  const Options opts("train", sp, argc, argv);
  if (opts.help()) {
    print_help(
        std::cout,
        "numgrad train (--data FILE.csv [--target COL] | --n N [--d D --noise S ...]) [options]",
        "Fits y ~ X w by mini-batch SGD, using the chosen kernel's central-difference\n"
        "gradient (or --analytic). Each epoch reshuffles the rows (seeded) into one\n"
        "buffer and walks it in contiguous batches; the full-dataset loss, time and\n"
        "rows/s are printed per epoch, then the closed-form least-squares loss that SGD\n"
        "should approach. Unscaled features make SGD diverge at any useful rate: use\n"
        "--standardize --intercept. Exit status: 0 done, 1 diverged or stalled, 2 bad input.\n"
        "Under mpirun (a build with MPI) the rows are sharded over the ranks, and the\n"
        "weights are those of one process, bit for bit (docs/train.md).",
        sp);
    return kExitOk;
  }
  // Under mpirun a node may lack the kernel's ISA, or read its environment differently.
  Settings s;
  const Kernel* kernel = nullptr;
  const auto parse = [&] {
    s = parse_settings(opts);
    kernel = &kernel_by_id(s.kernel_id);
  };
  ranks() != nullptr ? ranks()->agree(parse) : parse();
  const Kernel& k = *kernel;
  return k.elem == DType::f32 ? run<float>(k, s) : run<double>(k, s);
}

}  // namespace numgrad::cli
