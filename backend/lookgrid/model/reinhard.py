"""The Reinhard transfer method: per-region Lab mean/std colour transfer, no network.

Reinhard et al. 2001 match the per-channel mean and standard deviation of an image to those of a
reference in a decorrelated colour space. This is what a colorist reaches for without a learned model,
``lookgrid render --method reinhard`` runs it through the engine, and evaluation uses it as the
classical baseline. Our version is *localised*:

1. every region k (soft mask ``m_k``) gets its own statistics, measured as true weighted statistics of
   the frame inside the mask (``mu = sum(m x) / sum(m)``), not of a zero-filled image;
2. its pixels are moved to its reference's statistics in CIE L*a*b* (the working space, ACEScct, is
   decoded to linear light first; see :mod:`lookgrid.model.colormath`):
   ``T_k(x) = (x - mu_k) * sigma_ref_k / sigma_k + mu_ref_k``, per channel;
3. the transferred images are blended in pixel space by the soft masks
   (:func:`lookgrid.model.blend.pixel_blend_weights`):
   ``out = x + sum_k w_k (T_k(x) - x)`` with ``w_k = m_k / max(1, sum_j m_j)``. Where the masks sum to
   1 (the engine always passes a background mask ``clip(1 - union, 0, 1)``) this is the convex blend
   ``sum_k m_k T_k(x)``; where they sum to less than 1 the rest keeps the input; overlaps are normalised.

Standard deviations are floored at ``STD_FLOOR`` Lab units so a flat region does not blow up; a region
whose mask weight totals less than one pixel is left unchanged (it has no statistics this frame).
All functions are pure numpy; inputs may also be anything ``np.asarray`` accepts (e.g. CPU tensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.blend import pixel_blend_weights
from lookgrid.model.colormath import lab_to_working, working_to_lab

# Smallest standard deviation (Lab units) used as a divisor.
STD_FLOOR = 0.5
# Reference images larger than this many pixels are sampled on a regular grid for their statistics.
MAX_STYLE_PIXELS = 1 << 18


@dataclass(frozen=True)
class LabStats:
    """Per-channel mean and standard deviation in CIE L*a*b*: ``mean (3,)``, ``std (3,)``."""

    mean: np.ndarray
    std: np.ndarray


def weighted_lab_stats(lab: np.ndarray, weights: np.ndarray | None = None) -> LabStats:
    """Weighted mean/std of Lab pixels.

    Args:
        lab: ``(..., 3)`` Lab values.
        weights: ``(...)`` non-negative weights matching ``lab``'s leading shape, or None for equal
            weights. Statistics are ``sum(w x) / sum(w)`` and the matching weighted (population) std.
    Returns:
        :class:`LabStats`. Raises ``InvalidInputError`` when the weights sum to zero.
    """
    x = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    if weights is None:
        w = np.ones(x.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != x.shape[0]:
            raise InvalidInputError(f"weights have {w.shape[0]} entries for {x.shape[0]} pixels")
    total = w.sum()
    if not total > 0:
        raise InvalidInputError("weights sum to zero: a region with no pixels has no statistics")
    mean = (w[:, None] * x).sum(axis=0) / total
    var = (w[:, None] * (x - mean) ** 2).sum(axis=0) / total
    return LabStats(mean=mean, std=np.sqrt(np.maximum(var, 0.0)))


def style_stats(style: np.ndarray) -> LabStats:
    """Lab statistics of a whole reference image ``(h, w, 3)`` in working space (cache these)."""
    style = np.asarray(style)
    if style.ndim != 3 or style.shape[2] != 3:
        raise ShapeMismatchError(f"style image must be (h, w, 3); got shape {style.shape}")
    step = 1
    while (style.shape[0] // step) * (style.shape[1] // step) > MAX_STYLE_PIXELS:
        step += 1
    sample = style[::step, ::step]
    if not np.isfinite(sample).all():
        sample = np.nan_to_num(sample, nan=0.0, posinf=1.0, neginf=0.0)
    return weighted_lab_stats(working_to_lab(sample.astype(np.float64)))


StyleLike = Union[np.ndarray, LabStats]


def _validate(image: np.ndarray, masks: np.ndarray, styles: Sequence[StyleLike]):
    image = np.asarray(image)
    masks = np.asarray(masks)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ShapeMismatchError(f"image must be (H, W, 3); got shape {image.shape}")
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
        raise ShapeMismatchError(f"masks must be (N, H, W) with (H, W) = {image.shape[:2]}; got shape {masks.shape}")
    if len(styles) != masks.shape[0]:
        raise InvalidInputError(f"{masks.shape[0]} masks but {len(styles)} styles: need one style per mask")
    if masks.shape[0] == 0:
        raise InvalidInputError("at least one region (mask + style) is needed")
    return image, masks


def reinhard_transfer(
    image: np.ndarray,
    masks: np.ndarray,
    styles: Sequence[StyleLike],
    *,
    strength: Sequence[float] | None = None,
) -> np.ndarray:
    """Per-region Reinhard colour transfer in Lab, blended in pixel space by soft masks.

    Args:
        image: ``(H, W, 3)`` float working-space RGB.
        masks: ``(N, H, W)`` soft masks in [0, 1] (a single ``(H, W)`` mask counts as N = 1).
        styles: N references, each an ``(h, w, 3)`` working-space image or precomputed
            :class:`LabStats` (from :func:`style_stats`, to avoid recomputing per frame).
        strength: optional N mixes in [0, 1] toward the input (1 = full transfer, the default).
    Returns:
        ``(H, W, 3)`` float32 working-space RGB. Pixels with NaN/Inf are ignored for statistics and
        passed through unchanged; the output is finite wherever the input is.
    """
    image, masks = _validate(image, masks, styles)
    n = masks.shape[0]
    mix = np.ones(n) if strength is None else np.asarray(strength, dtype=np.float64).reshape(-1)
    if mix.shape[0] != n:
        raise InvalidInputError(f"{n} regions but {mix.shape[0]} strengths")
    x = np.asarray(image, dtype=np.float64)
    finite = np.asarray(np.isfinite(x).all(axis=2))
    x_safe = np.where(finite[..., None], x, 0.0)
    lab = working_to_lab(x_safe)
    m = np.clip(np.nan_to_num(np.asarray(masks, dtype=np.float64)), 0.0, 1.0)
    weights = pixel_blend_weights(m, axis=0)

    out = x_safe.copy()
    for k in range(n):
        w_k = weights[k] * mix[k]
        stat_w = m[k] * finite
        if stat_w.sum() < 1.0 or not np.any(w_k > 0):
            continue  # region absent this frame (or zero strength): unchanged
        src = weighted_lab_stats(lab, stat_w)
        style = styles[k]
        ref = style if isinstance(style, LabStats) else style_stats(style)
        gain = ref.std / np.maximum(src.std, STD_FLOOR)
        sel = w_k > 0  # convert back only the pixels this region touches
        moved = lab_to_working((lab[sel] - src.mean) * gain + ref.mean)
        out[sel] += w_k[sel][:, None] * (moved - x_safe[sel])
    out = np.where(finite[..., None], out, x)
    return out.astype(np.float32)
