"""Full-resolution rendering: guide → region grids combined (two modes) → slice + apply.

:func:`render_frame` is what the engine calls; :func:`render_parts` is the same computation, plain
torch and differentiable, returning every intermediate (what training uses).

How the N region grids are combined is ``net.config["blend"]``:

* ``"pixel"`` (the default): every region's grid (after strength) is sliced at the same guide and
  the sliced transforms are blended per pixel with the full-resolution masks,
  ``out = p + Σ_k w_k·(A_k·[p,1] − p)``, ``w_k = m_k / max(1, Σ_j m_j)`` (the engine passes a
  background mask ``clip(1 − union, 0, 1)``, so Σm is normally 1; where it is less the rest keeps
  the input; overlaps are normalised). The same blend as the Reinhard baseline
  (:mod:`lookgrid.model.reinhard`). See :func:`lookgrid.model.slicing.slice_blend_apply_reference`
  and the fused CPU kernel :func:`._cpu_kernels.guide_slice_blend_apply_cpu`, which slices a
  region only in the spans where its weight is non-zero, so the cost stays near one slice.
* ``"grid"``: the paper's eq. 7 — the grids are blended in grid space with soft grid masks into one
  grid, sliced once.

Why pixel is the default: with it the look follows the roto exactly, which is what a colorist
expects of a matte. Grid-space blending lets a region's look bleed up to a grid cell past the mask
edge (a 16×16 grid cell is 120 px of a 1920-wide frame), which showed as halos once looks are
strong: our halo measure (gradient energy near mask edges relative to far from them, output over
input; 1 = no halo) was 0.90 for grid vs 0.995 for pixel blending on 12 frames of the 5 dev clips
with a closed-form per-region colour transform.

Both modes still compute the soft grid masks and the eq. 7 blended grid in :func:`render_parts`
(cheap at 16×16; training's mask loss and grid losses use them); the fast pixel path of
:func:`render_frame` skips them.

The soft grid masks are estimated from a strided subsample of the frame (at most
``SOFT_MASK_MAX_SIDE`` pixels on the long side; a 16×16 grid then still gets ≥ ~128 samples per
cell), because they only need cell-level mass ratios and a full-resolution splat would cost more
than the whole slice. Both paths use the same subsample, so fast == reference holds.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model import softmask as sm
from lookgrid.model.blend import blend_grids, pixel_blend_weights
from lookgrid.model.grid import apply_strength, check_grids, check_shape, identity_grid
from lookgrid.model.guide import region_codes
from lookgrid.model.slicing import slice_apply_reference, slice_blend_apply_reference

SOFT_MASK_MAX_SIDE = 256
BLEND_MODES = ("pixel", "grid")


def check_blend_mode(mode) -> str:
    """Raise :class:`InvalidInputError` unless ``mode`` is one of :data:`BLEND_MODES`; return it."""
    if mode not in BLEND_MODES:
        raise InvalidInputError(f"net.config['blend'] must be one of {', '.join(map(repr, BLEND_MODES))}, got {mode!r}")
    return mode


def blend_mode(net) -> str:
    """``net.config["blend"]``, validated (the config may be changed after construction, e.g. by
    ``bench render --blend``; checkpoints from before the key existed get "grid" in
    :func:`lookgrid.model.load.load_model`)."""
    return check_blend_mode(net.config["blend"])


def _s(image: torch.Tensor, max_side: int = SOFT_MASK_MAX_SIDE) -> int:
    """Subsampling stride for the soft masks: long side ≤ max_side."""
    return max(1, math.ceil(max(image.shape[2:]) / max_side))


def _o(image: torch.Tensor) -> int:
    """Offset of the subsample: the centre of each stride×stride block."""
    return _s(image) // 2


def _np32(t: torch.Tensor):
    """float32 numpy view (a copy only if the tensor is not float32 C-contiguous on the CPU)."""
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


def subsample(image: torch.Tensor, masks: torch.Tensor, max_side: int = SOFT_MASK_MAX_SIDE):
    """Strided subsample (block centres) so the long side is ≤ max_side: image ``(B,3,H,W)``,
    masks ``(B,N,H,W)`` → the same at ``(h, w)``; unchanged when already small enough."""
    s = _s(image, max_side)
    if s == 1:
        return image, masks
    o = s // 2
    return image[:, :, o::s, o::s], masks[:, :, o::s, o::s]


def _check(net, image, masks, grids, strength):
    check_shape("image", image, "(1,3,H,W)")
    h, w = image.shape[2:]
    check_shape("masks", masks, "(1,N,H,W)", H=h, W=w)
    check_grids("grids", grids)
    n = masks.shape[1]
    if grids.shape[0] != n:
        raise ShapeMismatchError(
            f"grids must have one grid per mask: expected ({n},12,D,Hg,Wg), got {tuple(grids.shape)}"
        )
    if grids.shape[2] != net.grid_depth:
        raise ShapeMismatchError(
            f"grids have depth {grids.shape[2]}, the model uses {net.grid_depth}: got {tuple(grids.shape)}"
        )
    if strength is not None:
        s = torch.as_tensor(strength)
        if s.dim() > 1 or (s.dim() == 1 and s.shape[0] != n):
            raise ShapeMismatchError(f"strength must have shape (N,) = ({n},), got {tuple(s.shape)}")
        if not torch.isfinite(s.double()).all():
            raise InvalidInputError("strength must be finite")


def blended_grid(net, image, masks, grids, strength=None, soft_mask_method: str | None = None, reference: bool = True):
    """Strength, soft grid masks (from the subsample) and eq. 7. Returns ``(grid (12,D,Hg,Wg),
    soft_masks (N,D,Hg,Wg))``. ``reference=False`` (CPU, no grad): guide and splat by numba kernels
    instead of torch ops (same maths; the torch ops' thread pool costs more than the work at this size)."""

    d, hg, wg = grids.shape[2:]
    method = soft_mask_method or net.config["soft_mask"]
    if not reference and method == "splat" and image.device.type == "cpu":
        from lookgrid.model import _cpu_kernels as k  # numba: ~0.5 s to import, CPU fast path only

        # numpy, not torch, for the strided copies: single-threaded, no thread-pool barriers
        n = masks.shape[1]
        im = np.ascontiguousarray(_np32(image[0])[:, _o(image) :: _s(image), _o(image) :: _s(image)])
        ms = np.ascontiguousarray(_np32(masks[0])[:, _o(image) :: _s(image), _o(image) :: _s(image)])
        z = np.empty(im.shape[1:], np.float32)
        k.locked(k.guide_cpu, im, ms, region_codes(n).numpy(), *net.guide_net.kernel_weights(), z)
        mm = np.empty((n, d, hg, wg))
        pm = np.empty((d, hg, wg))
        k.splat_cpu(z, ms, d, hg, wg, mm, pm)
        soft = sm.ratio_from_masses(torch.from_numpy(mm)[None], torch.from_numpy(pm)[None, None], z.size)
        soft = sm.partition_of_unity(soft)[0].to(grids.dtype)
        return _blend_np(grids, soft, strength), soft
    if strength is not None:
        grids = apply_strength(grids, torch.as_tensor(strength, dtype=grids.dtype, device=grids.device))
    small_img, small_masks = subsample(image, masks)
    z = net.guide(small_img.to(grids.dtype), small_masks.to(grids.dtype))
    soft = sm.soft_grid_masks(z, small_masks.to(grids.dtype), d, hg, wg, method)[0]
    return blend_grids(grids, soft), soft


def apply_strength_np(grids: torch.Tensor, strength):
    """:func:`apply_strength` in numpy (same formula): ``(N,12,D,Hg,Wg)`` → numpy of grids' dtype."""

    g = grids.detach().cpu().numpy()
    if strength is not None:
        s = np.asarray(torch.as_tensor(strength).detach().cpu(), dtype=g.dtype).reshape(-1, 1, 1, 1, 1)
        ident = identity_grid(g.shape[0], *g.shape[2:], dtype=grids.dtype).numpy()
        g = ident + (g - ident) * s
    return g


def _blend_np(grids: torch.Tensor, soft: torch.Tensor, strength) -> torch.Tensor:
    """:func:`apply_strength` + :func:`blend_grids` in numpy (same formulas). At ~50k elements torch
    would hand these to its thread pool, whose barriers cost ~10-40 ms per op on a busy machine."""
    g = apply_strength_np(grids, strength)
    return torch.from_numpy(blend_grids(g, soft.detach().cpu().numpy().astype(g.dtype)))


def _pixel_output(net, image, masks, grids, strength, z=None) -> torch.Tensor:
    """Pixel-space blend (reference): strength, guide ``z`` (computed unless given), slice each
    region's grid and blend with :func:`pixel_blend_weights` of the full-resolution masks."""
    if strength is not None:
        grids = apply_strength(grids, torch.as_tensor(strength, dtype=grids.dtype, device=grids.device))
    img, msk = image.to(grids.dtype), masks.to(grids.dtype)
    if z is None:
        z = net.guide(img, msk)
    return slice_blend_apply_reference(grids.unsqueeze(0), z, img, pixel_blend_weights(msk))


def render_parts(net, image, masks, grids, strength=None, soft_mask_method: str | None = None) -> dict:
    """Differentiable render with intermediates, in the net's blend mode (:func:`blend_mode`).

    image ``(1,3,H,W)``, masks ``(1,N,H,W)``, grids ``(N,12,D,Hg,Wg)``, strength ``(N,)`` or None.
    Returns dict: ``output (1,3,H,W)``, ``guide (1,H,W)``, ``grid (1,12,D,Hg,Wg)`` (blended, eq. 7;
    what is sliced in ``"grid"`` mode, computed in both) and ``soft_masks (N,D,Hg,Wg)``.
    """
    _check(net, image, masks, grids, strength)
    mode = blend_mode(net)
    grid, soft = blended_grid(net, image, masks, grids, strength, soft_mask_method)
    z = net.guide(image.to(grids.dtype), masks.to(grids.dtype))
    if mode == "grid":
        out = slice_apply_reference(grid.unsqueeze(0), z, image.to(grids.dtype))
    else:
        out = _pixel_output(net, image, masks, grids, strength, z)
    return {"output": out, "guide": z, "grid": grid.unsqueeze(0), "soft_masks": soft}


@torch.no_grad()
def render_frame(net, image, masks, grids, strength=None, reference: bool = False) -> torch.Tensor:
    """Render one frame: image ``(1,3,H,W)`` working space, masks ``(1,N,H,W)`` soft in [0, 1],
    grids ``(N,12,D,Hg,Wg)``, strength ``(N,)`` or None (= all 1). Returns ``(1,3,H,W)`` float32.

    Blend mode from ``net.config["blend"]`` (see the module docstring). By default fused numba
    kernels on CPU (:func:`._cpu_kernels.guide_slice_blend_apply_cpu` for "pixel",
    :func:`._cpu_kernels.guide_slice_apply_cpu` after eq. 7 for "grid"), torch ops on a GPU;
    ``reference=True`` runs the plain reference (:func:`render_parts`; for "pixel" without the unused
    soft grid masks). Non-finite image values raise (the imaging layer sanitises frames before they
    get here).
    """
    _check(net, image, masks, grids, strength)
    mode = blend_mode(net)
    if reference or image.device.type != "cpu":
        if not torch.isfinite(image).all():
            raise InvalidInputError("image contains NaN or Inf; sanitise it before rendering")
        if mode == "pixel":
            return _pixel_output(net, image, masks, grids, strength).float()
        return render_parts(net, image, masks, grids, strength)["output"].float()
    from lookgrid.model import _cpu_kernels as k  # numba: ~0.5 s to import, CPU fast path only

    img = _np32(image[0])
    msk = _np32(masks[0])
    out = torch.from_numpy(np.empty(img.shape, np.float32))  # numpy asks for huge pages: ~5x fewer page faults
    codes = region_codes(msk.shape[0]).numpy()
    if mode == "pixel":
        cells = k.grids_to_cells(apply_strength_np(grids, strength))
        bad = k.locked(
            k.guide_slice_blend_apply_cpu, cells, img, msk, codes, *net.guide_net.kernel_weights(), out.numpy()
        )
    else:
        grid, _ = blended_grid(net, image, masks, grids, strength, reference=False)
        bad = k.locked(
            k.guide_slice_apply_cpu,
            k.grid_to_cells(grid),
            img,
            msk,
            codes,
            *net.guide_net.kernel_weights(),
            out.numpy(),
        )
    if bad:
        raise InvalidInputError(f"image contains NaN or Inf in {bad} rows; sanitise it before rendering")
    return out.unsqueeze(0)
