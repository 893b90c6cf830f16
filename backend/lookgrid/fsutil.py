"""Atomic file writes, and clean-up of what killed runs leave behind.

Every file LookGrid writes for a user (frames, specs, analyses, checkpoints, reports, ready files)
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

__all__ = ["atomic_write", "StagedFiles", "remove_stale_temps", "is_temp_name"]

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
    tmp = _temp_beside(path)
    try:
        yield tmp
        _move_into_place(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _temp_beside(path: str) -> str:
    """A new empty temporary file named for ``path``, in its folder (the pattern above)."""
    folder, name = os.path.split(path)
    ext = os.path.splitext(name)[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}{_MARK}{_HOST}-{os.getpid()}-", suffix=ext, dir=folder or ".")
    os.close(fd)
    return tmp


def _move_into_place(tmp: str, path: str) -> None:
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


class StagedFiles:
    """The outputs of one job, all or nothing: each is written complete under a temporary name
    beside its target (:meth:`path_for`), and :meth:`commit` moves them all into place at the end.
    Leaving the ``with`` block by an exception removes them and leaves earlier files as they were;
    what a killed job leaves is removed by :func:`remove_stale_temps` on the next run.

    Each output folder is opened once (:meth:`open_folders`, else on first use) and everything
    after that goes through that open folder: a folder swapped for a symbolic link while the job
    runs does not redirect its files, and the final name is replaced, never followed.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, str]] = []  # (temporary path, target path)
        self._dirs: dict[str, int] = {}  # folder -> open descriptor

    def open_folders(self, folders) -> None:
        """Create (if need be) and open the output ``folders`` now, at the start of the job."""
        for folder in folders:
            self._dir_fd(os.path.abspath(os.fspath(folder)))

    def _dir_fd(self, folder: str) -> int:
        fd = self._dirs.get(folder)
        if fd is None:
            os.makedirs(folder, exist_ok=True)
            fd = self._dirs[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        return fd

    def _via_fd(self, path: str) -> tuple[str, int, str]:
        folder, name = os.path.split(os.path.abspath(path))
        fd = self._dir_fd(folder)
        return (f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else folder), fd, name

    def path_for(self, path: str | os.PathLike) -> str:
        """The temporary path to write ``path``'s content to (its folder is created if need be)."""
        path = os.fspath(path)
        folder, _, name = self._via_fd(path)
        tmp = _temp_beside(os.path.join(folder, name))
        self._pending.append((tmp, path))
        return tmp

    def commit(self) -> list[str]:
        """Move every staged file onto its target (in order); returns the targets."""
        done = []
        for tmp, path in self._pending:
            _, fd, name = self._via_fd(path)
            os.chmod(tmp, 0o666 & ~_UMASK)
            os.replace(os.path.basename(tmp), name, src_dir_fd=fd, dst_dir_fd=fd)
            done.append(path)
        self._pending = []
        return done

    def discard(self) -> None:
        for tmp, _ in self._pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._pending = []
        for fd in self._dirs.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dirs = {}

    def __enter__(self) -> "StagedFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        self.discard()


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
