"""Helpers of the host-plugin tests: the generated shot and small file checks.

The shot: 6 frames (1001-1006) of a 64x48 scene-linear RGBA plate with a soft moving disc, its
matte both as a layer of the plate (``person.a``) and as a separate EXR sequence (alpha), written
through OpenImageIO; three small reference photos (warm, cool, green) as PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
NUKE_PLUGIN = REPO / "plugins" / "nuke"
RESOLVE_PLUGIN = REPO / "plugins" / "resolve"
FIRST, LAST = 1001, 1006
H, W = 48, 64


def _write(path: Path, pixels: np.ndarray, channels: list[str], fmt: str = "float") -> None:
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], fmt)
    spec.channelnames = tuple(channels)
    if "A" in channels:
        spec.alpha_channel = channels.index("A")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), oiio.geterror()
    assert out.write_image(pixels)
    out.close()


@dataclass
class Shot:
    folder: Path
    plate: str            # "####" pattern (Nuke) of RGBA + person.a
    matte: str            # "####" pattern of the matte (alpha)
    refs: list[str]       # warm, cool, green PNGs

    def printf(self, pattern: str) -> str:
        return pattern.replace("####", "%04d")


def make_shot(folder: Path) -> Shot:
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    for i, f in enumerate(range(FIRST, LAST + 1)):
        cx, cy = 20 + 4 * i, 24
        d = np.hypot(x - cx, y - cy)
        matte = np.clip((14 - d) / 3, 0, 1).astype(np.float32)
        rgb = np.stack([0.18 + 0.5 * x / W, 0.12 + 0.3 * y / H, 0.25 - 0.1 * x / W], axis=2)
        rgb = rgb * (1 + 0.8 * matte[..., None]) + 0.02 * np.sin(x / 3 + i)[..., None]
        plate = np.concatenate([rgb, np.ones((H, W, 1)), matte[..., None]], axis=2).astype(np.float32)
        _write(folder / f"plate.{f:04d}.exr", plate, ["R", "G", "B", "A", "person.a"])
        _write(folder / f"matte.{f:04d}.exr", np.dstack([matte] * 4).astype(np.float32), ["R", "G", "B", "A"])
    refs = []
    rng = np.random.default_rng(7)
    for name, colour in (("warm", (0.85, 0.45, 0.2)), ("cool", (0.15, 0.35, 0.8)), ("green", (0.3, 0.7, 0.25))):
        img = np.clip(np.array(colour)[None, None] * (0.6 + 0.8 * rng.random((32, 32, 1))), 0, 1)
        path = folder / f"{name}.png"
        _write(path, (img * 255).astype(np.uint8), ["R", "G", "B"], "uint8")
        refs.append(str(path))
    return Shot(folder, str(folder / "plate.####.exr"), str(folder / "matte.####.exr"), refs)


def read_exr(path: str) -> tuple[np.ndarray, list[str]]:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    px = inp.read_image(0, 0, 0, spec.nchannels, "float")
    inp.close()
    return np.asarray(px).reshape(spec.height, spec.width, spec.nchannels), list(spec.channelnames)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def one_line(text: str) -> bool:
    return "\n" not in text and "Traceback" not in text and len(text) < 400


