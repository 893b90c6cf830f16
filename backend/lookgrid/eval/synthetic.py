"""Small generated clips with a known answer, for the evaluation harness's own tests and smoke runs.

:func:`smooth_image` is a band-limited colour pattern; :func:`shift_clip` moves it by a fixed integer
shift per frame (so the true optical flow is known) and gives a disc mask that moves with it.
"""

from __future__ import annotations

import numpy as np

from lookgrid.model.colormath import display_to_working


def smooth_image(height: int, width: int, *, seed: int = 0, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A smooth textured colour image ``(H, W, 3)`` float32 in ~[0.1, 0.9] (display values).

    ``offset = (dx, dy)`` samples the same pattern moved right/down by that many pixels, so frame
    ``t`` of a clip is ``smooth_image(..., offset=(t dx, t dy))``.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x = x - offset[0]
    y = y - offset[1]
    out = np.zeros((height, width, 3))
    for c in range(3):
        acc = np.zeros((height, width))
        for _ in range(4):
            fx, fy = rng.uniform(0.02, 0.09, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            acc += np.sin(2 * np.pi * (fx * x + fy * y) / 2.0 + phase)
        out[..., c] = 0.5 + 0.1 * acc
    return out.astype(np.float32)


def disc_mask(height: int, width: int, center: tuple[float, float], radius: float) -> np.ndarray:
    """Binary disc mask ``(H, W)`` float32 centred at ``(cx, cy)``."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return (((x - center[0]) ** 2 + (y - center[1]) ** 2) <= radius**2).astype(np.float32)


def shift_clip(
    frames: int = 4, height: int = 64, width: int = 96, *, shift: tuple[int, int] = (2, 1), seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A clip whose content moves by ``shift = (dx, dy)`` px per frame, and a disc mask moving with it.

    Returns ``(images, masks)``: lists of ``(H, W, 3)`` float32 working-space images and ``(H, W)``
    float32 masks in {0, 1}.
    """
    images, masks = [], []
    for t in range(frames):
        off = (t * shift[0], t * shift[1])
        images.append(display_to_working(smooth_image(height, width, seed=seed, offset=off)))
        masks.append(disc_mask(height, width, (width * 0.4 + off[0], height * 0.5 + off[1]), min(height, width) * 0.25))
    return images, masks
