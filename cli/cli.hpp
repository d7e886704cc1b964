// Shared pieces of the `numgrad` command-line tool: the subcommand entry points, option
// parsing with one-line errors, aligned tables, a small JSON writer, and the data options and
// loader every numerical subcommand shares (synthetic data or the user's CSV). Each subcommand
// lives in its own file of cli/; main (main.cpp) dispatches and turns every exception into
// one stderr line and exit 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/step.hpp"
#include "numgrad/train.hpp"

namespace numgrad::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the tool ran, and a check failed (verify)
inline constexpr int kExitUsage = 2;   // bad input: options, files, data

// Bad input from the user. main prints "numgrad: <what>" and exits 2, as it does for any
// std::exception (the library reports bad arguments as std::invalid_argument).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- Options -------------------------------------------------------------------------------

struct OptionSpec {
  std::string name;   // without the leading "--"
  std::string value;  // placeholder shown in help ("N", "FILE"); empty for a flag
  std::string help;   // one or more lines; the default, if any, is part of the text
};

// Parsed "--name value", "--name=value" and "--flag" arguments of one subcommand. Every
// lookup converts and checks the text, throwing UsageError that names the option.
class Options {
 public:
  // Throws UsageError for an unknown option, a missing or empty value, a value given to a
  // flag, a positional argument, or an option given twice. `--help`/`-h` sets help().
  Options(std::string command, const std::vector<OptionSpec>& specs, int argc, char** argv);

  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name, const std::string& fallback = "") const;
  std::size_t size(const std::string& name, std::size_t fallback, std::size_t min = 1) const;
  std::int64_t integer(const std::string& name, std::int64_t fallback) const;
  std::uint64_t seed(const std::string& name, std::uint64_t fallback) const;
  double real(const std::string& name, double fallback) const;
  // The arguments as given, for rebuilding a command line (e.g. to rerun failing rows).
  const std::vector<std::pair<std::string, std::string>>& given() const { return order_; }
  const std::string& command() const { return command_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::vector<std::pair<std::string, std::string>> order_;
  bool help_ = false;
};

// "Usage:" line, description paragraphs and the option list, as `numgrad CMD --help` prints.
void print_help(std::ostream& out, std::string_view usage, std::string_view description,
                const std::vector<OptionSpec>& specs);

// Quotes a word for a POSIX shell when it needs it (for printed rerun commands).
std::string shell_quote(std::string_view word);

// The word in lower case (ASCII): file extensions are matched in any case.
std::string lower(std::string_view word);

// --- Output --------------------------------------------------------------------------------

// Fixed-width text table: columns sized to their widest cell, numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {});
  void row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Number formatting for tables: %.*g, and "-" for NaN (a value that does not apply).
std::string fmt(double v, int digits = 3);

// Minimal streaming JSON writer: objects, arrays, strings, numbers (full precision;
// non-finite numbers become null, which JSON cannot otherwise express), booleans.
class Json {
 public:
  explicit Json(std::ostream& out) : out_(out) {}
  Json& begin_object(std::string_view key = {});
  Json& end_object();
  Json& begin_array(std::string_view key = {});
  Json& end_array();
  Json& value(std::string_view key, double v);
  Json& value(std::string_view key, std::int64_t v);
  Json& value(std::string_view key, std::size_t v) {
    return value(key, static_cast<std::int64_t>(v));
  }
  Json& value(std::string_view key, int v) { return value(key, static_cast<std::int64_t>(v)); }
  Json& value(std::string_view key, bool v);
  Json& value(std::string_view key, std::string_view v);
  Json& value(std::string_view key, const char* v) { return value(key, std::string_view(v)); }
  Json& null(std::string_view key);
  Json& numbers(std::string_view key, const std::vector<double>& v);

  // Opens the document of `numgrad COMMAND` and writes the fields every JSON of the tool
  // starts with: "schema": "numgrad.COMMAND/SCHEMA" (the number grows when a field is removed,
  // renamed or changes meaning; new fields keep it), "numgrad": {"version", "git"} and
  // "command". One scheme with numgrad_bench, whose context says "numgrad.schema" etc.
  Json& begin_document(std::string_view command, int schema);

 private:
  void prefix(std::string_view key);
  void open(std::string_view key, char bracket);
  void close(char bracket);
  void raw_string(std::string_view s);
  std::ostream& out_;
  std::vector<bool> first_{true};  // one entry per open container
};

// --- Output files (output.cpp): every file the tool writes goes through these two ----

// The path given to an output option (--json, --csv, --out), checked when the options are read,
// before any work: not a directory, writable, one of `extensions` (".json"; any case), and
// creatable where it will be (a probe file is created in its directory and removed). With
// `streams`, "-" (stdout) and an existing device or FIFO (/dev/null) are accepted as they are.
// "-" claims stdout for that option's document: report() turns to stderr, and a second option
// given "-" is a UsageError (two documents on one stream could not be told apart).
// Returns "" when the option is not given; throws UsageError "option --NAME: 'PATH' ...".
std::string output_option(const Options& opts, const std::string& name,
                          const std::vector<std::string_view>& extensions, bool streams);

// Where a command prints its human-readable report (tables, summaries): stdout, or stderr once
// an output option has claimed stdout with "-", so that `numgrad verify --json - | jq` reads
// nothing but the document and the person at the terminal still sees the report.
std::ostream& report();

// Writes PATH: `write` fills a buffer, which numgrad::write_atomically (numgrad/files.hpp) puts
// in place whole, so a reader sees the old file or the new one, never a mix, and a failed
// write (a full disk) leaves the old file as it was. "-" is stdout. An existing PATH that is
// not a regular file (a device such as /dev/null, a FIFO, a symbolic link) is written in place,
// as a stream. Throws UsageError naming PATH, the reason and that the previous file is unchanged.
void write_output(const std::string& path, const std::function<void(std::ostream&)>& write);

// --- Data and problems (problem.cpp): one option vocabulary and one loader for every command

// How a command uses the shared data options.
struct DataUse {
  bool source_required = false;  // grad, train: no default dataset; --data or --n names one
  bool seed_shuffles = false;    // train: --seed also seeds the shuffle, so it goes with --data
};

// The data options of every command: --data FILE.csv [--target COL] [--intercept], or the
// synthetic --dist, --n, --d, --noise, --sigma and --seed; `seed_also` says what else --seed
// seeds ("weights drawn for it", "per-epoch shuffle").
std::vector<OptionSpec> data_option_specs(std::string_view seed_also);
// The data options and the point options of the commands that evaluate the loss at one point
// (verify, grad, sweep-h): --b, --weights, --perturb.
std::vector<OptionSpec> problem_option_specs();
OptionSpec step_option_spec(std::string_view default_text);
StepPolicy step_policy(const Options& opts);

// What the data options say, resolved. The same spec gives the same data in f32 and f64, up
// to storage rounding.
struct DataSpec {
  std::string csv;  // empty: synthetic
  std::string target;
  bool intercept = false;
  std::string dist = "normal";  // normal | lognormal | nearfit
  std::size_t n = 4096, d = 64;
  double noise = 0.1;  // y = X w* + noise N(0, 1); nearfit: 0, so that w* is the fit
  double sigma = 2.0;  // lognormal column-scale spread
  std::uint64_t seed = 1;
  // Features to mean 0, sd 1: set by train's own --standardize, not read by data_spec().
  bool standardize = false;
  // The CSV's path, or "synthetic normal, noise 0.1, seed 1": where the rows come from.
  std::string describe() const;
};
// Throws UsageError for a bad value or a combination that does not apply (a synthetic option
// with --data, --target without it, no data where `use` needs it named).
DataSpec data_spec(const Options& opts, DataUse use);

// The dataset a DataSpec names: read or drawn, checked to be finite, standardized when asked
// (before the intercept column, which must stay ones), with the intercept column appended.
template <class T>
struct LoadedData {
  Dataset<T> data;
  std::vector<double> w_star;  // synthetic: the weights y was drawn from (no intercept entry)
  std::optional<Standardization> standardization;  // with DataSpec::standardize
};
// Throws UsageError naming the non-finite value (data row and feature); the readers' errors
// already name FILE:LINE:COL.
template <class T>
LoadedData<T> make_dataset(const DataSpec& spec);

// One problem in one element type: the dataset, the batch the kernels see, the weights.
template <class T>
struct Problem {
  Dataset<T> data;
  BatchView<T> batch;
  std::vector<T> w;
};

// The data and the point options, resolved; `describe()` is the line printed above results.
struct ProblemSpec {
  DataSpec data;
  std::size_t b = 1024;      // the batch: the first b rows (0: every row)
  std::string weights_file;  // empty: zeros for --data, drawn for synthetic data
  double perturb = 1e-3;     // nearfit: w = w* + perturb * N(0, 1)
  std::string describe() const;
};
ProblemSpec problem_spec(const Options& opts, DataUse use = {});

// Builds the problem in type T on make_dataset's data; the weights are read with
// numgrad::load_weights (its errors name the file) or drawn. Throws UsageError for a batch
// larger than the data.
template <class T>
Problem<T> make_problem(const ProblemSpec& spec);

// The kernel with this id, checked to be runnable here (UsageError listing valid ids).
const Kernel& kernel_by_id(const std::string& id);

// Thread count Exec{0} means in this process (NUMGRAD_THREADS, else the hardware's).
int default_thread_count();

// The threads `exec` runs a parallel kernel with: exec.threads, or the default count for 0.
// What the text and the JSON report, so that neither says 0 for "the default".
int resolved_threads(Exec exec);
// The threads kernel `k` runs with: 1 for a serial kernel, whatever --threads says.
int kernel_threads(const Kernel& k, Exec exec);

// The --threads option of every subcommand: a whole number from 0 (the default count) to
// numgrad::kMaxThreads, checked before it is narrowed to int so that no value wraps into a
// valid count (4294967297 is not 1). Throws UsageError "option --threads=TEXT: ...".
int threads_option(const Options& opts);

// --- Under mpirun ----------------------------------------------------------------------------
// The ranks of an MPI job that `numgrad train` spreads its rows over (cli/mpi/ranks.cpp, built
// with the MPI layer). ranks() is null when the tool runs as one process.
class Ranks {
 public:
  virtual ~Ranks() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Runs step here; when it threw on any rank, every rank throws that rank's message, so no
  // rank is left waiting for one that gave up.
  virtual void agree(const std::function<void()>& step) = 0;
  // Rank 0's dataset (null on the others) sent out by rows and trained on by every rank:
  // numgrad::mpi::train, the same weights as train() in one process.
  using OnEpoch = std::function<void(const EpochReport&)>;
  virtual TrainResult train(const Kernel& k, const Dataset<float>* data, const TrainOptions& o,
                            const OnEpoch& on_epoch) = 0;
  virtual TrainResult train(const Kernel& k, const Dataset<double>* data, const TrainOptions& o,
                            const OnEpoch& on_epoch) = 0;
};
Ranks* ranks();
void set_ranks(Ranks* r);
// main()'s body: the command, with every exception turned into one "numgrad: ..." line on
// stderr and exit status 2.
int guarded_main(int argc, char** argv);
// Under an MPI launcher (cli/mpi/ranks.cpp): MPI around guarded_main, ranks() set, and the
// output of every rank but 0 discarded, so the job prints what one process would.
bool mpi_launched();
int mpi_main(int argc, char** argv);

// --- Subcommands ---------------------------------------------------------------------------
// Each takes the arguments after the subcommand name (argv[0] is the subcommand).

int cmd_info(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_grad(int argc, char** argv);
int cmd_sweep_h(int argc, char** argv);
// Returns 1 when training diverged or stalled (train.cpp).
int cmd_train(int argc, char** argv);

}  // namespace numgrad::cli
