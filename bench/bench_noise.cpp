// Snapshots of the machine's state around a run and the "disturbed" verdict (bench_noise.hpp).
// Linux only: /proc/loadavg, /proc/stat (steal is the hypervisor's share on a VM) and
// getrusage for this process.
#include "bench_noise.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace numgrad::bench {
namespace {

CpuTimes read_cpu_times() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  double v[10] = {};
  f >> cpu;
  for (double& x : v) f >> x;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // counted in user, so the total stops at steal.
  CpuTimes t;
  for (int i = 0; i < 8; ++i) t.total += v[i];
  t.idle = v[3] + v[4];
  t.steal = v[7];
  return t;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

SystemSnapshot& before_storage() {
  static SystemSnapshot s;
  return s;
}

}  // namespace

double busy_threshold() {
  return std::max(kBusyCpusFloor, kBusyCpusShare * hardware_threads());
}

double others_busy_cpus() {
  // This thread sleeps through the sample; what this process's other threads still burn
  // (OpenBLAS's and oneTBB's workers spin for a while after their last job) is subtracted,
  // so only other processes count.
  const CpuTimes a = read_cpu_times();
  const double mine0 = process_cpu_seconds(), t0 = steady_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const CpuTimes b = read_cpu_times();
  const double mine = (process_cpu_seconds() - mine0) / (steady_seconds() - t0);
  const double cpus = static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (b.total <= a.total) return 0;
  return std::max(0.0, cpus * (1 - (b.idle - a.idle) / (b.total - a.total)) - mine);
}

SystemSnapshot take_snapshot() {
  SystemSnapshot s;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &s.loadavg[0], &s.loadavg[1], &s.loadavg[2]) != 3)
      s.loadavg[0] = s.loadavg[1] = s.loadavg[2] = -1;
    std::fclose(f);
  }
  s.others_busy_cpus = others_busy_cpus();
  s.probe = probe_ceilings();
  s.cpu = read_cpu_times();
  s.process_cpu_seconds = process_cpu_seconds();
  s.wall_seconds = steady_seconds();
  return s;
}

std::vector<std::string> early_warnings(const SystemSnapshot& s) {
  std::vector<std::string> out;
  if (s.others_busy_cpus >= busy_threshold())
    out.push_back(fmt("other processes kept %.2f of the CPUs busy before the run (threshold %.2f)",
                      s.others_busy_cpus, busy_threshold()));
  if (s.probe.read_model > 0 && std::abs(s.probe.worst()) >= kProbeDeviation)
    out.push_back("the ceiling probe is " + fmt("%+.0f%%", 100 * s.probe.worst()) +
                  " off the machine model: " + s.probe.describe());
  return out;
}

NoiseVerdict judge_noise(const SystemSnapshot& a, const SystemSnapshot& b,
                         double serial_cpu_over_real,
                         const std::vector<std::pair<std::string, double>>& ceilings) {
  NoiseVerdict v;
  v.reasons = early_warnings(a);
  if (b.others_busy_cpus >= busy_threshold())
    v.reasons.push_back(
        fmt("other processes kept %.2f of the CPUs busy after the run", b.others_busy_cpus));
  if (b.probe.read_model > 0 && std::abs(b.probe.worst()) >= kProbeDeviation)
    v.reasons.push_back("the ceiling probe after the run is " +
                        fmt("%+.0f%%", 100 * b.probe.worst()) + " off the model");
  const double read_shift = a.probe.read_bw > 0 ? b.probe.read_bw / a.probe.read_bw - 1 : 0;
  const double fma_shift = a.probe.fma > 0 ? b.probe.fma / a.probe.fma - 1 : 0;
  if (std::abs(read_shift) >= kProbeDeviation || std::abs(fma_shift) >= kProbeDeviation)
    v.reasons.push_back(
        fmt("the ceilings moved during the run: read %+.0f%%, FMA %+.0f%% after "
            "against before",
            100 * read_shift, 100 * fma_shift));
  const double jiffies = b.cpu.total - a.cpu.total;
  const double steal = jiffies > 0 ? (b.cpu.steal - a.cpu.steal) / jiffies : 0;
  if (steal >= kStealShare)
    v.reasons.push_back(
        fmt("the hypervisor stole %.1f%% of the CPU time during the run", 100 * steal));
  if (serial_cpu_over_real >= 0 && serial_cpu_over_real < kSerialCpuOverReal)
    v.reasons.push_back(
        fmt("one-thread benchmarks had the CPU only %.0f%% of their real time "
            "(median CPU/real time)",
            100 * serial_cpu_over_real));
  // Memory rows are left out: on a VM the same read differs by up to 25% between buffers and
  // over minutes on a quiet machine (docs/benchmarks.md), so they would flag every run.
  for (const auto& [name, frac] : ceilings)
    if (frac < 1 - kProbeDeviation && name.find("read_bw.dram") == std::string::npos)
      v.reasons.push_back(name +
                          fmt(" reached only %.0f%% of the model during the run", 100 * frac));
  v.disturbed = !v.reasons.empty();

  const double wall = b.wall_seconds - a.wall_seconds;
  auto add = [&](const std::string& k, const std::string& val) { v.context.emplace_back(k, val); };
  add("noise.disturbed", v.disturbed ? "yes" : "no");
  std::string reasons;
  for (const std::string& r : v.reasons) reasons += (reasons.empty() ? "" : "; ") + r;
  add("noise.reasons", reasons);
  add("noise.thresholds",
      fmt("others busy >= %.2f CPUs; steal >= %.0f%%; ", busy_threshold(), 100 * kStealShare) +
          fmt("probe >= %.0f%% off the model or moving; one-thread CPU/real < %.2f",
              100 * kProbeDeviation, kSerialCpuOverReal));
  for (const auto& [when, s] : {std::pair{"before", &a}, std::pair{"after", &b}}) {
    const std::string p = std::string("noise.") + when + ".";
    add(p + "load_avg", fmt("%.2f %.2f %.2f", s->loadavg[0], s->loadavg[1], s->loadavg[2]));
    add(p + "others_busy_cpus", fmt("%.2f", s->others_busy_cpus));
    add(p + "probe", s->probe.describe());
    add(p + "probe_read_bw", fmt("%.6g", s->probe.read_bw));
    add(p + "probe_fma_f32", fmt("%.6g", s->probe.fma));
  }
  add("noise.steal_share", fmt("%.4f", steal));
  add("noise.process_cpu_over_real",
      fmt("%.3f", wall > 0 ? (b.process_cpu_seconds - a.process_cpu_seconds) / wall : 0));
  add("noise.serial_cpu_over_real",
      serial_cpu_over_real >= 0 ? fmt("%.3f", serial_cpu_over_real) : "?");
  add("noise.run_seconds", fmt("%.1f", wall));
  return v;
}

void print_warning(const std::string& title, const std::vector<std::string>& reasons) {
  std::fprintf(stderr, "\n******** numgrad_bench: WARNING: %s ********\n", title.c_str());
  for (const std::string& r : reasons) std::fprintf(stderr, "  - %s\n", r.c_str());
  std::fprintf(stderr,
               "  Times and fractions of this run are not trustworthy; rerun on a quiet machine\n"
               "  (docs/benchmarks.md, \"Noise\").\n\n");
}

const SystemSnapshot& snapshot_before() {
  return before_storage();
}

void set_snapshot_before(const SystemSnapshot& s) {
  before_storage() = s;
}

}  // namespace numgrad::bench
