// libFuzzer target for the weights reader (numgrad::parse_weights): any byte string must
// either give exactly one finite weight per feature or throw std::invalid_argument; a crash, a
// sanitizer report, any other exception or a wrong result is a bug. Built and run by
// scripts/fuzz.sh weights. An optional first line "#features=a,b,c" sets the data's feature
// names (default a, b, intercept), so the fuzzer reaches name matching with names of its own.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "numgrad/data.hpp"

namespace {

template <class T>
void parse(const std::string& text, const std::vector<std::string>& features) {
  try {
    const std::vector<T> w = numgrad::parse_weights<T>(text, "fuzz.csv", features);
    if (w.size() != features.size()) std::abort();
    for (T v : w)
      if (!std::isfinite(v)) std::abort();
  } catch (const std::invalid_argument&) {
    // Rejected input, reported as FILE:LINE:COL: the expected outcome for most inputs.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> features = {"a", "b", "intercept"};
  if (text.rfind("#features=", 0) == 0) {
    const std::size_t eol = text.find('\n');
    const std::string list =
        text.substr(10, eol == std::string::npos ? std::string::npos : eol - 10);
    features.clear();
    for (std::size_t start = 0; start <= list.size();) {
      const std::size_t comma = std::min(list.find(',', start), list.size());
      features.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    text.erase(0, eol == std::string::npos ? text.size() : eol + 1);
  }
  parse<double>(text, features);
  // float adds the out-of-range-for-f32 and the underflow-to-zero paths.
  parse<float>(text, features);
  return 0;
}
