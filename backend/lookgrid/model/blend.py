"""How region results are combined: pixel-space blend weights and the grid-space blend (eq. 7).

Two ways of mixing N regions, each defined here once and used by rendering, training, the engine's
pixel-blend method and the Reinhard transfer:

* **Pixel space.** Each region's result is blended per pixel with weights from the full-resolution
  soft masks, ``w_k = m_k / max(1, Σ_j m_j)``, as ``x + Σ_k w_k (out_k − x)``. Where the masks sum
  to 1 this is the convex blend ``Σ_k m_k out_k``; where they sum to less the rest keeps the input;
  overlaps are normalised. Accumulating differences from the input keeps identity results exact.
* **Grid space** (paper eq. 7 for N regions): ``Γ = Σ_k M_k Γ_k`` with soft grid masks ``M_k`` that
  form a partition of unity (see :mod:`lookgrid.model.softmask`), written as
  ``Γ_0 + Σ_k M_k (Γ_k − Γ_0)`` so identity grids stay exactly the identity despite float rounding.

:func:`pixel_blend_weights` and :func:`blend_grids` accept numpy arrays as well as torch tensors
(same formula, same operation order: the numpy form is what the CPU fast paths use).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.grid import GRID_COEFFS, check_shape

__all__ = ["pixel_blend_weights", "blend_outputs", "pixel_blend", "blend_grids"]


def pixel_blend_weights(masks, *, axis: int = 1):
    """Pixel blend weights ``w_k = m_k / max(1, Σ_j m_j)`` of soft masks (sum over the regions).

    masks: a torch tensor ``(B,N,H,W)``, or a numpy array with the regions on ``axis`` (e.g.
    ``(N,H,W)`` with ``axis=0``). Returns the same shape and type; Σ_k w_k ≤ 1 everywhere (= 1
    where the masks cover the pixel fully). Differentiable for tensors.
    """
    if isinstance(masks, np.ndarray):
        return masks / np.maximum(1.0, masks.sum(axis=axis, keepdims=True))
    check_shape("masks", masks, "(B,N,H,W)")
    return masks / masks.sum(dim=1, keepdim=True).clamp(min=1.0)


def blend_outputs(image: torch.Tensor, outputs: Iterable[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``x + Σ_k w_k (out_k − x)``: image ``(B,3,H,W)``, outputs N × ``(B,3,H,W)`` (any iterable,
    e.g. a generator that slices one region at a time to bound peak memory), weights ``(B,N,H,W)``
    (normally :func:`pixel_blend_weights`). Returns ``(B,3,H,W)``; differentiable."""
    out = image
    for k, o in enumerate(outputs):
        out = out + weights[:, k : k + 1] * (o - image)
    return out


def pixel_blend(image: torch.Tensor, outputs: Iterable[torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
    """Blend full-frame results per pixel by soft masks: :func:`blend_outputs` with
    :func:`pixel_blend_weights`. image ``(B,3,H,W)``, outputs N × ``(B,3,H,W)``, masks ``(B,N,H,W)``."""
    return blend_outputs(image, outputs, pixel_blend_weights(masks))


def blend_grids(grids, soft_masks):
    """Grid-space blending (eq. 7): ``Γ = Γ_0 + Σ_k M_k (Γ_k − Γ_0)``, equal to ``Σ_k M_k Γ_k``.

    grids ``(..., N, 12, D, Hg, Wg)``; soft_masks ``(..., N, D, Hg, Wg)``, a partition of unity over
    N, with the same leading dims. Returns ``(..., 12, D, Hg, Wg)``. Torch tensors (differentiable)
    or numpy arrays.
    """
    gs, ms = tuple(grids.shape), tuple(soft_masks.shape)
    if len(gs) < 5 or gs[-4] != GRID_COEFFS or ms != gs[:-4] + gs[-3:]:
        raise ShapeMismatchError(
            f"grids must be (..., N, 12, D, Hg, Wg) and soft_masks (..., N, D, Hg, Wg) "
            f"with the same N, D, Hg, Wg; got {gs} and {ms}"
        )
    first = grids[..., 0:1, :, :, :, :]
    return grids[..., 0, :, :, :, :] + (soft_masks[..., :, None, :, :, :] * (grids - first)).sum(-5)
