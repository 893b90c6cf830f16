"""Real files for the client tests (EXR plates and masks, PNG references), written with the
backend's imaging layer (OpenImageIO). A module with its own name, so that it does not shadow the
helpers of other test folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plate_frame(f: int, h: int = 40, w: int = 56) -> tuple[np.ndarray, np.ndarray]:
    """Scene-linear RGBA float32 with a soft blob drifting 1 px per frame, and its (h, w) matte."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-(((x - w * 0.3 - f % 100) / (w * 0.15)) ** 2 + ((y - h * 0.5) / (h * 0.2)) ** 2))
    rgb = np.stack([0.05 + 0.5 * x / w + 0.3 * blob, 0.1 + 0.3 * y / h, 0.35 - 0.25 * x / w + 0.2 * blob], -1)
    alpha = np.full((h, w, 1), 1.0, np.float32)
    return np.concatenate([rgb, alpha], -1).astype(np.float32), (blob > 0.4).astype(np.float32)


def write_exr_frames(folder: Path, frames) -> tuple[str, str]:
    """Write plate.####.exr (RGBA float) and mask.####.exr (Y) for ``frames``; return both patterns."""
    from lookgrid.imaging import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        rgba, mask = plate_frame(f)
        write_image(folder / f"plate.{f:04d}.exr", rgba, channel_names=["R", "G", "B", "A"])
        write_image(folder / f"mask.{f:04d}.exr", mask[..., None], channel_names=["Y"])
    return str(folder / "plate.####.exr"), str(folder / "mask.####.exr")


def write_style_png(path: Path, seed: int, tint) -> str:
    """A small 8-bit sRGB reference photo stand-in with texture and a colour cast."""
    from lookgrid.imaging import write_image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    img = np.clip(np.stack([x, y, 0.5 * (x + y)], -1) * 0.4 + np.asarray(tint) + 0.05 * rng.standard_normal((48, 64, 3)),
                  0, 1).astype(np.float32)
    write_image(path, img, dtype="uint8")
    return str(path)


def read_exr(path: str) -> np.ndarray:
    from lookgrid.imaging import read_image

    return np.asarray(read_image(path).pixels, dtype=np.float32)
