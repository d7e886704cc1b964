// CSV loading for numgrad/data.hpp: a header row of names, then numeric rows, one column of
// which is the target. Every error names SOURCE:LINE:COL (1-based line; COL = field number)
// so a user can jump to it. The parser works on string_views over the text with checked
// bounds only, since it is fuzzed: no input may crash it.
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "numgrad/data.hpp"

namespace numgrad {

namespace {

template <class... Args>
[[noreturn]] void fail_at(std::string_view source, std::size_t line, std::size_t col,
                          const Args&... args) {
  std::ostringstream out;
  out.precision(17);
  out << source << ':' << line << ':' << col << ": ";
  (out << ... << args);
  throw std::invalid_argument(out.str());
}

// Field text as it may appear inside an error message: control bytes escaped and long
// fields cut, because fuzzed or binary input would otherwise garble the terminal.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Spreadsheets quote header names (and sometimes numbers); one surrounding pair is dropped.
// Quoted fields containing the delimiter are not supported: this is a numeric format.
std::string_view field_text(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim(s.substr(1, s.size() - 2));
  return s;
}

void split(std::string_view line, char delimiter, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = line.find(delimiter, start);
    if (pos == std::string_view::npos) {
      fields.push_back(field_text(line.substr(start)));
      return;
    }
    fields.push_back(field_text(line.substr(start, pos - start)));
    start = pos + 1;
  }
}

// Walks the text line by line, giving each line without its "\n" or "\r\n" and its 1-based
// number; blank lines are skipped (as pandas does) but still counted.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {
    if (rest_.substr(0, 3) == "\xEF\xBB\xBF") rest_.remove_prefix(3);  // UTF-8 byte order mark
  }
  bool next(std::string_view& line) {
    while (!done_) {
      ++number_;
      const std::size_t pos = rest_.find('\n');
      if (pos == std::string_view::npos) {
        line = rest_;
        done_ = true;
      } else {
        line = rest_.substr(0, pos);
        rest_.remove_prefix(pos + 1);
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!trim(line).empty()) return true;
    }
    return false;
  }
  std::size_t number() const { return number_; }

 private:
  std::string_view rest_;
  std::size_t number_ = 0;
  bool done_ = false;
};

enum class NumberStatus { ok, not_a_number, out_of_range };

NumberStatus parse_number(std::string_view s, double& value) {
  // from_chars rejects a leading '+', which some exporters write; "+-1" stays rejected.
  if (s.size() > 1 && s.front() == '+' && s[1] != '+' && s[1] != '-') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ptr != end || s.empty()) return NumberStatus::not_a_number;
  if (ec == std::errc::result_out_of_range) return NumberStatus::out_of_range;
  if (ec != std::errc()) return NumberStatus::not_a_number;
  return NumberStatus::ok;
}

std::string column_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (j > 0) out += ", ";
    out += std::to_string(j) + ":" + printable(names[j]);
  }
  return out;
}

// A name wins over an index, so a header of "0,1,2" still selects by name.
std::size_t resolve_target(const std::string& target, const std::vector<std::string>& names,
                           std::string_view source, std::size_t line) {
  if (target.empty()) return names.size() - 1;
  std::size_t found = names.size(), matches = 0;
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (names[j] == target) {
      if (matches == 0) found = j;
      ++matches;
    }
  }
  if (matches > 1) {
    fail_at(source, line, found + 1, "target '", printable(target), "' names ", matches,
            " columns; columns are ", column_list(names));
  }
  if (matches == 1) return found;
  const std::string_view t = trim(target);
  std::size_t index = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), index);
  if (!t.empty() && ec == std::errc() && ptr == t.data() + t.size()) {
    if (index < names.size()) return index;
    fail_at(source, line, 1, "target index ", index, " is out of range for ", names.size(),
            " columns; columns are ", column_list(names));
  }
  fail_at(source, line, 1, "target '", printable(target),
          "' is neither a column name nor a 0-based index; columns are ", column_list(names));
}

}  // namespace

template <class T>
Dataset<T> parse_csv(const std::string& text, const std::string& source_name,
                     const CsvOptions& options) {
  const std::string_view source = source_name;
  const char delim = options.delimiter;
  // Spaces around fields are trimmed, so a space cannot also separate them (tabs can: the
  // line is split before trimming).
  if (delim == '\n' || delim == '\r' || delim == '"' || delim == ' ') {
    throw std::invalid_argument("parse_csv: delimiter='" + printable(std::string_view(&delim, 1)) +
                                "' cannot separate fields");
  }

  LineReader lines(text);
  std::string_view line;
  std::vector<std::string_view> fields;
  if (!lines.next(line)) fail_at(source, 1, 1, "empty file (expected a header row of names)");
  const std::size_t header_line = lines.number();
  split(line, delim, fields);
  std::vector<std::string> names;
  names.reserve(fields.size());
  for (std::size_t j = 0; j < fields.size(); ++j) {
    if (fields[j].empty()) fail_at(source, header_line, j + 1, "empty column name in the header");
    names.emplace_back(fields[j]);
  }
  const std::size_t cols = names.size();
  if (cols < 2) {
    fail_at(source, header_line, 1, "the header has ", cols,
            " column; need at least one feature and a target");
  }
  const std::size_t target = resolve_target(options.target, names, source, header_line);

  std::vector<T> values;  // row-major, all columns including the target
  std::size_t n = 0;
  while (lines.next(line)) {
    const std::size_t ln = lines.number();
    split(line, delim, fields);
    if (fields.size() != cols) {
      fail_at(source, ln, (fields.size() < cols ? fields.size() : cols) + 1, "expected ", cols,
              " fields (as in the header), got ", fields.size());
    }
    for (std::size_t j = 0; j < cols; ++j) {
      if (fields[j].empty()) fail_at(source, ln, j + 1, "empty field");
      double v = 0;
      switch (parse_number(fields[j], v)) {
        case NumberStatus::ok:
          break;
        case NumberStatus::not_a_number:
          fail_at(source, ln, j + 1, "not a number: \"", printable(fields[j]), "\"");
        case NumberStatus::out_of_range:
          fail_at(source, ln, j + 1, "\"", printable(fields[j]), "\" is out of range for f64");
      }
      // Narrowing an out-of-range double to float is undefined behaviour: refuse it here.
      if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<T>::max())) {
        fail_at(source, ln, j + 1, "\"", printable(fields[j]), "\" is out of range for ",
                name(dtype_of<T>));
      }
      values.push_back(static_cast<T>(v));
    }
    ++n;
  }
  if (n == 0) fail_at(source, header_line + 1, 1, "a header but no data rows");

  Dataset<T> data;
  data.n = n;
  data.d = cols - 1;
  data.ld = data.d;
  data.x = AlignedBuffer<T>(n * data.d);
  data.y = AlignedBuffer<T>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const T* src = values.data() + i * cols;
    T* dst = data.x.data() + i * data.ld;
    std::size_t k = 0;
    for (std::size_t j = 0; j < cols; ++j) {
      if (j == target) {
        data.y[i] = src[j];
      } else {
        dst[k++] = src[j];
      }
    }
  }
  for (std::size_t j = 0; j < cols; ++j) {
    if (j != target) data.feature_names.push_back(names[j]);
  }
  data.target_name = names[target];
  return data;
}

template <class T>
Dataset<T> load_csv(const std::string& path, const CsvOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail_at(path, 1, 1, "cannot open: is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail_at(path, 1, 1, "cannot open", err != 0 ? std::string(": ") + std::strerror(err) : "");
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail_at(path, 1, 1, "cannot read the file");
  return parse_csv<T>(text, path, options);
}

template Dataset<float> load_csv<float>(const std::string&, const CsvOptions&);
template Dataset<double> load_csv<double>(const std::string&, const CsvOptions&);
template Dataset<float> parse_csv<float>(const std::string&, const std::string&, const CsvOptions&);
template Dataset<double> parse_csv<double>(const std::string&, const std::string&,
                                           const CsvOptions&);

}  // namespace numgrad
