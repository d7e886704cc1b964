// Output files written whole. Every writer in the project goes through write_atomically, so
// that a reader of an output sees the old file or the complete new one, never a mix, and a
// failed write (a full disk) or two writers at once never leave a truncated or mixed file
// where a good one was.
#pragma once

#include <string>
#include <string_view>

namespace numgrad {

// Replaces PATH with `text`: a temporary file in PATH's directory (created exclusively, so
// concurrent writers never share one) is written, flushed to disk and renamed over PATH. The
// new file keeps PATH's permissions, or gets 0666 less the umask. Returns false with errno set
// when a step fails; the temporary file is then removed and PATH is as it was. PATH should be
// a regular file or absent: a rename would replace a symbolic link or a device itself.
bool write_atomically(const std::string& path, std::string_view text);

// Whether a new file can be created in PATH's directory, tested by creating one there and
// removing it (false with errno set when not): the check an output path gets before any work.
bool can_create_beside(const std::string& path);

}  // namespace numgrad
