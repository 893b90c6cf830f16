"""The engine: clips with explicit temporal state, analysis (grids), render (slice), grid cache.

* :mod:`.spec` — the job description (``ClipSpec``), validated once on its way in;
* :mod:`.methods` — the ways of transferring a look (``METHOD_NAMES``, one ``Method`` each);
* :mod:`.clip` — one clip's regions, inputs and low-res cache; :mod:`.chain` — its temporal chains
  and their replay; :mod:`.invalidation` — what a new spec invalidates;
* :mod:`.styles` — the style store; :mod:`.registry` — open clips, eviction, the busy gate;
* :mod:`.track` — the grid-track file; :mod:`.jobs` — whole-sequence jobs; :mod:`.io` — a
  sequence's files;
* :mod:`.engine` — the façade, :class:`Engine`.
"""

from __future__ import annotations

from lookgrid.engine.spec import BACKGROUND, ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.methods import METHOD_NAMES, Method, get_method
from lookgrid.engine.clip import Clip
from lookgrid.engine.jobs import RenderSummary
from lookgrid.engine.engine import Engine, ModelInfo

__all__ = ["BACKGROUND", "METHOD_NAMES", "Clip", "ClipSpec", "Engine", "Method", "ModelInfo",
           "RegionSpec", "RenderSummary", "StyleTrack", "get_method"]
