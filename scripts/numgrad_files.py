"""Files written whole, as numgrad/files.hpp does for the C++ tools: a temporary file beside
the target, flushed to disk and renamed over it, so a reader sees the old file or the whole
new one, and a failed write (a full disk) leaves the old one as it was.
"""
import os
import tempfile


def write_whole(path, write, binary=False):
    """Calls write(f) on a temporary file beside PATH, then renames it over PATH. Raises
    OSError (the temporary file removed, PATH unchanged) when any step fails."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
