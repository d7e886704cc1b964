// The peers when numgrad_bench is built without them (NUMGRAD_BUILD_PEERS=OFF: no Eigen or
// OpenBLAS needed): every preset registers no peer benchmark, and the context says why.
#include "bench_common.hpp"

namespace numgrad::bench {

void register_peer_loss(DType, std::size_t, std::size_t, const std::vector<int>&) {}
void register_peer_analytic(DType, std::size_t, std::size_t, const std::vector<int>&) {}
void register_peer_blackbox(DType, std::size_t, std::size_t) {}
std::string eigen_version() {
  return "not built (NUMGRAD_BUILD_PEERS=OFF)";
}
std::string openblas_version() {
  return "not built (NUMGRAD_BUILD_PEERS=OFF)";
}

}  // namespace numgrad::bench
