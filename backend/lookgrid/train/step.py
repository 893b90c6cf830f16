"""One training step's forward pass and loss: a sequence of T frames, N regions, all loss terms.

:func:`render_batch` is :func:`lookgrid.model.render.render_parts` for a batch (training crops are
256², so no subsampling is needed for the soft grid masks); a test checks they agree.
:func:`frame_grids` is one frame of the grid path in the net's temporal mode
(``net.config["temporal"]``), as the engine runs it: "tc" passes the previous frame's TC-AdaIN
statistics state into ``predict_grids``; "flow" predicts without statistics state and blends the
previous frame's propagated grids warped along the flow
(:func:`lookgrid.model.propagate.propagate_grids`, per example).
:func:`compute_losses` runs frames 0..T-1 in order through :func:`frame_grids`, and a noisy copy
of the last frame, renders them and evaluates every term of :mod:`lookgrid.train.losses`.
Gradients flow through the whole chain (BPTT over T-1 steps).

The noise-resilience term (paper 003) compares the grids predicted from the noisy frame, applied to
the *clean* frame, with the clean output: a bilateral-grid output is an affine function of its
input, so pixel noise passes through by design; what must not change is the look itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.blend import blend_grids, pixel_blend_weights
from lookgrid.model.network import temporal_mode
from lookgrid.model.propagate import propagate_grids
from lookgrid.model.render import blend_mode
from lookgrid.model.slicing import slice_apply_reference, slice_blend_apply_reference, slice_grid_reference
from lookgrid.model.state import TemporalState
from lookgrid.train import losses as L
from lookgrid.train.data import Batch, degrade_masks


@dataclass
class LossWeights:
    """Weights of the terms (config section ``[loss]``)."""

    supervised: float = 1.0
    stats: float = 1.0
    swd: float = 1.0
    laplacian: float = 0.02
    mask: float = 5.0
    guide: float = 1.5
    temporal: float = 100.0
    luminance_temporal: float = 1000.0
    noise: float = 200.0
    stats_scales: tuple[int, ...] = (1, 2, 4)
    guide_low: float = 0.0729  # guide target: working-space luma mapped from [low, high] to [0, 1]
    guide_high: float = 0.6
    noise_samples: int = 2  # how many examples of the batch get the (costly) noise term
    noise_every: int = 2  # ... on every k-th step (it costs a third grid-path pass)
    temporal_every: int = 1  # sequence steps (temporal terms) every k-th step; others: last frame only
    # Weight of real clips (DIS flow) in the two temporal terms; synthetic clips (exact flow) have 1.
    # DIS is least reliable at motion boundaries, i.e. at object edges: there the terms punish the
    # content's own change, and the residual learnt to flatten contrast around objects (a halo).
    temporal_real: float = 1.0
    # Film grain in the noise term's noisy copy: 0 keeps paper 003's fixed 0.01 luminance-only grain;
    # > 0 draws each example's grain std uniformly from [0, grain_max] (working-space units) with a
    # chroma part of grain_chroma x that std (what `lookgrid eval --grain` stresses).
    grain_max: float = 0.0
    grain_chroma: float = 0.5

    def as_dict(self) -> dict:
        return asdict(self)


def render_batch(net, image: torch.Tensor, masks: torch.Tensor, grids: torch.Tensor) -> dict:
    """Differentiable batched render in the net's blend mode (``net.config["blend"]``, see
    :mod:`lookgrid.model.render`: "pixel" slices every region's grid and blends per pixel with the
    masks, "grid" slices the eq. 7 blended grid).

    ``image (B,3,H,W)``, ``masks (B,N,H,W)``, ``grids (B·N,12,D,Hg,Wg)`` batch-major.
    Returns ``output (B,3,H,W)``, ``guide (B,H,W)``, ``grid (B,12,D,Hg,Wg)`` (blended, eq. 7; computed
    in both modes) and ``soft_masks (B,N,D,Hg,Wg)``.
    """

    mode = blend_mode(net)
    b, n = masks.shape[:2]
    if grids.shape[0] != b * n:
        raise ShapeMismatchError(f"grids must be (B·N,12,D,Hg,Wg) = ({b * n},...), got {tuple(grids.shape)}")
    z = net.guide(image, masks)
    soft = net.soft_masks(z, masks)  # (B,N,D,Hg,Wg)
    g = grids.view(b, n, *grids.shape[1:])
    grid = blend_grids(g, soft)  # eq. 7
    if mode == "grid":
        out = slice_apply_reference(grid, z, image)
    else:
        out = slice_blend_apply_reference(g, z, image, pixel_blend_weights(masks.to(grids.dtype)))
    return {"output": out, "guide": z, "grid": grid, "soft_masks": soft}


def _guide_target_loss(guide: torch.Tensor, image: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    # L.guide_loss compares with luma in [0,1]; map the working-space luma range first.
    scaled = lo + (hi - lo) * guide
    return L.guide_loss(scaled, image) / (hi - lo) ** 2


def propagate_batch(
    previous: torch.Tensor, fresh: torch.Tensor, flow: torch.Tensor, visibility: torch.Tensor, alpha: float
) -> torch.Tensor:
    """:func:`lookgrid.model.propagate.propagate_grids` per example of a batch.

    ``previous, fresh (B·N,12,D,Hg,Wg)`` batch-major (example i: rows i·N..(i+1)·N); ``flow (B,2,S,S)``
    (dx, dy) backward t -> t-1 in pixels of the 256² analysis frame; ``visibility (B,1,S,S)``.
    Returns ``(B·N,12,D,Hg,Wg)``."""
    b = flow.shape[0]
    if fresh.shape[0] % b:
        raise ShapeMismatchError(f"grids {tuple(fresh.shape)} do not split into {b} examples")
    n = fresh.shape[0] // b
    return torch.cat(
        [
            propagate_grids(
                previous[i * n : (i + 1) * n],
                fresh[i * n : (i + 1) * n],
                flow[i].permute(1, 2, 0),
                visibility[i, 0],
                alpha,
            )
            for i in range(b)
        ]
    )


def frame_grids(
    net,
    content: torch.Tensor,
    masks: torch.Tensor,
    styles,
    carry,
    flow: torch.Tensor | None,
    visibility: torch.Tensor | None,
    alpha: float | None = None,
):
    """One frame of the grid path in the net's temporal mode; returns ``(grids (B·N,12,D,Hg,Wg), carry)``.

    ``content (B,3,S,S)``, ``masks (B,N,S,S)`` (enhanced), ``styles`` as in ``predict_grids``;
    ``carry``: what the previous frame returned (None on the first frame) — in "tc" mode its
    :class:`TemporalState`, in "flow" mode its propagated grids ``(B·N,12,D,Hg,Wg)``;
    ``flow (B,2,S,S)`` backward t -> t-1 and ``visibility (B,1,S,S)`` (used in "flow" mode only).
    ``alpha``: the TC weight, and in "flow" mode the weight of the past (default ``config["alpha"]``).
    """
    if temporal_mode(net) == "tc":
        return net.predict_grids(content, masks, styles, carry, alpha)
    fresh, _ = net.predict_grids(content, masks, styles, None, alpha)
    if carry is None:
        return fresh, fresh
    if flow is None or visibility is None:
        raise InvalidInputError("flow mode carries grids along the flow: give flow and visibility")
    a = float(net.config["alpha"] if alpha is None else alpha)
    grids = propagate_batch(carry, fresh, flow, visibility, a)
    return grids, grids


def _carry_rows(carry, rows: int):
    """The first ``rows`` region rows of a carry (see :func:`frame_grids`); None stays None."""
    if carry is None:
        return None
    return carry.select(range(rows)) if isinstance(carry, TemporalState) else carry[:rows]


def compute_losses(
    net,
    batch: Batch,
    w: LossWeights,
    generator: torch.Generator,
    alpha: float | None = None,
    *,
    with_noise: bool = True,
    with_temporal: bool = True,
):
    """Forward the batch and return ``(total, parts)``; ``parts`` maps term name -> float (the
    unweighted value) plus ``total``. ``batch`` as in :class:`lookgrid.train.data.Batch`
    (T >= 2 frames).

    ``with_temporal``: run frames 0..T-1 in order through :func:`frame_grids` (frame 0 without a
    carry, frame t with frame t-1's) and add the temporal terms, averaged over the T-1 consecutive
    pairs; per-frame terms (supervised, stats, swd, laplacian) are averaged over the frames, the
    mask / guide terms and the noise term use the last frame. Otherwise only the last frame, without
    a carry (the cost of one frame). ``with_noise=False`` skips the noise-resilience term (the noisy
    copy of the last frame is predicted with the same carry as the clean one). Skipped terms are
    reported as NaN."""
    content, masks = batch.content, batch.masks
    b, t_len, n, s, _ = masks.shape
    low = net.LOW_RES
    if s != low:
        raise ShapeMismatchError(f"training crops must be {low}² (the model's low resolution), got {s}²")
    if t_len < 2 or batch.flow.shape[1] != t_len - 1 or batch.visibility.shape[1] != t_len - 1:
        raise ShapeMismatchError(
            f"a batch of T={t_len} frames needs T >= 2 and T-1 flows / visibilities, got "
            f"{tuple(batch.flow.shape)}, {tuple(batch.visibility.shape)}"
        )
    last = t_len - 1
    frames = tuple(range(t_len)) if with_temporal else (last,)
    with torch.no_grad():  # the mask enhancement is pre-trained and frozen
        enh = {f: net.enhance_masks(masks[:, f]) for f in frames}
    styles = net.encode_style(batch.references.reshape(b * n, 3, s, s))
    carry = None
    grids: dict[int, torch.Tensor] = {}
    rend: dict[int, dict[str, Any]] = {}
    carry_in: dict[int, Any] = {}
    for f in frames:
        carry_in[f] = carry
        step_flow = batch.flow[:, f - 1] if f > 0 else None
        step_vis = batch.visibility[:, f - 1] if f > 0 else None
        grids[f], carry = frame_grids(net, content[:, f], enh[f], styles, carry, step_flow, step_vis, alpha)
        rend[f] = render_batch(net, content[:, f], masks[:, f], grids[f])
    outs = {f: rend[f]["output"] for f in frames}
    o_cur = outs[last]

    def avg(fn) -> torch.Tensor:
        return sum(fn(f) for f in frames) / len(frames)

    parts: dict[str, torch.Tensor] = {}
    sup = batch.supervised.view(b, 1, 1, 1).to(o_cur.dtype)
    if float(sup.sum()) > 0:
        wmap = sup.expand(b, 1, s, s)
        parts["supervised"] = avg(lambda f: L.supervised_l1(outs[f], batch.target[:, f], wmap))
    else:
        parts["supervised"] = o_cur.new_zeros(())
    parts["stats"] = avg(lambda f: L.region_stats_loss(outs[f], masks[:, f], batch.references, scales=w.stats_scales))
    parts["swd"] = avg(lambda f: L.region_swd_loss(outs[f], masks[:, f], batch.references, generator))
    parts["laplacian"] = avg(lambda f: L.grid_laplacian_loss(grids[f]))
    sliced = slice_grid_reference(rend[last]["soft_masks"], rend[last]["guide"])  # (B,N,H,W)
    parts["mask"] = L.mask_loss(sliced, masks[:, last])
    parts["guide"] = _guide_target_loss(rend[last]["guide"], content[:, last], w.guide_low, w.guide_high)
    if with_temporal:
        vis = batch.visibility  # (B,T-1,1,S,S)
        if w.temporal_real != 1.0 and batch.kinds:
            per = torch.tensor([1.0 if k == "photo" else w.temporal_real for k in batch.kinds], dtype=vis.dtype)
            vis = vis * per.view(-1, 1, 1, 1, 1)
        pairs = range(1, t_len)
        # sums of tensors over a non-empty range (T >= 2): tensors
        parts["temporal"] = cast(
            torch.Tensor, sum(L.temporal_loss(outs[f], outs[f - 1], batch.flow[:, f - 1], vis[:, f - 1]) for f in pairs)
        ) / len(pairs)
        parts["luminance_temporal"] = cast(
            torch.Tensor,
            sum(
                L.luminance_temporal_loss(
                    outs[f], outs[f - 1], content[:, f], content[:, f - 1], batch.flow[:, f - 1], vis[:, f - 1]
                )
                for f in pairs
            ),
        ) / len(pairs)
    k = min(b, w.noise_samples)
    if w.noise > 0 and k > 0 and with_noise:
        if w.grain_max > 0:
            sigma = w.grain_max * torch.rand((k,), generator=generator, dtype=content.dtype)
            noisy = L.add_training_noise(content[:k, last], generator, grain_sigma=sigma, grain_chroma=w.grain_chroma)
        else:
            noisy = L.add_training_noise(content[:k, last], generator)
        grids_noisy, _ = frame_grids(
            net,
            noisy,
            enh[last][:k],
            styles.select(range(k * n)),
            _carry_rows(carry_in[last], k * n),
            batch.flow[:k, last - 1],
            batch.visibility[:k, last - 1],
            alpha,
        )
        o_noisy = render_batch(net, content[:k, last], masks[:k, last], grids_noisy)["output"]
        parts["noise"] = L.noise_loss(o_cur[:k], o_noisy)
    total = sum(getattr(w, name) * value for name, value in parts.items())
    out = {name: float(v.detach()) for name, v in parts.items()}
    for name in ("temporal", "luminance_temporal", "noise"):
        out.setdefault(name, float("nan"))
    out["total"] = float(total.detach())
    # guard against a dead grid path: how much the last frame's grids vary across examples and regions
    out["grid_spread"] = float(grids[last].detach().std(dim=0).mean()) if grids[last].shape[0] > 1 else float("nan")
    return total, out


def pretrain_masks_step(net, masks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Loss for the mask enhancement alone: clean ``masks (B,1,H,W)`` are degraded (see
    :func:`lookgrid.train.data.degrade_masks`) and the enhancer must restore them (binary cross
    entropy against the clean mask). Returns the scalar loss. The enhancer is three local convs, so
    it may be trained on crops smaller than the model's 256² (it is called directly, not through
    ``enhance_masks``, which checks for 256²)."""

    noisy = degrade_masks(masks, generator)
    pred = net.mask_enhancer(noisy)
    return F.binary_cross_entropy(pred.clamp(1e-5, 1 - 1e-5), masks.clamp(0, 1))
