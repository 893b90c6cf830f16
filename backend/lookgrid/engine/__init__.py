"""Per-clip state, analysis (grids), render (slice), grid cache — see :mod:`lookgrid.engine.core`.

``from lookgrid.engine import Engine, ClipSpec`` works; the torch-heavy parts are imported only when
first used, so ``lookgrid.engine.spec`` stays light (no torch) for the service and the command line.
"""

from __future__ import annotations

from lookgrid.engine.spec import BACKGROUND, METHODS, ClipSpec, RegionSpec, StyleTrack

_CORE = {"Engine", "Clip", "RenderSummary", "resolve_device", "combine_styles", "full_masks",
         "pixel_blend", "resize_planes"}


def __getattr__(name: str):
    if name in _CORE:
        from lookgrid.engine import core

        return getattr(core, name)
    raise AttributeError(f"module 'lookgrid.engine' has no attribute {name!r}")


__all__ = ["BACKGROUND", "METHODS", "ClipSpec", "RegionSpec", "StyleTrack", *sorted(_CORE)]
