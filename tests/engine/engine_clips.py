"""Synthetic clips and specs shared by the engine tests."""

from __future__ import annotations

import numpy as np

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack

STYLE_A = "sha256:" + "a" * 64
STYLE_B = "sha256:" + "b" * 64
STYLE_C = "sha256:" + "c" * 64


def _style(seed: int, tint) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1) * 0.4
    return (base + np.asarray(tint) + 0.05 * rng.standard_normal((48, 64, 3))).astype(np.float32)


def make_frame(f: int, h: int = 48, w: int = 64, speed: float = 1.0, flicker: float = 0.0):
    """A synthetic frame (gradients + a soft blob drifting slowly) and its fg mask ``(1,h,w)``.

    ``flicker`` adds a fast brightness oscillation so that the temporal state visibly matters."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * 0.3 + speed * f, h * 0.5
    blob = np.exp(-(((x - cx) / (w * 0.15)) ** 2 + ((y - cy) / (h * 0.2)) ** 2))
    img = np.stack([0.2 + 0.5 * x / w + 0.2 * blob,
                    0.3 + 0.3 * y / h + 0.1 * np.sin(0.05 * f),
                    0.6 - 0.3 * x / w + 0.3 * blob], axis=-1).astype(np.float32)
    img = img + flicker * np.sin(1.3 * f)
    mask = (blob > 0.4).astype(np.float32)[None]
    return img.astype(np.float32), mask


def fg_bg_spec(stride: int = 1, method: str = "lookgrid", **kw) -> ClipSpec:
    """A two-region spec. Unsmoothed unless ``smooth`` is given: these tests are about the chains
    (what is analysed when, and what each frame's own grids are); smoothing has its own tests
    (test_smooth_shot.py)."""
    kw.setdefault("smooth", 0.0)
    return ClipSpec(regions=[RegionSpec("fg", "fg.%04d.png", [StyleTrack(STYLE_A)]),
                             RegionSpec("background", None, [StyleTrack(STYLE_B)])],
                    stride=stride, method=method, **kw)


def loader_for(h: int = 48, w: int = 64, flicker: float = 0.0):
    return lambda f: make_frame(f, h, w, flicker=flicker)
