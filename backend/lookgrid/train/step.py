"""One training step's forward pass and loss: two consecutive frames, N regions, all loss terms.

:func:`render_batch` is :func:`lookgrid.model.render.render_parts` for a batch (training crops are
256², so no subsampling is needed for the soft grid masks); a test checks they agree.
:func:`compute_losses` runs the grid path on frame t-1 (no temporal state) and frame t (with the
state of t-1), and on a noisy copy of frame t, renders them and evaluates every term of
:mod:`lookgrid.train.losses`. Gradients flow through the temporal state (one step of BPTT).

The noise-resilience term (paper 003) compares the grids predicted from the noisy frame, applied to
the *clean* frame, with the clean output: a bilateral-grid output is an affine function of its
input, so pixel noise passes through by design; what must not change is the look itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from lookgrid.model.blend import blend_grids, pixel_blend_weights
from lookgrid.model.render import blend_mode
from lookgrid.model.slicing import slice_apply_reference, slice_blend_apply_reference, slice_grid_reference
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
    temporal_every: int = 1  # two-frame steps (temporal terms) every k-th step; others: frame t only
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
        raise ValueError(f"grids must be (B·N,12,D,Hg,Wg) = ({b * n},...), got {tuple(grids.shape)}")
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
    unweighted value) plus ``total``. ``batch`` as in :class:`lookgrid.train.data.Batch`.

    ``with_temporal``: run frame t-1 (no state) then frame t with t-1's temporal state and add the
    temporal terms; otherwise only frame t, without state (half the cost). ``with_noise=False``
    skips the noise-resilience term. Skipped terms are reported as NaN."""
    content, masks = batch.content, batch.masks
    b, _, n, s, _ = masks.shape
    low = net.LOW_RES
    if s != low:
        raise ValueError(f"training crops must be {low}² (the model's low resolution), got {s}²")
    frames = (0, 1) if with_temporal else (1,)
    with torch.no_grad():  # the mask enhancement is pre-trained and frozen
        enh = {f: net.enhance_masks(masks[:, f]) for f in frames}
    styles = net.encode_style(batch.references.reshape(b * n, 3, s, s))
    state = None
    grids, rend = {}, {}
    for f in frames:
        grids[f], new_state = net.predict_grids(content[:, f], enh[f], styles, state, alpha)
        rend[f] = render_batch(net, content[:, f], masks[:, f], grids[f])
        state_for_cur = state
        state = new_state
    state_cur = state_for_cur  # the state frame t was predicted with (None without the temporal pass)
    outs = {f: rend[f]["output"] for f in frames}
    o_cur = outs[1]

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
    sliced = slice_grid_reference(rend[1]["soft_masks"], rend[1]["guide"])  # (B,N,H,W)
    parts["mask"] = L.mask_loss(sliced, masks[:, 1])
    parts["guide"] = _guide_target_loss(rend[1]["guide"], content[:, 1], w.guide_low, w.guide_high)
    if with_temporal:
        vis = batch.visibility
        if w.temporal_real != 1.0 and batch.kinds:
            per = torch.tensor([1.0 if k == "photo" else w.temporal_real for k in batch.kinds], dtype=vis.dtype)
            vis = vis * per.view(-1, 1, 1, 1)
        parts["temporal"] = L.temporal_loss(o_cur, outs[0], batch.flow, vis)
        parts["luminance_temporal"] = L.luminance_temporal_loss(
            o_cur, outs[0], content[:, 1], content[:, 0], batch.flow, vis
        )
    k = min(b, w.noise_samples)
    if w.noise > 0 and k > 0 and with_noise:
        if w.grain_max > 0:
            sigma = w.grain_max * torch.rand((k,), generator=generator, dtype=content.dtype)
            noisy = L.add_training_noise(content[:k, 1], generator, grain_sigma=sigma, grain_chroma=w.grain_chroma)
        else:
            noisy = L.add_training_noise(content[:k, 1], generator)
        state_k = None if state_cur is None else state_cur.select(range(k * n))
        grids_noisy, _ = net.predict_grids(noisy, enh[1][:k], styles.select(range(k * n)), state_k, alpha)
        o_noisy = render_batch(net, content[:k, 1], masks[:k, 1], grids_noisy)["output"]
        parts["noise"] = L.noise_loss(o_cur[:k], o_noisy)
    total = sum(getattr(w, name) * value for name, value in parts.items())
    out = {name: float(v.detach()) for name, v in parts.items()}
    for name in ("temporal", "luminance_temporal", "noise"):
        out.setdefault(name, float("nan"))
    out["total"] = float(total.detach())
    # guard against a dead grid path: how much frame t's grids vary across examples and regions
    out["grid_spread"] = float(grids[1].detach().std(dim=0).mean()) if grids[1].shape[0] > 1 else float("nan")
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
