"""Keyframes from a host: a curve sampled at every frame -> a ``Track`` in the spec's JSON form.

Hosts evaluate their own curves (Blender F-curves, Nuke animation curves, Resolve keyframes) at
every frame of the range; :func:`track_from_samples` turns those samples into a ``lookgrid.v1.Track``
dict (protobuf JSON names: ``{"keys": [{"frame", "value", "interpolation"}]}``) that gives exactly
the sampled value at every sampled frame, whatever interpolation the host used between its keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from lookgrid_client.errors import InvalidRequestError

_INTERPOLATIONS = {"linear": "LINEAR", "constant": "CONSTANT"}


def _pairs(samples) -> list[tuple[float, float]]:
    items = samples.items() if isinstance(samples, Mapping) else samples
    out = []
    for item in items:
        try:
            frame, value = item
            frame, value = float(frame), float(value)
        except (TypeError, ValueError):
            raise InvalidRequestError(f"a curve sample must be (frame, value) numbers, got {item!r}") from None
        if not (math.isfinite(frame) and math.isfinite(value)):
            raise InvalidRequestError(f"curve sample at frame {frame:g} is not finite: {value!r}")
        out.append((frame, value))
    out.sort()
    for (f0, _), (f1, _) in zip(out, out[1:]):
        if f0 == f1:
            raise InvalidRequestError(f"the curve is sampled twice at frame {f0:g}")
    return out


def _number(x: float):
    return int(x) if x.is_integer() else x


def _on_line(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    """True when ``b`` lies on the straight line from ``a`` to ``c`` to within float rounding, so
    linear interpolation between ``a`` and ``c`` reproduces it."""
    (fa, va), (fb, vb), (fc, vc) = a, b, c
    predicted = va + (vc - va) * (fb - fa) / (fc - fa)
    return abs(predicted - vb) <= 1e-12 * max(1.0, abs(va), abs(vb), abs(vc))


def _reproduces(keys: list[tuple[float, float]], pts: list[tuple[float, float]]) -> bool:
    """True when linear interpolation between ``keys`` gives every one of ``pts``."""
    j = 0
    for p in pts:
        while j + 1 < len(keys) and keys[j + 1][0] <= p[0]:
            j += 1
        if keys[j][0] == p[0]:
            if keys[j][1] != p[1]:
                return False
        elif not _on_line(keys[j], p, keys[j + 1]):
            return False
    return True


def track_from_samples(
    samples: Mapping[float, float] | Iterable[tuple[float, float]], interpolation: str = "linear"
) -> dict:
    """A Track dict that equals ``samples`` at every sampled frame.

    ``samples``: a mapping frame -> value or (frame, value) pairs (any order, each frame once).
    ``interpolation``: ``"linear"`` (straight lines between samples; keys in the middle of a
    straight run are dropped) or ``"constant"`` (steps; keys that repeat the previous value are
    dropped). Before the first and after the last sample the track holds the end values, as every
    Track does. No samples give ``{"keys": []}`` (the owner's default, 1).
    """
    try:
        interp = _INTERPOLATIONS[str(interpolation).lower()]
    except KeyError:
        raise InvalidRequestError(
            f"interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}"
        ) from None
    pts = _pairs(samples)
    if interp == "CONSTANT":
        kept = [p for i, p in enumerate(pts) if i == 0 or p[1] != pts[i - 1][1]]
        if len(kept) == 1 and len(pts) > 1:
            kept = [pts[0]]
    else:
        # A middle sample on the line through its two neighbours is redundant; in a run of such
        # samples all lie on one line (consecutive collinear triples share two points), so the
        # run's end keys alone reproduce every one of them.
        kept = [p for i, p in enumerate(pts) if i == 0 or i == len(pts) - 1 or not _on_line(pts[i - 1], p, pts[i + 1])]
        if not _reproduces(kept, pts):  # rounding drift along a very long run: keep every sample
            kept = pts
    return {"keys": [{"frame": _number(f), "value": v, "interpolation": interp} for f, v in kept]}


__all__ = ["track_from_samples"]
