"""Array helpers of the engine (pure functions): resizing planes, image tensors, the render masks
with their background (:func:`render_masks` from what a caller sends), sizes of what a cache holds,
and back to ``(H, W, 3)`` pixels.

:func:`full_masks` is the reference for the render masks; :func:`full_masks_cpu` gives the same
values on the CPU in one numba pass per plane (``tests/engine/test_reference_paths.py`` holds them equal).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numba
import numpy as np
import torch
import torch.nn.functional as F

from lookgrid import _numba
from lookgrid.errors import InvalidInputError, ShapeMismatchError


def resize_planes(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``(B, C, h, w)`` to ``(B, C, height, width)``: bilinear, antialiased when shrinking."""
    if x.shape[-2:] == (height, width):
        return x
    shrink = x.shape[-2] > height or x.shape[-1] > width
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)


def to_image_tensor(image, device: torch.device) -> torch.Tensor:
    """``(H, W, 3)`` numpy/tensor or ``(1, 3, H, W)`` tensor → float32 ``(1, 3, H, W)`` on ``device``.

    An ``(H, W, 3)`` view of planar ``(3, H, W)`` memory (:meth:`lookgrid.engine.io.SequenceIO.read`)
    is taken as it is: no copy on the CPU."""
    if isinstance(image, np.ndarray) and min(image.strides, default=0) < 0:
        image = np.ascontiguousarray(image)  # torch takes any strides but negative ones
    t = torch.as_tensor(image)
    if t.dim() == 3 and t.shape[-1] == 3:
        t = t.permute(2, 0, 1).unsqueeze(0)
    if t.dim() != 4 or t.shape[:2] != (1, 3):
        raise ShapeMismatchError(f"image must be (H, W, 3) or (1, 3, H, W), got {tuple(t.shape)}")
    return t.to(device=device, dtype=torch.float32).contiguous()


def full_masks(region_masks: torch.Tensor, background_index: int | None) -> torch.Tensor:
    """Insert the background mask ``clip(1 − Σ others, 0, 1)``.

    region_masks ``(B, M, H, W)`` for the masked regions in order; returns ``(B, M+1, H, W)`` with
    the background at ``background_index`` (``None``: returned unchanged, clamped to [0, 1]).
    """
    m = region_masks.clamp(0.0, 1.0)
    if background_index is None:
        return m
    bg = (1.0 - m.sum(dim=1, keepdim=True)).clamp(0.0, 1.0)
    return torch.cat([m[:, :background_index], bg, m[:, background_index:]], dim=1)


@numba.njit(cache=True, parallel=True, nogil=True)
def _mask_plane_kernel(src, dst, bg, first, last):
    """One region's matte into its slot of the render masks, and into the background:
    ``dst = clamp(nan→0 (src), 0, 1)``; ``bg = dst`` (``first``) or ``bg + dst``; with ``last``
    then ``bg = clamp(1 − bg, 0, 1)``. (H, W) float32, any strides; float32 arithmetic."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for y in numba.prange(src.shape[0]):
        for x in range(src.shape[1]):
            v = src[y, x]
            v = zero if v != v else min(max(v, zero), one)
            dst[y, x] = v
            s = v if first else bg[y, x] + v
            bg[y, x] = min(max(one - s, zero), one) if last else s


def full_masks_cpu(planes: Sequence[np.ndarray], background_index: int) -> torch.Tensor:
    """``full_masks(nan_to_num(stack(planes)), background_index)`` on the CPU in one pass per
    plane (the reference makes seven full-frame passes, each into a new tensor: ~0.14 s of a 4K
    frame with one matte): M ≥ 1 (H, W) float32 planes of the masked regions in order → ``(1,
    M+1, H, W)``. Same values: the background's sum adds the planes in order, as torch does."""
    m = len(planes)
    h, w = planes[0].shape
    out = torch.empty((1, m + 1, h, w), dtype=torch.float32)
    full = out.numpy()[0]
    slots = [j if j < background_index else j + 1 for j in range(m)]
    with _numba.PARALLEL_LOCK:
        for j, p in enumerate(planes):
            _mask_plane_kernel(p, full[slots[j]], full[background_index], j == 0, j == m - 1)
    return out


def render_masks(
    region_masks, names: Sequence[str], background_index: int | None, height: int, width: int, device: torch.device
) -> torch.Tensor:
    """All N render masks ``(1,N,H,W)`` on ``device``, background included (:func:`full_masks`), from
    what a caller gives for the M masked regions — every region but ``background_index``: planes
    ``(M,h,w)`` (or ``(N,h,w)``: the background's plane is ignored) or a mapping region name →
    ``(h,w)``; any resolution, resized to ``(height, width)``; NaN counts as 0. ``names``: the N
    region names in order."""
    masked = [i for i in range(len(names)) if i != background_index]
    n, m = len(names), len(masked)
    if isinstance(region_masks, Mapping):
        missing = [names[i] for i in masked if names[i] not in region_masks]
        if missing:
            raise InvalidInputError(f"no mask given for region(s) {', '.join(missing)}")
        arrays = [np.asarray(region_masks[names[i]], dtype=np.float32) for i in masked]
        for i, a in zip(masked, arrays):
            if a.ndim != 2:
                raise ShapeMismatchError(f"mask of region {names[i]!r} must be (H, W), got {a.shape}")
        planes = [resize_planes(torch.as_tensor(a)[None, None].to(device), height, width) for a in arrays]
        if planes and device.type == "cpu" and background_index is not None:
            return full_masks_cpu([t[0, 0].numpy() for t in planes], background_index)
        masks = torch.cat(planes, dim=1) if planes else torch.zeros(1, 0, height, width, device=device)
    else:
        arr = torch.as_tensor(
            np.asarray(region_masks, dtype=np.float32)
            if region_masks is not None
            else np.zeros((0, height, width), np.float32)
        )
        if arr.dim() == 2:
            arr = arr[None]
        if arr.dim() != 3 or arr.shape[0] not in (m, n):
            raise ShapeMismatchError(
                f"masks must be (M, H, W) with M = {m} masked region(s) "
                f"({', '.join(names[i] for i in masked) or 'none'}), got {tuple(arr.shape)}"
            )
        if arr.shape[0] == n and m != n:
            arr = arr[masked]
        masks = resize_planes(arr[None].to(device), height, width)
    masks = torch.nan_to_num(masks, nan=0.0)
    return full_masks(masks, background_index)


def nbytes(obj) -> int:
    """Rough size in bytes of the tensors/arrays held by ``obj`` (nested containers, dataclasses)."""
    if isinstance(obj, torch.Tensor):
        return obj.element_size() * obj.nelement()
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(nbytes(getattr(obj, f, None)) for f in obj.__dataclass_fields__)
    if hasattr(obj, "__dict__"):
        return sum(nbytes(v) for v in vars(obj).values())
    return 0


def to_hwc(out: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` → ``(H, W, 3)`` numpy (a view of the planar memory on the CPU)."""
    return out[0].permute(1, 2, 0).cpu().numpy()
