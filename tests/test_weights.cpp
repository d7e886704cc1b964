// Tests for the number policy and the weights reader (numgrad/data.hpp): one meaning of a
// number in data and weights files alike (decimal literals rounded once into the element
// type, overflow an error, underflow to the subnormal or zero the type holds, no hex), and
// weights files whose names are matched to the features and whose every field either parses
// or is an error naming FILE:LINE:COL (issue 12, cases 2, 3 and 7). Values are compared
// exactly: every expected number here is what the element type holds for the literal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/text.hpp"
#include "error_test_util.hpp"
#include "numgrad/data.hpp"

namespace numgrad {
namespace {

const std::vector<std::string> kAB = {"a", "b"};

template <class T>
std::vector<T> weights(const std::string& text, const std::vector<std::string>& features = kAB) {
  return parse_weights<T>(text, "w.csv", features);
}

// ---------------------------------------------------------------- the number policy

// Each literal as f32 and as f64: the status, and the value the type holds when it is ok (a C++
// literal of the type is that correctly rounded value).
struct Literal {
  const char* text;
  NumberStatus f32_status;
  float f32;
  NumberStatus f64_status;
  double f64;
};
constexpr NumberStatus kOk = NumberStatus::ok, kRange = NumberStatus::out_of_range;

const Literal kLiterals[] = {
    {"+1.5", kOk, 1.5f, kOk, 1.5},
    {"-.5e1", kOk, -5.0f, kOk, -5.0},
    {"0.1", kOk, 0.1f, kOk, 0.1},  // straight into float, not through double
    // The largest float, a literal that rounds down to it, and one that rounds past it.
    {"3.4028235e38", kOk, 3.4028235e38f, kOk, 3.4028235e38},
    {"3.4028236e38", kRange, 0, kOk, 3.4028236e38},
    {"1e39", kRange, 0, kOk, 1e39},
    {"1e400", kRange, 0, kRange, 0},
    {"-0.0001e99999999999999999999", kRange, 0, kRange, 0},
    // Issue 12, case 7: 1e-400 was an error for f64 while f32 turned 1e-50 into 0 unnoticed.
    // Now both types round underflow alike, to the subnormal or zero they hold.
    {"1e-50", kOk, 0.0f, kOk, 1e-50},
    {"1e-40", kOk, 1e-40f, kOk, 1e-40},  // a float subnormal
    {"1e-400", kOk, 0.0f, kOk, 0.0},
    {"4.9e-324", kOk, 0.0f, kOk, 4.9e-324},  // the smallest double subnormal
    {"1e-99999999999999999999", kOk, 0.0f, kOk, 0.0},
};

TEST(NumberPolicy, DecimalLiteralsRoundedOnceIntoTheType) {
  for (const Literal& l : kLiterals) {
    float f = -1;
    double d = -1;
    EXPECT_EQ(parse_number(l.text, f), l.f32_status) << l.text;
    EXPECT_EQ(parse_number(l.text, d), l.f64_status) << l.text;
    if (l.f32_status == kOk) {
      EXPECT_EQ(f, l.f32) << l.text;
    }
    if (l.f64_status == kOk) {
      EXPECT_EQ(d, l.f64) << l.text;
    }
  }
  double d = 1;
  EXPECT_EQ(parse_number("-1e-400", d), kOk);
  EXPECT_TRUE(d == 0 && std::signbit(d));
  for (const char* bad : {"0x10", "0x1p3", "1e", "", " 1", "1 ", "1,5", "+-1", "--1", "e5"}) {
    float f = 0;
    EXPECT_EQ(parse_number(bad, d), NumberStatus::not_a_number) << "'" << bad << "'";
    EXPECT_EQ(parse_number(bad, f), NumberStatus::not_a_number) << "'" << bad << "'";
  }
}

// The same literal means the same thing in a data file and in a weights file.
TEST(NumberPolicy, DataAndWeightsAgree) {
  for (const std::string lit :
       {"1e-50", "1e-400", "0x10", "0x1p3", "1e39", "1e400", "-2.5", "nan"}) {
    const std::string csv = "a,y\n" + lit + ",1\n";
    const std::string w = lit + "\n";
    for (int type = 0; type < 2; ++type) {
      std::string data_error, weight_error;
      double data_value = 0, weight_value = 0;
      try {
        data_value =
            type ? parse_csv<double>(csv, "d.csv").x[0] : parse_csv<float>(csv, "d.csv").x[0];
      } catch (const std::invalid_argument& e) {
        data_error = e.what();
      }
      try {
        weight_value = type ? parse_weights<double>(w, "w.csv", {"a"})[0]
                            : parse_weights<float>(w, "w.csv", {"a"})[0];
      } catch (const std::invalid_argument& e) {
        weight_error = e.what();
      }
      const std::string what = lit + (type ? " as f64" : " as f32");
      if (lit == "nan") {  // a number to both; data finiteness is the tools' check
        EXPECT_TRUE(data_error.empty() && std::isnan(data_value)) << what;
        EXPECT_NE(weight_error.find("'nan' is not a finite number"), std::string::npos) << what;
        continue;
      }
      EXPECT_EQ(data_error.empty(), weight_error.empty())
          << what << ": " << data_error << " | " << weight_error;
      if (data_error.empty()) {
        EXPECT_EQ(data_value, weight_value) << what;
      } else {
        EXPECT_NE(data_error.find(lit), std::string::npos) << data_error;
        EXPECT_NE(weight_error.find(lit), std::string::npos) << weight_error;
      }
    }
  }
}

// ---------------------------------------------------------------- names

// Issue 12, case 2: the names of a `name,value` file were ignored (b,1 / a,2 gave a = 1).
TEST(Weights, NamesAreMatchedInAnyOrder) {
  EXPECT_EQ(weights<double>("feature,weight\nb,1\na,2\n"), (std::vector<double>{2, 1}));
  EXPECT_EQ(weights<double>("b,1\na,2\n"), (std::vector<double>{2, 1}));
  EXPECT_EQ(weights<float>("b,a\n1,2\n"), (std::vector<float>{2, 1}));  // a header row
  EXPECT_EQ(weights<double>("b 1\na 2\n"), (std::vector<double>{2, 1}));
  // Names as train writes them: quoted when they hold a comma or a quote.
  EXPECT_EQ(
      weights<double>("feature,weight\n\"x,1\",3\n\"say \"\"hi\"\"\",4\n", {"say \"hi\"", "x,1"}),
      (std::vector<double>{4, 3}));
}

TEST(Weights, UnknownMissingAndRepeatedNamesAreErrors) {
  EXPECT_ERROR_HAS(weights<double>("feature,weight\na,1\nb,2\nfoo,3\n"),
                   "w.csv:4:1:", "'foo' is not a feature", "a, b");
  EXPECT_ERROR_HAS(weights<double>("b,1\n"), "w.csv:", "no weight for 1 of the d=2 features: a");
  EXPECT_ERROR_HAS(weights<double>("a,1\nb,2\na,3\n"), "w.csv:3:1:", "'a' has a weight already",
                   "line 1");
  EXPECT_ERROR_HAS(weights<double>("a,c\n1,2\n"), "w.csv:1:2:", "'c' is not a feature");
  EXPECT_ERROR_HAS(weights<double>("a,1\nb,2\n", {"a", "a"}), "two features named 'a'");
}

// ---------------------------------------------------------------- nothing skipped

// Issue 12, case 3: a first line of nan, inf or 1e400 was dropped as a "header".
TEST(Weights, ANumberOnTheFirstLineIsNeverAHeader) {
  EXPECT_ERROR_HAS(weights<double>("nan\n1\n2\n"), "w.csv:1:1:", "'nan' is not a finite number");
  EXPECT_ERROR_HAS(weights<double>("-inf\n1\n2\n"), "w.csv:1:1:", "'-inf' is not a finite");
  EXPECT_ERROR_HAS(weights<double>("1e400\n1\n2\n"), "w.csv:1:1:", "'1e400'", "out of range",
                   "f64");
  EXPECT_ERROR_HAS(weights<float>("1e39\n1\n"), "w.csv:1:1:", "'1e39'", "f32");
  EXPECT_ERROR_HAS(weights<double>("0x10\n1\n"), "w.csv:1:1:", "'0x10' is not a number");
  EXPECT_ERROR_HAS(weights<double>("a,nan\nb,1\n"), "w.csv:1:2:", "'nan' is not a finite");
}

TEST(Weights, EveryFieldParsesOrIsAnErrorWithLineAndColumn) {
  EXPECT_ERROR_HAS(weights<double>("1\ntwo\n"), "w.csv:2:1:", "'two' is not a number");
  EXPECT_ERROR_HAS(weights<double>("# w\n\n1\n\n2x\n"), "w.csv:5:1:", "'2x'");
  EXPECT_ERROR_HAS(weights<double>("1,2\n3,4\n"), "w.csv:2:1:", "a second line of weights");
  EXPECT_ERROR_HAS(weights<double>("1\n2,3\n"), "w.csv:2:2:", "expected 1 field", "got 2");
  EXPECT_ERROR_HAS(weights<double>("a,1\nb\n"), "w.csv:2:2:", "expected 2 fields");
  EXPECT_ERROR_HAS(weights<double>("a,b,c\n1,2\n"), "w.csv:1:1:", "the header line has 3 fields");
  EXPECT_ERROR_HAS(weights<double>(",1\nb,2\n"), "w.csv:1:1:", "an empty name");
  EXPECT_ERROR_HAS(weights<double>("a,\n1,2\n"), "w.csv:1:2:", "an empty name");
  EXPECT_ERROR_HAS(weights<double>("1,\n"), "w.csv:1:2:", "'' is not a number");
  EXPECT_ERROR_HAS(weights<double>("\"a,1\n"), "w.csv:1:1:", "not closed");
  EXPECT_ERROR_HAS(weights<double>("weight\n"), "w.csv:2:1:", "no weights below the header");
  EXPECT_ERROR_HAS(weights<double>("\n# nothing\n"), "w.csv:1:1:", "no weights");
  EXPECT_ERROR_HAS(weights<double>(std::string("1\n\0\n", 4)), "w.csv:2:1:", "NUL byte");
}

TEST(Weights, WithoutNamesExactlyOneWeightPerFeature) {
  EXPECT_EQ(weights<double>("1\n2\n"), (std::vector<double>{1, 2}));
  EXPECT_EQ(weights<double>("weight\r\n1\r\n2\r\n"), (std::vector<double>{1, 2}));  // a title
  EXPECT_EQ(weights<double>("\xEF\xBB\xBF# comment\n 1 \t 2 \n"), (std::vector<double>{1, 2}));
  EXPECT_EQ(weights<double>("1,2,3\n", {"a", "b", "intercept"}), (std::vector<double>{1, 2, 3}));
  EXPECT_ERROR_HAS(weights<double>("1\n2\n3\n"), "w.csv: 3 weights, but the data has d=2",
                   "(a, b)");
  EXPECT_ERROR_HAS(weights<double>("1\n"), "1 weights, but the data has d=2");
}

// ---------------------------------------------------------------- JSON

// What `numgrad train --out W.json` writes (features in the data's order, other keys around);
// the CLI test cli.weights_json_roundtrip feeds a real one back.
TEST(Weights, JsonAsTrainWritesIt) {
  const std::string json = R"({
  "command": "train",
  "data": "d.csv",
  "standardized": true,
  "final_loss": 0.25,
  "features": ["b", "a"],
  "weights": [1.5, -2.25e-3],
  "least_squares_weights": [1, 2],
  "history": [
    {"epoch": 1, "loss": 3.5, "lr": null},
    {"epoch": 2, "loss": 1e-3, "nested": {"x": [true, false, "\u00e9\"\\"]}}
  ]
}
)";
  EXPECT_EQ(weights<double>(json), (std::vector<double>{-2.25e-3, 1.5}));
  EXPECT_EQ(weights<float>(json), (std::vector<float>{-2.25e-3f, 1.5f}));
  EXPECT_EQ(weights<double>(R"({"weights": [3, 4]})"), (std::vector<double>{3, 4}));
}

TEST(Weights, JsonErrorsNameLineAndColumn) {
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2],\n}"), "w.csv:2:1:", "expected '\"'");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, two]}"),
                   "w.csv:1:17:", "'two' is not a number");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, ]}"),
                   "w.csv:1:17:", "expected a JSON value, found ']'");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, null]}"), "w.csv:1:17:", "weight 1 is null");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 1e400]}"), "w.csv:1:17:", "'1e400'");
  EXPECT_ERROR_HAS(weights<double>("{\"w\": [1, 2]}"), "w.csv: ", "no \"weights\" array");
  EXPECT_ERROR_HAS(weights<double>("{\"features\": [\"a\"], \"weights\": [1, 2]}"),
                   "\"features\" has 1 names but \"weights\" has 2");
  EXPECT_ERROR_HAS(weights<double>("{\"features\": [\"a\", \"c\"], \"weights\": [1, 2]}"),
                   "w.csv:1:20:", "'c' is not a feature");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2]} x"), "w.csv:1:21:", "text after");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2], \"weights\": [1, 2]}"), "given twice");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2], \"x\": " + std::string(100, '[')),
                   "nested more than 64 levels");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2], \"x\": \"\\ud800\"}"), "surrogate");
  EXPECT_ERROR_HAS(weights<double>("{\"weights\": [1, 2"), "w.csv:1:", "found the end");
}

// ---------------------------------------------------------------- files

TEST(Weights, LoadNamesTheFileAndRefusesDirectoriesAndBinary) {
  EXPECT_ERROR_HAS(load_weights<double>(::testing::TempDir(), kAB), "is a directory");
  EXPECT_ERROR_HAS(load_weights<double>(::testing::TempDir() + "no_such_weights.csv", kAB),
                   "no_such_weights.csv:1:1: cannot open");
  EXPECT_ERROR_HAS(load_weights<double>("/dev/zero", kAB), "/dev/zero:1:1: NUL byte");
}

// The line reader behind both readers holds one line at a time, so its limit bounds what any
// input can make it read (the real limit, kMaxLineBytes, is 64 MiB; 16 here).
TEST(LineReader, RefusesLongLinesAndNulBytes) {
  std::istringstream ok("0123456789abcdef\n\r\n x\r\n");
  detail::LineReader lines(ok, "t.csv", 16);
  std::string_view line;
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, "0123456789abcdef");
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, " x");
  EXPECT_EQ(lines.number(), 3u);
  EXPECT_FALSE(lines.next(line));

  std::istringstream long_line("a\n0123456789abcdefg\n");
  detail::LineReader too_long(long_line, "t.csv", 16);
  ASSERT_TRUE(too_long.next(line));
  EXPECT_ERROR_HAS(too_long.next(line), "t.csv:2:17:", "line longer than 16 bytes");

  std::istringstream nul(std::string("ab\0", 3));
  detail::LineReader binary(nul, "t.csv", 16);
  EXPECT_ERROR_HAS(binary.next(line), "t.csv:1:3:", "NUL byte");
}

// Malformed inputs of every kind end in std::invalid_argument or weights, never a crash (the
// libFuzzer target fuzz/weights_fuzzer.cpp goes much further).
TEST(Weights, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12);
  const std::string alphabet = "0123456789.,-+eE\"\r\n \t#{}[]:abnul\\\x01\xff";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const std::size_t len = rng() % 40;
    for (std::size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    try {
      EXPECT_EQ(weights<float>(text).size(), 2u);
    } catch (const std::invalid_argument&) {
    }
  }
}

}  // namespace
}  // namespace numgrad
