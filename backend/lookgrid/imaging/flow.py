"""Optical flow, warping and occlusion on frames as numpy arrays (OpenCV DIS; no learned weights).

Used by evaluation (warping error, :mod:`lookgrid.eval.metrics`) and by training (flow on real clips
for the temporal losses, :mod:`lookgrid.train.flow`), so both agree on what moves and what is visible.

Layout: flows are ``(H, W, 2)`` float32 with channels (dx, dy) in pixels; ``flow`` from frame a to
frame b says pixel x of a is at ``x + flow(x)`` in b. Flow is estimated on 8-bit grey images
``(H, W)`` uint8 (for working-space frames, :func:`lookgrid.model.colormath.display_luma_u8`).

Occlusion (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): a pixel of frame t is
ignored when the forward–backward check fails, ``|F + B~|^2 > FB_REL (|F|^2 + |B~|^2) + FB_ABS`` with
``B~(x) = B(x + F(x))``; when it lies on a motion boundary, ``|grad u|^2 + |grad v|^2 > MB_REL |F|^2
+ MB_ABS``; or (our addition) when ``x + F(x)`` leaves the frame, which the forward–backward check
cannot see because both flows are sampled with clamped borders.
"""

from __future__ import annotations

import cv2
import numpy as np

from lookgrid.errors import InvalidInputError, ShapeMismatchError

__all__ = [
    "FLOW_PRESETS",
    "dis_flow",
    "warp",
    "warp_reference",
    "occlusion_mask",
    "flow_to_previous",
    "FB_REL",
    "FB_ABS",
    "MB_REL",
    "MB_ABS",
    "PHOTO_MAX",
]

# Lai et al. 2018 occlusion thresholds (on squared magnitudes).
FB_REL = 0.01
FB_ABS = 0.5
MB_REL = 0.01
MB_ABS = 0.002

#: largest |luma(t) - luma(t-1 warped to t)| (8-bit levels) :func:`flow_to_previous` still calls
#: visible: a flow that lands on a different-looking pixel (a cut, a flash) is not trusted
PHOTO_MAX = 26

#: OpenCV DIS presets by name
FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense optical flow from grey frame ``a`` to grey frame ``b`` with OpenCV DIS.

    Args:
        a, b: ``(H, W)`` uint8 grey images of the same size.
        preset: "ultrafast", "fast" or "medium".
    Returns:
        ``(H, W, 2)`` float32 flow (dx, dy): pixel x of ``a`` corresponds to ``x + flow(x)`` in ``b``.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or a.dtype != np.uint8 or b.ndim != 2 or b.dtype != np.uint8:
        raise ShapeMismatchError(f"flow frames must be (H, W) uint8; got {a.shape} {a.dtype} and {b.shape} {b.dtype}")
    if a.shape != b.shape:
        raise ShapeMismatchError(f"flow frames differ in size: {a.shape} vs {b.shape}")
    if preset not in FLOW_PRESETS:
        raise InvalidInputError(f"unknown flow preset {preset!r}; use one of {', '.join(FLOW_PRESETS)}")
    dis = cv2.DISOpticalFlow.create(FLOW_PRESETS[preset])
    return dis.calc(a, b, None).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp: ``out(x) = image(x + flow(x))`` with bilinear sampling (OpenCV remap).

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` float.
        flow: ``(H, W, 2)`` (dx, dy).
    Returns:
        Same shape as ``image``, float32. Samples outside the frame take the nearest border value.
    """
    flow = np.asarray(flow, dtype=np.float32)
    h, w = flow.shape[:2]
    if np.asarray(image).shape[:2] != (h, w):
        raise ShapeMismatchError(f"image {np.asarray(image).shape} and flow {flow.shape} differ in size")
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    img = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_reference(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Plain numpy version of :func:`warp` (bilinear, border clamp), for testing the fast path."""
    img = np.asarray(image, dtype=np.float64)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = np.clip(gx + flow[..., 0], 0, w - 1)
    sy = np.clip(gy + flow[..., 1], 0, h - 1)
    x0 = np.floor(sx).astype(int)
    y0 = np.floor(sy).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    out = (
        img[y0, x0] * (1 - fx) * (1 - fy)
        + img[y0, x1] * fx * (1 - fy)
        + img[y1, x0] * (1 - fx) * fy
        + img[y1, x1] * fx * fy
    )
    return (out[..., 0] if squeeze else out).astype(np.float32)


def occlusion_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of frame t that are occluded, on motion boundaries or leave the frame.

    Args:
        forward: ``(H, W, 2)`` flow t -> t+1.
        backward: ``(H, W, 2)`` flow t+1 -> t.
    Returns:
        ``(H, W)`` bool, True where the pixel must be ignored.
    """
    forward = np.asarray(forward, dtype=np.float32)
    backward = np.asarray(backward, dtype=np.float32)
    if forward.shape != backward.shape or forward.ndim != 3 or forward.shape[2] != 2:
        raise ShapeMismatchError(f"flows must both be (H, W, 2); got {forward.shape} and {backward.shape}")
    b_warped = warp(backward, forward)
    fb = ((forward + b_warped) ** 2).sum(axis=2)
    mag_f = (forward**2).sum(axis=2)
    mag_b = (b_warped**2).sum(axis=2)
    occluded = fb > FB_REL * (mag_f + mag_b) + FB_ABS
    du_dy, du_dx = np.gradient(forward[..., 0])
    dv_dy, dv_dx = np.gradient(forward[..., 1])
    grad = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = grad > MB_REL * mag_f + MB_ABS
    h, w = forward.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = gx + forward[..., 0], gy + forward[..., 1]
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    return occluded | boundary | outside


def flow_to_previous(luma: np.ndarray, previous: np.ndarray, preset: str = "fast") -> tuple[np.ndarray, np.ndarray]:
    """Flow from this frame to the previous one and where it can be trusted.

    Args:
        luma, previous: ``(H, W)`` uint8 grey frames t and t-1.
        preset: DIS preset (see :data:`FLOW_PRESETS`).
    Returns:
        ``flow (H, W, 2)`` float32, t -> t-1 (pixel x of t is at ``x + flow(x)`` in t-1), and
        ``visible (H, W)`` bool: not rejected by :func:`occlusion_mask` (forward–backward check,
        motion boundaries, leaving the frame) and photometrically consistent, i.e.
        ``|luma - warp(previous, flow)| <= PHOTO_MAX``.
    """
    back = dis_flow(luma, previous, preset)
    fwd = dis_flow(previous, luma, preset)
    seen = warp(previous.astype(np.float32), back)
    same = np.abs(luma.astype(np.float32) - seen) <= PHOTO_MAX
    return back, ~occlusion_mask(back, fwd) & same
