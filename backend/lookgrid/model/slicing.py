"""Slicing a bilateral grid with a guide, and applying the sliced affine colour transforms.

Sampling convention (HDRnet's, see :mod:`.grid`): pixel ``(x, y)`` of an ``H×W`` image with guide
value ``z`` samples the grid at continuous cell coordinates

    gx = (x + 0.5)·Wg/W − 0.5,   gy = (y + 0.5)·Hg/H − 0.5,   gz = z·D − 0.5

with trilinear (tent) weights; indices clamp at the borders, so a guide outside [0, 1] reads the
first/last depth bin (never zeros). Works at any resolution and aspect ratio.

Two implementations with the same maths:

* :func:`slice_apply_reference` — plain torch gathers, differentiable in grid, guide and image
  (what training uses; also the CUDA path under ``no_grad``);
* :func:`slice_apply` — the fast inference path: a parallel numba kernel on CPU
  (:mod:`._cpu_kernels`), torch ops when the tensors live on a GPU. No gradients.

Pixel-space blending of N region grids (the render's ``blend = "pixel"`` mode, see
:mod:`.render`): every region's grid is sliced at the same guide and the sliced transforms are
blended per pixel with the full-resolution masks,

    out(x) = p + Σ_k w_k(x)·(A_k(x)·[p, 1] − p),   w_k = m_k / max(1, Σ_j m_j)

(:func:`lookgrid.model.blend.pixel_blend_weights`, :func:`slice_blend_apply_reference`; the fused CPU kernel is
:func:`._cpu_kernels.guide_slice_blend_apply_cpu`). Where the masks sum to 1 this is the convex
blend Σ_k m_k·A_k·[p, 1]; where they sum to less, the rest keeps the input; overlaps are normalised.
"""

from __future__ import annotations

import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.blend import blend_outputs
from lookgrid.model.grid import GRID_COEFFS, check_grids, check_shape


def axis_coords(n_pix: int, n_cells: int, device, dtype):
    """Where the pixels of one axis fall among grid cells (cell centres at half-integers): lower cell
    index, upper cell index (both clamped) and upper weight, each ``(n_pix,)``. Shared by slicing and
    splatting (:mod:`lookgrid.model.softmask`)."""
    g = (torch.arange(n_pix, device=device, dtype=torch.float64) + 0.5) * (n_cells / n_pix) - 0.5
    g0 = torch.floor(g)
    w = (g - g0).to(dtype)
    i0 = g0.long().clamp(0, n_cells - 1)
    i1 = (g0.long() + 1).clamp(0, n_cells - 1)
    return i0, i1, w


def depth_coords(guide: torch.Tensor, depth: int, dtype):
    """Where guide values fall among the grid's depth bins (``gz = z·D − 0.5``, clamped to the first
    and last bin, which also tames inf): lower bin, upper bin (both ``long``) and upper weight
    (``dtype``), each the guide's shape. Shared by slicing, splatting
    (:mod:`lookgrid.model.softmask`) and the prior's tone curve (:mod:`lookgrid.model.prior`)."""
    gz = (guide.to(dtype) * depth - 0.5).clamp(-0.5, depth - 0.5)
    z0f = torch.floor(gz).detach()
    wz = gz - z0f
    z0 = z0f.long().clamp(0, depth - 1)
    z1 = (z0f.long() + 1).clamp(0, depth - 1)
    return z0, z1, wz


def slice_grid_reference(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinearly sample a grid at every pixel.

    grid ``(B, C, D, Hg, Wg)`` (any C: 12 affine coefficients, or 1 for a soft grid mask);
    guide ``(B, H, W)``, nominally in [0, 1]. Returns ``(B, C, H, W)``. Differentiable in both.
    """
    check_shape("grid", grid, "(B,C,D,Hg,Wg)")
    check_shape("guide", guide, "(B,H,W)", B=grid.shape[0])
    b, c, d, hg, wg = grid.shape
    _, h, w = guide.shape
    dev, dt = grid.device, grid.dtype
    y0, y1, wy = axis_coords(h, hg, dev, dt)
    x0, x1, wx = axis_coords(w, wg, dev, dt)
    z0, z1, wz = depth_coords(guide, d, dt)

    flat = grid.reshape(b, c, d * hg * wg)

    def corner(zi, yi, xi):
        idx = (zi * hg + yi.view(1, h, 1)) * wg + xi.view(1, 1, w)  # (B,H,W)
        return torch.gather(flat, 2, idx.reshape(b, 1, h * w).expand(b, c, h * w)).view(b, c, h, w)

    def lerp(a, bb, t):  # a + t·(b − a): exact when a == b, so constant grids slice exactly
        return a + t * (bb - a)

    wx_, wy_, wz_ = wx.view(1, 1, 1, w), wy.view(1, 1, h, 1), wz.unsqueeze(1)
    planes = []
    for zi in (z0, z1):
        left = lerp(corner(zi, y0, x0), corner(zi, y1, x0), wy_)
        right = lerp(corner(zi, y0, x1), corner(zi, y1, x1), wy_)
        planes.append(lerp(left, right, wx_))
    return lerp(planes[0], planes[1], wz_)


def apply_affine(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-pixel 3×4 affine colour transform.

    coeffs ``(B, 12, H, W)`` in the layout of :mod:`.grid`; image ``(B, 3, H, W)``.
    Returns ``(B, 3, H, W)`` with ``out_r = a00·r + a01·g + a02·b + b0`` and so on.
    """
    check_shape("coeffs", coeffs, f"(B,{GRID_COEFFS},H,W)")
    if (
        image.dim() != 4
        or image.shape[1] != 3
        or image.shape[0] != coeffs.shape[0]
        or image.shape[2:] != coeffs.shape[2:]
    ):
        raise ShapeMismatchError(
            f"image must have shape (B,3,H,W) = ({coeffs.shape[0]},3,{coeffs.shape[2]},{coeffs.shape[3]}), "
            f"got {tuple(image.shape)}"
        )
    a = coeffs.view(coeffs.shape[0], 3, 4, *coeffs.shape[2:])
    return (a[:, :, :3] * image.unsqueeze(1)).sum(dim=2) + a[:, :, 3]


def check_slice_inputs(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> None:
    """Validate ``grid (B,12,D,Hg,Wg)``, ``guide (B,H,W)``, ``image (B,3,H,W)`` against each other."""
    check_grids("grid", grid)
    b = grid.shape[0]
    check_shape("image", image, "(B,3,H,W)", B=b)
    h, w = image.shape[2:]
    check_shape("guide", guide, "(B,H,W)", B=b, H=h, W=w)


def slice_apply_reference(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Slice ``grid (B,12,D,Hg,Wg)`` at ``guide (B,H,W)`` and apply to ``image (B,3,H,W)``.

    Returns ``(B, 3, H, W)``. Plain torch, differentiable in all three inputs.
    """
    check_slice_inputs(grid, guide, image)
    return apply_affine(slice_grid_reference(grid, guide), image.to(grid.dtype))


def slice_blend_apply_reference(
    grids: torch.Tensor, guide: torch.Tensor, image: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Slice each of N region grids at the guide, apply, and blend per pixel (pixel-space blending).

    grids ``(B,N,12,D,Hg,Wg)``; guide ``(B,H,W)``; image ``(B,3,H,W)``; weights ``(B,N,H,W)``, the
    per-pixel blend weights (normally :func:`lookgrid.model.blend.pixel_blend_weights` of the masks). Returns ``(B,3,H,W)``:
    ``p + Σ_k w_k·(slice(grids[:,k])·[p,1] − p)``. Plain torch, differentiable in all four inputs;
    regions are sliced one at a time (peak memory of one slice). Accumulating differences from the
    input keeps identity grids exact.
    """
    check_shape("grids", grids, f"(B,N,{GRID_COEFFS},D,Hg,Wg)")
    b, n = grids.shape[:2]
    check_shape("image", image, "(B,3,H,W)", B=b)
    h, w = image.shape[2:]
    check_shape("guide", guide, "(B,H,W)", B=b, H=h, W=w)
    check_shape("weights", weights, "(B,N,H,W)", B=b, N=n, H=h, W=w)
    img = image.to(grids.dtype)
    wts = weights.to(grids.dtype)
    return blend_outputs(img, (slice_apply_reference(grids[:, k], guide, img) for k in range(n)), wts)


@torch.no_grad()
def slice_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Fast :func:`slice_apply_reference` for inference (no gradients).

    CPU float tensors go through a parallel numba kernel (float32 inside); GPU tensors through the
    torch reference ops. Shapes as in :func:`slice_apply_reference`; returns image's dtype.
    """
    check_slice_inputs(grid, guide, image)
    if image.device.type != "cpu":
        return slice_apply_reference(grid, guide, image).to(image.dtype)
    from lookgrid.model import _cpu_kernels as k  # numba: ~0.5 s to import, CPU fast path only

    out = torch.empty(image.shape, dtype=torch.float32)
    for i in range(grid.shape[0]):
        k.locked(
            k.slice_apply_cpu,
            k.grid_to_cells(grid[i]),
            guide[i].to(torch.float32).contiguous().numpy(),
            image[i].to(torch.float32).contiguous().numpy(),
            out[i].numpy(),
        )
    return out.to(image.dtype)
