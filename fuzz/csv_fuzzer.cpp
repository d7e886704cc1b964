// libFuzzer target for the CSV loader (numgrad::parse_csv): any byte string must either parse
// or throw std::invalid_argument; a crash, a sanitizer report or any other exception is a bug.
// Built and run by scripts/fuzz_csv.sh. An optional first line "#target=COL" lets the fuzzer
// reach the target-column logic too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "numgrad/data.hpp"

namespace {

template <class T>
void parse(const std::string& text, const numgrad::CsvOptions& options) {
  try {
    const numgrad::Dataset<T> d = numgrad::parse_csv<T>(text, "fuzz.csv", options);
    // What a successful parse promises: a consistent shape the kernels can trust.
    if (d.n == 0 || d.d == 0 || d.ld < d.d || d.feature_names.size() != d.d ||
        d.x.size() != d.n * d.ld || d.y.size() != d.n)
      std::abort();
  } catch (const std::invalid_argument&) {
    // Rejected input, reported as FILE:LINE:COL: the expected outcome for most inputs.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  numgrad::CsvOptions options;
  if (text.rfind("#target=", 0) == 0) {
    const std::size_t eol = text.find('\n');
    options.target = text.substr(8, eol == std::string::npos ? std::string::npos : eol - 8);
    text.erase(0, eol == std::string::npos ? text.size() : eol + 1);
  }
  parse<double>(text, options);
  // float adds the out-of-range-for-f32 path (a narrowing that would be undefined behaviour).
  parse<float>(text, options);
  return 0;
}
