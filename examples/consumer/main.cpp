// The README's library example as a program: the loss and the central-difference gradient of
// one batch of synthetic data, printed. CI builds it against an installed numgrad and with
// numgrad's source tree added as a subdirectory (examples/consumer/CMakeLists.txt).
#include <cstdio>
#include <vector>

#include "numgrad/data.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/step.hpp"
#include "numgrad/version.hpp"

int main() {
  auto data = numgrad::make_synthetic<float>({.n = 4096, .d = 64, .noise = 0.1});
  const numgrad::Kernel& k = numgrad::find_kernel("scalar.residual.f32");
  std::vector<float> w(64, 0.f), h(64);
  std::vector<double> g(64);
  auto batch = data.batch(0, 512);
  numgrad::make_steps<float>(numgrad::StepPolicy{}, batch, w, h);  // data-aware steps
  double L = numgrad::loss<float>(k, batch, w);
  numgrad::gradient<float>(k, batch, w, h, g, {.threads = 2});

  std::printf("numgrad %s (%s), kernel %s, batch 512 x 64\n", numgrad::kVersion,
              numgrad::kGitDescribe, k.id.c_str());
  std::printf("loss %.9g\n", L);
  std::printf("gradient g[0..3] %.9g %.9g %.9g %.9g\n", g[0], g[1], g[2], g[3]);
}
