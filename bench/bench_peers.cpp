// The peers: what a user would write instead of numgrad, measured in the same run.
// Eigen's (X*w - y).squaredNorm()/b, OpenBLAS copy+gemv+dot for the loss, OpenBLAS two-gemv
// analytic gradient, and a blackbox central difference that calls the Eigen loss 2d times.
// Eigen is compiled with -march=native (-mcpu=native on aarch64; NUMGRAD_NATIVE_PEERS,
// bench/CMakeLists.txt), its best case; OpenBLAS picks its kernels for the CPU at run time
// (DYNAMIC_ARCH).
// Eigen's AVX-512 gemv trips GCC 12's -Wmaybe-uninitialized inside the intrinsics headers
// (a false positive, GCC bug 105593); it is silenced for this third-party code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <cstring>
#include <vector>

#include "bench_common.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/step.hpp"

// Declared here rather than through <cblas.h>, which Debian's alternatives may point at the
// netlib header (no openblas_* functions); the library linked is OpenBLAS (BLA_VENDOR).
extern "C" {
void cblas_scopy(int n, const float* x, int incx, float* y, int incy);
void cblas_dcopy(int n, const double* x, int incx, double* y, int incy);
void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda,
                 const float* x, int incx, float beta, float* y, int incy);
void cblas_dgemv(int order, int trans, int m, int n, double alpha, const double* a, int lda,
                 const double* x, int incx, double beta, double* y, int incy);
float cblas_sdot(int n, const float* x, int incx, const float* y, int incy);
double cblas_ddot(int n, const double* x, int incx, const double* y, int incy);
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace numgrad::bench {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

template <class T>
double eigen_loss(const BatchView<T>& B, const T* w) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  const Eigen::Index b = static_cast<Eigen::Index>(B.rows), d = static_cast<Eigen::Index>(B.d);
  Eigen::Map<const Mat, 0, Eigen::OuterStride<>> X(
      B.x, b, d, Eigen::OuterStride<>(static_cast<Eigen::Index>(B.ld)));
  Eigen::Map<const Vec> wv(w, d), yv(B.y, b);
  return static_cast<double>((X * wv - yv).squaredNorm()) / static_cast<double>(B.rows);
}

// g_j = (L(w + h_j e_j) - L(w - h_j e_j)) / achieved step, each L a full Eigen loss.
template <class T>
void eigen_blackbox(const BatchView<T>& B, const T* w, const T* h, T* wbuf, double* g) {
  std::memcpy(wbuf, w, B.d * sizeof(T));
  for (std::size_t j = 0; j < B.d; ++j) {
    const T wp = static_cast<T>(w[j] + h[j]), wm = static_cast<T>(w[j] - h[j]);
    wbuf[j] = wp;
    const double lp = eigen_loss(B, wbuf);
    wbuf[j] = wm;
    const double lm = eigen_loss(B, wbuf);
    wbuf[j] = w[j];
    g[j] = (lp - lm) / (static_cast<double>(wp) - static_cast<double>(wm));
  }
}

// BLAS calls of one precision, so the peers are written once.
template <class T>
struct Blas;
template <>
struct Blas<float> {
  static constexpr auto copy = cblas_scopy;
  static constexpr auto gemv = cblas_sgemv;
  static constexpr auto dot = cblas_sdot;
};
template <>
struct Blas<double> {
  static constexpr auto copy = cblas_dcopy;
  static constexpr auto gemv = cblas_dgemv;
  static constexpr auto dot = cblas_ddot;
};

// r = X w - y as a user writes it with BLAS: copy y into r, then gemv with beta = -1.
template <class T>
void blas_residuals(const BatchView<T>& B, const T* w, T* r) {
  const int b = static_cast<int>(B.rows), d = static_cast<int>(B.d);
  Blas<T>::copy(b, B.y, 1, r, 1);
  Blas<T>::gemv(kRowMajor, kNoTrans, b, d, T(1), B.x, static_cast<int>(B.ld), w, 1, T(-1), r, 1);
}

template <class T>
double blas_loss(const BatchView<T>& B, const T* w, T* r) {
  blas_residuals(B, w, r);
  const int b = static_cast<int>(B.rows);
  return static_cast<double>(Blas<T>::dot(b, r, 1, r, 1)) / static_cast<double>(b);
}

// (2/b) X^T (X w - y): the second gemv transposes the row-major X.
template <class T>
void blas_analytic(const BatchView<T>& B, const T* w, T* r, T* gt, double* g) {
  blas_residuals(B, w, r);
  const int b = static_cast<int>(B.rows), d = static_cast<int>(B.d);
  Blas<T>::gemv(kRowMajor, kTrans, b, d, static_cast<T>(2.0 / b), B.x, static_cast<int>(B.ld), r, 1,
                T(0), gt, 1);
  for (int j = 0; j < d; ++j) g[j] = gt[j];
}

template <class T>
Work peer_work(Op op, std::size_t b, std::size_t d, int threads) {
  Work w;
  w.rows = static_cast<double>(b);
  w.bytes = static_cast<double>(b) * static_cast<double>(d + 1) * sizeof(T);
  w.flops = flops_per_call(op, b, d);
  w.acc = dtype_of<T>;
  w.threads = threads;
  w.working_set = w.bytes;
  return w;
}

// OpenBLAS keeps its own thread pool; pin it for the benchmark and put it back to one thread
// so its spinning workers never compete with the next (TBB) benchmark.
struct BlasThreads {
  explicit BlasThreads(int t) { openblas_set_num_threads(t); }
  ~BlasThreads() { openblas_set_num_threads(1); }
};

template <class T>
void add_loss_peers(std::size_t b, std::size_t d, const std::vector<int>& threads) {
  const std::string t = std::string(name(dtype_of<T>));
  const std::string eigen = bench_name("peer", "eigen.loss." + t, b, b, d, 1);
  add_benchmark(eigen, [eigen, b, d](benchmark::State& state) {
    const BenchData<T>& bd = bench_data<T>(b, d);
    const BatchView<T> B = bd.data.all();
    const std::span<const T> w(bd.w);
    if (skip_if_check_fails(state, eigen, [&] {
          return check_loss_whole_and_head<T>(
              B, w, dtype_of<T>, [&](const BatchView<T>& S) { return eigen_loss(S, w.data()); },
              [d](std::size_t rows) { return sequential_depths(rows, d); });
        }))
      return;
    for (auto _ : state) benchmark::DoNotOptimize(eigen_loss(B, w.data()));
    set_counters(state, peer_work<T>(Op::loss, b, d, 1));
  });
  for (int th : threads) {
    const std::string blas = bench_name("peer", "openblas.loss." + t, b, b, d, th);
    add_benchmark(blas, [blas, b, d, th](benchmark::State& state) {
      const BenchData<T>& bd = bench_data<T>(b, d);
      const BatchView<T> B = bd.data.all();
      const std::span<const T> w(bd.w);
      std::vector<T> r(b);
      BlasThreads pin(th);
      if (skip_if_check_fails(state, blas, [&] {
            return check_loss_whole_and_head<T>(
                B, w, dtype_of<T>,
                [&](const BatchView<T>& S) { return blas_loss(S, w.data(), r.data()); },
                [d](std::size_t rows) { return sequential_depths(rows, d); });
          }))
        return;
      for (auto _ : state) benchmark::DoNotOptimize(blas_loss(B, w.data(), r.data()));
      set_counters(state, peer_work<T>(Op::loss, b, d, th));
    });
  }
}

template <class T>
void add_analytic_peers(std::size_t b, std::size_t d, const std::vector<int>& threads) {
  for (int th : threads) {
    const std::string nm =
        bench_name("peer", "openblas.analytic." + std::string(name(dtype_of<T>)), b, b, d, th);
    add_benchmark(nm, [nm, b, d, th](benchmark::State& state) {
      const BenchData<T>& bd = bench_data<T>(b, d);
      const BatchView<T> B = bd.data.all();
      const std::span<const T> w(bd.w);
      std::vector<T> r(b), gt(d);
      std::vector<double> g(d);
      BlasThreads pin(th);
      if (skip_if_check_fails(state, nm, [&] {
            const BatchView<T> S = check_slice(B);
            blas_analytic(S, w.data(), r.data(), gt.data(), g.data());
            return check_gradient_value<T>(g, S, w, {}, dtype_of<T>, sequential_depths(S.rows, d));
          }))
        return;
      for (auto _ : state) {
        blas_analytic(B, w.data(), r.data(), gt.data(), g.data());
        benchmark::DoNotOptimize(g.data());
        benchmark::ClobberMemory();
      }
      set_counters(state, peer_work<T>(Op::analytic, b, d, th));
    });
  }
}

template <class T>
void add_blackbox_peer(std::size_t b, std::size_t d) {
  const std::string nm =
      bench_name("peer", "eigen.blackbox." + std::string(name(dtype_of<T>)), b, b, d, 1);
  add_benchmark(nm, [nm, b, d](benchmark::State& state) {
    const BenchData<T>& bd = bench_data<T>(b, d);
    const BatchView<T> B = bd.data.all();
    const std::span<const T> w(bd.w);
    std::vector<T> h(d), wbuf(d);
    std::vector<double> g(d);
    make_steps<T>(StepPolicy{}, B, w, h);
    if (skip_if_check_fails(state, nm, [&] {
          const BatchView<T> S = check_slice(B);
          std::vector<T> hs(d);
          make_steps<T>(StepPolicy{}, S, w, hs);
          eigen_blackbox(S, w.data(), hs.data(), wbuf.data(), g.data());
          return check_gradient_value<T>(g, S, w, hs, dtype_of<T>, sequential_depths(S.rows, d));
        }))
      return;
    for (auto _ : state) {
      eigen_blackbox(B, w.data(), h.data(), wbuf.data(), g.data());
      benchmark::DoNotOptimize(g.data());
      benchmark::ClobberMemory();
    }
    set_counters(state, peer_work<T>(Op::blackbox, b, d, 1));
  });
}

}  // namespace

void register_peer_loss(DType t, std::size_t b, std::size_t d, const std::vector<int>& threads) {
  t == DType::f32 ? add_loss_peers<float>(b, d, threads) : add_loss_peers<double>(b, d, threads);
}

void register_peer_analytic(DType t, std::size_t b, std::size_t d,
                            const std::vector<int>& threads) {
  t == DType::f32 ? add_analytic_peers<float>(b, d, threads)
                  : add_analytic_peers<double>(b, d, threads);
}

void register_peer_blackbox(DType t, std::size_t b, std::size_t d) {
  t == DType::f32 ? add_blackbox_peer<float>(b, d) : add_blackbox_peer<double>(b, d);
}

std::string eigen_version() {
  return std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION);
}

std::string openblas_version() {
  openblas_set_num_threads(1);
  return std::string(openblas_get_config()) + " core=" + openblas_get_corename();
}

}  // namespace numgrad::bench
