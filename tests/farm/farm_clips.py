"""A tiny real clip on disk for the farm tests: half-float RGBA EXR frames with a drifting blob,
8-bit PNG masks, two PNG reference photos, and its spec (the shipped model renders it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookgrid.engine.spec import ClipSpec, RegionSpec, StyleTrack
from lookgrid.imaging import write_image
from lookgrid.timeline import Key, Track

H, W = 48, 64


def frame_pixels(f: int, h: int = H, w: int = W):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * 0.3 + 1.5 * f * w / 64, h * 0.5
    blob = np.exp(-(((x - cx) / (w * 0.22)) ** 2 + ((y - cy) / (h * 0.3)) ** 2))
    rgb = np.stack([0.2 + 0.5 * x / w + 0.2 * blob, 0.3 + 0.3 * y / h + 0.1 * np.sin(0.3 * f),
                    0.6 - 0.3 * x / w + 0.3 * blob], axis=-1) ** 2.2 * 1.5
    alpha = np.linspace(0.3, 1.0, w, dtype=np.float32)[None, :, None].repeat(h, 0)
    return np.concatenate([rgb, alpha], axis=-1).astype(np.float32), (blob > 0.3).astype(np.float32)


def write_clip(folder: Path, frames=range(1001, 1013), *, h: int = H, w: int = W, stride: int = 3,
               out: str = "out/o.####.exr") -> Path:
    """Write the clip's files under ``folder`` and its spec as ``folder/clip.json`` (relative paths)."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    for f in frames:
        px, m = frame_pixels(f, h, w)
        write_image(folder / "in" / f"p.{f:04d}.exr", px, channel_names=["R", "G", "B", "A"],
                    dtype="half")
        write_image(folder / "mask" / f"m.{f:04d}.png", m, dtype="uint8")
    rng = np.random.default_rng(7)
    for name, tint in (("warm.png", (0.7, 0.4, 0.2)), ("cool.png", (0.2, 0.35, 0.6))):
        img = np.clip(np.asarray(tint) + 0.15 * rng.standard_normal((40, 56, 3)), 0, 1)
        write_image(folder / name, img.astype(np.float32), dtype="uint8")
    first, last = min(frames), max(frames)
    spec = ClipSpec(input="in/p.####.exr", frames=f"{first}-{last}", output=out, stride=stride,
                    regions=[RegionSpec("fg", "mask/m.####.png", [
                        StyleTrack("warm.png", Track((Key(first, 1.0, "smooth"), Key(last, 0.4)))),
                        StyleTrack("cool.png", Track((Key(first, 0.0, "smooth"), Key(last, 0.6))))]),
                             RegionSpec("background", None, [StyleTrack("cool.png")])])
    spec.save(folder / "clip.json")
    return folder / "clip.json"


def outputs(folder: Path, frames) -> dict[int, np.ndarray]:
    from lookgrid.imaging import read_image

    return {f: read_image(folder / f"o.{f:04d}.exr").pixels for f in frames}
