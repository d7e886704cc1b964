// The data layer: 64-byte aligned datasets, a seeded synthetic generator, the CSV and weights
// readers with line/column errors and one number policy, standardization and an intercept
// column. Kernels never see this type, only the BatchViews it hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "numgrad/batch.hpp"

namespace numgrad {

// Owning, 64-byte aligned buffer (kernels may use aligned loads on row 0 when ld allows).
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n);
  T* data() { return p_.get(); }
  const T* data() const { return p_.get(); }
  std::size_t size() const { return n_; }
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }

 private:
  struct Free {
    void operator()(T* p) const;
  };
  std::unique_ptr<T[], Free> p_;
  std::size_t n_ = 0;
};

template <class T>
struct Dataset {
  std::size_t n = 0, d = 0, ld = 0;
  AlignedBuffer<T> x;                      // n * ld, row-major; padding columns are zero
  AlignedBuffer<T> y;                      // n
  std::vector<std::string> feature_names;  // d names (CSV header, or x0..x{d-1})
  std::string target_name = "y";

  // Rows [start, start + b). Throws std::invalid_argument when b = 0 or the range leaves the
  // dataset (naming start, b and n).
  BatchView<T> batch(std::size_t start, std::size_t b) const;
  BatchView<T> all() const { return batch(0, n); }
};

enum class Distribution { normal, uniform };

struct SyntheticSpec {
  std::size_t n = 1024, d = 16;
  std::size_t ld = 0;  // 0: ld = d
  Distribution dist = Distribution::normal;
  double noise = 0.0;                // sigma of the Gaussian noise added to y
  std::vector<double> column_scale;  // empty, or d factors applied to the columns of X
  std::uint64_t seed = 1;
};

// X from `dist` (times column_scale), a true w* ~ N(0, 1), y = X w* + noise. w_star, when
// given, receives w* in double. Throws std::invalid_argument for n = 0, d = 0, ld < d,
// negative or non-finite noise, or a column_scale of the wrong length.
template <class T>
Dataset<T> make_synthetic(const SyntheticSpec& spec, std::vector<double>* w_star = nullptr);
// Rows [first, first + count) of make_synthetic(spec), bitwise, holding only those (count may
// be 0): how a process makes its part of a dataset without the rest. Throws as make_synthetic
// does, and for a range that leaves [0, n).
template <class T>
Dataset<T> make_synthetic_rows(const SyntheticSpec& spec, std::size_t first, std::size_t count,
                               std::vector<double>* w_star = nullptr);

// Lognormal column scales exp(sigma * N(0,1)): an ill-conditioned problem in one line.
std::vector<double> lognormal_scales(std::size_t d, double sigma, std::uint64_t seed);

// The number policy of every file numgrad reads (CSV data and weights alike): a decimal
// floating-point literal as std::from_chars reads it (optional sign, digits with an optional
// point, optional exponent; nan and inf), with one leading '+' allowed. Hexadecimal, spaces
// and trailing text are not numbers. The value is rounded once, to nearest, into T: beyond
// T's largest finite value is out_of_range (an error, never inf); below its smallest normal
// it becomes the subnormal or signed zero that T holds, like any other rounding.
enum class NumberStatus { ok, not_a_number, out_of_range };
template <class T>
NumberStatus parse_number(std::string_view text, T& value);

// The longest line the readers accept: they hold one line at a time, so this bounds what a
// file that is not line-structured text (no newline for gigabytes) can make them read.
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;

struct CsvOptions {
  std::string target;  // column name or 0-based index; empty = last column
  char delimiter = ',';
};

// Header row, then numeric rows (parse_number's policy). Errors (std::invalid_argument,
// "FILE:LINE:COL: ...") for a missing or unreadable file or a directory, an empty file, a NUL
// byte (not text) or a line over kMaxLineBytes, a header without data, a ragged row, a
// non-numeric or out-of-range field, and a target that names no column. The file is read one
// line at a time; the rows are kept in blocks and copied once into the dataset, so memory
// peaks at about twice the dataset (n (d + 1) sizeof(T)), whatever the file's size.
template <class T>
Dataset<T> load_csv(const std::string& path, const CsvOptions& options = {});
template <class T>
Dataset<T> parse_csv(const std::string& text, const std::string& source_name,
                     const CsvOptions& options = {});

// Weights for a dataset's features (`features` = Dataset::feature_names), from a file that
// `numgrad train --out` wrote or a user made. Accepted layouts (blank lines and '#' lines are
// skipped; fields are separated by commas, or by spaces and tabs in a file without commas):
//  - `name,number` lines (train's CSV), optionally below a two-field title line
//    (`feature,weight`); names are matched to `features` in any order;
//  - one row of numbers, optionally below a header row of names, matched the same way;
//  - one number per line, optionally below a one-field title line;
//  - a JSON object with a "weights" array of numbers and optionally a "features" array of
//    names (what train --out W.json and grad --json write).
// Without names there must be exactly one weight per feature, in order. Every value follows
// parse_number's policy and must be finite. Errors (std::invalid_argument, "FILE:LINE:COL:"
// where a place applies) for anything else: a field that is not a number, a name the data
// does not have, a name given twice, features without a weight, a wrong count, a layout
// that changes halfway, a file that is not text or larger than kMaxLineBytes.
template <class T>
std::vector<T> load_weights(const std::string& path, const std::vector<std::string>& features);
template <class T>
std::vector<T> parse_weights(const std::string& text, const std::string& source_name,
                             const std::vector<std::string>& features);

// Column means and scales removed by standardize(), so that weights can be mapped back.
struct Standardization {
  std::vector<double> mean, scale;  // per feature; scale 1 for a constant column
  double y_mean = 0, y_scale = 1;
};

// Scales every feature to mean 0, standard deviation 1 (constant columns are only centred).
// Targets are left in their units unless standardize_target is set.
template <class T>
Standardization standardize(Dataset<T>& data, bool standardize_target = false);

// Appends a column of ones named "intercept" as the last feature (a new dataset, since ld
// may grow).
template <class T>
Dataset<T> with_intercept(const Dataset<T>& data);

// Maps weights fitted on standardized features back to original units. When the dataset
// had an intercept column appended after standardization, pass its index; it absorbs the
// shift by the means.
std::vector<double> unstandardize_weights(const std::vector<double>& w, const Standardization& s,
                                          std::ptrdiff_t intercept_index);

}  // namespace numgrad
