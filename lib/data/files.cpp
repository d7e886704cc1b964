// numgrad/files.hpp on POSIX: the standard library offers neither an exclusively created
// temporary file (mkstemp) nor a flush to disk (fsync), and both are what make the write whole.
#include "numgrad/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace numgrad {

namespace {

// A new, empty file beside `path`, in its directory so that rename() replaces `path`
// atomically (a rename across filesystems is not atomic); hidden, named after the target so
// that a leftover of a killed run says what it was. -1 with errno set when it cannot be made.
int temp_beside(const std::string& path, std::string& name) {
  const std::filesystem::path p(path);
  const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  name = dir + "/." + p.filename().string().substr(0, 200) + ".XXXXXX";
  return ::mkstemp(name.data());
}

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// mkstemp creates 0600; the replacement gets the old file's mode, or a plain create's.
mode_t mode_for(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

bool write_atomically(const std::string& path, std::string_view text) {
  const mode_t mode = mode_for(path);
  std::string temp;
  const int fd = temp_beside(path, temp);
  if (fd < 0) return false;
  bool ok = write_all(fd, text) && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && ::rename(temp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (ok) return true;
  ::unlink(temp.c_str());
  errno = err;
  return false;
}

bool can_create_beside(const std::string& path) {
  std::string probe;
  const int fd = temp_beside(path, probe);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

}  // namespace numgrad
