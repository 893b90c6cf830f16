"""Classical per-region colour transfers, the rows ``lookgrid eval`` compares LookGrid with.

Written here (``color-matcher``, the library people use for them, is GPL-3.0 and is not a
dependency). Each region ``k`` (soft mask ``m_k``) gets its own transfer ``T_k``, fitted on this
frame's pixels of the region (weights ``m_k``, true weighted statistics) and its reference's pixels,
re-fitted on every frame; the transferred images are blended in pixel space as the Reinhard method
does (:func:`lookgrid.model.blend.pixel_blend_weights`): ``out = x + Σ_k w_k (T_k(x) − x)``. All
maps work where a ``color-matcher`` user applies them: on the display image (sRGB-encoded Rec.709,
clipped to [0, 1], as a JPEG or PNG holds it), frame and references alike, and the result is clipped
to [0, 1] (an image file cannot hold more) before it goes back to working space. (Measured on 6
frames of the dev suite, the same maps on working-space values, ACEScct, unclipped, gave MKL a style
distance 1.14× Reinhard's: ACEScct's toe turns the dark, low-variance regions that an uncapped MKL
stretches into far-off Lab colours.)

* ``mkl``: the linear Monge–Kantorovich map between the two colour distributions' Gaussians (Pitié &
  Kokaram 2007), ``x ↦ T (x − μ_c) + μ_s`` with ``T Σ_c T = Σ_s``. This is the map of the colour
  prior (:func:`lookgrid.model.prior.prior_affine`, one concept one place), here *uncapped* as in
  ``color-matcher`` (the prior caps T's eigenvalues at 2).
* ``hm``: per-channel histogram matching, each channel's weighted distribution onto the reference's
  (:func:`match_marginals`).
* ``hm-mkl-hm``: histogram matching, then MKL fitted on its result, then histogram matching again
  (``color-matcher``'s ``hm-mkl-hm``): the marginals exactly, with the reference's correlations.

A region whose mask totals less than one pixel this frame is left unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.blend import pixel_blend_weights
from lookgrid.model.colormath import display_to_working, working_to_display
from lookgrid.model.prior import colour_stats, prior_affine

#: the classical rows, by name
TRANSFERS: tuple[str, ...] = ("mkl", "hm", "hm-mkl-hm")
#: reference images larger than this many pixels are sampled on a regular grid
MAX_REFERENCE_PIXELS = 1 << 18
#: covariance regularisation of the MKL fit (``eps``·I on both sides): tiny, as in ``color-matcher``,
#: so the map is exact (the prior's own is 1e-4, with its gain cap)
MKL_EPS = 1e-10


@dataclass(frozen=True)
class Reference:
    """A reference's pixels ``(Q, 3)`` (display values in [0, 1], float64), their mean ``(3,)``,
    covariance ``(3, 3)`` and per-channel sorted values ``(3, Q)``."""

    pixels: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    sorted: np.ndarray

    @classmethod
    def of_pixels(cls, pixels: np.ndarray) -> "Reference":
        """The reference of display pixels ``(Q, 3)`` as they are (no conversion)."""
        px = np.asarray(pixels, np.float64).reshape(-1, 3)
        if not len(px):
            raise InvalidInputError("reference has no finite pixels")
        mean, cov = weighted_mean_cov(px, None)
        return cls(px, mean, cov, np.sort(px.T, axis=1))


def to_display(image: np.ndarray) -> np.ndarray:
    """Working space ``(..., 3)`` → display values ``(..., 3)`` float64 clipped to [0, 1] (NaN → 0)."""
    return np.clip(np.nan_to_num(working_to_display(np.nan_to_num(np.asarray(image, np.float64)))), 0.0, 1.0)


def reference(image: np.ndarray) -> Reference:
    """:class:`Reference` of a working-space image ``(h, w, 3)``, in display values
    (:func:`to_display`; regular-grid subsample past :data:`MAX_REFERENCE_PIXELS`)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ShapeMismatchError(f"reference must be (h, w, 3); got shape {img.shape}")
    step = 1
    while (img.shape[0] // step) * (img.shape[1] // step) > MAX_REFERENCE_PIXELS:
        step += 1
    px = img[::step, ::step].reshape(-1, 3).astype(np.float64)
    return Reference.of_pixels(to_display(px[np.isfinite(px).all(axis=1)]))


def weighted_mean_cov(pixels: np.ndarray, weights: np.ndarray | None):
    """Weighted colour mean ``(3,)`` and covariance ``(3, 3)`` of ``pixels (P, 3)`` with ``weights
    (P,)`` or None (:func:`lookgrid.model.prior.colour_stats`, float64)."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, np.float64).T[None, :, :, None])  # (1,3,P,1)
    w = None if weights is None else torch.from_numpy(np.ascontiguousarray(weights, np.float64)[None, None, :, None])
    mean, cov, _ = colour_stats(x, w, min_mass=0.0)
    return mean[0].numpy(), cov[0].numpy()


def mkl_affine(
    pixels: np.ndarray,
    weights: np.ndarray | None,
    ref: Reference,
    *,
    max_gain: float = float("inf"),
    eps: float = MKL_EPS,
) -> np.ndarray:
    """The MKL affine ``(3, 4)`` ``[T | μ_s − T μ_c]`` moving the weighted colours ``pixels (P, 3)``
    onto ``ref``'s Gaussian (:func:`lookgrid.model.prior.prior_affine`; uncapped by default)."""
    mc, cc = weighted_mean_cov(pixels, weights)
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))[None]  # noqa: E731
    return prior_affine(t(mc), t(cc), t(ref.mean), t(ref.cov), max_gain=max_gain, eps=eps)[0].numpy()


def apply_affine(pixels: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """``A [x; 1]`` for ``pixels (P, 3)`` and ``affine (3, 4)`` → ``(P, 3)``."""
    return pixels @ affine[:, :3].T + affine[:, 3]


def match_marginals(pixels: np.ndarray, weights: np.ndarray | None, ref: Reference) -> np.ndarray:
    """Per-channel histogram matching of ``pixels (P, 3)`` (weights ``(P,)`` or None) onto ``ref``.

    Per channel, each distinct value ``v`` goes to the reference's quantile at the level of ``v`` in
    the weighted distribution, taken at the middle of ``v``'s own mass (``(F(v⁻) + F(v)) / 2``), so
    equal values map to equal values (a colour map, monotone per channel) and the matched channel's
    weighted distribution is the reference's up to the discreteness of both sets."""
    x = np.asarray(pixels, np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    out = np.empty_like(x)
    q = ref.sorted.shape[1]
    ref_levels = (np.arange(q) + 0.5) / q
    total = w.sum()
    for c in range(3):
        vals, inv = np.unique(x[:, c], return_inverse=True)
        mass = np.bincount(inv, weights=w, minlength=len(vals))
        cdf = np.cumsum(mass)
        level = (cdf - 0.5 * mass) / total
        out[:, c] = np.interp(level, ref_levels, ref.sorted[c])[inv]
    return out


def region_transfer(pixels: np.ndarray, weights: np.ndarray, ref: Reference, kind: str) -> np.ndarray:
    """One region's transfer ``kind`` (:data:`TRANSFERS`) of its pixels ``(P, 3)``, fitted with their
    weights ``(P,)`` → ``(P, 3)``."""
    if kind == "mkl":
        return apply_affine(pixels, mkl_affine(pixels, weights, ref))
    if kind == "hm":
        return match_marginals(pixels, weights, ref)
    if kind == "hm-mkl-hm":
        x = match_marginals(pixels, weights, ref)
        x = apply_affine(x, mkl_affine(x, weights, ref))
        return match_marginals(x, weights, ref)
    raise InvalidInputError(f"unknown classical transfer {kind!r}; expected one of {', '.join(TRANSFERS)}")


def transfer(image: np.ndarray, masks: np.ndarray, references: Sequence[Reference], kind: str) -> np.ndarray:
    """Per-region classical transfer ``kind`` of one frame.

    image ``(H, W, 3)`` working space; masks ``(N, H, W)`` soft in [0, 1] (the background included,
    as the engine passes it); one :class:`Reference` per mask. Returns ``(H, W, 3)`` float32 working
    space. Each region is fitted on its own display pixels (weights ``m_k``) and applied where its
    blend weight is positive; the blended display image is clipped to [0, 1]; non-finite pixels are
    ignored by the fits and passed through."""
    img = np.asarray(image)
    m = np.asarray(masks)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ShapeMismatchError(f"image must be (H, W, 3); got shape {img.shape}")
    if m.ndim != 3 or m.shape[1:] != img.shape[:2]:
        raise ShapeMismatchError(f"masks must be (N, H, W) with (H, W) = {img.shape[:2]}; got {m.shape}")
    if len(references) != m.shape[0]:
        raise InvalidInputError(f"{m.shape[0]} masks but {len(references)} references")
    x = np.asarray(img, np.float64)
    finite = np.asarray(np.isfinite(x).all(axis=2))
    m = np.asarray(np.clip(np.nan_to_num(m.astype(np.float64)), 0.0, 1.0) * finite)
    blend = pixel_blend_weights(m, axis=0)
    base = to_display(np.where(finite[..., None], x, 0.0))
    out = base.copy()
    for k, ref in enumerate(references):
        sel = m[k] > 0
        if m[k].sum() < 1.0:
            continue
        moved = region_transfer(base[sel], m[k][sel], ref, kind)
        out[sel] += blend[k][sel][:, None] * (moved - base[sel])
    changed = np.asarray((m > 0).any(axis=0))  # pixels no region touches keep their exact values
    result = np.where(changed[..., None], display_to_working(np.clip(out, 0.0, 1.0)), x)
    return np.where(finite[..., None], result, x).astype(np.float32)
