"""The engine: clips with explicit temporal state, analysis (grids), render (slice), grid cache.

* :mod:`.spec` — the job description (``ClipSpec``, ``METHOD_NAMES``), validated once on its way
  in; no torch: importing it (or this package for the spec's names) loads no model code;
* :mod:`.methods` — the ways of transferring a look, one ``Method`` each;
* :mod:`.clip` — one clip's regions, inputs and caches; :mod:`.chain` — its temporal chains
  and their replay; :mod:`.lowres` — its network-resolution frames; :mod:`.tensors` — array
  helpers; :mod:`.invalidation` — what a new spec invalidates;
* :mod:`.styles` — the style store; :mod:`.registry` — open clips, eviction, the busy gate;
* :mod:`.analysis` — a clip's analysed grids as a file; :mod:`.jobs` — whole-sequence jobs; :mod:`.io` — a
  sequence's files;
* :mod:`.engine` — the façade, :class:`Engine`.

The spec's names are imported here at once; the rest on first use (:data:`_LAZY`), so a caller
that only reads or writes specs does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lookgrid.engine.spec import BACKGROUND, METHOD_NAMES, ClipSpec, RegionSpec, StyleTrack

if TYPE_CHECKING:  # the names _LAZY loads, for type checkers (the same edges as _LAZY)
    from lookgrid.engine.clip import Clip
    from lookgrid.engine.engine import Engine, ModelInfo
    from lookgrid.engine.jobs import RenderSummary
    from lookgrid.engine.methods import Method, get_method

#: the package's names that need torch, by the module that defines them
_LAZY = {
    "Clip": "lookgrid.engine.clip",
    "Engine": "lookgrid.engine.engine",
    "ModelInfo": "lookgrid.engine.engine",
    "RenderSummary": "lookgrid.engine.jobs",
    "Method": "lookgrid.engine.methods",
    "get_method": "lookgrid.engine.methods",
}


def __getattr__(name: str):
    """``lookgrid.engine.Engine`` and the other names of :data:`_LAZY`, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lookgrid.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BACKGROUND",
    "METHOD_NAMES",
    "Clip",
    "ClipSpec",
    "Engine",
    "Method",
    "ModelInfo",
    "RegionSpec",
    "RenderSummary",
    "StyleTrack",
    "get_method",
]
