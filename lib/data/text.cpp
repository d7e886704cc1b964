// The text-reading helpers of text.hpp, and the one number policy of numgrad/data.hpp: what
// a number is in every file numgrad reads (CSV data and weights alike) and how it becomes a
// value of the element type.
#include "text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace numgrad {

namespace {

// Whether a decimal literal that from_chars found out of range is too large rather than too
// small: from_chars reports both alike. Out of range means beyond T's largest or below half
// its smallest subnormal, so the decimal exponent of the leading nonzero digit tells them
// apart; it is saturated, since an exponent may have more digits than any integer type.
bool too_large(std::string_view s) {
  const std::size_t e = std::min(s.find_first_of("eE"), s.size());
  const std::string_view mantissa = s.substr(0, e);
  const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
  const std::size_t lead = mantissa.find_first_of("123456789");
  if (lead == std::string_view::npos) return false;  // zero is never out of range
  long long exponent = lead < point ? static_cast<long long>(point - lead - 1)
                                    : -static_cast<long long>(lead - point);
  std::string_view rest = e < s.size() ? s.substr(e + 1) : std::string_view();
  const bool negative = !rest.empty() && rest.front() == '-';
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) rest.remove_prefix(1);
  long long power = 0;
  for (char c : rest) power = std::min(power * 10 + (c - '0'), 1'000'000'000'000LL);
  return exponent + (negative ? -power : power) >= 0;
}

}  // namespace

template <class T>
NumberStatus parse_number(std::string_view s, T& value) {
  // from_chars rejects a leading '+', which some exporters write; "+-1" stays rejected.
  if (s.size() > 1 && s.front() == '+' && s[1] != '+' && s[1] != '-') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  T v{};
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ptr != end) return NumberStatus::not_a_number;
  if (ec == std::errc::result_out_of_range) {
    if (too_large(s)) return NumberStatus::out_of_range;
    // Below half the smallest subnormal: zero is the correctly rounded value.
    v = std::copysign(T(0), s.front() == '-' ? T(-1) : T(1));
  } else if (ec != std::errc()) {
    return NumberStatus::not_a_number;
  }
  value = v;
  return NumberStatus::ok;
}

template NumberStatus parse_number<float>(std::string_view, float&);
template NumberStatus parse_number<double>(std::string_view, double&);

namespace detail {

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

std::ifstream open_input(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail_at(path, 1, 1, "cannot open: is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail_at(path, 1, 1, "cannot open", err != 0 ? std::string(": ") + std::strerror(err) : "");
  }
  return in;
}

bool LineReader::read_line() {
  line_.clear();
  std::streambuf* buf = in_.rdbuf();
  int c = buf->sbumpc();
  if (c == std::char_traits<char>::eof()) return false;
  ++number_;
  for (; c != std::char_traits<char>::eof() && c != '\n'; c = buf->sbumpc()) {
    if (c == '\0') fail_at(source_, number_, line_.size() + 1, "NUL byte: this is not a text file");
    if (line_.size() == max_line_)
      fail_at(source_, number_, line_.size() + 1, "line longer than ", max_line_,
              " bytes: this is not a text file of numbers");
    line_.push_back(static_cast<char>(c));
  }
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (number_ == 1 && line_.starts_with("\xEF\xBB\xBF")) line_.erase(0, 3);  // UTF-8 BOM
  return true;
}

bool LineReader::next(std::string_view& line) {
  try {
    while (read_line()) {
      if (!trim(line_).empty()) {
        line = line_;
        return true;
      }
    }
  } catch (const std::ios_base::failure& e) {
    // A read error (EIO, a directory that slipped past open_input) surfaces from the buffer.
    fail_at(source_, number_, 1, "cannot read: ", e.code().message());
  }
  return false;
}

}  // namespace detail
}  // namespace numgrad
