"""The ways of transferring a look (the spec's ``method``), one :class:`Method` object each.

=============  ========  =========================================  ================================
name           temporal  passes (:mod:`lookgrid.engine.chain`)      render
=============  ========  =========================================  ================================
lookgrid       yes       one :class:`StylePass` per style index     per-region grids mixed by the
                                                                    keyframed weights, one slice
per-frame      no        the same, without the ST-AdaIN state       the same
pixel-blend    yes       one :class:`RegionStylePass` per look      one full-frame render per
                         (full-frame mask)                          region, blended with the mattes
reinhard       no        none (no network, no grids)                per-region colour statistics
                                                                    (:func:`reinhard_transfer`)
=============  ========  =========================================  ================================

This module is the only place that tells methods apart; everything else asks the method object
(``clip.method.temporal``, ``clip.method.analysed``, ``method.render(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from lookgrid.engine.chain import Pass, RegionStylePass, StylePass
from lookgrid.engine.spec import METHOD_NAMES
from lookgrid.errors import InvalidInputError
from lookgrid.model.blend import pixel_blend
from lookgrid.model.grid import identity_grid
from lookgrid.model.reinhard import reinhard_transfer

if TYPE_CHECKING:  # annotations only
    from lookgrid.engine.clip import Clip


def combine_styles(grids: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """``Σᵢ wᵢ·Γᵢ + (1 − Σᵢ wᵢ)·I`` for one region; grids each ``(12, D, Hg, Wg)``.

    With normalised weights this is the plain weighted sum; all-zero weights give the identity.
    """
    total = float(sum(weights))
    out = None
    for g, w in zip(grids, weights):
        if w == 0.0:
            continue
        out = g * w if out is None else out + g * w
    ident = identity_grid(1, *grids[0].shape[1:], dtype=grids[0].dtype, device=grids[0].device)[0]
    if out is None:
        return ident
    if total < 1.0:
        out = out + ident * (1.0 - total)
    return out


@dataclass(frozen=True)
class Method:
    """A way of transferring looks. ``temporal``: its passes carry ST-AdaIN state along the analysed
    frames; ``analysed``: it runs the network (has grids); ``mixes_grids``: it has one blended grid
    per region (:meth:`Clip.grids_at`)."""

    name: str
    temporal: bool
    analysed: bool
    mixes_grids: bool
    description: str

    def passes(self, clip: "Clip") -> list[Pass]:
        """The independent network passes of ``clip`` under this method."""
        raise NotImplementedError

    def render(self, clip: "Clip", frame: int, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """image ``(1,3,H,W)``, all N masks ``(1,N,H,W)`` → ``(1,3,H,W)`` working space."""
        raise NotImplementedError


class GridMethod(Method):
    """Per-region grids mixed in grid space by the keyframed weights, sliced once (``lookgrid``,
    and ``per-frame`` without temporal state)."""

    def passes(self, clip):
        return [StylePass(p) for p in range(clip.n_passes)]

    def render(self, clip, frame, image, masks):
        with clip.lock:
            grids = clip.grids_at(frame)
            strength = clip.strength_at(frame)
        return clip.engine.render_grids(image, masks, grids, strength)


class PixelBlendMethod(Method):
    """One full-frame render per region (its looks mixed in grid space), blended with the mattes."""

    def passes(self, clip):
        return [RegionStylePass(k, i) for k in clip.styled for i in range(len(clip.regions[k].styles))]

    def render(self, clip, frame, image, masks):
        with clip.lock:
            per_region = clip.region_grids(frame)
            weights = clip.weights_at(frame)
            strength = clip.strength_at(frame)
            ones = torch.ones_like(masks[:, :1])
            outs = []
            for k in range(clip.n_regions):
                if not per_region[k]:
                    outs.append(image)
                    continue
                g = combine_styles(per_region[k], weights[k])[None]
                outs.append(clip.engine.render_grids(image, ones, g, strength[k:k + 1]))
            return pixel_blend(image, outs, masks)


class ReinhardMethod(Method):
    """Per-region Reinhard transfer. ``reinhard_transfer`` is linear in its strengths
    (``x + Σ_k s_k w_k (T_k(x) − x)``), so a region's keyframed style mix is one call per style
    index with strengths ``s_k·w_kp``, and the calls' changes add up."""

    def passes(self, clip):
        return []

    def render(self, clip, frame, image, masks):
        with clip.lock:
            x = image[0].permute(1, 2, 0).cpu().numpy()
            m = masks[0].cpu().numpy()
            weights = clip.weights_at(frame)
            strength = clip.strength_at(frame).cpu().numpy()
            any_style = next(s.style for r in clip.regions for s in r.styles)
            out = x.copy()
            for p in range(clip.n_passes):
                s_p = [float(strength[k] * weights[k][p]) if p < len(weights[k]) else 0.0
                       for k in range(clip.n_regions)]
                if not any(s_p):
                    continue
                styles = [clip.engine.styles.stats(clip.style_at(k, p) if clip.regions[k].styles
                                                   else any_style) for k in range(clip.n_regions)]
                out += reinhard_transfer(x, m, styles, strength=s_p) - x
            return torch.as_tensor(np.asarray(out), dtype=torch.float32,
                                   device=image.device).permute(2, 0, 1)[None]


METHODS: tuple[Method, ...] = (
    GridMethod("lookgrid", temporal=True, analysed=True, mixes_grids=True,
               description="bilateral grids with temporal state (ST-AdaIN), blended per region"),
    GridMethod("per-frame", temporal=False, analysed=True, mixes_grids=True,
               description="the same grids without temporal state (each frame alone)"),
    PixelBlendMethod("pixel-blend", temporal=True, analysed=True, mixes_grids=False,
                     description="one full-frame transfer per region, blended in pixel space"),
    ReinhardMethod("reinhard", temporal=False, analysed=False, mixes_grids=False,
                   description="classical per-region colour-statistics transfer (no network)"),
)
if tuple(m.name for m in METHODS) != METHOD_NAMES:
    raise ImportError(f"lookgrid.engine.methods: the table {[m.name for m in METHODS]} disagrees with "
                      f"the spec's METHOD_NAMES {list(METHOD_NAMES)} (lookgrid.engine.spec)")
_BY_NAME = {m.name: m for m in METHODS}


def get_method(name: str) -> Method:
    """The :class:`Method` called ``name``; :class:`InvalidInputError` naming the choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidInputError(f"unknown method {name!r}; expected one of {', '.join(METHOD_NAMES)}") from None
