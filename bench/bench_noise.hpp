// Noise you can see: what else the machine did around a run. A snapshot before and after the
// benchmarks (load average, CPUs busy with other work, hypervisor steal, this process's CPU
// time, a probe of two ceilings against the model) and the verdict "disturbed" with its
// reasons. The thresholds are constants here and in docs/benchmarks.md ("Noise").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"

namespace numgrad::bench {

// Thresholds of a disturbed run (any one suffices).
inline constexpr double kBusyCpusFloor = 0.25;  // other work on >= max(0.25, 5% of CPUs)
inline constexpr double kBusyCpusShare = 0.05;
inline constexpr double kStealShare = 0.02;         // hypervisor steal >= 2% of CPU time
inline constexpr double kProbeDeviation = 0.15;     // a probe >= 15% off the model, before and
                                                    // after >= 15% apart, or a ceiling measured
                                                    // during the run >= 15% below the model
inline constexpr double kSerialCpuOverReal = 0.90;  // one-thread benchmarks ran < 90% of the time

struct CpuTimes {
  double total = 0, idle = 0, steal = 0;  // jiffies over all CPUs (/proc/stat)
};

struct SystemSnapshot {
  double loadavg[3] = {0, 0, 0};
  CpuTimes cpu;
  double process_cpu_seconds = 0;  // user + system of this process so far
  double wall_seconds = 0;         // steady clock
  double others_busy_cpus = 0;     // CPUs busy with other work over a 0.25 s idle sample
  Probe probe;
};
// CPUs other processes keep busy, from /proc/stat over a 0.25 s sleep of this process.
double others_busy_cpus();
// Other processes count as a disturbance from this many busy CPUs on: max(0.25, 5% of them).
double busy_threshold();
// Samples what others do (0.25 s), then probes the ceilings (~0.1 s).
SystemSnapshot take_snapshot();

struct NoiseVerdict {
  bool disturbed = false;
  std::vector<std::string> reasons;
  std::vector<std::pair<std::string, std::string>> context;  // "noise.*" JSON context entries
};
// serial_cpu_over_real: median CPU time / real time of the one-thread benchmarks (< 0 unknown);
// ceilings: the model's ceilings measured during the run, as fractions of the model.
NoiseVerdict judge_noise(const SystemSnapshot& before, const SystemSnapshot& after,
                         double serial_cpu_over_real,
                         const std::vector<std::pair<std::string, double>>& ceilings);
// What the start alone shows (others busy, the probe off the model), for an early warning.
std::vector<std::string> early_warnings(const SystemSnapshot& before);
// A loud block on stderr: a framed WARNING with one line per reason.
void print_warning(const std::string& title, const std::vector<std::string>& reasons);

// The snapshot taken before the run (the anomaly explanations read its probe).
const SystemSnapshot& snapshot_before();
void set_snapshot_before(const SystemSnapshot& s);

}  // namespace numgrad::bench
