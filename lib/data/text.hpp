// Reading text input (CSV data, weights files) one way everywhere: errors that name
// SOURCE:LINE:COL, field text made printable for messages, and a line reader that holds one
// line at a time and refuses NUL bytes (a file that is not text) and lines over
// kMaxLineBytes, so that no input makes numgrad read gigabytes before it says what is wrong.
#pragma once

#include <cstddef>
#include <fstream>
#include <istream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "numgrad/data.hpp"

namespace numgrad::detail {

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
std::string printable(std::string_view s);

// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);

// PATH opened for reading; throws "PATH:1:1: cannot open: REASON" for a directory, a missing
// or an unreadable file.
std::ifstream open_input(const std::string& path);

// Walks a stream line by line, giving each line without its "\n" or "\r\n" (and the first
// without a UTF-8 byte order mark) and its 1-based number; blank lines are skipped but still
// counted. Throws SOURCE:LINE:COL for a NUL byte and for a line longer than max_line bytes.
class LineReader {
 public:
  LineReader(std::istream& in, std::string_view source, std::size_t max_line = kMaxLineBytes)
      : in_(in), source_(source), max_line_(max_line) {}
  // The next non-blank line, valid until the next call; false at the end of the stream.
  bool next(std::string_view& line);
  std::size_t number() const { return number_; }

 private:
  bool read_line();  // one raw line into line_; false when the stream had nothing left
  std::istream& in_;
  std::string_view source_;
  std::size_t max_line_;
  std::string line_;
  std::size_t number_ = 0;
};

}  // namespace numgrad::detail
