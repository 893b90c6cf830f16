"""Small synthetic frames, styles and specs for the service tests (a module with its own name:
``conftest`` modules of different folders would shadow each other when imported by name)."""

from __future__ import annotations

import numpy as np


def style_image(seed: int, tint) -> np.ndarray:
    """A small (48, 64, 3) float32 reference in sRGB-ish [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1) * 0.4
    return np.clip(base + np.asarray(tint) + 0.05 * rng.standard_normal((48, 64, 3)), 0, 1).astype(np.float32)


def frame_rgba(f: int, h: int = 48, w: int = 64, dtype=np.float16) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic scene-linear RGBA frame with a soft blob drifting one pixel per frame, and its mask."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * 0.3 + f, h * 0.5
    blob = np.exp(-(((x - cx) / (w * 0.15)) ** 2 + ((y - cy) / (h * 0.2)) ** 2))
    rgb = np.stack([0.05 + 0.4 * x / w + 0.3 * blob, 0.1 + 0.2 * y / h, 0.3 - 0.2 * x / w + 0.2 * blob], -1)
    alpha = np.clip(0.5 + 0.5 * x / w, 0, 1)[..., None]
    mask = (blob > 0.4).astype(np.float32)
    return np.concatenate([rgb, alpha], -1).astype(dtype), mask


def two_region_spec(key_fg: str, key_bg: str, **extra) -> dict:
    spec = {"regions": [{"name": "fg", "mask": "inline", "styles": [{"style": key_fg}]},
                        {"name": "background", "styles": [{"style": key_bg}]}]}
    spec.update(extra)
    return spec
