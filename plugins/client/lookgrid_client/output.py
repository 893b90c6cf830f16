"""Writing a result sequence so that a failed or cancelled render leaves nothing behind.

:class:`StagedOutput` writes each frame into a hidden staging folder beside the destination
(``<dir>/.lookgrid-staging-<pid>-<n>/``, each file written to a temporary name and renamed), and
:meth:`~StagedOutput.commit` moves the complete set into place; :meth:`~StagedOutput.abort` (or
leaving a ``with`` block by an exception) removes the staging folder. Staging folders and
temporary files left by a process that was killed are removed by the next StagedOutput in the same
folder, so temp files never survive a rerun. Destination files are replaced one by one with
``os.replace`` (atomic per file). (This package cannot use the backend's ``lookgrid.fsutil``: hosts
install the client alone.)
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

from lookgrid_client.errors import InvalidRequestError

_PREFIX = ".lookgrid-staging-"
_counter = itertools.count()
_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%0?(\d*)d")


def frame_path(pattern: str, frame: int) -> str:
    """``pattern`` with its frame field filled: ``####`` (as many digits as hashes), ``%04d``, or
    ``@`` / ``#`` counted like ``#``."""
    if _PRINTF.search(pattern):
        return _PRINTF.sub(lambda m: f"{frame:0{m.group(1) or 1}d}", pattern, count=1)
    pattern = pattern.replace("@", "#")
    if _HASHES.search(pattern):
        return _HASHES.sub(lambda m: f"{frame:0{len(m.group(0))}d}", pattern, count=1)
    raise InvalidRequestError(f"the output pattern {pattern!r} has no frame field (#### or %04d)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StagedOutput:
    """Frames of one output pattern, staged until :meth:`commit`."""

    def __init__(self, pattern: str | os.PathLike) -> None:
        self.pattern = str(pattern)
        frame_path(self.pattern, 0)  # checks the pattern
        self.folder = Path(self.pattern).parent
        self._created = [d for d in [self.folder, *self.folder.parents] if not d.exists()]
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sweep()
        self.staging = self.folder / f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        self.staging.mkdir()
        self.frames: dict[int, Path] = {}

    def _sweep(self) -> None:
        for p in self.folder.glob(_PREFIX + "*"):
            try:
                pid = int(p.name[len(_PREFIX) :].split("-")[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    def write(self, frame: int, data: bytes) -> None:
        """Stage the bytes of ``frame``'s file (written to a temporary name, then renamed)."""
        final = self.staging / Path(frame_path(self.pattern, frame)).name
        tmp = final.with_name(final.name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
        self.frames[int(frame)] = final

    def commit(self) -> list[str]:
        """Move every staged frame to its destination; returns the destination paths in frame order."""
        out = []
        for frame in sorted(self.frames):
            dest = frame_path(self.pattern, frame)
            os.replace(self.frames[frame], dest)
            out.append(dest)
        self.frames.clear()
        shutil.rmtree(self.staging, ignore_errors=True)
        return out

    def abort(self) -> None:
        """Remove everything staged, and the folders this object created if they are empty; the
        destination's files are untouched."""
        self.frames.clear()
        shutil.rmtree(self.staging, ignore_errors=True)
        for d in self._created:  # deepest first
            try:
                d.rmdir()
            except OSError:
                break

    def __enter__(self) -> "StagedOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self.frames:
            self.commit()


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write a whole file under a temporary name in its folder (a staging name, so a killed
    writer's leftover is swept by the next StagedOutput there), then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_PREFIX}{os.getpid()}-{next(_counter)}-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


__all__ = ["StagedOutput", "frame_path", "write_atomic"]
