"""Training losses as plain functions (no module state). Every function returns a scalar tensor.

Shapes: images ``(B,3,H,W)`` in the display-like working space, soft masks ``(B,N,H,W)`` in [0,1],
grids ``(B,12,D,Hg,Wg)`` (layout of :mod:`lookgrid.model.grid`), guides ``(B,H,W)``, flows
``(B,2,H,W)`` backward t -> t-1 and visibility ``(B,1,H,W)`` (conventions of :mod:`lookgrid.train.flow`).

What stands in for the paper's eq. 8 (DESIGN.md §3, no pretrained networks):

=======================  =====================================================================
``supervised_l1``        output vs the synthetic region-wise grading of the content
``region_stats_loss``    per-region Oklab mean/std of the output vs its reference, several scales
``region_swd_loss``      per-region sliced Wasserstein distance in Oklab to the reference's pixels
``grid_laplacian_loss``  λr: smoothness of each coefficient over the 6 neighbours of the 3-D grid
``mask_loss``            λm: grid-space soft mask sliced with the guide vs the true mask
``guide_loss``           λz: guide close to luminance
``temporal_loss``        λt: flow-warped previous output vs this output on visible pixels
``luminance_temporal``   paper 002: the same, minus the input's own luminance change
``noise_loss``           paper 003: same frame with small noise => same output
=======================  =====================================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.colormath import luma_t, working_to_oklab_t
from lookgrid.train.flow import warp

# Oklab channel weights for the statistics loss: chroma (a, b) spans roughly a third of L's range.
OKLAB_CHANNEL_WEIGHTS = (1.0, 2.0, 2.0)


def _same_shape(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ShapeMismatchError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def supervised_l1(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error ``output (B,3,H,W)`` vs ``target (B,3,H,W)``, optionally weighted per pixel
    by ``weight (B,1,H,W)`` (normalised by the weight's sum)."""
    _same_shape(output, target, "supervised_l1")
    err = (output - target).abs()
    if weight is None:
        return err.mean()
    return (err * weight).sum() / (weight.sum() * output.shape[1]).clamp_min(1e-6)


def masked_moments(
    x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """True masked mean and std (Σ m·x / Σ m, not statistics of a zero-filled tensor).

    ``x (B,C,H,W)``, ``mask (B,N,H,W)`` -> ``mean (B,N,C)``, ``std (B,N,C)``, ``area (B,N)`` (Σ m).
    """
    if x.dim() != 4 or mask.dim() != 4 or x.shape[0] != mask.shape[0] or x.shape[2:] != mask.shape[2:]:
        raise ShapeMismatchError(
            f"x (B,C,H,W) and mask (B,N,H,W) must match; got {tuple(x.shape)}, {tuple(mask.shape)}"
        )
    area = mask.sum(dim=(2, 3))  # (B,N)
    denom = area.clamp_min(eps).unsqueeze(-1)
    mean = torch.einsum("bnhw,bchw->bnc", mask, x) / denom
    sq = torch.einsum("bnhw,bchw->bnc", mask, x * x) / denom
    var = (sq - mean * mean).clamp_min(0.0)
    return mean, torch.sqrt(var + eps), area


def region_stats_loss(
    output: torch.Tensor,
    masks: torch.Tensor,
    references: torch.Tensor,
    reference_masks: torch.Tensor | None = None,
    scales: tuple[int, ...] = (1, 2, 4),
    min_area: float = 0.02,
) -> torch.Tensor:
    """Per-region colour statistics in Oklab, matched to each region's reference at several scales.

    ``output (B,3,H,W)``, ``masks (B,N,H,W)``; ``references (B,N,3,Hr,Wr)`` (region k's reference
    image); ``reference_masks (B,N,Hr,Wr)`` or None (whole reference). At each scale ``s`` both are
    average-pooled by ``s`` (coarser scales weigh the look of larger structures: their std measures
    low-frequency contrast), converted to Oklab, and the L1 distance between masked (mean, std) pairs
    is averaged over regions whose mask covers at least ``min_area`` of the frame.
    """
    b, n, h, w = masks.shape
    if output.shape != (b, 3, h, w):
        raise ShapeMismatchError(
            f"output must be (B,3,H,W) matching masks {tuple(masks.shape)}; got {tuple(output.shape)}"
        )
    if references.dim() != 5 or references.shape[:3] != (b, n, 3):
        raise ShapeMismatchError(f"references must be (B,N,3,Hr,Wr) with B={b}, N={n}; got {tuple(references.shape)}")
    hr, wr = references.shape[-2:]
    refs = references.reshape(b * n, 3, hr, wr)
    rmask = None if reference_masks is None else reference_masks.reshape(b * n, 1, hr, wr)
    cw = output.new_tensor(OKLAB_CHANNEL_WEIGHTS)
    total = output.new_zeros(())
    for s in scales:
        o = F.avg_pool2d(output, s) if s > 1 else output
        m = F.avg_pool2d(masks, s) if s > 1 else masks
        r = F.avg_pool2d(refs, s) if s > 1 else refs
        rm = None if rmask is None else (F.avg_pool2d(rmask, s) if s > 1 else rmask)
        mu_o, sd_o, area = masked_moments(working_to_oklab_t(o), m)
        if rm is None:
            rm = torch.ones_like(r[:, :1])
        mu_r, sd_r, _ = masked_moments(working_to_oklab_t(r), rm)  # (B*N,1,3)
        mu_r = mu_r.reshape(b, n, 3)
        sd_r = sd_r.reshape(b, n, 3)
        valid = (area / (m.shape[-1] * m.shape[-2]) >= min_area).to(output.dtype)  # (B,N)
        d = ((mu_o - mu_r).abs() + (sd_o - sd_r).abs()) * cw  # (B,N,3)
        total = total + (d.sum(-1) * valid).sum() / valid.sum().clamp_min(1.0)
    return total / len(scales)


def _sample_rows(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Up to ``k`` random rows of ``x (P, C)`` (all of them when P <= k)."""
    if x.shape[0] <= k:
        return x
    idx = torch.randperm(x.shape[0], generator=generator)[:k]
    return x[idx.to(x.device)]


def region_swd_loss(
    output: torch.Tensor,
    masks: torch.Tensor,
    references: torch.Tensor,
    generator: torch.Generator,
    *,
    projections: int = 16,
    samples: int = 2048,
    threshold: float = 0.5,
    min_pixels: int = 64,
) -> torch.Tensor:
    """Sliced Wasserstein-1 distance in Oklab between each region's output pixels and its reference.

    ``output (B,3,H,W)``, ``masks (B,N,H,W)``, ``references (B,N,3,Hr,Wr)``. Region pixels are those
    with mask >= ``threshold`` (regions with fewer than ``min_pixels`` are skipped); up to ``samples``
    pixels of each side are drawn with ``generator``, projected on ``projections`` random unit
    directions (Oklab channels weighted as in :data:`OKLAB_CHANNEL_WEIGHTS`), and the sorted output
    projections are compared with the reference's quantiles at the same ranks (mean absolute
    difference). Matches the whole distribution, not only its mean and std.
    """
    b, n, h, w = masks.shape
    if output.shape != (b, 3, h, w) or references.dim() != 5 or references.shape[:3] != (b, n, 3):
        raise ShapeMismatchError(
            f"need output (B,3,H,W), masks (B,N,H,W), references (B,N,3,Hr,Wr); got "
            f"{tuple(output.shape)}, {tuple(masks.shape)}, {tuple(references.shape)}"
        )
    cw = output.new_tensor(OKLAB_CHANNEL_WEIGHTS)
    lab_o = working_to_oklab_t(output).permute(0, 2, 3, 1) * cw  # (B,H,W,3)
    lab_r = working_to_oklab_t(references.flatten(0, 1)).permute(0, 2, 3, 1).reshape(b, n, -1, 3) * cw
    total, count = output.new_zeros(()), 0
    for i in range(b):
        for k in range(n):
            sel = masks[i, k] >= threshold
            if int(sel.sum()) < min_pixels:
                continue
            po = _sample_rows(lab_o[i][sel], samples, generator)
            pr = _sample_rows(lab_r[i, k], samples, generator)
            dirs = torch.randn((3, projections), generator=generator).to(output)
            dirs = dirs / dirs.norm(dim=0, keepdim=True)
            so, _ = torch.sort(po @ dirs, dim=0)  # (P, D)
            sr, _ = torch.sort(pr @ dirs, dim=0)  # (Q, D)
            if sr.shape[0] != so.shape[0]:
                q = (torch.arange(so.shape[0], device=so.device, dtype=so.dtype) + 0.5) / so.shape[0]
                pos = q * sr.shape[0] - 0.5
                lo = pos.floor().clamp(0, sr.shape[0] - 1).long()
                hi = (lo + 1).clamp(max=sr.shape[0] - 1)
                t = (pos - lo.to(pos.dtype)).clamp(0, 1).unsqueeze(1)
                sr = sr[lo] * (1 - t) + sr[hi] * t
            total = total + (so - sr).abs().mean()
            count += 1
    return total / max(count, 1)


def grid_laplacian_loss(grids: torch.Tensor) -> torch.Tensor:
    """Smoothness of ``grids (B,12,D,Hg,Wg)``: squared differences between each cell and its 6
    neighbours along depth, height and width, per coefficient, averaged over the edges of each axis
    and summed over the three axes (the quadratic form of the 3-D grid Laplacian)."""
    if grids.dim() != 5:
        raise ShapeMismatchError(f"grids must be (B,12,D,Hg,Wg); got {tuple(grids.shape)}")
    total = grids.new_zeros(())
    for dim in (2, 3, 4):
        if grids.shape[dim] > 1:
            total = total + torch.diff(grids, dim=dim).pow(2).mean()
    return total


def mask_loss(sliced_masks: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the grid masks sliced with the guide ``(B,N,H,W)`` and the true
    (enhanced) masks ``(B,N,H,W)``: the guide must separate the regions so grid blending does not
    leak one region's look into another."""
    _same_shape(sliced_masks, masks, "mask_loss")
    return (sliced_masks - masks).pow(2).mean()


def guide_loss(guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of ``guide (B,H,W)`` to the luminance of ``image (B,3,H,W)`` clipped to [0,1]."""
    y = luma_t(image).clamp(0.0, 1.0)
    _same_shape(guide, y, "guide_loss")
    return (guide - y).pow(2).mean()


def _visible_mean(err: torch.Tensor, visibility: torch.Tensor) -> torch.Tensor:
    # err (B,C,H,W), visibility (B,1,H,W)
    return (err * visibility).sum() / (visibility.sum() * err.shape[1]).clamp_min(1.0)


def temporal_loss(
    output_t: torch.Tensor, output_prev: torch.Tensor, flow: torch.Tensor, visibility: torch.Tensor
) -> torch.Tensor:
    """Mean over visible pixels of ``‖O_t − W(O_{t−1})‖²`` (per channel). Outputs ``(B,3,H,W)``,
    ``flow (B,2,H,W)`` backward t -> t-1, ``visibility (B,1,H,W)``."""
    _same_shape(output_t, output_prev, "temporal_loss")
    warped, inside = warp(output_prev, flow)
    return _visible_mean((output_t - warped).pow(2), visibility * inside)


def luminance_temporal_loss(
    output_t: torch.Tensor,
    output_prev: torch.Tensor,
    input_t: torch.Tensor,
    input_prev: torch.Tensor,
    flow: torch.Tensor,
    visibility: torch.Tensor,
) -> torch.Tensor:
    """Paper 002's temporal term: ``‖(O_t − W(O_{t−1}))_c − (I_t − W(I_{t−1}))_Y‖²`` on visible pixels,
    so a real change of lighting in the shot is not punished. All images ``(B,3,H,W)``."""
    _same_shape(output_t, input_t, "luminance_temporal_loss")
    wo, inside = warp(output_prev, flow)
    wi, _ = warp(input_prev, flow)
    dy = (luma_t(input_t) - luma_t(wi)).unsqueeze(1)
    return _visible_mean(((output_t - wo) - dy).pow(2), visibility * inside)


def noise_loss(output_clean: torch.Tensor, output_noisy: torch.Tensor) -> torch.Tensor:
    """Paper 003's noise-resilience term: mean squared difference of the outputs for the clean and
    the noisy version of the same frame, ``(B,3,H,W)`` each."""
    _same_shape(output_clean, output_noisy, "noise_loss")
    return (output_clean - output_noisy).pow(2).mean()


def add_training_noise(
    image: torch.Tensor,
    generator: torch.Generator,
    *,
    impulse_range: float = 40.0 / 255.0,
    impulse_count: int = 1000,
    grain_sigma: float | torch.Tensor = 0.01,
    grain_chroma: float = 0.0,
) -> torch.Tensor:
    """Noisy copy of ``image (B,3,H,W)``: paper 003's uniform noise in ±``impulse_range`` added to
    ``impulse_count`` random pixels per image, plus Gaussian film grain.

    The grain is white, of std ``grain_sigma`` (a float, or a ``(B,)`` tensor, one std per image).
    ``grain_chroma == 0``: independent per channel (paper 003's form, v2's training).
    ``grain_chroma > 0``: a luminance part on all three channels plus a chroma part of std
    ``grain_chroma * grain_sigma`` per channel with its channel mean removed (hue, not brightness
    -- the same model as :func:`lookgrid.eval.metrics.add_grain`, here in working-space units)."""
    b, c, h, w = image.shape
    sigma = torch.as_tensor(grain_sigma, dtype=image.dtype)
    if sigma.ndim == 1:
        if sigma.shape[0] != b:
            raise ShapeMismatchError(f"add_training_noise: {sigma.shape[0]} grain stds for {b} images")
        sigma = sigma.view(b, 1, 1, 1)
    if grain_chroma == 0.0:
        grain = torch.randn(image.shape, generator=generator, dtype=image.dtype)
    else:
        grain = torch.randn((b, 1, h, w), generator=generator, dtype=image.dtype).expand(b, c, h, w)
        chroma = grain_chroma * torch.randn(image.shape, generator=generator, dtype=image.dtype)
        grain = grain + (chroma - chroma.mean(dim=1, keepdim=True))
    noisy = image + sigma * grain
    if impulse_count > 0:
        flat = noisy.reshape(b, c, h * w).clone()
        idx = torch.randint(0, h * w, (b, 1, impulse_count), generator=generator).expand(b, c, impulse_count)
        vals = (torch.rand((b, c, impulse_count), generator=generator, dtype=image.dtype) * 2 - 1) * impulse_range
        flat.scatter_add_(2, idx, vals)
        noisy = flat.reshape(b, c, h, w)
    return noisy
