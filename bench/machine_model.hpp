// The machine model numgrad_bench divides by: read bandwidth against working-set size for each
// thread count, the cache levels found at the knees of that curve, and the FMA peak per
// accumulator type and thread count; beside it, the cache sizes the OS claims and whether the
// measurement bears them out. Pure computation and a text format, no measuring
// (bench_machine.cpp measures), so the knee finding is unit-tested on synthetic curves.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace numgrad::bench {

// One point of a read-bandwidth sweep: every thread streams its own `bytes` (the per-thread
// working set) over and over; `bw` is the bytes/s of all threads together.
struct BandwidthPoint {
  double bytes = 0;
  double bw = 0;
};

// A plateau of the curve. Levels are ordered from the fastest; consecutive levels differ by at
// least kMinLevelStep in bandwidth. The last level of a sweep is memory ("dram").
struct CacheLevel {
  std::string name;        // "l1", "l2", ..., "dram"
  double bw = 0;           // bytes/s: the plateau's fastest sample (each is a best of several)
  double first_bytes = 0;  // per-thread working sets of the plateau's first and last samples
  double last_bytes = 0;
  double knee_bytes = 0;  // where the curve falls halfway (geometrically) to the next level's
                          // bandwidth: this level's measured size; 0 for the last level
};

// Neighbouring plateaus closer than this are one level (a slowly sloping plateau, noise).
inline constexpr double kMinLevelStep = 1.10;
// A plateau falls by at most this much log2 bandwidth per octave of working set (29%);
// steeper pieces of the fit are the transitions between levels.
inline constexpr double kMaxPlateauSlope = 0.5;

// Plateaus of a sweep (points sorted by bytes) and the knees between them. log2 bandwidth
// against log2 bytes is fitted with the piecewise-linear function that minimises squared error
// plus a penalty per piece (the penalty grows with the noise estimated from the data, so noise
// does not make levels); pieces flatter than kMaxPlateauSlope are plateaus, the others
// transitions; neighbouring plateaus less than kMinLevelStep apart are one level. Empty for
// an empty curve.
std::vector<CacheLevel> find_levels(std::span<const BandwidthPoint> curve);

// What a run on this machine must match to reuse a saved model.
struct MachineKey {
  std::string host, cpu, isa;  // isa: the ceiling kernels' ISA (honours NUMGRAD_ISA)
  int hardware_threads = 0;
  std::size_t memory_bytes = 0;
  bool operator==(const MachineKey&) const = default;
};

// A cache size some source claims: {"sysfs", "L3", bytes}.
struct ReportedCache {
  std::string source, level;
  double bytes = 0;
};

struct ThreadModel {
  std::vector<BandwidthPoint> curve;
  std::vector<CacheLevel> levels;   // find_levels(curve)
  double fma_f32 = 0, fma_f64 = 0;  // FLOP/s, all threads together
};

// The read ceiling of a working set: the bandwidth a streaming sum reaches on the same
// per-thread working set with the same thread count, and the level it lives in.
struct ReadCeiling {
  double bw = 0;  // 0 when the model has no curve for this thread count
  const CacheLevel* level = nullptr;
  bool at_knee = false;  // between two plateaus: the bandwidth is interpolated on the curve
};

struct MachineModel {
  MachineKey key;
  std::string created;  // UTC, ISO 8601
  double calibration_seconds = 0;
  double busy_cpus = 0;              // CPUs other processes kept busy just before it was measured
  double sweep_max_total_bytes = 0;  // the largest working set (all threads) the sweep read
  std::map<int, ThreadModel> threads;
  std::vector<ReportedCache> reported;

  // Plateau bandwidth inside a plateau, the curve interpolated (log-log) between plateaus.
  ReadCeiling read_ceiling(double bytes_per_thread, int threads) const;
  double fma_peak(bool f64, int threads) const;  // 0 when unmeasured
  // The knee of the last cache level at one thread (the LLC as measured), 0 when unknown.
  double last_cache_bytes() const;
};

// A reported size agrees with the measurement when a measured knee lies within a factor
// kClaimTolerance of it (a cache's usable size is often below its nominal size: inclusion,
// sharing with other cores or tenants); otherwise `evidence` says what was measured there.
inline constexpr double kClaimTolerance = 2.0;
struct ClaimCheck {
  ReportedCache claim;
  bool agrees = false;
  std::string evidence;
};
std::vector<ClaimCheck> check_claims(const MachineModel& model);

// "32 KiB", "1.1 MiB", "508 MiB": two significant digits in binary units.
std::string format_bytes(double bytes);

// A plain text file, one fact per line (`key value...`). Levels are derived on reading, never
// stored. from_text throws std::runtime_error naming the line that does not parse.
std::string to_text(const MachineModel& model);
MachineModel from_text(const std::string& text);

}  // namespace numgrad::bench
