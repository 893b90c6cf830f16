"""Keyframes, weight curves and grid sub-sampling over time (paper §4.4 and §7).

Pure Python + numpy; no torch. Three ideas live here:

* :class:`Key` / :class:`Track` — a scalar curve over frame numbers, keyed with an interpolation per
  key (``constant``, ``linear``, ``smooth`` = smoothstep ease in/out, ``cubic`` = Fritsch–Carlson
  monotone cubic). A key's ``interp`` governs the segment from that key to the next one. Outside
  the keyed range the curve holds the first/last value.
* :func:`region_weights` — the per-style weights of one region at a frame, clipped at zero and
  normalised to sum to one (all zero → all zero: the engine then gives the region no look).
* :func:`subsample_frames` / :func:`bracket` / :func:`interpolation_bracket` — with stride ``r`` the
  grids are analysed only on every r-th frame of the clip (plus its last frame, so nothing is ever
  extrapolated); any other frame is a linear blend ``(1 - t)·Γ(f0) + t·Γ(f1)`` of its two analysed
  neighbours.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from lookgrid.errors import InvalidInputError

INTERPOLATIONS: tuple[str, ...] = ("constant", "linear", "smooth", "cubic")
_ALIASES = {
    "ease": "smooth",
    "smoothstep": "smooth",
    "step": "constant",
    "hold": "constant",
    "monotone-cubic": "cubic",
    "monotone_cubic": "cubic",
}


def normalize_interp(name: str) -> str:
    """Return the canonical interpolation name; accepts a few aliases (``ease`` → ``smooth``)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in INTERPOLATIONS:
        raise InvalidInputError(
            f"unknown interpolation {name!r}; expected one of {', '.join(INTERPOLATIONS)} (or 'ease')"
        )
    return key


@dataclass(frozen=True)
class Key:
    """One keyframe: ``value`` at ``frame``; ``interp`` shapes the segment to the *next* key."""

    frame: float
    value: float
    interp: str = "linear"

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.frame)) or not math.isfinite(float(self.value)):
            raise InvalidInputError(f"key frame and value must be finite, got ({self.frame}, {self.value})")
        object.__setattr__(self, "frame", float(self.frame))
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "interp", normalize_interp(self.interp))


def smoothstep(t: float) -> float:
    """Ease in/out on [0, 1]: ``3t² − 2t³`` (zero slope at both ends, so no kinks at keys)."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def fritsch_carlson_slopes(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """Tangents of the monotone cubic Hermite interpolant through ``(xs, ys)`` (Fritsch & Carlson 1980).

    ``xs`` strictly increasing. Interior tangents start as the mean of the neighbouring secants, are
    zero at local extrema (secants of different sign or zero), and are scaled so that
    ``α² + β² ≤ 9`` on every segment, which keeps each segment monotone (no overshoot).
    """
    n = len(xs)
    if n < 2:
        return [0.0] * n
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    d = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
    m = [0.0] * n
    m[0], m[-1] = d[0], d[-1]
    for i in range(1, n - 1):
        if d[i - 1] * d[i] <= 0.0:
            m[i] = 0.0
        else:
            m[i] = 0.5 * (d[i - 1] + d[i])
    for i in range(n - 1):
        if d[i] == 0.0:
            m[i] = m[i + 1] = 0.0
            continue
        a, b = m[i] / d[i], m[i + 1] / d[i]
        if a < 0.0:
            m[i], a = 0.0, 0.0
        if b < 0.0:
            m[i + 1], b = 0.0, 0.0
        s = a * a + b * b
        if s > 9.0:
            tau = 3.0 / math.sqrt(s)
            m[i], m[i + 1] = tau * a * d[i], tau * b * d[i]
    return m


def hermite(y0: float, y1: float, m0: float, m1: float, h: float, t: float) -> float:
    """Cubic Hermite segment of width ``h`` at local parameter ``t`` ∈ [0, 1]."""
    t2, t3 = t * t, t * t * t
    return (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * h * m0 + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * m1


@dataclass(frozen=True)
class Track:
    """A keyed scalar curve. Keys are sorted by frame; two keys on one frame are an error."""

    keys: tuple[Key, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        keys = tuple(sorted((k if isinstance(k, Key) else Key(*k) for k in self.keys), key=lambda k: k.frame))
        if not keys:
            raise InvalidInputError("a track needs at least one key")
        for a, b in zip(keys, keys[1:]):
            if a.frame == b.frame:
                raise InvalidInputError(f"two keys on frame {a.frame:g}")
        object.__setattr__(self, "keys", keys)
        xs = [k.frame for k in keys]
        ys = [k.value for k in keys]
        object.__setattr__(self, "_xs", xs)
        object.__setattr__(self, "_ys", ys)
        object.__setattr__(self, "_slopes", fritsch_carlson_slopes(xs, ys))

    @classmethod
    def constant(cls, value: float) -> "Track":
        """A track that is ``value`` everywhere."""
        return cls((Key(0.0, value, "constant"),))

    @property
    def is_constant(self) -> bool:
        return all(k.value == self.keys[0].value for k in self.keys)

    def evaluate(self, frame: float) -> float:
        """Value at ``frame`` (any real number; held constant outside the keyed range)."""
        xs, ys = self._xs, self._ys  # type: ignore[attr-defined]
        frame = float(frame)
        if frame <= xs[0]:
            return ys[0]
        if frame >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, frame) - 1
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        t = (frame - x0) / (x1 - x0)
        interp = self.keys[i].interp
        if interp == "constant":
            return y0
        if interp == "linear":
            return y0 + (y1 - y0) * t
        if interp == "smooth":
            return y0 + (y1 - y0) * smoothstep(t)
        m = self._slopes  # type: ignore[attr-defined]
        return hermite(y0, y1, m[i], m[i + 1], x1 - x0, t)

    def evaluate_many(self, frames: Iterable[float]) -> list[float]:
        return [self.evaluate(f) for f in frames]

    # --- plain-data form: protobuf's JSON mapping of lookgrid.v1.Track -------------------------
    def to_dict(self) -> dict:
        """``{"keys": [{"frame", "value", "interpolation"}, ...]}`` with proto3 defaults omitted
        (frame 0, value 0, interpolation LINEAR is written as its enum name, never omitted)."""
        keys = []
        for k in self.keys:
            d: dict = {}
            if k.frame != 0.0:
                d["frame"] = k.frame
            if k.value != 0.0:
                d["value"] = k.value
            d["interpolation"] = interp_to_proto(k.interp)
            keys.append(d)
        return {"keys": keys}

    @classmethod
    def from_dict(cls, data, default: float | None = None) -> "Track":
        """Accepts ``{"keys": [...]}``, a bare list of keys, or a number (a constant track).

        An empty track (no keys) is ``Track.constant(default)`` when ``default`` is given, else an
        error. Each key's interpolation is read from ``interpolation`` (or ``interp``)."""
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return cls.constant(float(data))
        if data is None:
            data = {}
        if isinstance(data, dict):
            keys = data.get("keys", [])
        elif isinstance(data, (list, tuple)):
            keys = data
        else:
            raise InvalidInputError(f"a track must be an object with 'keys', got {type(data).__name__}")
        if not keys and default is not None:
            return cls.constant(default)
        out = []
        for k in keys:
            if not isinstance(k, dict):
                raise InvalidInputError(f"a key must be an object, got {k!r}")
            try:
                frame, value = float(k.get("frame", 0.0)), float(k.get("value", 0.0))
            except (TypeError, ValueError):
                raise InvalidInputError(f"a key's frame and value must be numbers, got {k!r}") from None
            out.append(Key(frame, value, interp_from_proto(k.get("interpolation", k.get("interp", 0)))))
        return cls(tuple(out))


# protobuf enum names of lookgrid.v1.Key.Interpolation; 0 (UNSPECIFIED) means linear.
_PROTO_INTERP = {"constant": "CONSTANT", "linear": "LINEAR", "smooth": "SMOOTH", "cubic": "CUBIC"}
_PROTO_INTERP_NUM = {0: "linear", 1: "constant", 2: "linear", 3: "smooth", 4: "cubic"}


def interp_to_proto(name: str) -> str:
    """Canonical name → enum name of ``lookgrid.v1.Key.Interpolation`` (``smooth`` → ``SMOOTH``)."""
    return _PROTO_INTERP[normalize_interp(name)]


def interp_from_proto(value) -> str:
    """Enum name (``SMOOTH``), enum number, or a plain name (``smooth``/``ease``) → canonical name."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in _PROTO_INTERP_NUM:
            raise InvalidInputError(f"unknown interpolation number {value}")
        return _PROTO_INTERP_NUM[value]
    text = str(value)
    if text.upper() in ("INTERPOLATION_UNSPECIFIED", ""):
        return "linear"
    return normalize_interp(text)


# --- region weights --------------------------------------------------------------------------------
def region_weights(tracks: Sequence[Track], frame: float) -> list[float]:
    """Per-style weights of one region at ``frame``: ``max(w, 0)`` normalised to sum to 1.

    When every weight is zero the result is all zeros (the region gets no look; the engine blends
    it toward the identity grid) rather than a silent uniform mix.
    """
    raw = [max(t.evaluate(frame), 0.0) for t in tracks]
    total = sum(raw)
    if total <= 0.0:
        return [0.0] * len(raw)
    return [w / total for w in raw]


# --- temporal sub-sampling --------------------------------------------------------------------------
def subsample_frames(frames: Sequence[int], stride: int) -> list[int]:
    """The frames whose grids are analysed with stride ``r``: every r-th frame of the sorted clip,
    counted from its first frame, plus the last frame (so every frame lies between two anchors).

    >>> subsample_frames(range(1, 11), 4)
    [1, 5, 9, 10]
    """
    stride = int(stride)
    if stride < 1:
        raise InvalidInputError(f"stride must be >= 1, got {stride}")
    fs = sorted(set(int(f) for f in frames))
    if not fs:
        return []
    out = fs[::stride]
    if out[-1] != fs[-1]:
        out.append(fs[-1])
    return out


def bracket(frame: float, anchors: Sequence[int]) -> tuple[int, int, float]:
    """``(f0, f1, t)`` with ``f0 <= frame <= f1`` consecutive anchors and ``t = (frame−f0)/(f1−f0)``.

    On an anchor, ``f0 == f1 == frame`` and ``t == 0``. Outside the anchors' range the nearest end is
    held (``t == 0``).
    """
    if not anchors:
        raise InvalidInputError("no analysed frames to interpolate between")
    frame = float(frame)
    i = bisect.bisect_left(anchors, frame)
    if i < len(anchors) and anchors[i] == frame:
        return int(anchors[i]), int(anchors[i]), 0.0
    if i == 0:
        return int(anchors[0]), int(anchors[0]), 0.0
    if i == len(anchors):
        return int(anchors[-1]), int(anchors[-1]), 0.0
    f0, f1 = anchors[i - 1], anchors[i]
    return int(f0), int(f1), (frame - f0) / (f1 - f0)


def interpolation_bracket(
    frame: int, stride: int, *, first: int = 0, last: int | None = None
) -> tuple[int, int, float]:
    """``(f0, f1, t)`` for contiguous frames numbered from ``first`` with grids every ``stride`` frames.

    ``f0 = first + ⌊(frame − first)/r⌋·r``, ``f1 = min(f0 + r, last)``; ``t`` as in :func:`bracket`.
    """
    stride = int(stride)
    if stride < 1:
        raise InvalidInputError(f"stride must be >= 1, got {stride}")
    if frame < first:
        return first, first, 0.0
    f0 = first + ((int(frame) - first) // stride) * stride
    if f0 == frame:
        return f0, f0, 0.0
    f1 = f0 + stride
    if last is not None:
        if frame >= last:
            return last, last, 0.0
        f1 = min(f1, last)
    return f0, f1, (frame - f0) / (f1 - f0)


def changed_frames(old: Track, new: Track, frames: Iterable[int], *, tol: float = 0.0) -> list[int]:
    """The frames among ``frames`` where two tracks differ by more than ``tol`` (exact evaluation)."""
    return [f for f in frames if abs(old.evaluate(f) - new.evaluate(f)) > tol]


__all__ = [
    "INTERPOLATIONS",
    "Key",
    "Track",
    "bracket",
    "changed_frames",
    "fritsch_carlson_slopes",
    "hermite",
    "interp_from_proto",
    "interp_to_proto",
    "interpolation_bracket",
    "normalize_interp",
    "region_weights",
    "smoothstep",
    "subsample_frames",
]
