"""What a new spec invalidates in an open clip: a pure diff of two specs.

Cached grids depend only on content, masks, styles, method, model and stride — never on weights or
strength. So:

* a *structural* change (method, stride, model, input, input colour space, OCIO config, smoothing, the
  regions' names/masks/mask channels/number of styles, the clip's frames) drops everything;
* replacing region ``k``'s ``i``-th style drops the passes that use it (:mod:`lookgrid.engine.chain`);
* changed weight or strength keyframes drop only the combined grids of the frames where the
  *evaluated* curves differ (normalised style weights via :func:`lookgrid.timeline.region_weights`,
  strength via :func:`lookgrid.timeline.changed_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from lookgrid.engine.spec import ClipSpec
from lookgrid.timeline import changed_frames, region_weights


def _layout(spec: ClipSpec) -> list[tuple]:
    return [(r.name, r.mask, r.mask_channel, len(r.styles)) for r in spec.regions]


def is_structural(
    old: ClipSpec, new: ClipSpec, old_frames: Sequence[int] | None = None, new_frames: Sequence[int] | None = None
) -> bool:
    """True when ``new`` needs the clip analysed from scratch (see the module docstring)."""
    return (
        new.method != old.method
        or max(int(new.stride), 1) != max(int(old.stride), 1)
        or new.model != old.model
        or new.input != old.input
        or new.input_colorspace != old.input_colorspace
        or new.config != old.config
        or new.smooth != old.smooth
        or _layout(new) != _layout(old)
        or (new_frames is not None and old_frames is not None and list(new_frames) != list(old_frames))
    )


def replaced_styles(old: ClipSpec, new: ClipSpec) -> set[tuple[int, int]]:
    """``(region index, style index)`` of every look that ``new`` replaces."""
    return {
        (k, i)
        for k, (ro, rn) in enumerate(zip(old.regions, new.regions))
        for i, (so, sn) in enumerate(zip(ro.styles, rn.styles))
        if so.style != sn.style
    }


def keyframe_changes(old: ClipSpec, new: ClipSpec, frames: Iterable[int]) -> set[int]:
    """The frames among ``frames`` where a region's strength or normalised style weights differ."""
    frames = list(frames)
    out: set[int] = set()
    for ro, rn in zip(old.regions, new.regions):
        out.update(changed_frames(ro.strength, rn.strength, frames))
        wo, wn = [s.weight for s in ro.styles], [s.weight for s in rn.styles]
        out.update(f for f in frames if f not in out and region_weights(wo, f) != region_weights(wn, f))
    return out


@dataclass(frozen=True)
class SpecChange:
    """The diff of two specs as the clip's caches see it."""

    structural: bool
    styles: frozenset[tuple[int, int]]

    @classmethod
    def between(
        cls,
        old: ClipSpec,
        new: ClipSpec,
        old_frames: Sequence[int] | None = None,
        new_frames: Sequence[int] | None = None,
    ) -> "SpecChange":
        if is_structural(old, new, old_frames, new_frames):
            return cls(True, frozenset())
        return cls(False, frozenset(replaced_styles(old, new)))
