"""Optical flow for the temporal losses: backward warping, smooth random flows, DIS flow on real clips.

Convention used everywhere in training: ``flow (B, 2, H, W)`` with channels (dx, dy) in pixels is the
*backward* flow from frame t to frame t-1 — the pixel at ``p`` in frame t was at ``p + flow(p)`` in
frame t-1. ``warp(prev, flow)`` therefore brings frame t-1 (or its output) onto frame t.
Visibility ``(B, 1, H, W)`` in {0, 1} marks pixels of frame t that can be traced to frame t-1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lookgrid.errors import ShapeMismatchError
from lookgrid.imaging import flow as imaging_flow
from lookgrid.model.colormath import display_luma_u8


def warp(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward-warp ``image (B,C,H,W)`` by ``flow (B,2,H,W)`` with bilinear sampling.

    Returns ``(warped (B,C,H,W), inside (B,1,H,W))`` where ``inside`` is 1 where the sample
    position lies inside the source image (border pixels are replicated elsewhere).
    """
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ShapeMismatchError(
            f"need image (B,C,H,W) and flow (B,2,H,W); got {tuple(image.shape)}, {tuple(flow.shape)}"
        )
    if image.shape[0] != flow.shape[0] or image.shape[2:] != flow.shape[2:]:
        raise ShapeMismatchError(f"image {tuple(image.shape)} and flow {tuple(flow.shape)} do not match")
    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype, device=flow.device),
        torch.arange(w, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    sx = xs + flow[:, 0]
    sy = ys + flow[:, 1]
    inside = ((sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)).to(image.dtype).unsqueeze(1)
    grid = torch.stack((2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1), dim=-1)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped, inside


def random_smooth_flow(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    max_shift: float = 8.0,
    max_zoom: float = 0.04,
    max_rotation_deg: float = 2.0,
    local_amplitude: float = 2.0,
    local_cells: int = 4,
) -> np.ndarray:
    """A smooth random backward flow ``(2, H, W)`` float32: pan + zoom + small rotation + local motion.

    The global part is a similarity transform about the image centre; the local part is a random
    ``local_cells × local_cells`` field upsampled bicubically (smooth, no folds at these amplitudes).
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    zoom = 1.0 + rng.uniform(-max_zoom, max_zoom)
    ang = math.radians(rng.uniform(-max_rotation_deg, max_rotation_deg))
    tx, ty = rng.uniform(-max_shift, max_shift, 2)
    c, s = math.cos(ang) * zoom, math.sin(ang) * zoom
    dx, dy = xs - cx, ys - cy
    src_x = c * dx - s * dy + cx + tx
    src_y = s * dx + c * dy + cy + ty
    flow = np.stack((src_x - xs, src_y - ys)).astype(np.float32)
    if local_amplitude > 0:
        coarse = rng.normal(0, local_amplitude, (2, local_cells, local_cells)).astype(np.float32)
        t = torch.from_numpy(coarse)[None]
        up = F.interpolate(t, size=(height, width), mode="bicubic", align_corners=True)[0].numpy()
        flow += up
    return flow


def dis_flow(frame_t: np.ndarray, frame_prev: np.ndarray) -> np.ndarray:
    """OpenCV DIS (MEDIUM) flow from frame t to frame t-1, as the evaluation computes it.

    Frames ``(H,W,3)`` working space -> ``(2,H,W)`` float32 (channel-first, our training layout).
    """
    flow = imaging_flow.dis_flow(display_luma_u8(frame_t), display_luma_u8(frame_prev))
    return np.ascontiguousarray(flow.transpose(2, 0, 1))


def flow_visibility(fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
    """Visibility ``(H,W)`` float32 in {0,1} of frame t's pixels: the complement of the evaluation's
    :func:`lookgrid.imaging.flow.occlusion_mask` (forward–backward check, motion boundaries, flow
    leaving the frame; Lai et al. 2018), so training and measurement agree on what is visible.

    ``fwd (2,H,W)`` is the flow t -> t-1 (our convention), ``bwd (2,H,W)`` is t-1 -> t.
    """
    occluded = imaging_flow.occlusion_mask(np.asarray(fwd).transpose(1, 2, 0), np.asarray(bwd).transpose(1, 2, 0))
    return (~occluded).astype(np.float32)
