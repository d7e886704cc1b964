// What a run shows and writes: the progress line (count, elapsed time, a cost-weighted ETA),
// errors, anomaly labels (a fraction of a ceiling above 1.05 is labelled with its cause, never
// passed off as a result), and the output files, written whole and atomically with the
// end-of-run noise entries added to the JSON context.
#pragma once

#include <benchmark/benchmark.h>

#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace numgrad::bench {

inline constexpr double kAnomalyFraction = 1.05;

// The labelled copy of a run: "anomaly: frac_bw 1.31 (<cause>)" appended to its label for each
// fraction above kAnomalyFraction (iterations, means and medians; not spreads).
benchmark::BenchmarkReporter::Run annotate(const benchmark::BenchmarkReporter::Run& run);

// Expected cost of each selected benchmark, from its name: repetitions x the larger of the
// minimum time and two calls, plus building its dataset and reference the first time.
class Eta {
 public:
  Eta(const std::vector<std::string>& selected, double min_time, int repetitions);
  void done(const std::string& name, bool repetition_of_many);
  std::string line(std::size_t done, std::size_t total) const;  // "1:02 elapsed, ~0:41 left"

 private:
  std::vector<std::pair<std::string, double>> cost_;
  double total_ = 0, done_ = 0, start_ = 0;
  int reps_ = 1;
};

// A reporter (console, JSON or CSV) that annotates runs and, for the display, shows progress
// and counts errors.
class Runner {
 public:
  // format / out_format: "console", "json" or "csv"; out_path may be empty.
  Runner(const std::string& format, bool color, const std::string& out_path,
         const std::string& out_format, std::unique_ptr<Eta> eta, std::size_t total);
  ~Runner();
  void run();  // benchmark::RunSpecifiedBenchmarks with both reporters
  // Adds `context` to the JSON outputs' context, writes the file atomically (stdout for the
  // display), and returns false (saying why on stderr) when the file could not be written.
  bool finish(const std::vector<std::pair<std::string, std::string>>& context);
  std::size_t done() const;
  std::size_t failed() const;
  double serial_cpu_over_real() const;  // median over one-thread runs; -1 when there were none
  // The model's own ceilings measured during the run (ceiling/read_bw.<level>, ceiling/
  // fma_peak): the lowest fraction of the model each reached, by name.
  std::vector<std::pair<std::string, double>> ceiling_fractions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The output format a flag names, or "" when it names none of console, json, csv.
std::string parse_format(const std::string& value);
}  // namespace numgrad::bench
