"""A clip's analysis: its analysed grids as plain data and as a file, saved once and rendered from
anywhere (``Engine.analyze_clip`` writes it, ``Engine.render_clip(analysis=...)`` reads it).

File format (``torch.save`` of a dict, loaded with ``weights_only=True``; the format name is the one
such files have always carried, so older files still load)::

    {"format": "lookgrid-track", "version": 1,
     "analysis": analysis_key(spec),        # what the grids depend on (see below)
     "frames": [...],                       # the clip's frame numbers
     "keys": [[frame, region, style], ...], # one per grid, sorted
     "grids": (K, 12, D, Hg, Wg) float32}

Grids depend only on content, masks, styles, method, model, stride and colour settings — not on
weights, strength or output — so an analysis stays valid when only keyframes change (the farm analyses
once, then renders chunks in any order: :mod:`lookgrid.engine.jobs`).
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import torch

from lookgrid.engine.chain import GridKey
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import atomic_write

ANALYSIS_FORMAT = "lookgrid-track"
ANALYSIS_VERSION = 1


def analysis_key(spec: ClipSpec) -> dict:
    """The parts of a spec that the analysed grids depend on (not weights, not strength, not output)."""
    return {
        "input": spec.input,
        "frames": spec.frames or "",
        "inputColorspace": spec.input_colorspace,
        "config": spec.config or "",
        "method": spec.method,
        "stride": max(int(spec.stride), 1),
        "model": spec.model or "",
        "regions": [[r.name, r.mask or "", r.mask_channel, [s.style for s in r.styles]] for r in spec.regions],
    }


def export_analysis(spec: ClipSpec, frames: Sequence[int] | None, grids: Mapping[GridKey, torch.Tensor]) -> dict:
    """The analysis of a clip: its analysed ``grids`` as plain data (CPU tensors)."""
    keys = sorted(grids)
    stacked = torch.stack([grids[k] for k in keys]).cpu() if keys else torch.zeros(0, 12, 1, 1, 1)
    return {
        "format": ANALYSIS_FORMAT,
        "version": ANALYSIS_VERSION,
        "analysis": analysis_key(spec),
        "frames": list(frames or []),
        "keys": [list(k) for k in keys],
        "grids": stacked,
    }


def check_analysis(analysis, spec: ClipSpec, frames: Sequence[int] | None) -> dict[GridKey, torch.Tensor]:
    """The grids of ``analysis`` by key, after checking it was analysed with ``spec``'s inputs and
    ``frames``; :class:`InvalidInputError` saying what differs otherwise."""
    if not isinstance(analysis, dict) or analysis.get("format") != ANALYSIS_FORMAT:
        raise InvalidInputError("not a LookGrid analysis (format 'lookgrid-track')")
    if analysis.get("version") != ANALYSIS_VERSION:
        raise InvalidInputError(f"analysis version {analysis.get('version')} is not supported")
    if analysis.get("analysis") != analysis_key(spec):
        raise InvalidInputError(
            "the analysis was made with other inputs (frames, masks, "
            "styles, method, stride, model or colour settings) than this clip"
        )
    if frames is not None and list(analysis.get("frames") or []) != list(frames):
        raise InvalidInputError("the analysis covers other frames than this clip")
    return {GridKey(int(k[0]), int(k[1]), int(k[2])): g for k, g in zip(analysis["keys"], analysis["grids"])}


def save_analysis(analysis: dict, path) -> str:
    """Write ``analysis`` to ``path`` atomically (folders created); returns the path."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as tmp:
        torch.save(analysis, tmp)
    return path


def load_analysis(path) -> dict:
    """Read an analysis file; :class:`InvalidInputError` for a missing, damaged or foreign file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InvalidInputError(f"analysis {path} does not exist") from None
    except Exception as err:  # a damaged or foreign file
        raise InvalidInputError(f"cannot read analysis {path}: {err}") from None
