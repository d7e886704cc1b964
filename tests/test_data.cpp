// Tests for the data layer (numgrad/data.hpp): aligned storage, batch bounds, the seeded
// synthetic generator and its validation, every CSV error with its LINE:COL, target selection,
// standardization, the intercept column and mapping weights back to original units.
// Tolerances are rounding bounds derived next to each test from the unit roundoff u of the
// stored type and of double, never hand-picked constants.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_test_util.hpp"
#include "numgrad/data.hpp"

namespace numgrad {
namespace {

template <class T>
constexpr double unit_roundoff = std::numeric_limits<T>::epsilon() / 2;

template <class T>
class DataTyped : public ::testing::Test {};
using StoredTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(DataTyped, StoredTypes);

// ---------------------------------------------------------------- storage and batches

TYPED_TEST(DataTyped, AlignedBufferIsAlignedAndZeroed) {
  for (std::size_t n : {1, 3, 15, 16, 17, 1000}) {
    AlignedBuffer<TypeParam> buf(n);
    ASSERT_EQ(buf.size(), n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buf.data()) % 64, 0u) << "n=" << n;
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(buf[i], TypeParam(0));
  }
  AlignedBuffer<TypeParam> empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(AlignedBuffer<TypeParam>(0).data(), nullptr);
}

TEST(Data, BatchIsAViewOfConsecutiveRows) {
  SyntheticSpec spec;
  spec.n = 12;
  spec.d = 3;
  spec.ld = 5;
  const auto data = make_synthetic<double>(spec);
  const BatchView<double> b = data.batch(4, 8);
  EXPECT_EQ(b.x, data.x.data() + 4 * 5);
  EXPECT_EQ(b.y, data.y.data() + 4);
  EXPECT_EQ(b.rows, 8u);
  EXPECT_EQ(b.d, 3u);
  EXPECT_EQ(b.ld, 5u);
  EXPECT_EQ(data.all().rows, 12u);
}

TEST(Data, BatchRangeErrorsNameArguments) {
  SyntheticSpec spec;
  spec.n = 12;
  spec.d = 2;
  const auto data = make_synthetic<float>(spec);
  EXPECT_ERROR_HAS(data.batch(10, 8), "start=10", "b=8", "n=12");
  EXPECT_ERROR_HAS(data.batch(0, 0), "b=0");
  EXPECT_ERROR_HAS(data.batch(13, 1), "start=13", "n=12");
  // start + b would wrap around size_t; the check must not.
  EXPECT_ERROR_HAS(data.batch(5, std::numeric_limits<std::size_t>::max()), "start=5", "n=12");
  EXPECT_NO_THROW(data.batch(11, 1));
}

// ---------------------------------------------------------------- synthetic data

template <class T>
bool same_data(const Dataset<T>& a, const Dataset<T>& b) {
  if (a.n != b.n || a.d != b.d || a.ld != b.ld) return false;
  for (std::size_t i = 0; i < a.n * a.ld; ++i) {
    if (a.x[i] != b.x[i]) return false;
  }
  for (std::size_t i = 0; i < a.n; ++i) {
    if (a.y[i] != b.y[i]) return false;
  }
  return true;
}

TYPED_TEST(DataTyped, SyntheticIsDeterministicPerSeed) {
  for (Distribution dist : {Distribution::normal, Distribution::uniform}) {
    SyntheticSpec spec;
    spec.n = 64;
    spec.d = 7;
    spec.dist = dist;
    spec.noise = 0.1;
    spec.seed = 42;
    std::vector<double> w1, w2;
    const auto a = make_synthetic<TypeParam>(spec, &w1);
    const auto b = make_synthetic<TypeParam>(spec, &w2);
    EXPECT_TRUE(same_data(a, b));
    EXPECT_EQ(w1, w2);
    spec.seed = 43;
    const auto c = make_synthetic<TypeParam>(spec);
    EXPECT_FALSE(same_data(a, c));
  }
}

TYPED_TEST(DataTyped, SyntheticShapeNamesAndPadding) {
  SyntheticSpec spec;
  spec.n = 5;
  spec.d = 3;
  spec.ld = 8;
  const auto data = make_synthetic<TypeParam>(spec);
  EXPECT_EQ(data.ld, 8u);
  ASSERT_EQ(data.feature_names.size(), 3u);
  EXPECT_EQ(data.feature_names[0], "x0");
  EXPECT_EQ(data.feature_names[2], "x2");
  for (std::size_t i = 0; i < data.n; ++i) {
    for (std::size_t k = data.d; k < data.ld; ++k) EXPECT_EQ(data.x[i * data.ld + k], 0);
  }
  spec.dist = Distribution::uniform;
  const auto u = make_synthetic<TypeParam>(spec);
  for (std::size_t i = 0; i < u.n; ++i) {
    for (std::size_t k = 0; k < u.d; ++k) {
      EXPECT_GE(u.x[i * u.ld + k], -1);
      EXPECT_LE(u.x[i * u.ld + k], 1);
    }
  }
}

// With noise = 0, y is the double dot product of the stored row with w*, rounded once to T.
// Recomputing that dot product in double differs from the generator's only by the order of
// the same operations (none: same order), so the bound is the final rounding to T plus the
// double summation error gamma_d * sum |x_k w_k|.
TYPED_TEST(DataTyped, NoiselessTargetsAreXTimesWStar) {
  SyntheticSpec spec;
  spec.n = 50;
  spec.d = 9;
  spec.ld = 11;
  std::vector<double> w;
  const auto data = make_synthetic<TypeParam>(spec, &w);
  ASSERT_EQ(w.size(), spec.d);
  const double ud = unit_roundoff<double>;
  for (std::size_t i = 0; i < data.n; ++i) {
    double dot = 0, abs_sum = 0;
    for (std::size_t k = 0; k < data.d; ++k) {
      dot += static_cast<double>(data.x[i * data.ld + k]) * w[k];
      abs_sum += std::fabs(static_cast<double>(data.x[i * data.ld + k]) * w[k]);
    }
    const double tol = unit_roundoff<TypeParam> * std::fabs(dot) + 2 * data.d * ud * abs_sum;
    EXPECT_NEAR(static_cast<double>(data.y[i]), dot, tol) << "row " << i;
  }
}

TEST(Data, ColumnScaleScalesColumns) {
  SyntheticSpec spec;
  spec.n = 200;
  spec.d = 3;
  spec.seed = 7;
  const auto plain = make_synthetic<double>(spec);
  spec.column_scale = {1.0, 1000.0, 0.001};
  const auto scaled = make_synthetic<double>(spec);
  // Same seed, same stream: each column is the unscaled one times its factor (one rounding).
  for (std::size_t i = 0; i < spec.n; ++i) {
    for (std::size_t k = 0; k < spec.d; ++k) {
      const double expected = plain.x[i * spec.d + k] * spec.column_scale[k];
      EXPECT_NEAR(scaled.x[i * spec.d + k], expected, unit_roundoff<double> * std::fabs(expected));
    }
  }
}

TEST(Data, LognormalScales) {
  const auto a = lognormal_scales(20, 2.0, 3);
  ASSERT_EQ(a.size(), 20u);
  for (double s : a) EXPECT_GT(s, 0);
  EXPECT_EQ(a, lognormal_scales(20, 2.0, 3));
  EXPECT_NE(a, lognormal_scales(20, 2.0, 4));
  for (double s : lognormal_scales(5, 0.0, 1)) EXPECT_EQ(s, 1.0);
  EXPECT_ERROR_HAS(lognormal_scales(3, -1.0, 1), "sigma=-1");
  EXPECT_ERROR_HAS(lognormal_scales(3, std::nan(""), 1), "sigma=nan");
}

TEST(Data, SyntheticValidation) {
  SyntheticSpec spec;
  spec.n = 0;
  EXPECT_ERROR_HAS(make_synthetic<float>(spec), "n=0");
  spec = {};
  spec.d = 0;
  EXPECT_ERROR_HAS(make_synthetic<float>(spec), "d=0");
  spec = {};
  spec.d = 8;
  spec.ld = 4;
  EXPECT_ERROR_HAS(make_synthetic<float>(spec), "ld=4", "d=8");
  spec = {};
  spec.noise = -0.5;
  EXPECT_ERROR_HAS(make_synthetic<double>(spec), "noise=-0.5");
  spec.noise = std::numeric_limits<double>::infinity();
  EXPECT_ERROR_HAS(make_synthetic<double>(spec), "noise=inf");
  spec = {};
  spec.d = 4;
  spec.column_scale = {1, 2, 3};
  EXPECT_ERROR_HAS(make_synthetic<double>(spec), "column_scale", "3", "d=4");
  spec.column_scale = {1, 2, std::nan(""), 4};
  EXPECT_ERROR_HAS(make_synthetic<double>(spec), "column_scale[2]");
  // Values that fit a double but not a float are refused instead of narrowed (UB).
  spec.column_scale = {1, 1e300, 1, 1};
  EXPECT_ERROR_HAS(make_synthetic<float>(spec), "column_scale[1]", "f32");
}

// ---------------------------------------------------------------- CSV

TEST(Csv, ParsesHeaderNamesAndDefaultTargetIsLast) {
  const auto data = parse_csv<double>("a,b,c\n1,2,3\n4,5,6\n", "t.csv");
  EXPECT_EQ(data.n, 2u);
  EXPECT_EQ(data.d, 2u);
  EXPECT_EQ(data.ld, 2u);
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(data.target_name, "c");
  EXPECT_EQ(data.x[0], 1);
  EXPECT_EQ(data.x[1], 2);
  EXPECT_EQ(data.x[2], 4);
  EXPECT_EQ(data.x[3], 5);
  EXPECT_EQ(data.y[0], 3);
  EXPECT_EQ(data.y[1], 6);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data.x.data()) % 64, 0u);
}

TEST(Csv, TargetByNameAndByIndex) {
  const std::string text = "a,b,c\n1,2,3\n4,5,6\n";
  CsvOptions by_name;
  by_name.target = "a";
  const auto n = parse_csv<float>(text, "t.csv", by_name);
  EXPECT_EQ(n.target_name, "a");
  EXPECT_EQ(n.feature_names, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(n.y[1], 4);
  EXPECT_EQ(n.x[2], 5);
  EXPECT_EQ(n.x[3], 6);

  CsvOptions by_index;
  by_index.target = "1";
  const auto i = parse_csv<float>(text, "t.csv", by_index);
  EXPECT_EQ(i.target_name, "b");
  EXPECT_EQ(i.feature_names, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(i.y[0], 2);
  EXPECT_EQ(i.x[0], 1);
  EXPECT_EQ(i.x[1], 3);

  // A column literally named "0" is chosen by name, not taken as index 0.
  CsvOptions numeric_name;
  numeric_name.target = "0";
  const auto z = parse_csv<double>("1,0\n7,8\n", "t.csv", numeric_name);
  EXPECT_EQ(z.target_name, "0");
  EXPECT_EQ(z.y[0], 8);
}

TEST(Csv, CrlfSpacesQuotesDelimiterAndTrailingLines) {
  const auto data =
      parse_csv<double>("\"a\" , \"b\"\r\n 1.5 , -2e3 \r\n+3,nan\r\n\r\n\r\n", "t.csv");
  EXPECT_EQ(data.n, 2u);
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(data.target_name, "b");
  EXPECT_EQ(data.x[0], 1.5);
  EXPECT_EQ(data.y[0], -2000);
  EXPECT_EQ(data.x[1], 3);
  EXPECT_TRUE(std::isnan(data.y[1]));  // finiteness is the tools' check, not the parser's

  CsvOptions semi;
  semi.delimiter = ';';
  const auto s = parse_csv<float>("p;q;r\n1;2;3\n", "t.csv", semi);
  EXPECT_EQ(s.d, 2u);
  EXPECT_EQ(s.y[0], 3);

  CsvOptions tab;
  tab.delimiter = '\t';
  const auto t = parse_csv<float>("p\tq\n1\t2", "t.csv", tab);  // no final newline
  EXPECT_EQ(t.n, 1u);
  EXPECT_EQ(t.y[0], 2);
}

TEST(Csv, ErrorsCarrySourceLineAndColumn) {
  EXPECT_ERROR_HAS(parse_csv<double>("", "e.csv"), "e.csv:1:1:", "empty file");
  EXPECT_ERROR_HAS(parse_csv<double>("\n\r\n  \n", "e.csv"), "e.csv:1:1:", "empty file");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n", "h.csv"), "h.csv:2:1:", "no data rows");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n1,2\n3,4,5\n", "r.csv"), "r.csv:3:3:", "expected 2",
                   "got 3");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b,c\n1,2,3\n4,5\n", "r.csv"), "r.csv:3:", "expected 3",
                   "got 2");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\r\n1,2\r\n3,x7\r\n", "n.csv"), "n.csv:3:2:", "\"x7\"");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n1,2\n3,4abc\n", "n.csv"), "n.csv:3:2:", "\"4abc\"");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b,c\n1,,3\n", "m.csv"), "m.csv:2:2:", "empty field");
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n1e400,2\n", "o.csv"), "o.csv:2:1:", "out of range");
  EXPECT_ERROR_HAS(parse_csv<float>("a,b\n1,1e300\n", "o.csv"), "o.csv:2:2:", "f32");
  EXPECT_ERROR_HAS(parse_csv<double>("a,,c\n1,2,3\n", "h.csv"), "h.csv:1:2:", "empty column");
  EXPECT_ERROR_HAS(parse_csv<double>("a\n1\n", "h.csv"), "h.csv:1:1:", "1 column");
  // Blank lines are skipped but still counted.
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n\n1,2\n\n3,?\n", "b.csv"), "b.csv:5:2:");

  CsvOptions missing;
  missing.target = "zz";
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n1,2\n", "t.csv", missing), "t.csv:1:", "'zz'", "a", "b");
  missing.target = "5";
  EXPECT_ERROR_HAS(parse_csv<double>("a,b\n1,2\n", "t.csv", missing), "t.csv:1:", "index 5",
                   "0:a, 1:b");
  CsvOptions space;
  space.delimiter = ' ';
  EXPECT_ERROR_HAS(parse_csv<double>("a b\n1 2\n", "t.csv", space), "delimiter");
}

TEST(Csv, LoadFromFile) {
  const std::string path = ::testing::TempDir() + "numgrad_test_data.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "u,v,w\r\n1,2,3\r\n4,5,6\r\n";
  }
  CsvOptions opt;
  opt.target = "v";
  const auto data = load_csv<double>(path, opt);
  EXPECT_EQ(data.n, 2u);
  EXPECT_EQ(data.target_name, "v");
  EXPECT_EQ(data.y[1], 5);
  EXPECT_EQ(data.x[3], 6);
  std::remove(path.c_str());

  const std::string absent = ::testing::TempDir() + "numgrad_no_such_file.csv";
  EXPECT_ERROR_HAS(load_csv<float>(absent), absent + ":1:1:", "cannot open");
  EXPECT_ERROR_HAS(load_csv<float>(::testing::TempDir()), "cannot open");
}

// Issue 12, case 6: a file that is not text (/dev/zero, a sparse file of zeros) grew in memory
// until it was read whole; now the first NUL byte ends the read, naming where it is.
TEST(Csv, NotTextFailsAtTheFirstNulByte) {
  EXPECT_ERROR_HAS(parse_csv<double>(std::string("a,b\n1,\0\n", 8), "t.csv"),
                   "t.csv:2:3:", "NUL byte", "not a text file");
  EXPECT_ERROR_HAS(load_csv<float>("/dev/zero"), "/dev/zero:1:1:", "NUL byte");
}

// Malformed inputs of every kind must end in std::invalid_argument or a dataset, never a
// crash (run under the sanitizers to make "never" mean something).
TEST(Csv, RandomBytesNeverCrash) {
  std::mt19937_64 rng(2024);
  const std::string alphabet = "0123456789.,;-+eE\"\r\n \tnaif\x01\xff";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const std::size_t len = rng() % 40;
    for (std::size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    try {
      const auto data = parse_csv<float>(text, "fuzz");
      EXPECT_GE(data.d, 1u);
      EXPECT_GE(data.n, 1u);
    } catch (const std::invalid_argument&) {
    }
  }
}

// ---------------------------------------------------------------- standardization

// After standardize, a column z = fl((x - m) / s) is computed in double and rounded to T.
// Its mean, recomputed in double, carries (a) the rounding of each z to T, at most u_T|z_i|,
// whose average is <= u_T * mean|z| <= u_T (the RMS of z is 1), and (b) the double
// summation errors of the two passes, ~ n * u_double relative to sum|z| / n <= 1. Hence the
// tolerance 4 (u_T + n u_double) on the mean, and the same on the standard deviation.
TYPED_TEST(DataTyped, StandardizeGivesZeroMeanUnitStd) {
  using T = TypeParam;
  SyntheticSpec spec;
  spec.n = 500;
  spec.d = 6;
  spec.ld = 7;
  spec.noise = 3;
  spec.column_scale = {1, 50, 1e-3, 7, 1e4, 0.5};
  auto data = make_synthetic<T>(spec);
  // A column offset from zero makes the centring do real work.
  for (std::size_t i = 0; i < data.n; ++i) data.x[i * data.ld + 1] += T(1000);
  const Standardization s = standardize(data, /*standardize_target=*/true);
  ASSERT_EQ(s.mean.size(), spec.d);
  ASSERT_EQ(s.scale.size(), spec.d);
  const double tol = 4 * (unit_roundoff<T> + spec.n * unit_roundoff<double>);
  auto check = [&](auto value_at, const std::string& what) {
    double sum = 0, sq = 0;
    for (std::size_t i = 0; i < data.n; ++i) sum += value_at(i);
    const double mean = sum / data.n;
    for (std::size_t i = 0; i < data.n; ++i) sq += (value_at(i) - mean) * (value_at(i) - mean);
    EXPECT_NEAR(mean, 0, tol) << what;
    EXPECT_NEAR(std::sqrt(sq / data.n), 1, tol) << what;
  };
  for (std::size_t k = 0; k < data.d; ++k) {
    check([&](std::size_t i) { return double(data.x[i * data.ld + k]); },
          "column " + std::to_string(k));
  }
  check([&](std::size_t i) { return double(data.y[i]); }, "target");
  EXPECT_GT(s.mean[1], 900);
  EXPECT_NE(s.y_scale, 1);
  for (std::size_t i = 0; i < data.n; ++i) EXPECT_EQ(data.x[i * data.ld + 6], 0) << "padding";
}

TYPED_TEST(DataTyped, StandardizeLeavesTargetUnlessAsked) {
  SyntheticSpec spec;
  spec.n = 20;
  spec.d = 2;
  auto data = make_synthetic<TypeParam>(spec);
  std::vector<TypeParam> y(data.y.data(), data.y.data() + data.n);
  const Standardization s = standardize(data);
  EXPECT_EQ(s.y_mean, 0);
  EXPECT_EQ(s.y_scale, 1);
  for (std::size_t i = 0; i < data.n; ++i) EXPECT_EQ(data.y[i], y[i]);
}

TYPED_TEST(DataTyped, ConstantColumnIsOnlyCentred) {
  // 0.1 is not exact in binary: summing it n times is not n * 0.1 exactly, which is the case
  // where a naive deviation comes out as a few ulps instead of zero.
  auto data = parse_csv<TypeParam>("c,v,y\n0.1,1,1\n0.1,2,2\n0.1,3,3\n0.1,5,4\n0.1,8,5\n", "t");
  const Standardization s = standardize(data);
  EXPECT_EQ(s.scale[0], 1);
  EXPECT_EQ(s.mean[0], static_cast<double>(TypeParam(0.1)));
  for (std::size_t i = 0; i < data.n; ++i) EXPECT_EQ(data.x[i * data.ld], 0);
  EXPECT_NE(s.scale[1], 1);
}

TEST(Data, StandardizeValidation) {
  Dataset<double> empty;
  EXPECT_ERROR_HAS(standardize(empty), "n=0");
  auto data = parse_csv<double>("a,b\n1,2\ninf,3\n", "t");
  EXPECT_ERROR_HAS(standardize(data), "column 0", "row 1");
  auto huge = parse_csv<double>("a,b\n1e308,2\n1e308,3\n-1e308,4\n", "t");
  EXPECT_ERROR_HAS(standardize(huge), "column 0", "overflows");
}

// ---------------------------------------------------------------- intercept and mapping back

TYPED_TEST(DataTyped, WithInterceptAppendsOnes) {
  SyntheticSpec spec;
  spec.n = 9;
  spec.d = 3;
  const auto data = make_synthetic<TypeParam>(spec);
  const auto aug = with_intercept(data);
  EXPECT_EQ(aug.n, 9u);
  EXPECT_EQ(aug.d, 4u);
  EXPECT_GE(aug.ld, 4u);
  EXPECT_EQ(aug.feature_names.back(), "intercept");
  EXPECT_EQ(aug.feature_names.size(), 4u);
  EXPECT_EQ(aug.target_name, data.target_name);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aug.x.data()) % 64, 0u);
  for (std::size_t i = 0; i < data.n; ++i) {
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(aug.x[i * aug.ld + k], data.x[i * data.ld + k]);
    EXPECT_EQ(aug.x[i * aug.ld + 3], 1);
    EXPECT_EQ(aug.y[i], data.y[i]);
  }
  // Existing padding is reused rather than grown.
  spec.ld = 8;
  EXPECT_EQ(with_intercept(make_synthetic<TypeParam>(spec)).ld, 8u);
}

// Predictions of the mapped-back weights on the raw data must equal those of the fitted
// weights on the standardized data. Both sides are sums of d + 2 terms whose magnitudes are
// bounded by S_i = y_scale (sum_k |w_k| (|x_ik| + |m_k|) / s_k + |w_0|) + |y_mean|; the
// standardized inputs carry one rounding to T each and every sum is done in double, so the
// difference is within 2 * gamma_{d+4}(u_T) * S_i (gamma_n = n u / (1 - n u)).
TYPED_TEST(DataTyped, UnstandardizeRoundTrip) {
  using T = TypeParam;
  for (bool standardize_target : {false, true}) {
    SyntheticSpec spec;
    spec.n = 40;
    spec.d = 5;
    spec.noise = 0.5;
    spec.column_scale = {1, 30, 0.01, 4, 200};
    auto raw = make_synthetic<T>(spec);
    for (std::size_t i = 0; i < raw.n; ++i) raw.x[i * raw.ld + 2] += T(-7);  // nonzero mean
    auto scaled = make_synthetic<T>(spec);
    for (std::size_t i = 0; i < scaled.n; ++i) scaled.x[i * scaled.ld + 2] += T(-7);
    const Standardization s = standardize(scaled, standardize_target);
    const auto z = with_intercept(scaled);
    const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(spec.d);

    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    std::vector<double> w(spec.d + 1);
    for (double& v : w) v = normal(rng);
    const std::vector<double> v = unstandardize_weights(w, s, c);
    ASSERT_EQ(v.size(), w.size());

    const double n_terms = spec.d + 4;
    const double gamma = n_terms * unit_roundoff<T> / (1 - n_terms * unit_roundoff<T>);
    for (std::size_t i = 0; i < raw.n; ++i) {
      double pred_z = w[spec.d], pred_raw = v[spec.d], bound = std::fabs(w[spec.d]);
      for (std::size_t k = 0; k < spec.d; ++k) {
        const double xk = raw.x[i * raw.ld + k];
        pred_z += w[k] * z.x[i * z.ld + k];
        pred_raw += v[k] * xk;
        bound += std::fabs(w[k]) * (std::fabs(xk) + std::fabs(s.mean[k])) / s.scale[k];
      }
      pred_z = s.y_scale * pred_z + s.y_mean;  // back to target units
      bound = s.y_scale * bound + std::fabs(s.y_mean);
      EXPECT_NEAR(pred_raw, pred_z, 2 * gamma * bound)
          << "row " << i << " standardize_target=" << standardize_target;
    }
  }
}

TEST(Data, UnstandardizeWithoutIntercept) {
  Standardization centred;
  centred.mean = {0, 0};
  centred.scale = {2, 4};
  const auto v = unstandardize_weights({1, 1}, centred, -1);
  EXPECT_EQ(v, (std::vector<double>{0.5, 0.25}));

  Standardization shifted = centred;
  shifted.mean = {1, 0};
  EXPECT_ERROR_HAS(unstandardize_weights({1, 1}, shifted, -1), "intercept");
  Standardization y_shifted = centred;
  y_shifted.y_mean = 3;
  EXPECT_ERROR_HAS(unstandardize_weights({1, 1}, y_shifted, -1), "intercept");
}

TEST(Data, UnstandardizeValidation) {
  Standardization s;
  s.mean = {0, 1};
  s.scale = {1, 2};
  EXPECT_ERROR_HAS(unstandardize_weights({1, 2}, s, 2), "w has 2", "expected 2");
  EXPECT_ERROR_HAS(unstandardize_weights({1, 2, 3}, s, 5), "intercept_index=5");
  EXPECT_ERROR_HAS(unstandardize_weights({1, 2, 3}, s, -1), "w has 3");
  s.scale = {1, 0};
  EXPECT_ERROR_HAS(unstandardize_weights({1, 2, 3}, s, 2), "scale[1]=0");
  s.scale = {1};
  EXPECT_ERROR_HAS(unstandardize_weights({1, 2, 3}, s, 2), "2 means", "1 scales");
  // The intercept may sit anywhere; the other weights map to the features in order.
  Standardization t;
  t.mean = {1, 2};
  t.scale = {2, 4};
  const auto v = unstandardize_weights({10, 2, 4}, t, 0);
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], 1);
  EXPECT_EQ(v[0], 10 - (2 * 1 / 2.0 + 4 * 2 / 4.0));
}

}  // namespace
}  // namespace numgrad
