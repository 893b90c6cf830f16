"""Frame sequences: file-name patterns, frame ranges, discovery on disk and gap reporting.

Patterns (the frame token may appear once, anywhere in the file name):

* printf: ``shot.%04d.exr`` (zero padded to 4 digits), ``shot.%d.exr`` (no padding);
* hashes: ``shot.####.exr`` — **one # per digit**, as Nuke and Blender read it (not fileseq's
  "# means 4 digits");
* at-signs: ``shot.@@@@.exr`` — one @ per digit (``@`` alone = no padding);
* a plain path with no token is a one-frame sequence (frame 1 unless ``frames`` names one frame).

Padding is a minimum width, as printf does: frame 12345 of ``####`` is ``12345``, frame -5 is
``-005``. Frame ranges: ``1001-1100``, ``1001-1100x2`` (every 2nd), ``1001``, and comma-separated
lists of those (``1-10,20,30-40x5``); negative frames are written ``-10--1``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from lookgrid.errors import InvalidInputError, MissingFramesError, ResourceLimitError

_TOKEN = re.compile(r"%(0?)(\d*)d|#+|@+")
#: the most frames one sequence (and so one clip) may have, whatever the syntax that names them:
#: ~70 minutes at 24 frames/s; a clip's frame list then still fits one small message
MAX_SEQUENCE_FRAMES = 100_000


def check_frame_count(n: int, what: str = "frames") -> None:
    """:class:`ResourceLimitError` when ``n`` frames are more than :data:`MAX_SEQUENCE_FRAMES`."""
    if n > MAX_SEQUENCE_FRAMES:
        raise ResourceLimitError(f"{what}: {n} frames; a sequence may have at most {MAX_SEQUENCE_FRAMES}")


_RANGE_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*(?:[x:]\s*(\d+))?)?\s*$")


def parse_frame_range(text: str) -> list[int]:
    """``"1001-1100x2"`` → [1001, 1003, ..., 1099] (sorted, unique).

    Accepts ``A``, ``A-B``, ``A-BxS`` (S > 0) and comma-separated lists of them; raises
    :class:`InvalidInputError` naming the bad item."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"empty frame range {text!r}")
    items = []
    for item in text.split(","):
        m = _RANGE_ITEM.match(item)
        if not m:
            raise InvalidInputError(f"bad frame range item {item.strip()!r} in {text!r} (use e.g. 1001-1100x2)")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        step = int(m.group(3)) if m.group(3) is not None else 1
        if step < 1:
            raise InvalidInputError(f"frame step must be at least 1 in {item.strip()!r}")
        if b < a:
            raise InvalidInputError(f"frame range {item.strip()!r} ends before it starts")
        items.append(range(a, b + 1, step))
    check_frame_count(sum(len(r) for r in items), f"frame range {text!r}")  # before expanding
    frames: set[int] = set()
    for r in items:
        frames.update(r)
    return sorted(frames)


def format_frame_ranges(frames: Iterable[int]) -> str:
    """[1, 2, 3, 5, 7, 8] → ``"1-3, 5, 7-8"`` (used to name gaps)."""
    fs = sorted(set(frames))
    parts = []
    i = 0
    while i < len(fs):
        j = i
        while j + 1 < len(fs) and fs[j + 1] == fs[j] + 1:
            j += 1
        parts.append(str(fs[i]) if i == j else f"{fs[i]}-{fs[j]}")
        i = j + 1
    return ", ".join(parts)


@dataclass(frozen=True)
class FrameSequence:
    """A frame-number → path mapping. Build with :meth:`parse`.

    Attributes:
        pattern: the pattern as given.
        frames: sorted frame numbers.
        padding: minimum digits (0 = none); None for a plain file.
    """

    pattern: str
    frames: tuple[int, ...]
    padding: int | None
    _prefix: str
    _suffix: str

    @classmethod
    def parse(cls, pattern: str | os.PathLike, frames: str | Iterable[int] | None = None) -> "FrameSequence":
        """Parse ``pattern``; ``frames`` is a range string, an iterable of ints, or None to
        discover the frames on disk (raising :class:`MissingFramesError` when there are none)."""
        pattern = os.fspath(pattern)
        folder, name = os.path.split(pattern)
        tokens = list(_TOKEN.finditer(name))
        if len(tokens) > 1:
            raise InvalidInputError(f"pattern {pattern!r} has more than one frame token")
        if isinstance(frames, str):
            frame_list = parse_frame_range(frames)
        elif frames is not None:
            frame_list = sorted({int(f) for f in frames})
            if not frame_list:
                raise InvalidInputError("no frames given")
            check_frame_count(len(frame_list), f"frames of {pattern!r}")
        else:
            frame_list = None
        if not tokens:
            if frame_list is not None and len(frame_list) != 1:
                raise InvalidInputError(
                    f"{pattern!r} is a single file (no frame token such as #### or %04d) but "
                    f"{len(frame_list)} frames were asked for"
                )
            if frame_list is None and not os.path.isfile(pattern):
                raise MissingFramesError(f"no such file: {pattern}")
            return cls(pattern, tuple(frame_list or [1]), None, pattern, "")
        tok = tokens[0]
        text = tok.group(0)
        if text.startswith("%"):
            padding = int(tok.group(2) or 0) if tok.group(1) or tok.group(2) else 0
        elif text.startswith("@") and len(text) == 1:
            padding = 0
        else:
            padding = len(text)
        prefix = os.path.join(folder, name[: tok.start()]) if folder else name[: tok.start()]
        seq = cls(pattern, (), padding, prefix, name[tok.end() :])
        if frame_list is None:
            frame_list = seq.discover()
            if not frame_list:
                raise MissingFramesError(f"no frames of {pattern!r} found on disk")
            check_frame_count(len(frame_list), f"frames of {pattern!r} on disk")
        return cls(pattern, tuple(frame_list), padding, prefix, name[tok.end() :])

    # -- mapping ---------------------------------------------------------------------------
    @property
    def is_single_file(self) -> bool:
        return self.padding is None

    def path(self, frame: int) -> str:
        """The file of ``frame`` (for a plain file: the file itself)."""
        if self.padding is None:
            return self._prefix
        return f"{self._prefix}{int(frame):0{self.padding}d}{self._suffix}"

    def with_frames(self, frames: Iterable[int]) -> "FrameSequence":
        """The same pattern over other frames (e.g. an output sequence like an input)."""
        frames = tuple(sorted({int(f) for f in frames}))
        if self.padding is None and len(frames) > 1:
            raise InvalidInputError(
                f"{self.pattern!r} is a single file (no frame token such as #### or %04d) and "
                f"cannot hold {len(frames)} frames"
            )
        return FrameSequence(self.pattern, frames, self.padding, self._prefix, self._suffix)

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[int]:
        return iter(self.frames)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    # -- disk --------------------------------------------------------------------------------
    def discover(self) -> list[int]:
        """Frame numbers of the files on disk that this pattern names, sorted."""
        if self.padding is None:
            return [1] if os.path.isfile(self._prefix) else []
        folder, base = os.path.split(self._prefix)
        folder = folder or "."
        rx = re.compile(re.escape(base) + r"(-?\d+)" + re.escape(self._suffix) + r"\Z")
        found = []
        try:
            entries = os.listdir(folder)
        except OSError:
            return []
        for entry in entries:
            m = rx.match(entry)
            if not m:
                continue
            frame = int(m.group(1))
            # only names this pattern would produce (####: frame 7 is 0007, not 07 nor 00007)
            if f"{frame:0{self.padding}d}" == m.group(1):
                found.append(frame)
        return sorted(found)

    def missing(self) -> list[int]:
        """Frames whose file does not exist."""
        return [f for f in self.frames if not os.path.isfile(self.path(f))]

    def check_exists(self) -> "FrameSequence":
        """Raise :class:`MissingFramesError` naming every gap; returns self when complete."""
        gone = self.missing()
        if gone:
            raise MissingFramesError(
                f"{len(gone)} of {len(self.frames)} frames of {self.pattern} are missing: {format_frame_ranges(gone)}"
            )
        return self

    def __str__(self) -> str:
        if self.padding is None:
            return self.pattern
        return f"{self.pattern} [{format_frame_ranges(self.frames)}]"
