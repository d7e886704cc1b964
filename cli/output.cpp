// The files the `numgrad` tool writes (cli.hpp): every output option is checked when the
// options are read, before any work, and every file is written whole by
// numgrad::write_atomically (numgrad/files.hpp), so that a failed, interrupted or concurrent
// run never leaves a truncated or mixed file where a good one was. "-" gives stdout to one
// document, and the human report moves to stderr, so that a pipe reads only the document.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "numgrad/files.hpp"

namespace numgrad::cli {
namespace {

// What is at an output path now. Only a regular file (or nothing) can be replaced by a
// rename: renaming over a symbolic link or a device would replace the link or the device.
enum class Target { absent, regular, directory, other };

Target target_kind(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Target::absent;
  if (S_ISREG(st.st_mode)) return Target::regular;
  return S_ISDIR(st.st_mode) ? Target::directory : Target::other;
}

std::string directory_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// The option that was given "-", if any. One process runs one command, and every output option
// is read before the command prints anything, so report() knows its stream before it is used.
std::string stdout_owner;

}  // namespace

std::ostream& report() {
  return stdout_owner.empty() ? std::cout : std::cerr;
}

std::string output_option(const Options& opts, const std::string& name,
                          const std::vector<std::string_view>& extensions, bool streams) {
  if (!opts.has(name)) return "";
  const std::string path = opts.str(name);
  const std::string what = "option --" + name + ": '" + path + "' ";
  if (streams && path == "-") {
    if (!stdout_owner.empty() && stdout_owner != name)
      throw UsageError("options --" + stdout_owner + " and --" + name +
                       " both write to stdout (-); send one of them to a file");
    stdout_owner = name;
    return path;
  }
  const Target kind = target_kind(path);
  if (kind == Target::directory) throw UsageError(what + "is a directory");
  auto check_writable = [&] {
    if (::access(path.c_str(), W_OK) != 0)
      throw UsageError(what + "is not writable: " + std::strerror(errno));
  };
  if (streams && kind == Target::other) {
    check_writable();
    return path;
  }
  const std::string lowered = lower(path);
  std::string wanted;
  bool matches = false;
  for (std::string_view e : extensions) {
    matches = matches || lowered.ends_with(e);
    wanted += (wanted.empty() ? "" : " or ") + std::string(e);
  }
  if (!matches)
    throw UsageError(what + "must end in " + wanted + (streams ? " (or be - for stdout)" : ""));
  if (kind != Target::absent) check_writable();
  if (kind == Target::other) return path;
  // The one real test that the file can be created where it will be: create one there.
  if (!can_create_beside(path))
    throw UsageError(what + "cannot be created: " + directory_of(path) + ": " +
                     std::strerror(errno));
  return path;
}

void write_output(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::ostringstream buffer;
  write(buffer);
  const std::string text = std::move(buffer).str();
  if (path == "-") {
    std::cout << text;  // checked with the rest of stdout when the command ends (main.cpp)
    return;
  }
  const Target kind = target_kind(path);
  if (kind == Target::directory) throw UsageError(path + ": is a directory");
  if (kind == Target::regular || kind == Target::absent) {
    if (write_atomically(path, text)) return;
    throw UsageError(path + ": cannot write: " + std::strerror(errno) + "; " +
                     (kind == Target::regular ? "the previous " + path + " is unchanged"
                                              : std::string("no file was written")));
  }
  // A device (/dev/null), a FIFO or a symbolic link: written in place, as a stream.
  std::ofstream out(path, std::ios::binary);
  if (!out) throw UsageError(path + ": cannot open for writing: " + std::strerror(errno));
  out << text;
  out.flush();
  if (!out) throw UsageError(path + ": write failed");
}

}  // namespace numgrad::cli
