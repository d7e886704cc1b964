// Option parsing, tables, JSON, kernel and thread lookups for the `numgrad` tool (see
// cli.hpp). Every failure here is a UsageError whose message names the option, so main can
// print it as the one line a user needs.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "cli.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/threads.hpp"
#include "numgrad/version.hpp"

namespace numgrad::cli {

// --- Options -------------------------------------------------------------------------------

Options::Options(std::string command, const std::vector<OptionSpec>& specs, int argc, char** argv)
    : command_(std::move(command)) {
  const std::string see = "; see 'numgrad " + command_ + " --help'";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      return;  // help wins over anything else on the line
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--") || arg.size() == 2)
      throw UsageError("unexpected argument '" + std::string(arg) + "' for 'numgrad " + command_ +
                       "'" + see);
    const std::size_t eq = arg.find('=');
    const std::string name(arg.substr(2, eq == std::string_view::npos ? arg.npos : eq - 2));
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end())
      throw UsageError("unknown option '--" + name + "' for 'numgrad " + command_ + "'" + see);
    if (values_.count(name)) throw UsageError("option --" + name + " given twice");
    std::string value;
    if (spec->value.empty()) {
      if (eq != std::string_view::npos)
        throw UsageError("option --" + name + " is a flag and takes no value");
    } else if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else {
      // A following "--word" is another option, not this one's value (negative numbers
      // start with a single '-', so --kmin -30 still works).
      if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--"))
        throw UsageError("option --" + name + " needs a value (" + spec->value + ")");
      value = argv[++i];
    }
    // An empty value is an unset shell variable, never a choice: "--target ''" must not
    // quietly mean the default column, nor "--out ''" no output.
    if (!spec->value.empty() && value.empty())
      throw UsageError("option --" + name + ": empty value (expected " + spec->value + ")");
    values_[name] = value;
    order_.emplace_back(name, value);
  }
}

std::string Options::str(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

namespace {

template <class V>
bool parse_whole(std::string_view s, V& v) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

// Option values follow the number policy of data and weights files (numgrad/data.hpp:
// decimal literals, no hex), and must be finite.
bool parse_real(std::string_view s, double& v) {
  return parse_number(s, v) == NumberStatus::ok && std::isfinite(v);
}

}  // namespace

std::size_t Options::size(const std::string& name, std::size_t fallback, std::size_t min) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  std::size_t v = 0;
  if (!parse_whole(std::string_view(s), v) || v < min)
    throw UsageError("option --" + name + ": '" + s +
                     "' is not a whole number >= " + std::to_string(min));
  return v;
}

std::int64_t Options::integer(const std::string& name, std::int64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  std::int64_t v = 0;
  if (!parse_whole(std::string_view(s), v))
    throw UsageError("option --" + name + ": '" + s + "' is not a whole number");
  return v;
}

std::uint64_t Options::seed(const std::string& name, std::uint64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  std::uint64_t v = 0;
  if (!parse_whole(std::string_view(s), v))
    throw UsageError("option --" + name + ": '" + s + "' is not a whole number >= 0");
  return v;
}

double Options::real(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  double v = 0;
  if (!parse_real(s, v))
    throw UsageError("option --" + name + ": '" + s + "' is not a finite number");
  return v;
}

void print_help(std::ostream& out, std::string_view usage, std::string_view description,
                const std::vector<OptionSpec>& specs) {
  out << "Usage: " << usage << "\n\n" << description << "\n";
  if (specs.empty()) return;
  out << "\nOptions:\n";
  std::size_t width = 0;
  std::vector<std::string> heads;
  for (const OptionSpec& s : specs) {
    heads.push_back("--" + s.name + (s.value.empty() ? "" : " " + s.value));
    width = std::max(width, heads.back().size());
  }
  heads.push_back("--help");
  for (std::size_t i = 0; i <= specs.size(); ++i) {
    const std::string help = i < specs.size() ? specs[i].help : "this text";
    std::istringstream lines(help);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
      out << "  " << (first ? heads[i] : "")
          << std::string(width + 2 - (first ? heads[i].size() : 0), ' ') << line << "\n";
      first = false;
    }
  }
}

std::string shell_quote(std::string_view word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./:=,+@%", c) != nullptr;
  });
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string lower(std::string_view word) {
  std::string s(word);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// --- Output --------------------------------------------------------------------------------

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_(std::move(right_aligned)) {
  // Default: the first column (a name) left, the rest (numbers) right.
  if (right_.empty()) {
    right_.assign(header_.size(), true);
    if (!right_.empty()) right_[0] = false;
  }
}

void Table::row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) {
    width[c] = header_[c].size();
    for (const auto& r : rows_) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      if (c > 0) s += "  ";
      s += right_[c] ? pad + cells[c] : cells[c] + pad;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(header_);
  std::vector<std::string> rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows_) line(r);
}

std::string fmt(double v, int digits) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

void Json::prefix(std::string_view key) {
  if (!first_.back()) out_ << ",";
  if (first_.size() > 1) out_ << "\n" << std::string(2 * (first_.size() - 1), ' ');
  first_.back() = false;
  if (!key.empty()) {
    raw_string(key);
    out_ << ": ";
  }
}

void Json::raw_string(std::string_view s) {
  out_ << '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out_ << '\\' << ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out_ << buf;
    } else {
      out_ << ch;
    }
  }
  out_ << '"';
}

void Json::open(std::string_view key, char bracket) {
  prefix(key);
  out_ << bracket;
  first_.push_back(true);
}

void Json::close(char bracket) {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) out_ << "\n" << std::string(2 * (first_.size() - 1), ' ');
  out_ << bracket;
}

Json& Json::begin_object(std::string_view key) {
  open(key, '{');
  return *this;
}

Json& Json::end_object() {
  close('}');
  if (first_.size() == 1) out_ << "\n";  // the document's outermost object ends its line
  return *this;
}

Json& Json::begin_array(std::string_view key) {
  open(key, '[');
  return *this;
}

Json& Json::end_array() {
  close(']');
  return *this;
}

Json& Json::value(std::string_view key, double v) {
  prefix(key);
  if (std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out_ << buf;
  } else {
    out_ << "null";
  }
  return *this;
}

Json& Json::value(std::string_view key, std::int64_t v) {
  prefix(key);
  out_ << v;
  return *this;
}

Json& Json::value(std::string_view key, bool v) {
  prefix(key);
  out_ << (v ? "true" : "false");
  return *this;
}

Json& Json::value(std::string_view key, std::string_view v) {
  prefix(key);
  raw_string(v);
  return *this;
}

Json& Json::null(std::string_view key) {
  prefix(key);
  out_ << "null";
  return *this;
}

Json& Json::begin_document(std::string_view command, int schema) {
  begin_object();
  value("schema", "numgrad." + std::string(command) + "/" + std::to_string(schema));
  begin_object("numgrad").value("version", kVersion).value("git", kGitDescribe).end_object();
  return value("command", command);
}

Json& Json::numbers(std::string_view key, const std::vector<double>& v) {
  prefix(key);
  out_ << "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out_ << ", ";
    if (std::isfinite(v[i])) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v[i]);
      out_ << buf;
    } else {
      out_ << "null";
    }
  }
  out_ << "]";
  return *this;
}

// --- Kernels and threads -------------------------------------------------------------------

const Kernel& kernel_by_id(const std::string& id) {
  const Kernel* k = nullptr;
  try {
    k = &find_kernel(id);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (!k->is_supported()) {
    const char* cap = std::getenv("NUMGRAD_ISA");
    throw UsageError(
        "kernel '" + id + "' needs " + std::string(name(k->isa)) + ", which this CPU" +
        (cap && *cap ? " (with NUMGRAD_ISA=" + std::string(cap) + ")" : std::string()) +
        " cannot run; 'numgrad info' lists the kernels supported here");
  }
  return *k;
}

int default_thread_count() {
  return default_threads();
}

int resolved_threads(Exec exec) {
  return exec.threads == 0 ? default_thread_count() : exec.threads;
}

int kernel_threads(const Kernel& k, Exec exec) {
  return k.axis == Axis::serial ? 1 : resolved_threads(exec);
}

int threads_option(const Options& opts) {
  const std::string text = opts.str("threads", "0");
  // Parsed as 64 bits and range-checked there; a value too long even for that fails the
  // parse and gets the same message, so the user sees the range, not "not a number".
  std::int64_t v = -1;
  if (!parse_whole(std::string_view(text), v) || v < 0 || v > kMaxThreads)
    throw UsageError("option --threads=" + text + ": must be a whole number from 0 to " +
                     std::to_string(kMaxThreads) + " (0: NUMGRAD_THREADS, else all)");
  return static_cast<int>(v);
}

}  // namespace numgrad::cli
