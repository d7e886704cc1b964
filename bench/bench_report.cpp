// Reporting a run (bench_report.hpp): one forwarding reporter feeds the display (console, JSON
// or CSV on stdout) and the file (--benchmark_out) with annotated runs, shows progress with an
// ETA on stderr, and remembers errors. Outputs are buffered and written whole at the end so a
// reader never sees half a file, and so the context can carry what was measured after the run.
#include "bench_report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <regex>

#include "bench_common.hpp"
#include "bench_noise.hpp"
#include "numgrad/files.hpp"

namespace numgrad::bench {

using Run = benchmark::BenchmarkReporter::Run;

// --- Anomalies ------------------------------------------------------------------------------

namespace {

std::string fmt(const char* f, double a, double b = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

std::string level_name(const CacheLevel* l) {
  return l ? l->name : "?";
}

// Why bytes/s exceeded the read ceiling, from what set_counters divided by and the probe.
std::string bandwidth_cause(const std::string& name, const CeilingUse& u, double frac) {
  const double drift =
      snapshot_before().probe.read_model > 0
          ? snapshot_before().probe.read_bw / snapshot_before().probe.read_model - 1
          : 0;
  const double ws = u.work.working_set / std::max(u.work.threads, 1);
  if (name.rfind("ceiling/read_bw.dataset", 0) == 0 || name.rfind("ceiling/sum", 0) == 0 ||
      (u.work.cold && u.read.level))
    return "memory bandwidth on this machine varies between buffers and over time; the model's "
           "memory ceiling (" +
           fmt("%.1f GB/s", u.read.bw / 1e9) + ") was read on another buffer at another time" +
           (name.rfind("ceiling/", 0) == 0 ? "" : " (see ceiling/read_bw.dataset)");
  if (name.rfind("ceiling/", 0) == 0)
    return "this run measured the model's own ceiling " + fmt("%.0f%%", 100 * (frac - 1)) +
           " higher: the model was measured on a busier machine; --recalibrate";
  if (drift > kAnomalyFraction - 1)
    return "the machine reads " + fmt("%.0f%%", 100 * drift) +
           " faster now than when the model was measured (probe); --recalibrate";
  if (u.read.at_knee)
    return "its " + format_bytes(ws) + " per-thread working set lies between two plateaus of the " +
           "read curve, where the ceiling falls steeply; part of it is served by the faster level";
  const ThreadModel& tm = machine_model().threads.at(std::max(u.work.threads, 1));
  for (const CacheLevel& l : tm.levels)
    if (l.knee_bytes > 0 && ws <= l.knee_bytes * 1.5 && ws >= l.knee_bytes / 1.5)
      return "its " + format_bytes(ws) + " per-thread working set is within 1.5x of the " + l.name +
             " knee (" + format_bytes(l.knee_bytes) + "): part of it is served by the faster level";
  if (level_name(u.read.level) == "dram")
    return "memory bandwidth on this machine varies between buffers and over time; the model's "
           "memory ceiling (" +
           fmt("%.1f GB/s", u.read.bw / 1e9) +
           ") was read on another buffer at another time (see ceiling/read_bw.dataset)";
  if (!tm.levels.empty() && frac * u.read.bw > tm.levels.front().bw * kAnomalyFraction)
    return "faster than the fastest level (" + tm.levels.front().name +
           fmt(", %.0f GB/s)", tm.levels.front().bw / 1e9) +
           ": the bytes counter overstates what was read";
  return "above the " + level_name(u.read.level) + fmt(" ceiling (%.1f GB/s)", u.read.bw / 1e9) +
         " for no known reason; rerun with repetitions and --recalibrate";
}

std::string peak_cause(const CeilingUse&, double) {
  const Probe& p = snapshot_before().probe;
  const double drift = p.fma_model > 0 ? p.fma / p.fma_model - 1 : 0;
  if (drift > kAnomalyFraction - 1)
    return "the FMA peak is " + fmt("%.0f%%", 100 * drift) +
           " higher now than when the model was measured (probe); --recalibrate";
  return "flop/s above the FMA peak: the algorithm's flop formula overstates its work here, or "
         "the peak was measured on a busier machine";
}

}  // namespace

Run annotate(const Run& run) {
  Run r = run;
  if (r.error_occurred) return r;
  if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "mean" && r.aggregate_name != "median")
    return r;
  const CeilingUse* use = ceiling_use(r.run_name.str());
  for (const char* key : {"frac_bw", "frac_peak"}) {
    const auto it = r.counters.find(key);
    if (it == r.counters.end() || !(it->second.value > kAnomalyFraction)) continue;
    const double v = it->second.value;
    const std::string cause = !use ? "no record of the ceiling used"
                              : std::string(key) == "frac_bw"
                                  ? bandwidth_cause(r.run_name.str(), *use, v)
                                  : peak_cause(*use, v);
    r.report_label += (r.report_label.empty() ? "" : "; ") + std::string("anomaly: ") + key +
                      fmt(" %.2f (", v) + cause + ")";
  }
  return r;
}

// --- ETA ------------------------------------------------------------------------------------

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string clock_text(double s) {
  const long t = std::lround(std::max(s, 0.0));
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

// Seconds a benchmark is expected to take, from its name. Calls are estimated at 10 GB/s and
// 20 GFLOP/s (a scalar-ish pace, so the 1 GiB and blackbox cases weigh what they cost); the
// first use of a dataset adds its construction and long-double reference (~5 ns per value).
double expected_cost(const std::string& name, double min_time, int reps,
                     std::set<std::string>& datasets) {
  static const std::regex re("^([a-z_]+)/([^/]+)/N:(\\d+)/b:(\\d+)/d:(\\d+)/");
  std::smatch m;
  if (!std::regex_search(name, m, re)) return reps * 1.5 * min_time;
  const double n = std::stod(m[3]), b = std::stod(m[4]), d = std::stod(m[5]);
  const std::string id = m[2];
  const double elem = id.size() >= 4 && id.compare(id.size() - 4, 4, ".f64") == 0 ? 8 : 4;
  const bool blackbox = id.find(".blackbox.") != std::string::npos;
  const double rows = m[1] == "epoch" ? n : b;
  const double call =
      std::max(rows * (d + 1) * elem / 10e9, (blackbox ? 4 * rows * d * d : 10 * rows * d) / 20e9);
  double cost = reps * std::max(1.5 * min_time, 2 * call);
  const std::string key = std::string(m[3]) + "/" + std::string(m[5]) + (elem == 8 ? "/8" : "/4");
  if (datasets.insert(key).second) cost += n * d * 5e-9;
  return cost;
}

}  // namespace

Eta::Eta(const std::vector<std::string>& selected, double min_time, int repetitions)
    : start_(now_seconds()), reps_(std::max(repetitions, 1)) {
  std::set<std::string> datasets;
  for (const std::string& n : selected) {
    cost_.emplace_back(n, expected_cost(n, min_time, reps_, datasets));
    total_ += cost_.back().second;
  }
  std::sort(cost_.begin(), cost_.end());
}

void Eta::done(const std::string& name, bool repetition_of_many) {
  const auto it =
      std::lower_bound(cost_.begin(), cost_.end(), std::pair<std::string, double>{name, -1.0});
  if (it == cost_.end() || it->first != name) return;
  done_ += repetition_of_many ? it->second / reps_ : it->second;
}

std::string Eta::line(std::size_t n, std::size_t total) const {
  const double elapsed = now_seconds() - start_;
  std::string s = clock_text(elapsed) + " elapsed";
  // The measured pace so far (elapsed per unit of expected cost) times what is left.
  if (n < total && done_ > 0 && total_ > done_ && (done_ >= 0.02 * total_ || elapsed >= 5))
    s += ", ~" + clock_text(elapsed * (total_ - done_) / done_) + " left";
  return s;
}

// --- Reporters ------------------------------------------------------------------------------

std::string parse_format(const std::string& v) {
  return v == "console" || v == "json" || v == "csv" ? v : "";
}

namespace {

// A JSON string literal.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\', out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Google Benchmark's JSON opens with {"context": {...}, "benchmarks": [...]}; entries known
// only after the run go at the top of the context object.
std::string with_context(std::string json,
                         const std::vector<std::pair<std::string, std::string>>& context) {
  const std::string open = "\"context\": {";
  const auto at = json.find(open);
  if (at == std::string::npos) return json;
  std::string add;
  for (const auto& [k, v] : context) add += "\n    " + quoted(k) + ": " + quoted(v) + ",";
  json.insert(at + open.size(), add);
  return json;
}

std::unique_ptr<benchmark::BenchmarkReporter> make_reporter(const std::string& format, bool color) {
  if (format == "json") return std::make_unique<benchmark::JSONReporter>();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (format == "csv") return std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
  return std::make_unique<benchmark::ConsoleReporter>(
      color ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular);
}

// Forwards every call to the display and the file reporter with annotated runs, and keeps the
// run's bookkeeping: progress, errors, CPU/real time of one-thread runs.
class Tee : public benchmark::BenchmarkReporter {
 public:
  std::vector<benchmark::BenchmarkReporter*> outs;
  std::unique_ptr<Eta> eta;
  std::size_t total = 0;
  std::set<std::string> done, failed;
  std::vector<double> serial_ratio;
  std::map<std::string, double> ceiling_fraction;
  bool console = false;

  bool ReportContext(const Context& context) override {
    for (auto* o : outs) {
      // The console's context block lists the CPU and caches GB sees; numgrad_bench says what
      // it measured instead, so the block goes nowhere (its name width still counts).
      std::ostringstream sink;
      std::ostream* err = &o->GetErrorStream();
      if (console && o == outs.front()) o->SetErrorStream(&sink);
      o->ReportContext(context);
      o->SetErrorStream(err);
    }
    return true;
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> annotated;
    for (const Run& r : runs) annotated.push_back(annotate(r));
    for (auto* o : outs) o->ReportRuns(annotated);
    for (const Run& r : runs) account(r);
    progress(runs.empty() ? "" : runs.back().run_name.str());
  }

  void Finalize() override {
    for (auto* o : outs) o->Finalize();
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "numgrad_bench: %zu benchmarks done, %zu failed (%s)\n", done.size(),
                 failed.size(), eta ? eta->line(total, total).c_str() : "");
  }

 private:
  bool tty_ = isatty(2) != 0;
  std::size_t last_shown_ = 0;

  void account(const Run& r) {
    const std::string nm = r.run_name.str();
    if (r.run_type != Run::RT_Iteration) return;
    if (done.insert(nm).second || r.repetitions > 1)
      if (eta) eta->done(nm, r.repetitions > 1);
    if (r.error_occurred && failed.insert(nm).second)
      std::fprintf(stderr, "%sERROR %s: %s\n", tty_ ? "\r\033[K" : "", nm.c_str(),
                   r.error_message.c_str());
    if (r.error_occurred) return;
    if (nm.find("/threads:1/") != std::string::npos && r.real_accumulated_time > 0)
      serial_ratio.push_back(r.cpu_accumulated_time / r.real_accumulated_time);
    const bool model_ceiling =
        (nm.rfind("ceiling/read_bw.", 0) == 0 && nm.rfind("ceiling/read_bw.dataset", 0) != 0) ||
        nm.rfind("ceiling/fma_peak.", 0) == 0;
    for (const char* key : {"frac_bw", "frac_peak"})
      if (const auto it = r.counters.find(key); model_ceiling && it != r.counters.end()) {
        auto [at, fresh] = ceiling_fraction.emplace(nm, it->second.value);
        if (!fresh) at->second = std::min(at->second, it->second.value);
      }
  }

  void progress(const std::string& nm) {
    const std::size_t n = done.size(), t = std::max(total, n);
    const std::string clock = eta ? eta->line(n, t) : "";
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[%zu/%zu %3.0f%% %s] %s", n, t, 100.0 * n / t, clock.c_str(),
                   nm.c_str());
      std::fflush(stderr);
    } else if (n == t || n - last_shown_ >= std::max<std::size_t>(1, t / 20)) {
      last_shown_ = n;
      std::fprintf(stderr, "[%zu/%zu %3.0f%% %s] %s\n", n, t, 100.0 * n / t, clock.c_str(),
                   nm.c_str());
    }
  }
};

}  // namespace

struct Runner::Impl {
  std::string format, out_path, out_format;
  std::unique_ptr<benchmark::BenchmarkReporter> display, file;
  std::ostringstream display_buf, file_buf;
  Tee tee;
};

Runner::Runner(const std::string& format, bool color, const std::string& out_path,
               const std::string& out_format, std::unique_ptr<Eta> eta, std::size_t total)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.format = format, m.out_path = out_path, m.out_format = out_format;
  m.display = make_reporter(format, color);
  // The console streams live; JSON and CSV on stdout are written whole at the end.
  if (format != "console") m.display->SetOutputStream(&m.display_buf);
  m.tee.outs.push_back(m.display.get());
  if (!out_path.empty()) {
    m.file = make_reporter(out_format, false);
    m.file->SetOutputStream(&m.file_buf);
    m.file->SetErrorStream(&m.file_buf);
    m.tee.outs.push_back(m.file.get());
  }
  m.tee.console = format == "console";
  m.tee.eta = std::move(eta);
  m.tee.total = total;
}

Runner::~Runner() = default;

void Runner::run() {
  benchmark::RunSpecifiedBenchmarks(&impl_->tee);
}

bool Runner::finish(const std::vector<std::pair<std::string, std::string>>& context) {
  Impl& m = *impl_;
  if (m.format == "json") std::cout << with_context(m.display_buf.str(), context) << std::flush;
  if (m.format == "csv") std::cout << m.display_buf.str() << std::flush;
  if (m.out_path.empty()) return true;
  const std::string text =
      m.out_format == "json" ? with_context(m.file_buf.str(), context) : m.file_buf.str();
  if (write_atomically(m.out_path, text)) return true;
  std::fprintf(stderr, "numgrad_bench: could not write %s (%s); any earlier file is unchanged\n",
               m.out_path.c_str(), std::strerror(errno));
  return false;
}

std::size_t Runner::done() const {
  return impl_->tee.done.size();
}

std::size_t Runner::failed() const {
  return impl_->tee.failed.size();
}

double Runner::serial_cpu_over_real() const {
  std::vector<double> v = impl_->tee.serial_ratio;
  if (v.empty()) return -1;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::vector<std::pair<std::string, double>> Runner::ceiling_fractions() const {
  return {impl_->tee.ceiling_fraction.begin(), impl_->tee.ceiling_fraction.end()};
}

}  // namespace numgrad::bench
