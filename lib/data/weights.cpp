// Weights files for numgrad/data.hpp: train's `name,number` CSV and its JSON, a row or a
// column of numbers, with names matched to the data's features. Values follow the data's
// number policy (parse_number) and must be finite; the layout is decided by the first lines
// and every later line must follow it, so nothing is ever skipped or guessed. Errors name
// SOURCE:LINE:COL (COL: the field number; in JSON, the character). Fuzzed: bounds-checked only.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "numgrad/data.hpp"
#include "text.hpp"

namespace numgrad {

namespace {

using detail::fail_at;
using detail::printable;

struct RawLine {
  std::size_t number;
  std::string text;
};

// A weight as read: its name and where it was (the name's place when it has one). Names read
// are never empty, so an empty one means a layout without names.
template <class T>
struct Entry {
  std::string name;
  T value;
  std::size_t line, col;
};

template <class... Args>
[[noreturn]] void fail_in(std::string_view source, const Args&... args) {
  std::ostringstream out;
  out << source << ": ";
  (out << ... << args);
  throw std::invalid_argument(out.str());
}

bool is_number(std::string_view text) {
  double v;
  return parse_number(text, v) != NumberStatus::not_a_number;
}

// Whether a field reads as a number or as a malformed one (0x10, 2.5.1, -e): names in a
// header never start like a number, so a bad first value is reported, not taken as a title.
bool numeric_like(std::string_view f) {
  if (is_number(f)) return true;
  if (!f.empty() && (f.front() == '+' || f.front() == '-')) f.remove_prefix(1);
  if (!f.empty() && f.front() == '.') f.remove_prefix(1);
  return !f.empty() && f.front() >= '0' && f.front() <= '9';
}

template <class T>
T value_at(std::string_view text, std::string_view source, std::size_t line, std::size_t col) {
  T v = 0;
  switch (parse_number(text, v)) {
    case NumberStatus::ok:
      if (std::isfinite(v)) return v;
      fail_at(source, line, col, "'", printable(text), "' is not a finite number");
    case NumberStatus::out_of_range:
      fail_at(source, line, col, "'", printable(text), "' is out of range for ", name(dtype_of<T>));
    case NumberStatus::not_a_number:
      break;
  }
  fail_at(source, line, col, "'", printable(text), "' is not a number");
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t j = 0; j < names.size() && j < 12; ++j)
    out += (j ? ", " : "") + printable(names[j]);
  return names.size() > 12 ? out + ", ..." : out;
}

// The weights in feature order: by position when the entries have no names, else by name.
template <class T>
std::vector<T> assign(const std::vector<Entry<T>>& entries, std::string_view source,
                      const std::vector<std::string>& features) {
  const std::size_t d = features.size();
  if (entries.empty() || entries.front().name.empty()) {
    if (entries.size() != d)
      fail_in(source, entries.size(), " weights, but the data has d=", d, " features (",
              name_list(features), ")");
    std::vector<T> w;
    for (const Entry<T>& e : entries) w.push_back(e.value);
    return w;
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t j = 0; j < d; ++j)
    if (!index.emplace(features[j], j).second)
      fail_in(source, "the data has two features named '", printable(features[j]),
              "', so weights cannot be matched to them by name");
  std::vector<T> w(d);
  std::vector<const Entry<T>*> given(d, nullptr);
  for (const Entry<T>& e : entries) {
    const auto it = index.find(e.name);
    if (it == index.end())
      fail_at(source, e.line, e.col, "'", printable(e.name),
              "' is not a feature of the data; its features are ", name_list(features));
    if (const Entry<T>* first = given[it->second])
      fail_at(source, e.line, e.col, "'", printable(e.name), "' has a weight already (line ",
              first->line, ")");
    given[it->second] = &e;
    w[it->second] = e.value;
  }
  std::vector<std::string> missing;
  for (std::size_t j = 0; j < d; ++j)
    if (!given[j]) missing.push_back(features[j]);
  if (!missing.empty())
    fail_in(source, "no weight for ", missing.size(), " of the d=", d,
            " features: ", name_list(missing));
  return w;
}

// --- Text layouts -------------------------------------------------------------------------

// Fields on commas (a quoted field may hold commas, and "" for a quote, as train writes names)
// or, in a file without commas, on runs of spaces and tabs; spaces around fields are dropped.
std::vector<std::string> split_fields(std::string_view line, bool commas, std::string_view source,
                                      std::size_t number) {
  std::vector<std::string> fields;
  if (!commas) {
    std::istringstream words{std::string(line)};
    for (std::string w; words >> w;) fields.push_back(w);
    return fields;
  }
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      for (++i;; ++i) {
        if (i >= line.size())
          fail_at(source, number, fields.size() + 1, "a quoted field is not closed");
        if (line[i] == '"' && (i + 1 >= line.size() || line[i + 1] != '"')) break;
        if (line[i] == '"') ++i;  // "" stands for one quote
        field += line[i];
      }
      ++i;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',')
        fail_at(source, number, fields.size() + 1, "text after a closing quote");
    } else {
      const std::size_t end = std::min(line.find(',', i), line.size());
      field = detail::trim(line.substr(i, end - i));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

template <class T>
std::vector<Entry<T>> text_entries(const std::vector<RawLine>& raw, std::string_view source) {
  bool commas = false;
  for (const RawLine& l : raw) commas = commas || l.text.find(',') != std::string::npos;
  std::vector<std::vector<std::string>> rows;
  for (const RawLine& l : raw) rows.push_back(split_fields(l.text, commas, source, l.number));

  // A first line without anything number-like is a header (nan, inf and 1e400 are numbers:
  // they fail as values below, they are not names).
  bool header = true;
  for (const std::string& f : rows[0]) header = header && !numeric_like(f);
  const std::size_t first = header ? 1 : 0;
  if (first == rows.size())
    fail_at(source, raw[0].number + 1, 1, "no weights below the header line");
  const std::vector<std::string>& lead = rows[first];
  const bool pairs = lead.size() == 2 && !is_number(lead[0]);
  const bool column = lead.size() == 1;
  const std::size_t width = pairs ? 2 : lead.size();
  const char* layout = pairs    ? "'name,number' lines"
                       : column ? "one number per line"
                                : "one row of numbers";
  if (header && rows[0].size() != width)
    fail_at(source, raw[0].number, 1, "the header line has ", rows[0].size(), " fields; above ",
            layout, " it needs ", width);

  std::vector<Entry<T>> entries;
  for (std::size_t i = first; i < rows.size(); ++i) {
    const std::size_t ln = raw[i].number;
    if (!pairs && !column && i > first)
      fail_at(source, ln, 1, "a second line of weights; the file started as ", layout);
    if (rows[i].size() != width)
      fail_at(source, ln, std::min(rows[i].size(), width) + 1, "expected ", width,
              width == 1 ? " field" : " fields", " (the file started as ", layout, "), got ",
              rows[i].size());
    if (pairs) {
      if (rows[i][0].empty()) fail_at(source, ln, 1, "an empty name");
      entries.push_back({rows[i][0], value_at<T>(rows[i][1], source, ln, 2), ln, 1});
      continue;
    }
    // A row's names are in the header (a column's one-field header is only a title).
    for (std::size_t c = 0; c < width; ++c) {
      const bool named = header && !column;
      if (named && rows[0][c].empty()) fail_at(source, raw[0].number, c + 1, "an empty name");
      entries.push_back({named ? rows[0][c] : std::string(),
                         value_at<T>(rows[i][c], source, ln, c + 1), raw[0].number, c + 1});
    }
  }
  return entries;
}

// --- JSON -----------------------------------------------------------------------------------

// A cursor over the lines of a JSON document: strings and numbers never span lines, so a
// position is (line, column) and every error can name it.
class JsonCursor {
 public:
  JsonCursor(const std::vector<RawLine>& lines, std::string_view source)
      : lines_(lines), source_(source) {}

  // The next character that is not white space, without consuming it; '\0' at the end.
  char peek() {
    for (; li_ < lines_.size(); ++li_, pos_ = 0) {
      const std::string& t = lines_[li_].text;
      while (pos_ < t.size() && (t[pos_] == ' ' || t[pos_] == '\t' || t[pos_] == '\r')) ++pos_;
      if (pos_ < t.size()) return t[pos_];
    }
    return '\0';
  }
  void expect(char c) {
    if (peek() != c) fail("expected '", std::string(1, c), "'");
    ++pos_;
  }
  bool comma() {
    if (peek() != ',') return false;
    ++pos_;
    return true;
  }
  std::size_t line() const {
    return li_ < lines_.size() ? lines_[li_].number : lines_.back().number;
  }
  std::size_t col() const { return pos_ + 1; }
  // An error at the next token, saying what is there.
  template <class... Args>
  [[noreturn]] void fail(const Args&... args) {
    const char c = peek();
    fail_at(source_, line(), col(), args..., ", found ",
            c ? "'" + printable(std::string_view(&c, 1)) + "'" : std::string("the end"));
  }

  std::string string();
  // The text of a number, true, false or null at the cursor.
  std::string_view word() {
    if (peek() == '\0') fail("expected a JSON value");
    const std::string& t = lines_[li_].text;
    const std::size_t start = pos_;
    while (pos_ < t.size() && (std::isalnum(static_cast<unsigned char>(t[pos_])) ||
                               t[pos_] == '.' || t[pos_] == '+' || t[pos_] == '-'))
      ++pos_;
    if (pos_ == start) fail("expected a JSON value");
    return std::string_view(t).substr(start, pos_ - start);
  }
  void skip_value(int depth);

 private:
  void append_escape(std::string& out);
  const std::vector<RawLine>& lines_;
  std::string_view source_;
  std::size_t li_ = 0, pos_ = 0;
};

std::string JsonCursor::string() {
  expect('"');
  const std::string& t = lines_[li_].text;
  std::string out;
  for (; pos_ < t.size() && t[pos_] != '"'; ++pos_) {
    if (static_cast<unsigned char>(t[pos_]) < 0x20)
      fail_at(source_, line(), col(), "a control character inside a string");
    if (t[pos_] == '\\')
      append_escape(out);
    else
      out += t[pos_];
  }
  if (pos_ >= t.size()) fail_at(source_, line(), col(), "a string is not closed on its line");
  ++pos_;
  return out;
}

// The escape at the cursor (a backslash), decoded into UTF-8; the cursor ends on its last
// character. Surrogate pairs are refused: numgrad writes \u only for control characters.
void JsonCursor::append_escape(std::string& out) {
  const std::string& t = lines_[li_].text;
  const std::size_t at =
      ++pos_ < t.size() ? std::string_view("\"\\/bfnrt").find(t[pos_]) : std::string_view::npos;
  if (at != std::string_view::npos) {
    out += "\"\\/\b\f\n\r\t"[at];
    return;
  }
  if (pos_ >= t.size() || t[pos_] != 'u' || pos_ + 4 >= t.size())
    fail_at(source_, line(), col(), "an unknown escape in a string");
  unsigned cp = 0;
  for (int k = 0; k < 4; ++k) {
    const std::size_t v = std::string_view("0123456789abcdef").find(t[++pos_] | 0x20);
    if (v == std::string_view::npos)
      fail_at(source_, line(), col(), "a \\u escape needs four hex digits");
    cp = cp * 16 + static_cast<unsigned>(v);
  }
  if (cp >= 0xD800 && cp < 0xE000)
    fail_at(source_, line(), col(), "surrogate \\u escapes are not supported");
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Any JSON value, checked and dropped: the keys a weights reader does not need.
void JsonCursor::skip_value(int depth) {
  if (depth > 64) fail("JSON nested more than 64 levels deep");
  const char c = peek();
  if (c == '"') {
    string();
  } else if (c == '{' || c == '[') {
    ++pos_;
    const char close = c == '{' ? '}' : ']';
    if (peek() != close) {
      do {
        if (c == '{') {
          string();
          expect(':');
        }
        skip_value(depth + 1);
      } while (comma());
    }
    expect(close);
  } else {
    const std::string_view w = word();
    if (w != "true" && w != "false" && w != "null" && !is_number(w))
      fail_at(source_, line(), col() - w.size(), "'", printable(w), "' is not a JSON value");
  }
}

// The "weights" array, named by the "features" array when there is one; other keys are
// skipped (train's JSON also holds the history and the least-squares fit).
template <class T>
std::vector<Entry<T>> json_entries(const std::vector<RawLine>& raw, std::string_view source) {
  JsonCursor json(raw, source);
  std::vector<Entry<T>> weights, names;  // names: the name and where it was; value unused
  bool have_weights = false, have_features = false;
  json.expect('{');
  if (json.peek() != '}') {
    do {
      const std::string key = json.string();
      json.expect(':');
      const bool w = key == "weights", f = key == "features";
      if (!w && !f) {
        json.skip_value(1);
        continue;
      }
      bool& have = w ? have_weights : have_features;
      if (have) json.fail("\"", key, "\" given twice");
      have = true;
      json.expect('[');
      if (json.peek() != ']') {
        do {
          json.peek();  // onto the value, so that its position is where it starts
          const std::size_t line = json.line(), col = json.col();
          if (f) {
            names.push_back({json.string(), T(0), line, col});
            continue;
          }
          const std::string_view text = json.word();
          if (text == "null") fail_at(source, line, col, "weight ", weights.size(), " is null");
          weights.push_back({std::string(), value_at<T>(text, source, line, col), line, col});
        } while (json.comma());
      }
      json.expect(']');
    } while (json.comma());
  }
  json.expect('}');
  if (json.peek() != '\0') json.fail("text after the JSON object");
  if (!have_weights) fail_in(source, "the JSON object has no \"weights\" array");
  if (!have_features) return weights;
  if (names.size() != weights.size())
    fail_in(source, "\"features\" has ", names.size(), " names but \"weights\" has ",
            weights.size(), " numbers");
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (names[j].name.empty()) fail_at(source, names[j].line, names[j].col, "an empty name");
    weights[j].name = names[j].name;
    weights[j].line = names[j].line;
    weights[j].col = names[j].col;
  }
  return weights;
}

template <class T>
std::vector<T> read_weights(std::istream& in, std::string_view source,
                            const std::vector<std::string>& features) {
  detail::LineReader reader(in, source);
  std::vector<RawLine> raw;
  std::size_t bytes = 0;
  for (std::string_view line; reader.next(line);) {
    if (detail::trim(line).front() == '#') continue;
    bytes += line.size();
    if (bytes > kMaxLineBytes)
      fail_at(source, reader.number(), 1, "more than ", kMaxLineBytes,
              " bytes: too large for a weights file");
    raw.push_back({reader.number(), std::string(line)});
  }
  if (raw.empty()) fail_at(source, 1, 1, "no weights (the file is empty)");
  const bool json = detail::trim(raw[0].text).front() == '{';
  return assign(json ? json_entries<T>(raw, source) : text_entries<T>(raw, source), source,
                features);
}

}  // namespace

template <class T>
std::vector<T> load_weights(const std::string& path, const std::vector<std::string>& features) {
  std::ifstream in = detail::open_input(path);
  return read_weights<T>(in, path, features);
}

template <class T>
std::vector<T> parse_weights(const std::string& text, const std::string& source_name,
                             const std::vector<std::string>& features) {
  std::istringstream in(text);
  return read_weights<T>(in, source_name, features);
}

#define NUMGRAD_INSTANTIATE_WEIGHTS(T)                                                          \
  template std::vector<T> load_weights<T>(const std::string&, const std::vector<std::string>&); \
  template std::vector<T> parse_weights<T>(const std::string&, const std::string&,              \
                                           const std::vector<std::string>&);
NUMGRAD_INSTANTIATE_WEIGHTS(float)
NUMGRAD_INSTANTIATE_WEIGHTS(double)
#undef NUMGRAD_INSTANTIATE_WEIGHTS

}  // namespace numgrad
