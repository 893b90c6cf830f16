"""Chunks of frames: how a clip's frames are cut into farm tasks and named on the command line.

Pure functions over sorted frame numbers. A chunk is a list of the clip's frames; on the command
line and in Open Job Description it is a closed range ``"a-b"`` (``"a"`` or ``"a-a"`` for one frame),
which stands for the clip's frames between ``a`` and ``b`` — so a clip with a step (``1001-1100x2``)
needs no special case.
"""

from __future__ import annotations

import random
import re
from typing import Sequence

from lookgrid.errors import InvalidInputError

ORDERS = ("forward", "reverse", "shuffled")
_RANGE_RE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


def chunk_frames(frames: Sequence[int], size: int | None, wanted: Sequence[int] | None = None) -> list[list[int]]:
    """Cut the clip's ``frames`` (or only the ``wanted`` ones among them) into chunks of at most
    ``size`` frames (None or 0: no limit), in clip order.

    A chunk is a run of neighbours in the clip: a frame that is not wanted (e.g. one a resumed job
    already finished) ends the run, so every chunk is one ``"a-b"`` range of the clip."""
    if size is not None and int(size) < 0:
        raise InvalidInputError(f"chunk size must be >= 1, got {size}")
    want = None if wanted is None else set(int(f) for f in wanted)
    chunks: list[list[int]] = []
    extend = False
    for f in sorted(set(int(f) for f in frames)):
        if want is not None and f not in want:
            extend = False
            continue
        if extend and (not size or len(chunks[-1]) < int(size)):
            chunks[-1].append(f)
        else:
            chunks.append([f])
        extend = True
    return chunks


def order_chunks(chunks: list[list[int]], order: str = "forward", seed: int = 0) -> list[list[int]]:
    """The chunks in submission ``order``: forward, reverse or shuffled (seeded)."""
    if order not in ORDERS:
        raise InvalidInputError(f"unknown chunk order {order!r}; use {', '.join(ORDERS)}")
    out = list(chunks)
    if order == "reverse":
        out.reverse()
    elif order == "shuffled":
        random.Random(seed).shuffle(out)
    return out


def chunk_name(chunk: Sequence[int]) -> str:
    """``"a-b"`` (first and last frame) — the form Open Job Description hands a CHUNK[INT] task."""
    return f"{chunk[0]}-{chunk[-1]}"


def frames_in_range(text: str, frames: Sequence[int]) -> list[int]:
    """The clip's ``frames`` inside the range ``"a-b"`` (or ``"a"``); refuses an empty selection."""
    m = _RANGE_RE.match(str(text))
    if not m:
        raise InvalidInputError(f"bad frame chunk {text!r}; expected 'a-b' or 'a' (frame numbers)")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise InvalidInputError(f"bad frame chunk {text!r}: it ends before it starts")
    chosen = [f for f in frames if a <= f <= b]
    if not chosen:
        raise InvalidInputError(
            f"frame chunk {text!r} holds none of the clip's frames ({frames[0]}-{frames[-1]})"
            if frames
            else "the clip has no frames"
        )
    return chosen


def openjd_range(frames: Sequence[int]) -> str:
    """An Open Job Description range expression for ``frames``: ``"1001-1010"``, ``"1-9:2"``,
    ``"1-3,7,9-10"`` (runs of a constant step, joined by commas)."""
    fs = sorted(set(int(f) for f in frames))
    if not fs:
        raise InvalidInputError("no frames")
    parts, i = [], 0
    while i < len(fs):
        j = i
        step = fs[i + 1] - fs[i] if i + 1 < len(fs) else 1
        while j + 1 < len(fs) and fs[j + 1] - fs[j] == step:
            j += 1
        if j - i >= 2 or (j > i and step == 1):
            parts.append(f"{fs[i]}-{fs[j]}" + (f":{step}" if step != 1 else ""))
            i = j + 1
        else:
            parts.append(str(fs[i]))
            i += 1
    return ",".join(parts)
