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

A method renders from the model runtime (:class:`lookgrid.engine.runtime.ModelRuntime`) and a
:class:`FrameRecord`: the frame's grids, weights, strengths and style keys, frozen. The clip fills
the record under its own lock (:meth:`lookgrid.engine.clip.Clip.record_at`); no method takes a
lock or sees the clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from lookgrid.engine.chain import Pass, RegionStylePass, StylePass
from lookgrid.engine.runtime import ModelRuntime
from lookgrid.engine.spec import METHOD_NAMES, RegionSpec
from lookgrid.errors import InvalidInputError
from lookgrid.model.blend import pixel_blend
from lookgrid.model.grid import identity_grid
from lookgrid.model.reinhard import reinhard_transfer


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
class FrameRecord:
    """What a method renders one frame from, filled by the clip under its lock and frozen.

    Per region ``k`` of the clip's N (background included): ``styles[k]`` its style keys (none for
    the implicit background), ``weights[k]`` their normalised weights at the frame. ``strength``
    ``(N,)``. The grids, as the method asks for them: ``grids`` ``(N,12,D,Hg,Wg)``, each region's
    styles mixed (methods that mix grids), or ``style_grids[k][i]`` ``(12,D,Hg,Wg)``, region ``k``'s
    ``i``-th style alone (analysed methods that do not); ``None`` when not asked for.
    """

    frame: int
    styles: tuple[tuple[str, ...], ...]
    weights: tuple[tuple[float, ...], ...]
    strength: torch.Tensor
    grids: torch.Tensor | None = None
    style_grids: tuple[tuple[torch.Tensor, ...], ...] | None = None

    @property
    def n_regions(self) -> int:
        return len(self.styles)

    @property
    def n_passes(self) -> int:
        """The most styles any region has."""
        return max(len(s) for s in self.styles)

    def style_at(self, region: int, p: int) -> str:
        """Region ``region``'s ``p``-th style key (its last when it has fewer)."""
        styles = self.styles[region]
        return styles[min(p, len(styles) - 1)]


@dataclass(frozen=True)
class Method:
    """A way of transferring looks. ``temporal``: its passes carry ST-AdaIN state along the analysed
    frames; ``analysed``: it runs the network (has grids); ``mixes_grids``: it has one blended grid
    per region (:meth:`Clip.grids_at`, :attr:`FrameRecord.grids`; analysed methods that do not mix
    get :attr:`FrameRecord.style_grids`)."""

    name: str
    temporal: bool
    analysed: bool
    mixes_grids: bool
    description: str

    def passes(self, regions: Sequence[RegionSpec], styled: Sequence[int]) -> list[Pass]:
        """The independent network passes of a clip's ``regions`` (``styled``: the indices of those
        with styles) under this method."""
        raise NotImplementedError

    def render(
        self, runtime: ModelRuntime, record: FrameRecord, image: torch.Tensor, masks: torch.Tensor
    ) -> torch.Tensor:
        """image ``(1,3,H,W)``, all N masks ``(1,N,H,W)`` → ``(1,3,H,W)`` working space."""
        raise NotImplementedError


class GridMethod(Method):
    """Per-region grids mixed in grid space by the keyframed weights, sliced once (``lookgrid``,
    and ``per-frame`` without temporal state)."""

    def passes(self, regions, styled):
        return [StylePass(p) for p in range(max(len(r.styles) for r in regions))]

    def render(self, runtime, record, image, masks):
        assert record.grids is not None, "the clip fills grids for methods that mix them"
        return runtime.render_grids(image, masks, record.grids, record.strength)


class PixelBlendMethod(Method):
    """One full-frame render per region (its looks mixed in grid space), blended with the mattes."""

    def passes(self, regions, styled):
        return [RegionStylePass(k, i) for k in styled for i in range(len(regions[k].styles))]

    def render(self, runtime, record, image, masks):
        assert record.style_grids is not None, "the clip fills style_grids for analysed methods"
        ones = torch.ones_like(masks[:, :1])
        outs = []
        for k in range(record.n_regions):
            if not record.style_grids[k]:
                outs.append(image)
                continue
            g = combine_styles(record.style_grids[k], record.weights[k])[None]
            outs.append(runtime.render_grids(image, ones, g, record.strength[k : k + 1]))
        return pixel_blend(image, outs, masks)


class ReinhardMethod(Method):
    """Per-region Reinhard transfer. ``reinhard_transfer`` is linear in its strengths
    (``x + Σ_k s_k w_k (T_k(x) − x)``), so a region's keyframed style mix is one call per style
    index with strengths ``s_k·w_kp``, and the calls' changes add up."""

    def passes(self, regions, styled):
        return []

    def render(self, runtime, record, image, masks):
        x = image[0].permute(1, 2, 0).cpu().numpy()
        m = masks[0].cpu().numpy()
        weights = record.weights
        strength = record.strength.cpu().numpy()
        any_style = next(s for styles in record.styles for s in styles)
        out = x.copy()
        for p in range(record.n_passes):
            s_p = [float(strength[k] * weights[k][p]) if p < len(weights[k]) else 0.0 for k in range(record.n_regions)]
            if not any(s_p):
                continue
            styles = [
                runtime.styles.stats(record.style_at(k, p) if record.styles[k] else any_style)
                for k in range(record.n_regions)
            ]
            out += reinhard_transfer(x, m, styles, strength=s_p) - x
        return torch.as_tensor(np.asarray(out), dtype=torch.float32, device=image.device).permute(2, 0, 1)[None]


METHODS: tuple[Method, ...] = (
    GridMethod(
        "lookgrid",
        temporal=True,
        analysed=True,
        mixes_grids=True,
        description="bilateral grids with temporal state (ST-AdaIN), blended per region",
    ),
    GridMethod(
        "per-frame",
        temporal=False,
        analysed=True,
        mixes_grids=True,
        description="the same grids without temporal state (each frame alone)",
    ),
    PixelBlendMethod(
        "pixel-blend",
        temporal=True,
        analysed=True,
        mixes_grids=False,
        description="one full-frame transfer per region, blended in pixel space",
    ),
    ReinhardMethod(
        "reinhard",
        temporal=False,
        analysed=False,
        mixes_grids=False,
        description="classical per-region colour-statistics transfer (no network)",
    ),
)
if tuple(m.name for m in METHODS) != METHOD_NAMES:
    raise ImportError(
        f"lookgrid.engine.methods: the table {[m.name for m in METHODS]} disagrees with "
        f"the spec's METHOD_NAMES {list(METHOD_NAMES)} (lookgrid.engine.spec)"
    )
_BY_NAME = {m.name: m for m in METHODS}


def get_method(name: str) -> Method:
    """The :class:`Method` called ``name``; :class:`InvalidInputError` naming the choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidInputError(f"unknown method {name!r}; expected one of {', '.join(METHOD_NAMES)}") from None
