// The benchmark binary's main(): reads the options, obtains the machine model (reused, or
// measured once and saved), registers the preset, snapshots the machine's noise before and
// after the run, runs Google Benchmark through the reporters of bench_report.hpp, and exits
// non-zero when any benchmark errored (a failed reference check included) or none matched.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <oneapi/tbb/version.h>
#include <xsimd/config/xsimd_config.hpp>

#include "bench_common.hpp"
#include "bench_noise.hpp"
#include "bench_report.hpp"
#include "numgrad/files.hpp"
#include "numgrad/isa.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/threads.hpp"
#include "numgrad/version.hpp"

namespace numgrad::bench {
namespace {

// --- Context: what the report header records ------------------------------------------------

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// The context's own schema, in the scheme of every JSON document of the `numgrad` tool
// (docs/cli.md): "numgrad.bench/N", N raised when a key is removed, renamed or changes meaning.
constexpr char kContextSchema[] = "numgrad.bench/1";

void add_build_context(const std::string& preset) {
  using benchmark::AddCustomContext;
  AddCustomContext("numgrad.schema", kContextSchema);
  AddCustomContext("numgrad.version", kVersion);
  AddCustomContext("numgrad.git", kGitDescribe);
  AddCustomContext("numgrad.preset", preset);
  AddCustomContext("plan.loss_vs_d", loss_sweep_shapes(preset));
  AddCustomContext("numgrad.architecture", std::string(kArchitecture));
  AddCustomContext("numgrad.cpu_model", cpu_model());
  AddCustomContext("numgrad.cpu_isas", cpu_isas());
  AddCustomContext("numgrad.best_isa", std::string(name(best_isa())));
  AddCustomContext("numgrad.hardware_threads", std::to_string(hardware_threads()));
  AddCustomContext("numgrad.memory_bytes", std::to_string(physical_memory_bytes()));
  AddCustomContext("numgrad.compiler", std::string("g++ ") + __VERSION__);
  AddCustomContext("numgrad.eigen", eigen_version());
  AddCustomContext("numgrad.openblas", openblas_version());
  AddCustomContext("numgrad.tbb", std::to_string(TBB_VERSION_MAJOR) + "." +
                                      std::to_string(TBB_VERSION_MINOR) + " (runtime interface " +
                                      std::to_string(TBB_runtime_interface_version()) + ")");
  AddCustomContext("numgrad.xsimd", std::to_string(XSIMD_VERSION_MAJOR) + "." +
                                        std::to_string(XSIMD_VERSION_MINOR) + "." +
                                        std::to_string(XSIMD_VERSION_PATCH));
  AddCustomContext("numgrad.ceiling_isa", ceiling_isa());
  for (const Kernel& k : registry()) {
    std::ostringstream o;
    o << "elem=" << name(k.elem) << " acc=" << name(k.acc) << " algorithm=" << name(k.algorithm)
      << " axis=" << name(k.axis) << " isa=" << name(k.isa) << " deterministic=" << k.deterministic
      << " supported=" << k.is_supported();
    AddCustomContext("kernel." + k.id, o.str());
  }
}

// The machine model in the context: its provenance, per thread count each level (bandwidth,
// knee, plateau) and the curve itself, the ceilings under their usual keys, and every cache
// size the OS claims with the measurement's verdict on it.
void add_model_context(const std::string& path) {
  using benchmark::AddCustomContext;
  const MachineModel& m = machine_model();
  AddCustomContext("model.status", machine_model_status());
  AddCustomContext("model.path", path);
  AddCustomContext("model.created", m.created);
  AddCustomContext("model.calibration_seconds", fmt_double(m.calibration_seconds));
  AddCustomContext("model.sweep_max_total_bytes", fmt_double(m.sweep_max_total_bytes));
  for (const auto& [t, tm] : m.threads) {
    const std::string ts = ".threads:" + std::to_string(t);
    std::string curve;
    for (const BandwidthPoint& p : tm.curve) {
      char point[64];
      std::snprintf(point, sizeof point, "%s%.10g:%.6g", curve.empty() ? "" : " ", p.bytes, p.bw);
      curve += point;
    }
    AddCustomContext("model.curve" + ts, curve);
    for (const CacheLevel& l : tm.levels) {
      char level[160];
      std::snprintf(level, sizeof level, "bw=%.6g knee=%.10g first=%.10g last=%.10g", l.bw,
                    l.knee_bytes, l.first_bytes, l.last_bytes);
      AddCustomContext("model.level." + l.name + ts, level);
      AddCustomContext("ceiling.read_bw." + l.name + ts, fmt_double(l.bw));
    }
    AddCustomContext("ceiling.fma_peak.f32" + ts, fmt_double(tm.fma_f32));
    AddCustomContext("ceiling.fma_peak.f64" + ts, fmt_double(tm.fma_f64));
  }
  for (const ClaimCheck& c : check_claims(m))
    AddCustomContext("model.claim." + c.claim.source + "." + c.claim.level,
                     "bytes=" + std::to_string(static_cast<long long>(c.claim.bytes)) +
                         " verdict=" + (c.agrees ? "agrees" : "contradicted") + " " + c.evidence);
}

// --- Options ----------------------------------------------------------------------------------

struct Options {
  std::string preset = "quick";
  ModelOptions model;
  std::string format = "console", out_path, out_format = "json", filter;
  double min_time = 0;
  int repetitions = 1;
  bool list_only = false, color = false, color_off = false;
  std::vector<std::string> gb_args;  // what Google Benchmark parses
};

const char* kUsage =
    "numgrad_bench [--preset=quick|full|scaling] [--recalibrate] [--machine-model=FILE]\n"
    "              [Google Benchmark flags]\n"
    "numgrad_bench --version\n"
    "  quick (default): every kernel at a few shapes plus sweeps of the showcase families and\n"
    "         the peers: about 1 minute on an idle 2-core machine\n"
    "  full: every kernel over b x d x threads, cold, epoch and N sweeps: 15,175 benchmarks at\n"
    "         >= 0.1 s each, so at least 25 minutes (not timed end to end)\n"
    "  scaling: parallel families over 1, 2, 4, ... hardware threads at b*d >= 2^20: about\n"
    "         20 seconds there\n"
    "  The first run on a machine measures its model (read bandwidth against working set, the\n"
    "  cache levels at its knees, FMA peaks; ~10 s) and saves it in $NUMGRAD_MODEL_DIR (else\n"
    "  ~/.cache/numgrad); later runs reuse it. --recalibrate measures it again;\n"
    "  --machine-model=FILE keeps it in FILE.\n"
    "Names: family/kernel/N:n/b:b/d:d/threads:t/real_time; families loss, grad, grad_auto,\n"
    "steps, grad_noprefetch, loss_cold, grad_cold, epoch, peer, ceiling.\n"
    "--benchmark_format and --benchmark_out_format take console, json or csv; --benchmark_out\n"
    "is written whole when the run ends (never half).\n"
    "Exit status 1 when any benchmark errored (a failed reference check included), none matched\n"
    "the filter, or the output could not be written; 2 for a bad option.\n\n";

std::string value_of(const std::string& arg, const std::string& flag) {
  return arg.rfind(flag + "=", 0) == 0 ? arg.substr(flag.size() + 1) : std::string();
}

// Throws std::invalid_argument with the one line to print for a bad option.
Options parse_options(int argc, char** argv) {
  Options o;
  o.gb_args.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto bad = [&](const std::string& why) { throw std::invalid_argument(a + ": " + why); };
    if (a.rfind("--preset=", 0) == 0) {
      o.preset = value_of(a, "--preset");
      if (o.preset != "quick" && o.preset != "full" && o.preset != "scaling")
        bad("not one of quick, full, scaling");
    } else if (a == "--recalibrate") {
      o.model.recalibrate = true;
    } else if (a.rfind("--machine-model=", 0) == 0) {
      o.model.path = value_of(a, "--machine-model");
      if (o.model.path.empty()) bad("needs a file name");
    } else if (a.rfind("--benchmark_out=", 0) == 0) {
      o.out_path = value_of(a, "--benchmark_out");
      if (o.out_path.empty()) bad("needs a file name");
      // Checked before any measuring: the file is written (atomically) only at the end.
      if (!can_create_beside(o.out_path))
        bad(std::string("cannot create a file there (") + std::strerror(errno) + ")");
    } else if (a.rfind("--benchmark_out_format=", 0) == 0) {
      o.out_format = parse_format(value_of(a, "--benchmark_out_format"));
      if (o.out_format.empty()) bad("not one of console, json, csv");
    } else {
      if (a.rfind("--benchmark_format=", 0) == 0) {
        o.format = parse_format(value_of(a, "--benchmark_format"));
        if (o.format.empty()) bad("not one of console, json, csv");
      }
      if (a.rfind("--benchmark_filter=", 0) == 0) o.filter = value_of(a, "--benchmark_filter");
      if (a.rfind("--benchmark_min_time=", 0) == 0)
        o.min_time = std::atof(value_of(a, "--benchmark_min_time").c_str());
      if (a.rfind("--benchmark_repetitions=", 0) == 0)
        o.repetitions = std::atoi(value_of(a, "--benchmark_repetitions").c_str());
      const std::string list = value_of(a, "--benchmark_list_tests");
      if (a == "--benchmark_list_tests" || list == "true" || list == "1") o.list_only = true;
      if (a == "--benchmark_color=false" || a == "--benchmark_color=no") o.color_off = true;
      o.gb_args.push_back(a);
    }
  }
  // Preset defaults that explicit flags override (GB keeps the last occurrence).
  const double preset_min_time = o.preset == "quick" ? 0.02 : 0.1;
  if (o.min_time <= 0) o.min_time = preset_min_time;
  o.gb_args.insert(o.gb_args.begin() + 1, "--benchmark_min_time=" + fmt_double(preset_min_time));
  o.color = isatty(1) != 0 && !o.color_off;
  return o;
}

// The registered names --benchmark_filter selects (GB 1.7.1's rule: extended regex search,
// "all" or empty = everything, a leading '-' negates).
std::vector<std::string> selected_names(const std::string& filter) {
  const auto& names = registered_names();
  if (filter.empty() || filter == "all") return names;
  const bool negate = filter[0] == '-';
  std::vector<std::string> out;
  try {
    const std::regex re(negate ? filter.substr(1) : filter, std::regex::extended);
    for (const std::string& n : names)
      if (std::regex_search(n, re) != negate) out.push_back(n);
  } catch (const std::regex_error&) {
    return names;  // GB reports the bad expression itself
  }
  return out;
}

// Loads or measures the model and registers the preset on it. A run whose filter matches
// nothing stops before measuring anything, unless it may name ceilings, whose names come from
// the measurement.
bool prepare(const Options& o) {
  const std::vector<int> threads = preset_threads(o.preset);
  const bool complete = load_machine_model(threads, o.model);
  register_preset(o.preset);
  if (o.list_only) return true;
  const bool may_name_ceilings = o.filter.find("ceiling") != std::string::npos ||
                                 o.filter.find("read_bw") != std::string::npos;
  if (selected_names(o.filter).empty() && (complete || !may_name_ceilings)) return false;
  complete_machine_model(threads, o.model);
  if (!complete) {
    clear_benchmarks();
    register_preset(o.preset);
  }
  return !selected_names(o.filter).empty();
}

}  // namespace
}  // namespace numgrad::bench

int main(int argc, char** argv) {
  using namespace numgrad::bench;
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      // Before Google Benchmark sees the arguments: it rejects flags it does not know.
      if (std::strcmp(argv[i], "--version") == 0) {
        std::printf("numgrad %s (%s)\n", numgrad::kVersion, numgrad::kGitDescribe);
        return std::fflush(stdout) == 0 ? 0 : 1;
      }
      if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
        std::fputs(kUsage, stdout);
        std::fflush(stdout);
      }
    }
    o = parse_options(argc, argv);
    // A bad NUMGRAD_ISA, NUMGRAD_THREADS or NUMGRAD_PREFETCH is one line here, before any
    // work: not an abort while the context is written, nor an ERROR per benchmark.
    (void)numgrad::best_isa();
    (void)numgrad::default_threads();
    (void)numgrad::prefetch_enabled();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numgrad_bench: %s\n", e.what());
    return 2;
  }
  std::vector<char*> cargv;
  for (auto& a : o.gb_args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int cargc = static_cast<int>(o.gb_args.size());
  benchmark::Initialize(&cargc, cargv.data());
  if (benchmark::ReportUnrecognizedArguments(cargc, cargv.data())) return 2;

  if (!prepare(o)) {
    std::fprintf(stderr, "numgrad_bench: no benchmark matched the filter '%s'\n", o.filter.c_str());
    return 1;
  }
  if (o.list_only) {
    Runner(o.format, o.color, "", "json", nullptr, 0).run();
    return 0;
  }
  SystemSnapshot before = take_snapshot();
  if (const std::string why = machine_model_stale(before.probe, before.others_busy_cpus);
      !why.empty()) {
    std::fprintf(stderr, "numgrad_bench: measuring the machine model again: %s\n", why.c_str());
    remeasure_machine_model(preset_threads(o.preset), o.model);
    clear_benchmarks();
    register_preset(o.preset);
    before = take_snapshot();
  }
  set_snapshot_before(before);
  std::fprintf(stderr, "numgrad_bench: probe: %s\n", before.probe.describe().c_str());
  if (const auto w = early_warnings(before); !w.empty()) print_warning("the machine is busy", w);
  add_build_context(o.preset);
  add_model_context(machine_model_path(o.model));

  const std::vector<std::string> selected = selected_names(o.filter);
  Runner runner(o.format, o.color, o.out_path, o.out_format,
                std::make_unique<Eta>(selected, o.min_time, o.repetitions), selected.size());
  runner.run();

  const NoiseVerdict v = judge_noise(before, take_snapshot(), runner.serial_cpu_over_real(),
                                     runner.ceiling_fractions());
  if (v.disturbed)
    print_warning("this run was DISTURBED", v.reasons);
  else
    std::fprintf(stderr, "numgrad_bench: no disturbance seen (docs/benchmarks.md, \"Noise\")\n");
  const bool written = runner.finish(v.context);
  if (runner.done() == 0) {
    std::fprintf(stderr, "numgrad_bench: no benchmark ran\n");
    return 1;
  }
  if (runner.failed() > 0) {
    std::fprintf(stderr, "numgrad_bench: %zu benchmark(s) failed (see ERROR lines)\n",
                 runner.failed());
    return 1;
  }
  return written ? 0 : 1;
}
