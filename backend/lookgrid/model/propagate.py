"""Temporal state propagated along optical flow in grid space (``temporal = "flow"``; papers/000's
idea: carry the previous frame's state to this frame along the flow, fall back to this frame where
the flow fails).

Today's default (``temporal = "tc"``) blends each ST-AdaIN layer's and the colour prior's *region
statistics* with the previous frame's (TC-AdaIN, eqs. 5–6). Those statistics are one vector per
region, with no position, so there is nothing in them a flow could move; after a cut they carry the
old shot into the new one for a few frames (the blend is a recursive filter). In flow mode the
network runs without statistics state and the *grids* are the state: a grid is spatial (16×16
cells over the analysis frame), so it can be warped.

For analysed frame t with fresh grids ``G_t`` and the previous analysed frame's propagated grids
``Ĝ_{t-1}`` (per region, same rows):

    Ĝ_t = G_t + α · c · (W(Ĝ_{t-1}) − G_t)

* ``W`` warps ``Ĝ_{t-1}`` to frame t: cell (i, j) samples ``Ĝ_{t-1}`` bilinearly (depth untouched,
  border cells clamped) at its centre moved by the cell's mean flow from t to t-1 (the mean over
  its visible pixels; over all pixels when none is visible);
* ``c ∈ [0, 1]`` per cell is the share of its pixels that are *visible* — forward–backward flow
  agrees there and the warped previous frame looks like this one (the engine decides this with
  :mod:`lookgrid.imaging.flow`) — so occlusions and cuts fall back to ``G_t`` in the same frame;
* ``α`` is the weight of the past (the model's TC ``alpha``, 0.5).

Layout: grids ``(R, 12, D, Hg, Wg)`` (one row per region output, :mod:`lookgrid.model.grid`); flow
``(L, L, 2)`` or ``(H, W, 2)`` in analysis pixels, channels (dx, dy), from frame t to frame t-1
(pixel x of t is at ``x + flow(x)`` in t-1); visible ``(H, W)`` bool or float in [0, 1]. The
analysis frame must divide into the grid's cells (H = k·Hg, W = k·Wg).

:func:`propagate_grids` is two steps, so the farm can run the first on workers and only the second
in order: :func:`flow_moves` (per frame pair: the flow reduced to per-cell moves, :class:`CellMoves`)
and :func:`apply_moves` (the sequential fold: warp and blend).

:func:`warp_grids` (``F.grid_sample``) has the plain reference :func:`warp_grids_reference` beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.grid import check_grids, check_shape

TEMPORAL_MODES = ("tc", "flow")


def check_temporal_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`TEMPORAL_MODES`, else :class:`InvalidInputError`."""
    if mode not in TEMPORAL_MODES:
        raise InvalidInputError(f"unknown temporal mode {mode!r}; expected one of {', '.join(TEMPORAL_MODES)}")
    return mode


@dataclass(frozen=True)
class FlowState:
    """What ``temporal = "flow"`` carries from one analysed frame to the next: the propagated grids
    ``(R, 12, D, Hg, Wg)`` and the analysis frame's luma ``(L, L)`` uint8 (the flow's input)."""

    grids: torch.Tensor
    luma: torch.Tensor


def _check_flow(flow: torch.Tensor, visible: torch.Tensor, hg: int, wg: int) -> tuple[int, int]:
    check_shape("flow", flow, "(H,W,2)")
    h, w = int(flow.shape[0]), int(flow.shape[1])
    check_shape("visible", visible, "(H,W)", H=h, W=w)
    if h % hg or w % wg:
        raise ShapeMismatchError(f"flow {h}x{w} does not divide into the grid's {hg}x{wg} cells")
    return h // hg, w // wg


def cell_flow(flow: torch.Tensor, visible: torch.Tensor, hg: int, wg: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per grid cell: the mean flow over its visible pixels ``(Hg, Wg, 2)`` (over all its pixels where
    none is visible) and the visible share ``(Hg, Wg)`` in [0, 1]. flow ``(H,W,2)``, visible ``(H,W)``."""
    ky, kx = _check_flow(flow, visible, hg, wg)
    v = visible.to(flow.dtype)
    share = F.avg_pool2d(v[None, None], (ky, kx))[0, 0]
    fl = flow.permute(2, 0, 1)[None]  # (1,2,H,W)
    weighted = F.avg_pool2d(fl * v, (ky, kx))[0]  # (2,Hg,Wg)
    plain = F.avg_pool2d(fl, (ky, kx))[0]
    mean = torch.where(share > 0, weighted / share.clamp_min(1e-12), plain)
    return mean.permute(1, 2, 0).contiguous(), share


def warp_grids(grids: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Backward-warp grids by a per-cell move: cell (i, j) of the result is ``grids`` sampled
    bilinearly at cell coordinates ``(i + moves[i,j,1], j + moves[i,j,0])`` (border clamped; depth
    untouched). grids ``(R,12,D,Hg,Wg)``, moves ``(Hg,Wg,2)`` in cells (dx, dy) → ``(R,12,D,Hg,Wg)``."""
    check_grids("grids", grids)
    r, c, d, hg, wg = grids.shape
    check_shape("moves", moves, "(Hg,Wg,2)", Hg=hg, Wg=wg)
    jj, ii = torch.meshgrid(
        torch.arange(wg, dtype=grids.dtype, device=grids.device),
        torch.arange(hg, dtype=grids.dtype, device=grids.device),
        indexing="xy",
    )
    # align_corners=False: cell k's centre is at normalised (2k + 1) / n - 1
    gx = (2 * (jj + moves[..., 0].to(grids.dtype)) + 1) / wg - 1
    gy = (2 * (ii + moves[..., 1].to(grids.dtype)) + 1) / hg - 1
    where = torch.stack([gx, gy], dim=-1)[None].expand(r, hg, wg, 2)
    flat = grids.reshape(r, c * d, hg, wg)
    out = F.grid_sample(flat, where, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(r, c, d, hg, wg)


def warp_grids_reference(grids: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Plain loops version of :func:`warp_grids` (bilinear, border clamp), for testing it."""
    r, c, d, hg, wg = grids.shape
    out = torch.empty_like(grids)
    for i in range(hg):
        for j in range(wg):
            y = min(max(i + float(moves[i, j, 1]), 0.0), hg - 1.0)
            x = min(max(j + float(moves[i, j, 0]), 0.0), wg - 1.0)
            y0, x0 = int(y), int(x)
            y1, x1 = min(y0 + 1, hg - 1), min(x0 + 1, wg - 1)
            fy, fx = y - y0, x - x0
            out[..., i, j] = (
                grids[..., y0, x0] * (1 - fx) * (1 - fy)
                + grids[..., y0, x1] * fx * (1 - fy)
                + grids[..., y1, x0] * (1 - fx) * fy
                + grids[..., y1, x1] * fx * fy
            )
    return out


class CellMoves(NamedTuple):
    """What :func:`propagate_grids` takes from the flow between two analysed frames, per grid cell:
    ``moves`` ``(Hg, Wg, 2)`` the mean move (dx, dy) in cells from frame t to t-1 and ``share``
    ``(Hg, Wg)`` the visible share in [0, 1]. A few KB per frame pair: what the farm's per-pair work
    hands to the sequential fold."""

    moves: torch.Tensor
    share: torch.Tensor


def flow_moves(flow: torch.Tensor, visible: torch.Tensor, hg: int, wg: int) -> CellMoves:
    """The per-cell moves of a flow (:func:`cell_flow`, in cells instead of pixels), in ``flow``'s
    dtype and device. flow ``(H,W,2)`` t → t-1 in analysis pixels, visible ``(H,W)``."""
    ky, kx = _check_flow(flow, visible, hg, wg)
    mean, share = cell_flow(flow, visible, hg, wg)
    return CellMoves(torch.stack([mean[..., 0] / kx, mean[..., 1] / ky], dim=-1), share)


def apply_moves(previous: torch.Tensor, fresh: torch.Tensor, moves: CellMoves, alpha: float) -> torch.Tensor:
    """``Ĝ_t = G_t + α·c·(W(Ĝ_{t-1}) − G_t)`` with the cell moves of :func:`flow_moves` (module
    doc). previous, fresh ``(R,12,D,Hg,Wg)``; moves ``(Hg,Wg,2)``, share ``(Hg,Wg)``; alpha in [0, 1]."""
    check_grids("fresh", fresh)
    if previous.shape != fresh.shape:
        raise ShapeMismatchError(
            f"previous grids {tuple(previous.shape)} do not match this frame's "
            f"{tuple(fresh.shape)} (the regions must not change within a clip)"
        )
    if not 0.0 <= float(alpha) <= 1.0:
        raise InvalidInputError(f"alpha must be in [0, 1], got {alpha}")
    hg, wg = fresh.shape[-2:]
    check_shape("share", moves.share, "(Hg,Wg)", Hg=hg, Wg=wg)
    warped = warp_grids(previous.to(fresh.dtype), moves.moves.to(fresh.device))
    share = moves.share.to(device=fresh.device, dtype=fresh.dtype)
    return fresh + (float(alpha) * share) * (warped - fresh)


def propagate_grids(
    previous: torch.Tensor, fresh: torch.Tensor, flow: torch.Tensor, visible: torch.Tensor, alpha: float
) -> torch.Tensor:
    """:func:`apply_moves` of the :func:`flow_moves` of ``flow`` (in ``fresh``'s dtype). previous,
    fresh ``(R,12,D,Hg,Wg)``; flow ``(H,W,2)`` t → t-1 in analysis pixels; visible ``(H,W)``."""
    check_grids("fresh", fresh)
    hg, wg = fresh.shape[-2:]
    return apply_moves(previous, fresh, flow_moves(flow.to(fresh.dtype), visible, hg, wg), alpha)
