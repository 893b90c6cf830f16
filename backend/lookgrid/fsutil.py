"""Atomic file writes, and clean-up of what killed runs leave behind.

Every file LookGrid writes for a user (frames, specs, grid tracks, checkpoints, reports, ready files)
goes through :func:`atomic_write`: the writer fills a temporary file in the destination's own folder,
and only a complete file is moved into place with ``os.replace``. A reader therefore sees the old
file or the new one, never half of one, and a failed write leaves the old file untouched.

Temporary names are ``.<name>.lgtmp-<host>-<pid>-<random><ext>``: hidden, with the destination's
extension kept last (OpenImageIO chooses its writer by extension), and naming the process that owns
them so that :func:`remove_stale_temps` removes only those whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator

__all__ = ["atomic_write", "remove_stale_temps", "is_temp_name"]

_MARK = ".lgtmp-"
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32] or "host"
_TEMP_RE = re.compile(r"^\..+\.lgtmp-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+")
_UMASK = os.umask(0)
os.umask(_UMASK)

#: Temporaries written by another machine are removed once they are this old (seconds); their
#: process cannot be asked whether it is still alive.
FOREIGN_TEMP_AGE_S = 24 * 3600.0


def is_temp_name(name: str) -> bool:
    """True for a file name that :func:`atomic_write` uses for its temporaries."""
    return _TEMP_RE.match(name) is not None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block succeeds.

    The temporary lies in the same folder (so ``os.replace`` is atomic) and ends with the same
    extension as ``path``. On success its permissions follow the umask (like a plain ``open``) and
    it replaces ``path``; on any exception, including ``KeyboardInterrupt``, it is removed and the
    exception propagates, leaving any earlier ``path`` as it was. ``OSError`` from creating the
    temporary propagates unchanged (the caller words it for its users).
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    ext = os.path.splitext(name)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}{_MARK}{_HOST}-{os.getpid()}-", suffix=ext,
                               dir=folder or ".")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Remove the temporaries of :func:`atomic_write` in ``folder`` whose writer is gone.

    A temporary from this machine is stale when its process no longer runs (this process's own are
    kept: another thread may be writing them); one from another machine when it is older than
    :data:`FOREIGN_TEMP_AGE_S`. Returns the removed paths; a missing folder is no error.
    """
    folder = os.fspath(folder)
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time()
    for name in names:
        m = _TEMP_RE.match(name)
        if m is None:
            continue
        full = os.path.join(folder, name)
        if m["host"] == _HOST:
            pid = int(m["pid"])
            stale = not _alive(pid)
        else:
            try:
                stale = now - os.path.getmtime(full) > FOREIGN_TEMP_AGE_S
            except OSError:
                continue
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(full)
    return removed
