"""Tiny generated training data (no shared data needed): smooth photos and a clip with masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _smooth_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros((h, w, 3))
    for c in range(3):
        for _ in range(3):
            fx, fy, ph = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 6.3)
            img[..., c] += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    img = (img - img.min()) / (img.max() - img.min())
    img = 0.1 + 0.8 * img + rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """``root/photos/*.png`` (4 photos, one named ``held.png``) and ``root/clips/moving/{frames,masks}``
    (6 frames 300×280 of a photo shifting by 2 px per frame with a moving disc mask)."""
    import cv2

    root = tmp_path_factory.mktemp("traindata")
    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    for i, name in enumerate(["a", "b", "c", "held"]):
        img = _smooth_photo(rng, 280 + 10 * i, 300)
        cv2.imwrite(str(root / "photos" / f"{name}.png"), img[..., ::-1])
    clip = root / "clips" / "moving"
    (clip / "frames").mkdir(parents=True)
    (clip / "masks").mkdir()
    big = _smooth_photo(rng, 280, 340)
    yy, xx = np.mgrid[0:280, 0:300]
    for t in range(6):
        frame = big[:, 2 * t : 2 * t + 300]
        mask = (((yy - 140) ** 2 + (xx - 100 - 3 * t) ** 2) < 70**2).astype(np.uint8) * 255
        cv2.imwrite(str(clip / "frames" / f"{t:05d}.jpg"), frame[..., ::-1])
        cv2.imwrite(str(clip / "masks" / f"{t:05d}.png"), mask)
    return root
