// CSV loading for numgrad/data.hpp: a header row of names, then numeric rows, one column of
// which is the target, read one line at a time. Every error names SOURCE:LINE:COL (1-based
// line; COL = field number) so a user can jump to it. The parser works on string_views over
// the line with checked bounds only, since it is fuzzed: no input may crash it.
#include <algorithm>
#include <charconv>
#include <fstream>
#include <istream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "numgrad/data.hpp"
#include "text.hpp"

namespace numgrad {

namespace {

using detail::fail_at;
using detail::printable;
using detail::trim;

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

// Rows are parsed into blocks of about 1 MiB and copied once into the aligned dataset at the
// end (n is unknown until then): a vector grown by doubling would peak at three times the
// data while it reallocates, the blocks at twice.
template <class T>
Dataset<T> read_csv(std::istream& in, std::string_view source, const CsvOptions& options) {
  const char delim = options.delimiter;
  // Spaces around fields are trimmed, so a space cannot also separate them (tabs can: the
  // line is split before trimming).
  if (delim == '\n' || delim == '\r' || delim == '"' || delim == ' ') {
    throw std::invalid_argument("parse_csv: delimiter='" + printable(std::string_view(&delim, 1)) +
                                "' cannot separate fields");
  }

  detail::LineReader lines(in, source);
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

  const std::size_t block_rows =
      std::max<std::size_t>(1, (std::size_t{1} << 20) / (cols * sizeof(T)));
  std::vector<std::vector<T>> blocks;  // row-major, all columns including the target
  std::size_t n = 0;
  while (lines.next(line)) {
    const std::size_t ln = lines.number();
    split(line, delim, fields);
    if (fields.size() != cols) {
      fail_at(source, ln, (fields.size() < cols ? fields.size() : cols) + 1, "expected ", cols,
              " fields (as in the header), got ", fields.size());
    }
    if (n % block_rows == 0) blocks.emplace_back().reserve(block_rows * cols);
    for (std::size_t j = 0; j < cols; ++j) {
      if (fields[j].empty()) fail_at(source, ln, j + 1, "empty field");
      T v = 0;
      switch (parse_number(fields[j], v)) {
        case NumberStatus::ok:
          break;
        case NumberStatus::not_a_number:
          fail_at(source, ln, j + 1, "not a number: \"", printable(fields[j]), "\"");
        case NumberStatus::out_of_range:
          fail_at(source, ln, j + 1, "\"", printable(fields[j]), "\" is out of range for ",
                  name(dtype_of<T>));
      }
      blocks.back().push_back(v);
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
    const T* src = blocks[i / block_rows].data() + (i % block_rows) * cols;
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

}  // namespace

template <class T>
Dataset<T> parse_csv(const std::string& text, const std::string& source_name,
                     const CsvOptions& options) {
  std::istringstream in(text);
  return read_csv<T>(in, source_name, options);
}

template <class T>
Dataset<T> load_csv(const std::string& path, const CsvOptions& options) {
  std::ifstream in = detail::open_input(path);
  return read_csv<T>(in, path, options);
}

template Dataset<float> load_csv<float>(const std::string&, const CsvOptions&);
template Dataset<double> load_csv<double>(const std::string&, const CsvOptions&);
template Dataset<float> parse_csv<float>(const std::string&, const std::string&, const CsvOptions&);
template Dataset<double> parse_csv<double>(const std::string&, const std::string&,
                                           const CsvOptions&);

}  // namespace numgrad
