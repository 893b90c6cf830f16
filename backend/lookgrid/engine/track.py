"""The grid-track file: a clip's analysed grids, saved once and rendered from anywhere.

Format (``torch.save`` of a dict, loaded with ``weights_only=True``)::

    {"format": "lookgrid-track", "version": 1,
     "analysis": analysis_key(spec),        # what the grids depend on (see below)
     "frames": [...],                       # the clip's frame numbers
     "keys": [[frame, region, style], ...], # one per grid, sorted
     "grids": (K, 12, D, Hg, Wg) float32}

Grids depend only on content, masks, styles, method, model, stride and colour settings — not on
weights, strength or output — so a track stays valid when only keyframes change (the farm analyses
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

TRACK_FORMAT = "lookgrid-track"
TRACK_VERSION = 1


def analysis_key(spec: ClipSpec) -> dict:
    """The parts of a spec that the analysed grids depend on (not weights, not strength, not output)."""
    return {"input": spec.input, "frames": spec.frames or "", "inputColorspace": spec.input_colorspace,
            "config": spec.config or "", "method": spec.method, "stride": max(int(spec.stride), 1),
            "model": spec.model or "",
            "regions": [[r.name, r.mask or "", r.mask_channel, [s.style for s in r.styles]]
                        for r in spec.regions]}


def export_track(spec: ClipSpec, frames: Sequence[int] | None,
                 grids: Mapping[GridKey, torch.Tensor]) -> dict:
    """The track of a clip's analysed ``grids`` (CPU tensors)."""
    keys = sorted(grids)
    stacked = (torch.stack([grids[k] for k in keys]).cpu() if keys else torch.zeros(0, 12, 1, 1, 1))
    return {"format": TRACK_FORMAT, "version": TRACK_VERSION, "analysis": analysis_key(spec),
            "frames": list(frames or []), "keys": [list(k) for k in keys], "grids": stacked}


def check_track(track, spec: ClipSpec, frames: Sequence[int] | None) -> dict[GridKey, torch.Tensor]:
    """The grids of ``track`` by key, after checking it was analysed with ``spec``'s inputs and
    ``frames``; :class:`InvalidInputError` saying what differs otherwise."""
    if not isinstance(track, dict) or track.get("format") != TRACK_FORMAT:
        raise InvalidInputError("not a LookGrid grid track (format 'lookgrid-track')")
    if track.get("version") != TRACK_VERSION:
        raise InvalidInputError(f"grid track version {track.get('version')} is not supported")
    if track.get("analysis") != analysis_key(spec):
        raise InvalidInputError("the grid track was analysed with other inputs (frames, masks, "
                                "styles, method, stride, model or colour settings) than this clip")
    if frames is not None and list(track.get("frames") or []) != list(frames):
        raise InvalidInputError("the grid track covers other frames than this clip")
    return {GridKey(int(k[0]), int(k[1]), int(k[2])): g for k, g in zip(track["keys"], track["grids"])}


def save_track(track: dict, path) -> str:
    """Write ``track`` to ``path`` atomically (folders created); returns the path."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as tmp:
        torch.save(track, tmp)
    return path


def load_track(path) -> dict:
    """Read a track file; :class:`InvalidInputError` for a missing, damaged or foreign file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InvalidInputError(f"grid track {path} does not exist") from None
    except Exception as err:  # a damaged or foreign file
        raise InvalidInputError(f"cannot read grid track {path}: {err}") from None
