// The machine model's computations: plateaus and knees of a read-bandwidth sweep, ceiling
// lookups, the check of the OS's cache claims against the measurement, and the model's text
// format. See machine_model.hpp for the contract and docs/benchmarks.md for the method.
#include "machine_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace numgrad::bench {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  if (v.size() % 2) return v[m];
  return 0.5 * (v[m] + *std::max_element(v.begin(), v.begin() + m));
}

// Least-squares line z = slope x + icept over samples [a, b), from prefix sums.
struct Sums {
  std::vector<double> n, x, xx, z, xz, zz;
  Sums(const std::vector<double>& xs, const std::vector<double>& zs) {
    const std::size_t m = xs.size();
    for (auto* v : {&n, &x, &xx, &z, &xz, &zz}) v->assign(m + 1, 0);
    for (std::size_t i = 0; i < m; ++i) {
      n[i + 1] = n[i] + 1, x[i + 1] = x[i] + xs[i], xx[i + 1] = xx[i] + xs[i] * xs[i];
      z[i + 1] = z[i] + zs[i], xz[i + 1] = xz[i] + xs[i] * zs[i], zz[i + 1] = zz[i] + zs[i] * zs[i];
    }
  }
  struct Fit {
    double slope = 0, icept = 0, sse = 0;
  };
  Fit fit(std::size_t a, std::size_t b) const {
    const double m = n[b] - n[a], sx = x[b] - x[a], sz = z[b] - z[a];
    const double vxx = (xx[b] - xx[a]) - sx * sx / m, vxz = (xz[b] - xz[a]) - sx * sz / m;
    const double vzz = (zz[b] - zz[a]) - sz * sz / m;
    Fit f;
    f.slope = vxx > 0 ? vxz / vxx : 0;
    f.icept = (sz - f.slope * sx) / m;
    f.sse = std::max(0.0, vzz - f.slope * vxz);
    return f;
  }
};

// Optimal partition of the curve into straight pieces (log2 bandwidth against log2 bytes):
// minimise the squared error of each piece's least-squares line plus `penalty` per piece, by
// dynamic programming over the last cut (O(n^2); a sweep has ~100 samples). Lines rather than
// constants, so that a gently sloping plateau is one piece and a slow transition another.
std::vector<std::pair<std::size_t, std::size_t>> segment(const Sums& sums, std::size_t n,
                                                         double penalty) {
  std::vector<double> best(n + 1, std::numeric_limits<double>::infinity());
  std::vector<std::size_t> cut(n + 1, 0);
  best[0] = 0;
  for (std::size_t b = 1; b <= n; ++b)
    for (std::size_t a = 0; a < b; ++a) {
      const double c = best[a] + sums.fit(a, b).sse + penalty;
      if (c < best[b]) best[b] = c, cut[b] = a;
    }
  std::vector<std::pair<std::size_t, std::size_t>> pieces;
  for (std::size_t b = n; b > 0; b = cut[b]) pieces.emplace_back(cut[b], b - 1);
  std::reverse(pieces.begin(), pieces.end());
  return pieces;
}

// The noise of one sample in log2 units, from the median absolute second difference (robust
// to the few large ones at knees, blind to straight slopes): a second difference of
// independent Gaussian errors has variance 6 sigma^2, and MAD = 0.6745 of its sigma.
double noise_sigma(const std::vector<double>& z) {
  if (z.size() < 3) return 0;
  std::vector<double> d;
  for (std::size_t i = 1; i + 1 < z.size(); ++i)
    d.push_back(std::abs(z[i + 1] - 2 * z[i] + z[i - 1]));
  return 1.4826 * median(d) / std::sqrt(6.0);
}

// Theil-Sen slope of samples [a, b]: the median of the pairwise slopes, so one transition
// sample that the fit put at a plateau's end does not make the plateau look steep.
double robust_slope(const std::vector<double>& x, const std::vector<double>& z, std::size_t a,
                    std::size_t b) {
  std::vector<double> slopes;
  for (std::size_t i = a; i <= b; ++i)
    for (std::size_t j = i + 1; j <= b; ++j) slopes.push_back((z[j] - z[i]) / (x[j] - x[i]));
  return median(slopes);
}

// A plateau: samples [first, last] and its line.
// The value a quarter of the samples reach or exceed: a plateau's ceiling. Each sample is
// already a best of several passes; the quartile, not the maximum, so that the one fast sample
// a transition leaves at a plateau's start (still partly served by the level before) does not
// set it.
double upper_quartile(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const double pos = 0.75 * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  return i + 1 < v.size() ? v[i] + (pos - static_cast<double>(i)) * (v[i + 1] - v[i]) : v[i];
}

struct Span {
  std::size_t first, last;
  Sums::Fit line;
};

// The median of up to kEdgeSamples samples at one end of a span: its level where it meets
// its neighbour (the whole span's median would turn a long gentle slope into a step).
constexpr std::size_t kEdgeSamples = 4;
double edge_level(const std::vector<double>& z, const Span& s, bool tail) {
  const std::size_t k = std::min(kEdgeSamples, s.last - s.first + 1);
  const auto from = z.begin() + static_cast<std::ptrdiff_t>(tail ? s.last + 1 - k : s.first);
  return median(std::vector<double>(from, from + static_cast<std::ptrdiff_t>(k)));
}

// Neighbouring plateaus whose ends are not at least kMinLevelStep apart where they meet are
// one level (a slope or noise cut them; a later plateau faster than its predecessor is a
// disturbed stretch, never a new level).
void merge_close(std::vector<Span>& spans, const Sums& sums, const std::vector<double>& z) {
  const double min_step = std::log2(kMinLevelStep);
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 0; i + 1 < spans.size(); ++i)
      if (edge_level(z, spans[i], true) - edge_level(z, spans[i + 1], false) < min_step) {
        spans[i].last = spans[i + 1].last;
        spans[i].line = sums.fit(spans[i].first, spans[i].last + 1);
        spans.erase(spans.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        merged = true;
        break;
      }
  }
}

// Where the curve crosses the geometric mean of the two plateaus' bandwidths where they meet,
// interpolated in log(bytes): the last sample from p.first to q.first still at or above the
// midpoint, and the next one.
double knee(std::span<const BandwidthPoint> c, const std::vector<double>& z, const Span& p,
            const Span& q) {
  const double mid = 0.5 * (edge_level(z, p, true) + edge_level(z, q, false));
  std::size_t i = p.first;
  for (std::size_t k = p.first; k <= q.first; ++k)
    if (z[k] >= mid) i = k;
  if (i >= q.first) return c[q.first].bytes;
  const double t = (z[i] - mid) / (z[i] - z[i + 1]);
  return c[i].bytes * std::pow(c[i + 1].bytes / c[i].bytes, t);
}

std::string level_name(std::size_t i, std::size_t count) {
  // (Built by append: GCC 12 warns wrongly about "l" + std::to_string, bug 105329.)
  return i + 1 == count && count > 1 ? std::string("dram")
                                     : std::string("l").append(std::to_string(i + 1));
}

}  // namespace

std::vector<CacheLevel> find_levels(std::span<const BandwidthPoint> curve) {
  const std::size_t n = curve.size();
  if (n == 0) return {};
  std::vector<double> x(n), z(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::log2(std::max(curve[i].bytes, 1.0));
    z[i] = std::log2(std::max(curve[i].bw, 1.0));
  }
  const Sums sums(x, z);
  // The penalty of one more piece: BIC's 3 sigma^2 ln n for a line and a cut, and at least
  // what a 5% step over two samples costs, so a clean curve is not cut at every wiggle.
  const double sigma = noise_sigma(z);
  const double penalty = std::max(3 * sigma * sigma * std::log(static_cast<double>(n)), 0.005);
  // Flat pieces are plateaus; steep ones (and single samples) are the transitions between.
  std::vector<Span> spans;
  for (const auto& [a, b] : segment(sums, n, penalty)) {
    if (b > a && std::abs(robust_slope(x, z, a, b)) <= kMaxPlateauSlope)
      spans.push_back({a, b, sums.fit(a, b + 1)});
  }
  if (spans.empty()) spans.push_back({0, n - 1, sums.fit(0, n)});
  merge_close(spans, sums, z);

  std::vector<CacheLevel> levels;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    CacheLevel l;
    l.name = level_name(i, spans.size());
    l.bw = std::exp2(upper_quartile(
        std::vector<double>(z.begin() + static_cast<std::ptrdiff_t>(spans[i].first),
                            z.begin() + static_cast<std::ptrdiff_t>(spans[i].last) + 1)));
    l.first_bytes = curve[spans[i].first].bytes;
    l.last_bytes = curve[spans[i].last].bytes;
    if (i + 1 < spans.size()) l.knee_bytes = knee(curve, z, spans[i], spans[i + 1]);
    levels.push_back(l);
  }
  return levels;
}

ReadCeiling MachineModel::read_ceiling(double bytes, int t) const {
  ReadCeiling r;
  const auto it = threads.find(t);
  if (it == threads.end() || it->second.curve.empty()) return r;
  const ThreadModel& m = it->second;
  for (const CacheLevel& l : m.levels) {
    r.level = &l;
    if (l.knee_bytes == 0 || bytes <= l.knee_bytes) break;
  }
  for (const CacheLevel& l : m.levels)
    if (bytes >= l.first_bytes && bytes <= l.last_bytes) {
      r.bw = l.bw;
      return r;
    }
  r.at_knee = bytes > m.curve.front().bytes && bytes < m.curve.back().bytes;
  const auto& c = m.curve;
  if (bytes <= c.front().bytes) return r.bw = c.front().bw, r;
  if (bytes >= c.back().bytes) return r.bw = c.back().bw, r;
  std::size_t i = 0;
  while (c[i + 1].bytes < bytes) ++i;
  const double t01 = std::log(bytes / c[i].bytes) / std::log(c[i + 1].bytes / c[i].bytes);
  r.bw = c[i].bw * std::pow(c[i + 1].bw / c[i].bw, t01);
  return r;
}

double MachineModel::fma_peak(bool f64, int t) const {
  const auto it = threads.find(t);
  if (it == threads.end()) return 0;
  return f64 ? it->second.fma_f64 : it->second.fma_f32;
}

double MachineModel::last_cache_bytes() const {
  const auto it = threads.find(1);
  if (it == threads.end() || it->second.levels.size() < 2) return 0;
  const auto& lv = it->second.levels;
  return lv[lv.size() - 2].knee_bytes;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes >= 10 ? "%.0f %s" : "%.2g %s", bytes, units[u]);
  return buf;
}

std::vector<ClaimCheck> check_claims(const MachineModel& model) {
  std::vector<ClaimCheck> out;
  const auto it = model.threads.find(1);
  if (it == model.threads.end()) return out;
  const ThreadModel& m = it->second;
  for (const ReportedCache& c : model.reported) {
    ClaimCheck check{c, false, ""};
    for (const CacheLevel& l : m.levels)
      if (l.knee_bytes > 0 && l.knee_bytes <= c.bytes * kClaimTolerance &&
          l.knee_bytes >= c.bytes / kClaimTolerance) {
        check.agrees = true;
        char buf[128];
        std::snprintf(buf, sizeof buf, "measured %s knee at %s (%.2fx the claim)", l.name.c_str(),
                      format_bytes(l.knee_bytes).c_str(), l.knee_bytes / c.bytes);
        check.evidence = buf;
      }
    if (!check.agrees) {
      char buf[256];
      if (model.key.memory_bytes > 0 && c.bytes > static_cast<double>(model.key.memory_bytes)) {
        std::snprintf(buf, sizeof buf, "larger than the machine's memory (%s)",
                      format_bytes(static_cast<double>(model.key.memory_bytes)).c_str());
      } else if (c.bytes > model.sweep_max_total_bytes) {
        std::snprintf(buf, sizeof buf, "beyond the sweep (up to %s); no knee near it",
                      format_bytes(model.sweep_max_total_bytes).c_str());
      } else {
        const ReadCeiling r = model.read_ceiling(c.bytes, 1);
        const bool memory = r.level && r.level->name == "dram";
        std::snprintf(
            buf, sizeof buf,
            "no measured knee within %.0fx; a %s working set reads at %.1f GB/s, %s%s",
            kClaimTolerance, format_bytes(c.bytes).c_str(), r.bw / 1e9,
            memory ? "memory speed (the measured " : "on the measured ",
            r.level ? (r.level->name + (memory ? " plateau)" : " plateau")).c_str() : "?");
      }
      check.evidence = buf;
    }
    out.push_back(check);
  }
  return out;
}

// --- Text format -----------------------------------------------------------------------------

namespace {
constexpr const char* kMagic = "numgrad-machine-model 1";
}

std::string to_text(const MachineModel& m) {
  std::ostringstream o;
  o.precision(17);
  o << kMagic << "\n";
  o << "host " << m.key.host << "\ncpu " << m.key.cpu << "\nisa " << m.key.isa
    << "\nhardware_threads " << m.key.hardware_threads << "\nmemory_bytes " << m.key.memory_bytes
    << "\ncreated " << m.created << "\ncalibration_seconds " << m.calibration_seconds
    << "\nbusy_cpus " << m.busy_cpus << "\nsweep_max_total_bytes " << m.sweep_max_total_bytes
    << "\n";
  for (const ReportedCache& r : m.reported)
    o << "reported " << r.source << " " << r.level << " " << r.bytes << "\n";
  for (const auto& [t, tm] : m.threads) {
    o << "fma " << t << " " << tm.fma_f32 << " " << tm.fma_f64 << "\n";
    for (const BandwidthPoint& p : tm.curve)
      o << "read " << t << " " << p.bytes << " " << p.bw << "\n";
  }
  return o.str();
}

MachineModel from_text(const std::string& text) {
  MachineModel m;
  std::istringstream in(text);
  std::string line;
  int no = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(no) + ": " + why);
  };
  if (!std::getline(in, line) || line != kMagic) fail("not a numgrad machine model");
  no = 1;
  while (std::getline(in, line)) {
    ++no;
    if (line.empty()) continue;
    std::istringstream f(line);
    std::string key;
    f >> key;
    std::string rest;
    std::getline(f >> std::ws, rest);
    std::istringstream v(rest);
    auto need = [&](bool ok) {
      if (!ok || (v >> std::ws, !v.eof())) fail("malformed '" + key + "' line");
    };
    if (key == "host") {
      m.key.host = rest;
    } else if (key == "cpu") {
      m.key.cpu = rest;
    } else if (key == "isa") {
      m.key.isa = rest;
    } else if (key == "created") {
      m.created = rest;
    } else if (key == "hardware_threads") {
      need(static_cast<bool>(v >> m.key.hardware_threads));
    } else if (key == "memory_bytes") {
      need(static_cast<bool>(v >> m.key.memory_bytes));
    } else if (key == "busy_cpus") {
      need(static_cast<bool>(v >> m.busy_cpus));
    } else if (key == "calibration_seconds") {
      need(static_cast<bool>(v >> m.calibration_seconds));
    } else if (key == "sweep_max_total_bytes") {
      need(static_cast<bool>(v >> m.sweep_max_total_bytes));
    } else if (key == "reported") {
      ReportedCache r;
      need(static_cast<bool>(v >> r.source >> r.level >> r.bytes) && r.bytes > 0);
      m.reported.push_back(r);
    } else if (key == "fma") {
      int t = 0;
      double f32 = 0, f64 = 0;
      need(static_cast<bool>(v >> t >> f32 >> f64) && t > 0 && f32 > 0 && f64 > 0);
      m.threads[t].fma_f32 = f32, m.threads[t].fma_f64 = f64;
    } else if (key == "read") {
      int t = 0;
      BandwidthPoint p;
      need(static_cast<bool>(v >> t >> p.bytes >> p.bw) && t > 0 && p.bytes > 0 && p.bw > 0);
      auto& c = m.threads[t].curve;
      if (!c.empty() && p.bytes <= c.back().bytes) fail("read sizes must increase");
      c.push_back(p);
    } else {
      fail("unknown key '" + key + "'");
    }
  }
  for (auto& [t, tm] : m.threads) {
    if (tm.curve.empty() || tm.fma_f32 <= 0)
      fail("thread count " + std::to_string(t) + " incomplete");
    tm.levels = find_levels(tm.curve);
  }
  return m;
}

}  // namespace numgrad::bench
