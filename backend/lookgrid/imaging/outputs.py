"""Checking where a job will write, before any work: :func:`check_output`.

A render that finds out at its first write (after the analysis, minutes in) that it cannot write
wastes the time and ends in a traceback naming a temporary file. :func:`check_output` answers in
milliseconds, with one line naming the user's own path:

* **a known format**: OpenImageIO must have a writer for the extension (``ImageOutput.create``,
  the same call :func:`lookgrid.imaging.io.write_image` makes);
* **enough names**: a path without a frame token holds one frame only; a padded token must have
  digits enough for the largest frame number (``out.##.exr`` for frames 1001-1100 would write
  ``out.1001.exr``, which a host reading ``##`` as two digits never finds); ``%d`` / ``@`` (no
  padding) take any number;
* **a writable folder**: the output folder, or the nearest folder above it that exists (the render
  creates the rest), must be a folder in which a file can be created. This is tried for real (a
  probe file, removed at once) rather than asked of ``os.access``, which says yes to root on a
  read-only mount.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import OpenImageIO as oiio

from lookgrid.errors import ImageWriteError, InvalidInputError
from lookgrid.imaging.sequence import FrameSequence


def _writer_exists(path: str) -> bool:
    out = oiio.ImageOutput.create(path)
    if out is None:
        oiio.geterror()  # clear the global error message left by the failed lookup
        return False
    return True


def _existing_folder(folder: str) -> str:
    """``folder`` or the nearest folder above it that exists (what the render would create under)."""
    folder = os.path.abspath(folder or ".")
    while not os.path.lexists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def check_writable_folder(folder: str, shown: str) -> None:
    """ImageWriteError naming ``shown`` unless a file can be created in ``folder`` (or in the
    nearest existing folder above it)."""
    base = _existing_folder(folder)
    if not os.path.isdir(base):
        raise ImageWriteError(f"cannot write {shown}: {base} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lookgrid-probe-", dir=base)
    except OSError as err:
        why = err.strerror or str(err)
        raise ImageWriteError(f"cannot write {shown}: the folder {base} is not writable ({why})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(pattern: str, frames: Sequence[int]) -> FrameSequence:
    """The output sequence of ``pattern`` over ``frames``, checked before any work (module
    docstring); raises a one-line InvalidInputError / ImageWriteError naming ``pattern``."""
    pattern = os.fspath(pattern)
    frames = list(frames)
    try:
        seq = FrameSequence.parse(pattern, frames)
    except InvalidInputError as err:
        raise InvalidInputError(f"output {pattern}: {err}") from None
    if seq.padding:
        widest = max(len(str(abs(f))) for f in (seq.first, seq.last))
        if widest > seq.padding:
            raise InvalidInputError(
                f"output {pattern}: frame {seq.last if len(str(abs(seq.last))) == widest else seq.first} "
                f"needs {widest} digits, the pattern has {seq.padding} (use {'#' * widest})"
            )
    ext = os.path.splitext(pattern)[1]
    if not ext or not _writer_exists(seq.path(seq.first)):
        known = "e.g. .exr, .png, .jpg, .tif, .dpx"
        raise InvalidInputError(
            f"output {pattern}: OpenImageIO has no writer for "
            f"{repr(ext) if ext else 'a name without an extension'} ({known})"
        )
    check_writable_folder(os.path.dirname(os.path.abspath(seq.path(seq.first))), pattern)  # one folder: the
    return seq  # token is in the name


__all__ = ["check_output", "check_writable_folder"]
