// Obtaining the machine model: the cache sizes the OS claims (sysfs, sysconf), the model file
// of this machine (loaded when its key matches, measured and saved atomically otherwise), the
// read-bandwidth sweep and FMA peaks that fill it, and a brief probe of two ceilings that shows
// drift and noise before and after a run. docs/benchmarks.md describes the method.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "bench_common.hpp"
#include "bench_noise.hpp"
#include "numgrad/files.hpp"

namespace numgrad::bench {
namespace {

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// "32K", "1024K", "32M" -> bytes; 0 when unreadable.
double parse_size(const std::string& s) {
  if (s.empty()) return 0;
  const double v = std::strtod(s.c_str(), nullptr);
  switch (s.back()) {
    case 'K':
      return v * 1024;
    case 'M':
      return v * 1048576;
    case 'G':
      return v * 1073741824;
    default:
      return v;
  }
}

// Every cache size the OS states, by source: sysfs (cpu0's cache/index*) and sysconf. Both are
// listed even when they disagree (on KVM guests sysconf's L3 has read 320 and 508 MiB for a
// 32 MiB cache); the report sets each beside the measurement.
std::vector<ReportedCache> reported_caches() {
  std::vector<ReportedCache> out;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i);
    const std::string type = read_line(dir + "/type");
    if (type.empty()) break;
    if (type == "Instruction") continue;
    const double size = parse_size(read_line(dir + "/size"));
    const std::string level = read_line(dir + "/level");
    if (size > 0) out.push_back({"sysfs", "L" + level + (level == "1" ? "d" : ""), size});
  }
  const std::pair<int, const char*> sc[] = {{_SC_LEVEL1_DCACHE_SIZE, "L1d"},
                                            {_SC_LEVEL2_CACHE_SIZE, "L2"},
                                            {_SC_LEVEL3_CACHE_SIZE, "L3"},
                                            {_SC_LEVEL4_CACHE_SIZE, "L4"}};
  for (auto [name, level] : sc)
    if (const long v = sysconf(name); v > 0)
      out.push_back({"sysconf", level, static_cast<double>(v)});
  return out;
}

MachineKey current_key() {
  MachineKey k;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  k.host = host;
#if defined(__x86_64__)
  k.cpu = cpu_model() + " (family " + cpuinfo_field("cpu family") + " model " +
          cpuinfo_field("model") + " stepping " + cpuinfo_field("stepping") + ")";
#else
  k.cpu = cpu_model();  // already the core's identification
#endif
  k.isa = ceiling_isa();
  k.hardware_threads = hardware_threads();
  k.memory_bytes = physical_memory_bytes();
  return k;
}

std::string key_text(const MachineKey& k) {
  return k.host + "|" + k.cpu + "|" + k.isa + "|" + std::to_string(k.hardware_threads) + "|" +
         std::to_string(k.memory_bytes);
}

std::string model_dir() {
  if (const char* d = std::getenv("NUMGRAD_MODEL_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/numgrad";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/numgrad";
  return "/tmp/numgrad-" + std::to_string(getuid());
}

void make_dirs(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

struct ModelState {
  MachineModel model;
  std::string status = "none";
};
ModelState& state() {
  static ModelState s;
  return s;
}

// The largest working set the sweep reads (all threads together): 4x the largest cache any
// source claims (so a claim can be confirmed or refuted), at least 4x 32 MiB, at most a
// quarter of memory. Claims larger than that quarter are refuted without reading.
double sweep_total_bytes(const std::vector<ReportedCache>& claims) {
  const double budget = static_cast<double>(physical_memory_bytes()) / 4;
  double largest = 32.0 * 1048576;
  for (const ReportedCache& c : claims)
    if (c.bytes * 4 <= budget) largest = std::max(largest, c.bytes);
  return std::min(std::max(4 * largest, 256.0 * 1048576), budget);
}

// Per-thread working sets from 16 KiB up to total/threads in quarter octaves, rounded to whole
// 512-byte blocks (a sum step of every ISA, so no scalar tail) and 4 KiB pages from 64 KiB.
std::vector<std::size_t> sweep_sizes(double total, int threads) {
  std::vector<std::size_t> out;
  for (int k = 0;; ++k) {
    const double s = 16384.0 * std::exp2(k / 4.0);
    if (s * threads > total) break;
    const std::size_t unit = s >= 65536 ? 4096 : 512;
    const std::size_t r = static_cast<std::size_t>(s) / unit * unit;
    if (out.empty() || r > out.back()) out.push_back(r);
  }
  return out;
}

ThreadModel measure_threads(int t, const AlignedBuffer<float>& buf, double total) {
  ThreadModel m;
  for (std::size_t s : sweep_sizes(total, t)) {
    // Fewer tries where one pass streams hundreds of MiB: those are memory-bound and steady.
    const int tries = static_cast<double>(s) * t <= 64.0 * 1048576 ? 7 : 3;
    m.curve.push_back({static_cast<double>(s), measure_read(buf.data(), s, t, tries)});
  }
  m.levels = find_levels(m.curve);
  m.fma_f32 = measure_fma(false, t, 7);
  m.fma_f64 = measure_fma(true, t, 7);
  return m;
}

std::string describe_levels(const ThreadModel& m) {
  std::string s;
  for (const CacheLevel& l : m.levels) {
    char buf[96];
    if (l.knee_bytes > 0)
      std::snprintf(buf, sizeof buf, "%s to %s %.0f GB/s", l.name.c_str(),
                    format_bytes(l.knee_bytes).c_str(), l.bw / 1e9);
    else
      std::snprintf(buf, sizeof buf, "%s %.0f GB/s", l.name.c_str(), l.bw / 1e9);
    s += (s.empty() ? "" : ", ") + std::string(buf);
  }
  return s;
}

void save(const MachineModel& m, const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash));
  // Whole or not at all: a concurrent run reads the old model or the new one, never half.
  if (write_atomically(path, to_text(m))) return;
  std::fprintf(stderr,
               "numgrad_bench: warning: could not save the machine model to %s (%s); the next "
               "run measures it again\n",
               path.c_str(), std::strerror(errno));
}

}  // namespace

std::string cpuinfo_field(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

std::string cpu_model() {
#if defined(__aarch64__)
  return "implementer " + cpuinfo_field("CPU implementer") + " part " + cpuinfo_field("CPU part") +
         " variant " + cpuinfo_field("CPU variant") + " revision " + cpuinfo_field("CPU revision");
#else
  return cpuinfo_field("model name");
#endif
}

std::string cpu_isas() {
#if defined(__aarch64__)
  // Appended, not " " + s + " ": GCC 12 warns of a false -Wrestrict overlap on that.
  std::string features = " ";
  features += cpuinfo_field("Features");
  features += ' ';
  const char* const wanted[] = {"asimd", "fphp", "asimdhp", "asimddp", "asimdfhm",
                                "sve",   "sve2", "bf16",    "i8mm",    "sme"};
#else
  std::string features = " ";
  features += cpuinfo_field("flags");
  features += ' ';
  const char* const wanted[] = {"sse2",        "avx",         "avx2",     "fma",
                                "avx512f",     "avx512dq",    "avx512bw", "avx512vl",
                                "avx512_bf16", "avx512_fp16", "amx_tile"};
#endif
  std::string isas;
  for (const char* f : wanted)
    if (features.find(std::string(" ") + f + " ") != std::string::npos)
      isas.append(isas.empty() ? "" : " ").append(f);
  return isas;
}

std::string machine_model_path(const ModelOptions& opt) {
  if (!opt.path.empty()) return opt.path;
  // FNV-1a of the key: one file per machine (and ISA cap) in a shared cache directory.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key_text(current_key())) h = (h ^ c) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "machine-%016llx.txt", static_cast<unsigned long long>(h));
  return model_dir() + "/" + buf;
}

bool load_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt) {
  ModelState& st = state();
  st.model = MachineModel{};
  st.model.key = current_key();
  st.model.reported = reported_caches();
  st.status = "none";
  if (opt.recalibrate) return false;
  const std::string path = machine_model_path(opt);
  std::ifstream f(path);
  if (!f) return false;
  std::stringstream text;
  text << f.rdbuf();
  try {
    MachineModel m = from_text(text.str());
    if (!(m.key == st.model.key)) {
      std::fprintf(stderr,
                   "numgrad_bench: %s was measured on another machine (%s); measuring this one\n",
                   path.c_str(), key_text(m.key).c_str());
      return false;
    }
    m.reported = st.model.reported;  // what the OS says now
    st.model = std::move(m);
    st.status = "reused";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numgrad_bench: ignoring %s (%s); measuring the machine again\n",
                 path.c_str(), e.what());
    return false;
  }
  for (int t : thread_counts)
    if (!st.model.threads.count(t)) return false;
  return true;
}

void complete_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt) {
  ModelState& st = state();
  MachineModel& m = st.model;
  std::vector<int> missing;
  for (int t : thread_counts)
    if (!m.threads.count(t)) missing.push_back(t);
  const std::string path = machine_model_path(opt);
  if (missing.empty()) {
    std::fprintf(stderr, "numgrad_bench: machine model reused from %s (measured %s)\n",
                 path.c_str(), m.created.c_str());
    return;
  }
  const bool extending = st.status == "reused";
  std::fprintf(stderr,
               "numgrad_bench: measuring the machine model (read bandwidth 16 KiB..%s, FMA peak) "
               "for %zu thread count(s); saved for later runs, --recalibrate measures again\n",
               format_bytes(sweep_total_bytes(m.reported)).c_str(), missing.size());
  m.busy_cpus = others_busy_cpus();
  if (m.busy_cpus >= busy_threshold())
    std::fprintf(stderr,
                 "numgrad_bench: warning: other processes keep %.2f CPUs busy while the model is "
                 "measured; a later run on a quiet machine measures it again\n",
                 m.busy_cpus);
  const auto t0 = std::chrono::steady_clock::now();
  const double total = sweep_total_bytes(m.reported);
  {
    AlignedBuffer<float> buf(static_cast<std::size_t>(total) / sizeof(float));
    std::fill(buf.data(), buf.data() + buf.size(), 1.0f);
    for (int t : missing) m.threads[t] = measure_threads(t, buf, total);
  }
  m.sweep_max_total_bytes = total;
  m.created = utc_now();
  m.calibration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.status = extending ? "extended" : "fresh";
  save(m, path);
  std::fprintf(stderr, "numgrad_bench: machine model %s in %.1f s -> %s\n", st.status.c_str(),
               m.calibration_seconds, path.c_str());
  for (int t : missing)
    std::fprintf(stderr, "  %d thread(s): %s\n", t, describe_levels(m.threads[t]).c_str());
  for (const ClaimCheck& c : check_claims(m))
    if (!c.agrees)
      std::fprintf(stderr, "  %s claims %s = %s: contradicted (%s); the measurement is used\n",
                   c.claim.source.c_str(), c.claim.level.c_str(),
                   format_bytes(c.claim.bytes).c_str(), c.evidence.c_str());
}

std::string machine_model_stale(const Probe& probe, double busy_now) {
  const ModelState& st = state();
  if (st.status != "reused") return "";
  char why[256] = "";
  if (st.model.busy_cpus >= busy_threshold() && busy_now < busy_threshold())
    std::snprintf(why, sizeof why,
                  "it was measured while other processes kept %.2f CPUs busy, and the machine is "
                  "quiet now",
                  st.model.busy_cpus);
  else if (probe.worst() >= kProbeDeviation)
    std::snprintf(why, sizeof why, "the machine is %.0f%% faster now than the model says (%s)",
                  100 * probe.worst(), probe.describe().c_str());
  return why;
}

void remeasure_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt) {
  state().model.threads.clear();
  state().status = "none";
  complete_machine_model(thread_counts, opt);
}

const MachineModel& machine_model() {
  return state().model;
}

std::string machine_model_status() {
  return state().status;
}

std::size_t cold_buffer_bytes() {
  const MachineModel& m = machine_model();
  double llc = m.last_cache_bytes();
  if (llc <= 0)
    for (const ReportedCache& c : m.reported) llc = std::max(llc, c.bytes);
  const double quarter = static_cast<double>(physical_memory_bytes()) / 4;
  return static_cast<std::size_t>(std::min(std::max(4 * llc, 64.0 * 1048576), quarter));
}

double Probe::worst() const {
  const double r = read_model > 0 ? read_bw / read_model - 1 : 0;
  const double f = fma_model > 0 ? fma / fma_model - 1 : 0;
  return std::abs(r) >= std::abs(f) ? r : f;
}

std::string Probe::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "read %s/thread %.1f GB/s (model %.1f, %+.0f%%), f32 FMA %.1f GFLOP/s (model "
                "%.1f, %+.0f%%), 1 thread",
                format_bytes(read_bytes).c_str(), read_bw / 1e9, read_model / 1e9,
                read_model > 0 ? 100 * (read_bw / read_model - 1) : 0.0, fma / 1e9, fma_model / 1e9,
                fma_model > 0 ? 100 * (fma / fma_model - 1) : 0.0);
  return buf;
}

Probe probe_ceilings() {
  Probe p;
  const MachineModel& m = machine_model();
  const auto it = m.threads.find(1);
  if (it == m.threads.end() || it->second.levels.empty()) return p;
  const auto& lv = it->second.levels;
  const CacheLevel& l = lv.size() >= 3 ? lv[1] : lv[0];
  const std::size_t bytes = std::max<std::size_t>(
      4096, static_cast<std::size_t>(std::sqrt(l.first_bytes * l.last_bytes)) / 4096 * 4096);
  AlignedBuffer<float> buf(bytes / sizeof(float));
  std::fill(buf.data(), buf.data() + buf.size(), 1.0f);
  p.read_bytes = static_cast<double>(bytes);
  p.read_bw = measure_read(buf.data(), bytes, 1, 5);
  p.read_model = m.read_ceiling(p.read_bytes, 1).bw;
  p.fma = measure_fma(false, 1, 5);
  p.fma_model = m.fma_peak(false, 1);
  return p;
}

}  // namespace numgrad::bench
