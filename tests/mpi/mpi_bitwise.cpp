// The MPI layer's promise, run by ctest under `mpirun -np 1..4` (label mpi): on every rank,
// the distributed loss, data-aware steps, gradient and analytic gradient of every supported
// kernel, and trained weights, are bitwise the single-process results of the kernel's
// tbb.samples form on the same rows (so identical for every rank count), with shards that
// are uneven and, on the smaller shapes, empty; scatter gives the rows synthetic draws; a
// failure on one rank reaches every rank as one message. No tolerance: bits or failure.
// A plain main rather than GoogleTest: every rank must run the same collectives in the same
// order, and one verdict, agreed over the ranks, is the exit status of every rank.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "numgrad/isa.hpp"
#include "numgrad/mpi.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/step.hpp"

namespace {

using namespace numgrad;

int g_failures = 0, g_checks = 0;

template <class... A>
void failure(const char* format, A... args) {
  if (++g_failures <= 20) {
    std::fprintf(stderr, "rank %d: ", mpi::rank(MPI_COMM_WORLD));
    std::fprintf(stderr, format, args...);
    std::fputc('\n', stderr);
  }
}

template <class V>
void expect_same(const std::vector<V>& got, const std::vector<V>& want, const std::string& what) {
  ++g_checks;
  if (got.size() != want.size() ||
      std::memcmp(got.data(), want.data(), got.size() * sizeof(V)) != 0) {
    for (std::size_t j = 0; j < got.size() && j < want.size(); ++j)
      if (std::memcmp(&got[j], &want[j], sizeof(V)) != 0) {
        failure("%s: [%zu] %.17g, single process %.17g", what.c_str(), j,
                static_cast<double>(got[j]), static_cast<double>(want[j]));
        return;
      }
    failure("%s: lengths %zu, %zu", what.c_str(), got.size(), want.size());
  }
}

// Single-process bits: tbb.samples over the kernel's inner family (the kernel itself when it
// is serial), docs/design.md §8.
const Kernel& reference_of(const Kernel& k) {
  if (k.axis == Axis::serial || k.axis == Axis::samples) return k;
  const std::string prefix = k.axis == Axis::weights ? "tbb.weights." : "tbb.both.";
  return find_kernel("tbb.samples." + k.id.substr(prefix.size()));
}

struct Shape {
  std::size_t n, d;
  bool blackbox;   // 2d loss passes per chunk: only on the smaller shapes
  bool best_only;  // only the best ISA's SIMD kernels (the pieced shape: 6.5 M elements a type)
};
// 16 chunks of 416 rows at d = 40, the last short (uneven over 3 ranks); 7 chunks at d = 150
// (past tbb.both's 128-column tiles); one chunk (ranks 1-3 hold no rows); 2 chunks at d = 30;
// 100000 x 65: the chunk count is capped, so 250 chunks of 400 rows, each computed in pieces of
// 256 + 144 rows (tiled.hpp row_chunks), with a column tail, split over ranks mid-grid.
const Shape kShapes[] = {{6390, 40, false, false},
                         {700, 150, false, false},
                         {60, 24, true, false},
                         {900, 30, true, false},
                         {100000, 65, false, true}};

template <class T>
void check_kernels(MPI_Comm comm, const Shape& s) {
  const int me = mpi::rank(comm), ranks = mpi::size(comm);
  SyntheticSpec spec;
  spec.n = s.n;
  spec.d = s.d;
  spec.noise = 0.5;
  spec.seed = 17 + s.n;
  const Dataset<T> all = make_synthetic<T>(spec);
  const mpi::RowRange mine = mpi::batch_rows(s.n, s.d, me, ranks);
  const mpi::Shard<T> shard = mpi::synthetic<T>(spec, mine);
  const mpi::Shard<T> sent = mpi::scatter<T>(comm, me == 0 ? &all : nullptr, mine);
  const std::string where = "n=" + std::to_string(s.n) + " d=" + std::to_string(s.d);
  expect_same(std::vector<T>(sent.rows.x.data(), sent.rows.x.data() + mine.size() * s.d),
              std::vector<T>(shard.rows.x.data(), shard.rows.x.data() + mine.size() * s.d),
              where + " scatter against synthetic rows");

  std::vector<T> w(s.d), h(s.d), h_all(s.d);
  for (std::size_t j = 0; j < s.d; ++j) w[j] = static_cast<T>(0.25 * std::sin(1.0 + j));
  mpi::data_steps<T>(comm, shard, w, h);
  make_steps<T>(StepPolicy{}, all.all(), w, h_all);
  expect_same(h, h_all, where + " data steps");

  std::vector<double> g(s.d), want(s.d);
  const std::string best = "simd." + std::string(name(best_isa())) + ".";
  std::size_t checked = 0;
  for (const Kernel& k : registry()) {
    if (k.elem != dtype_of<T> || !k.is_supported()) continue;
    if (s.best_only && k.id.find(best) == std::string::npos) continue;
    if (k.algorithm == Algorithm::blackbox && !s.blackbox) continue;
    const Kernel& ref = reference_of(k);
    const std::string id = k.id + " " + where;
    const double l = mpi::loss<T>(comm, k, shard, w);
    const double l_all = loss<T>(ref, all.all(), w);
    expect_same(std::vector<double>{l}, std::vector<double>{l_all}, id + " loss");
    mpi::gradient<T>(comm, k, shard, w, h, g);
    gradient<T>(ref, all.all(), w, h, want);
    expect_same(g, want, id + " gradient");
    mpi::analytic_gradient<T>(comm, k, shard, w, g);
    analytic_gradient<T>(ref, all.all(), w, want);
    expect_same(g, want, id + " analytic gradient");
    ++checked;
  }
  ++g_checks;
  if (checked == 0) failure("%s: no kernel to check", where.c_str());
}

// Trained weights and every epoch's loss against train() in one process. n = 2600, d = 64,
// b = 1024: 4 chunks (strata) per full batch, a short last batch of 3; with 3 ranks the strata
// split 1/1/2, with 4 one each; n = 3000, d = 16, b = 2048: 2 strata, so ranks 2 and 3 hold
// only rows for the loss, or none.
template <class T>
void check_train(MPI_Comm comm, const std::string& id, std::size_t n, std::size_t d, std::size_t b,
                 StepPolicy step, bool analytic) {
  const int me = mpi::rank(comm), ranks = mpi::size(comm);
  SyntheticSpec spec;
  spec.n = n;
  spec.d = d;
  spec.noise = 0.1;
  spec.seed = 5;
  const Dataset<T> all = make_synthetic<T>(spec);
  TrainOptions o;
  o.batch = b;
  o.epochs = 3;
  o.lr = 0.05;
  o.momentum = 0.5;
  o.decay = 0.1;
  o.seed = 9;
  o.step = step;
  o.use_analytic = analytic;
  const Kernel& k = find_kernel(id);
  const TrainResult want = train<T>(reference_of(k), all, o);
  const mpi::Shard<T> shard = mpi::synthetic<T>(spec, mpi::train_rows(n, d, b, me, ranks));
  const TrainResult got = mpi::train<T>(comm, k, shard, o);
  const std::string what = "train " + id + " n=" + std::to_string(n) + " b=" + std::to_string(b);
  expect_same(got.weights, want.weights, what + " weights");
  std::vector<double> a, e;
  for (const EpochReport& r : got.history) a.push_back(r.loss);
  for (const EpochReport& r : want.history) e.push_back(r.loss);
  a.push_back(got.initial_loss);
  e.push_back(want.initial_loss);
  expect_same(a, e, what + " losses");
}

// A failure on the last rank only: every rank sees it, as one message naming that rank.
void check_agree(MPI_Comm comm) {
  const int me = mpi::rank(comm), ranks = mpi::size(comm);
  std::string seen;
  try {
    mpi::agree(comm, [&] {
      if (me == ranks - 1) throw std::invalid_argument("bad value on this rank");
    });
  } catch (const mpi::RankError& e) {
    seen = e.what();
  }
  const std::string want = ranks == 1
                               ? "bad value on this rank"
                               : "rank " + std::to_string(ranks - 1) + ": bad value on this rank";
  ++g_checks;
  if (seen != want) failure("agree: got '%s', expected '%s'", seen.c_str(), want.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  const MPI_Comm comm = MPI_COMM_WORLD;
  try {
    check_agree(comm);
    for (const Shape& s : kShapes) {
      check_kernels<float>(comm, s);
      check_kernels<double>(comm, s);
    }
    const std::string best = std::string(name(best_isa()));
    const StepPolicy data{}, fixed{StepRule::fixed, 1.0 / 64};
    check_train<float>(comm, "tbb.samples.simd." + best + ".residual.f32", 2600, 64, 1024, data,
                       false);
    check_train<float>(comm, "scalar.residual.f32acc64", 2600, 64, 1024, data, false);
    check_train<double>(comm, "tbb.both.simd." + best + ".residual.f64", 3000, 16, 2048, fixed,
                        false);
    check_train<double>(comm, "tbb.weights.scalar.analytic.f64", 3000, 16, 2048, data, true);
    check_train<float>(comm, "scalar.blackbox.f32", 500, 8, 64, data, false);
  } catch (const std::exception& e) {
    failure("%s", e.what());
  }
  int failures = g_failures, total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, comm);
  if (mpi::rank(comm) == 0)
    std::printf("%s: %d checks per rank on %d ranks, %d failed\n", total == 0 ? "ok" : "FAILED",
                g_checks, mpi::size(comm), total);
  return total == 0 ? 0 : 1;
}
