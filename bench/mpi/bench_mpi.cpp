// numgrad_bench_mpi: the distributed gradient (numgrad/mpi.hpp) timed on the ranks of one
// MPI job, ranks x threads per rank, with each call's time split into computing (the chunk
// sums and the join) and communicating (the MPI_Allgatherv of the partials, waiting for the
// slowest rank included); strong scaling (the same rows over every rank count) and weak (the
// same rows per rank). Beside each, the cost of the deterministic join: the same sums reduced
// by one MPI_Allreduce of the summed vector, in MPI's order, whose bits depend on the rank
// count. scripts/bench-mpi.sh runs it for 1..4 ranks.
//
// A plain main, not Google Benchmark: its iteration counts adapt per process, and ranks that
// ran different counts would wait on each other's collectives forever. Here every rank runs
// the same fixed repetitions; a call's time is the slowest rank's. Writes Google Benchmark's
// JSON layout (benchmarks[], real_time, counters), which scripts/numgrad_results.py reads.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "numgrad/isa.hpp"
#include "numgrad/mpi.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/threads.hpp"

namespace {

using namespace numgrad;

struct Args {
  std::size_t n = std::size_t{1} << 18, d = 64;  // strong: all ranks; weak: n / 4 per rank
  int threads = 1, reps = 5, iters = 5;
  std::string kernel, out;
};

Args parse(int argc, char** argv) {
  Args a;
  a.kernel = "tbb.samples.simd." + std::string(name(best_isa())) + ".residual.f32";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    const auto whole = [&] {
      std::size_t used = 0;
      const unsigned long long v = std::stoull(value, &used);
      if (used != value.size() || v == 0)
        throw std::invalid_argument(arg + ": not a positive whole number");
      return static_cast<std::size_t>(v);
    };
    if (key == "--n")
      a.n = whole();
    else if (key == "--d")
      a.d = whole();
    else if (key == "--threads")
      a.threads = static_cast<int>(whole());
    else if (key == "--reps")
      a.reps = static_cast<int>(whole());
    else if (key == "--iters")
      a.iters = static_cast<int>(whole());
    else if (key == "--kernel")
      a.kernel = value;
    else if (key == "--out")
      a.out = value;
    else
      throw std::invalid_argument(
          "unknown option '" + arg +
          "' (--n=N --d=D --threads=T --reps=R --iters=I --kernel=ID --out=FILE)");
  }
  return a;
}

// One benchmark's repetitions: seconds per call (the slowest rank's), and the mean per call of
// the compute and communication parts (also the slowest rank's).
struct Record {
  std::string name;
  std::vector<double> seconds, compute, communicate;
  double rows = 0;
  double bytes = 0;  // partials each rank receives per call
};

double max_over(MPI_Comm comm, double v) {
  double m = 0;
  MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, comm);
  return m;
}

template <class F>
Record measure(MPI_Comm comm, const std::string& name, const Args& a, double rows, const F& call) {
  Record r{name, {}, {}, {}, rows, 0};
  mpi::Timing warm;
  call(warm);
  for (int rep = 0; rep < a.reps; ++rep) {
    mpi::Timing t;
    MPI_Barrier(comm);
    const double t0 = MPI_Wtime();
    for (int it = 0; it < a.iters; ++it) call(t);
    const double wall = MPI_Wtime() - t0;
    r.seconds.push_back(max_over(comm, wall) / a.iters);
    r.compute.push_back(max_over(comm, t.compute) / a.iters);
    r.communicate.push_back(max_over(comm, t.communicate) / a.iters);
  }
  return r;
}

// The gradient of `shard` both ways: the deterministic join, and the Allreduce baseline.
void run_shape(MPI_Comm comm, const Args& a, const char* scaling, std::size_t n,
               std::vector<Record>& out) {
  const int me = mpi::rank(comm), ranks = mpi::size(comm);
  const Kernel& k = find_kernel(a.kernel);
  using T = float;
  SyntheticSpec spec;
  spec.n = n;
  spec.d = a.d;
  spec.noise = 0.1;
  const mpi::Shard<T> shard = mpi::synthetic<T>(spec, mpi::batch_rows(n, a.d, me, ranks));
  std::vector<T> w(a.d, T(0.125)), h(a.d);
  std::vector<double> g(a.d);
  const Exec exec{a.threads};
  mpi::data_steps<T>(comm, shard, w, h, exec);
  const std::string shape = "/scaling:" + std::string(scaling) + "/n:" + std::to_string(n) +
                            "/d:" + std::to_string(a.d) + "/ranks:" + std::to_string(ranks) +
                            "/threads:" + std::to_string(a.threads);
  const ChunkGrid grid = chunk_grid(n, a.d);
  const std::size_t width = sums_per_chunk(gradient_sums(k.algorithm), a.d);
  out.push_back(
      measure(comm, "mpi_grad/" + k.id + shape, a, static_cast<double>(n),
              [&](mpi::Timing& t) { mpi::gradient<T>(comm, k, shard, w, h, g, exec, &t); }));
  out.back().bytes = static_cast<double>(grid.count * width * sizeof(double));

  // The join alone: every chunk's partials added in chunk order and finished, on one rank's
  // clock, no communication (the values do not change its cost).
  std::vector<double> every(grid.count * width, 1.0);
  out.push_back(
      measure(comm, "mpi_join/" + k.id + shape, a, static_cast<double>(n), [&](mpi::Timing& t) {
        const double t0 = MPI_Wtime();
        join_gradient<T>(k, gradient_sums(k.algorithm), n, w, h, every, g);
        t.compute += MPI_Wtime() - t0;
      }));

  // The baseline: this rank's chunks summed here, then one MPI_Allreduce of the 2d sums.
  const std::size_t c0 = grid.count * me / ranks, c1 = grid.count * (me + 1) / ranks;
  std::vector<double> partials((c1 - c0) * width), sum(width), total(width);
  const BatchView<T> rows{shard.rows.x.data(), shard.rows.y.data(), shard.rows.n, a.d,
                          shard.rows.ld};
  out.push_back(measure(
      comm, "mpi_grad_allreduce/" + k.id + shape, a, static_cast<double>(n), [&](mpi::Timing& t) {
        const double t0 = MPI_Wtime();
        chunk_sums<T>(k, gradient_sums(k.algorithm), rows, n, c0, c1, w, h, partials, exec);
        std::fill(sum.begin(), sum.end(), 0.0);
        for (std::size_t c = 0; c < c1 - c0; ++c)
          for (std::size_t j = 0; j < width; ++j) sum[j] += partials[c * width + j];
        const double t1 = MPI_Wtime();
        MPI_Allreduce(sum.data(), total.data(), static_cast<int>(width), MPI_DOUBLE, MPI_SUM, comm);
        t.compute += t1 - t0;
        t.communicate += MPI_Wtime() - t1;
      }));
  out.back().bytes = static_cast<double>(width * sizeof(double));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

void write_json(std::ostream& o, const Args& a, int ranks, const std::vector<Record>& records) {
  char buf[64];
  const auto num = [&](double v) {
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return std::string(buf);
  };
  o << "{\n  \"context\": {\"executable\": \"numgrad_bench_mpi\", \"ranks\": " << ranks
    << ", \"threads_per_rank\": " << a.threads << ", \"kernel\": \"" << a.kernel
    << "\", \"repetitions\": " << a.reps << ", \"iterations\": " << a.iters << "},\n";
  o << "  \"benchmarks\": [";
  bool first = true;
  for (const Record& r : records)
    for (std::size_t i = 0; i < r.seconds.size(); ++i) {
      o << (first ? "\n" : ",\n") << "    {\"name\": \"" << r.name << "\", \"run_name\": \""
        << r.name << "\", \"run_type\": \"iteration\", \"repetitions\": " << r.seconds.size()
        << ", \"repetition_index\": " << i << ", \"iterations\": " << a.iters
        << ", \"real_time\": " << num(r.seconds[i] * 1e9)
        << ", \"cpu_time\": " << num(r.seconds[i] * 1e9)
        << ", \"time_unit\": \"ns\", \"compute_s\": " << num(r.compute[i])
        << ", \"communicate_s\": " << num(r.communicate[i]) << ", \"ranks\": " << ranks
        << ", \"threads\": " << a.threads << ", \"rows/s\": " << num(r.rows / r.seconds[i])
        << ", \"bytes_exchanged\": " << num(r.bytes) << "}";
      first = false;
    }
  o << "\n  ]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  const MPI_Comm comm = MPI_COMM_WORLD;
  const int me = mpi::rank(comm), ranks = mpi::size(comm);
  try {
    Args a;
    mpi::agree(comm, [&] {
      a = parse(argc, argv);
      const Kernel& k = find_kernel(a.kernel);
      if (k.elem != DType::f32 || !k.is_supported())
        throw std::invalid_argument("--kernel=" + a.kernel + ": needs an f32 kernel this CPU runs");
    });
    std::vector<Record> records;
    run_shape(comm, a, "strong", a.n, records);
    run_shape(comm, a, "weak", a.n / 4 * static_cast<std::size_t>(ranks), records);
    if (me != 0) return 0;
    for (const Record& r : records)
      std::printf("%-90s %10.3f ms  compute %8.3f ms  communicate %8.3f ms\n", r.name.c_str(),
                  median(r.seconds) * 1e3, median(r.compute) * 1e3, median(r.communicate) * 1e3);
    if (!a.out.empty()) {
      std::ofstream f(a.out);
      write_json(f, a, ranks, records);
      if (!f) throw std::runtime_error("--out=" + a.out + ": cannot write");
    }
  } catch (const std::exception& e) {
    if (me == 0) std::fprintf(stderr, "numgrad_bench_mpi: %s\n", e.what());
    return 2;
  }
  return 0;
}
