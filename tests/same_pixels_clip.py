"""The fixed clip of ``tests/test_same_pixels.py`` and the script that renders its references.

A small generated clip (96×64, 6 EXR frames, scene-linear float32) with two regions: ``fg`` (a
drifting soft blob, 8-bit PNG matte) with two looks crossing over on keyframed weights (SMOOTH and
LINEAR) and a keyframed strength, and the background with one look. It is rendered with every
method at stride 1 and 2 by ``lookgrid-v2`` (the default model until issue 23), plus cases that
go through the other ways into the engine: the grid-space blend (eq. 7, a seeded random net with
``blend = "grid"``), a farm-style run (``analyze_clip`` to an analysis file, then ``render_clip`` of a
chunk from it), and an open clip fed in memory out of order and then updated with new keyframes.

The references were produced by the code *before* the engine/service restructure (issue 10), by
running this file with that code's interpreter::

    /work/main/.venv/bin/python tests/same_pixels_clip.py tests/data/same_pixels.npz

(``PYTHONPATH`` is not needed: the script imports ``lookgrid`` from whatever environment runs it.)
The file holds, per case, the SHA-256 of each output frame's float32 RGB and an 8× box-downsampled
thumbnail (for a readable difference when a hash changes).

Only the engine's public calls are used here (``Engine``, ``ClipSpec``, ``open_clip``,
``render_clip``, ``analyze_clip``, ``Clip.render``/``update``), so the same script runs on the code
before and after a restructure.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

H, W = 64, 96
FRAMES = list(range(1001, 1007))
#: every way of transferring the engine offers (the test checks this is the engine's own list)
METHODS = ("lookgrid", "per-frame", "pixel-blend", "reinhard")
THUMB = 8


def frame_pixels(f: int) -> tuple[np.ndarray, np.ndarray]:
    """``(H,W,3)`` float32 scene-linear RGB (values above 1, a few slightly negative) and the
    ``(H,W)`` fg matte of frame ``f``."""
    t = f - FRAMES[0]
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = W * (0.3 + 0.06 * t), H * (0.45 + 0.02 * t)
    blob = np.exp(-(((x - cx) / (W * 0.16)) ** 2 + ((y - cy) / (H * 0.22)) ** 2))
    rgb = np.stack([0.05 + 0.9 * x / W + 0.8 * blob,
                    0.1 + 0.5 * y / H + 0.05 * math.sin(0.7 * t),
                    0.7 - 0.6 * x / W + 0.4 * blob * (y / H)], axis=-1)
    rgb = rgb ** 2.0 * 1.5 - 0.01  # linear light: highlights above 1, a little below 0
    matte = np.clip((blob - 0.35) * 4.0, 0.0, 1.0)
    return rgb.astype(np.float32), matte.astype(np.float32)


def style_pixels(seed: int, tint) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:40, 0:56] / 56.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1) * 0.5
    return np.clip(base + np.asarray(tint) + 0.05 * rng.standard_normal((40, 56, 3)), 0, 1).astype(np.float32)


def write_inputs(folder: Path) -> dict[str, str]:
    """Write the frames, mattes and three style PNGs under ``folder``; returns their paths."""
    from lookgrid.imaging import write_image

    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    for f in FRAMES:
        rgb, matte = frame_pixels(f)
        alpha = np.linspace(0.5, 1.0, W, dtype=np.float32)[None, :, None].repeat(H, 0)
        write_image(folder / "in" / f"shot.{f:04d}.exr", np.concatenate([rgb, alpha], axis=-1),
                    channel_names=["R", "G", "B", "A"], dtype="float")
        write_image(folder / "mask" / f"fg.{f:04d}.png", matte, dtype="uint8")
    styles = {}
    for name, seed, tint in (("warm", 1, (0.45, 0.2, 0.05)), ("cool", 2, (0.05, 0.25, 0.5)),
                             ("green", 3, (0.2, 0.45, 0.15))):
        path = folder / f"style_{name}.png"
        write_image(path, style_pixels(seed, tint), dtype="uint8")
        styles[name] = str(path)
    return {"input": str(folder / "in" / "shot.####.exr"),
            "mask": str(folder / "mask" / "fg.####.png"), **styles}


def make_spec(paths: dict, out: str, method: str, stride: int, *, late_cross: bool = False):
    """The clip's job: fg crosses from warm to cool (keyframes 1001 → 1005; ``late_cross`` moves
    the cross to 1003 → 1006, for the update case), strength 0.9 → 0.6; background green."""
    from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
    from lookgrid.timeline import Track

    a, b = (1003, 1006) if late_cross else (1001, 1005)
    warm = Track.from_dict({"keys": [{"frame": a, "value": 1.0, "interpolation": "SMOOTH"},
                                     {"frame": b, "value": 0.0}]})
    cool = Track.from_dict({"keys": [{"frame": a, "value": 0.0, "interpolation": "LINEAR"},
                                     {"frame": b, "value": 1.0}]})
    strength = Track.from_dict({"keys": [{"frame": 1001, "value": 0.9, "interpolation": "LINEAR"},
                                         {"frame": 1006, "value": 0.6}]})
    return ClipSpec(
        input=paths["input"], output=out, frames=f"{FRAMES[0]}-{FRAMES[-1]}",
        regions=[RegionSpec("fg", paths["mask"], [StyleTrack(paths["warm"], warm),
                                                  StyleTrack(paths["cool"], cool)], strength),
                 RegionSpec("background", None, [StyleTrack(paths["green"])])],
        stride=stride, method=method, smooth=0.0)


def grid_blend_net():
    """A seeded random LookGridNet with the paper's grid-space blend (eq. 7) and no prior, so the
    grids depend on content, style and temporal state (an untrained net gives identity grids)."""
    import torch

    from lookgrid.model.network import LookGridNet

    torch.manual_seed(77)
    net = LookGridNet({"prior": "identity", "blend": "grid"})
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod is not net.to_grid:
                mod.weight.normal_(0.0, 1.2 / math.sqrt(mod.weight[0].numel()))
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
        net.to_grid.weight.normal_(0.0, 0.125)
    return net.eval()


def _rgb_of(path) -> np.ndarray:
    from lookgrid.imaging import read_image

    return np.ascontiguousarray(read_image(path).pixels[..., :3], dtype=np.float32)


def _digest(frames: list[np.ndarray]) -> tuple[list[str], np.ndarray]:
    hashes = [hashlib.sha256(np.ascontiguousarray(a, np.float32).tobytes()).hexdigest() for a in frames]
    thumbs = np.stack([a.reshape(H // THUMB, THUMB, W // THUMB, THUMB, 3).mean(axis=(1, 3))
                       for a in frames]).astype(np.float32)
    return hashes, thumbs


def render_cases(folder: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Render every case under ``folder``; ``{case: (frame hashes, thumbnails (F, H/8, W/8, 3))}``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the same reduction order whatever the machine
    crops = os.environ.get("LOOKGRID_REGION_CROPS")
    os.environ["LOOKGRID_REGION_CROPS"] = "0"  # the references predate small-region crops (issue 23)
    try:
        return _render_cases(folder)
    finally:
        torch.set_num_threads(threads)
        if crops is None:
            os.environ.pop("LOOKGRID_REGION_CROPS", None)
        else:
            os.environ["LOOKGRID_REGION_CROPS"] = crops


def _render_cases(folder: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    from lookgrid.engine import Engine

    paths = write_inputs(folder)
    # The references were made before "flow" existed, with TC-AdaIN's statistics blend; "flow"
    # became the default since (issue 16), so the cases name "tc" (on c6d5bb8 drop the argument).
    # Issue 23 made the prior the default model and whole-shot smoothing the default for clips that
    # can read their shot: the cases name the model the references were made with (lookgrid-v2),
    # smoothing off (make_spec) and no small-region crops (render_cases).
    shipped = Engine(model_path="lookgrid-v2", device="cpu", temporal="tc")
    results = {}

    def run(engine, name, method, stride, **kw):
        out = str(folder / name / "o.####.exr")
        engine.render_clip(make_spec(paths, out, method, stride), **kw)
        done = kw.get("frames") or FRAMES
        results[name] = _digest([_rgb_of(out.replace("####", f"{f:04d}")) for f in done])

    for method in METHODS:
        for stride in (1, 2):
            run(shipped, f"{method}-s{stride}", method, stride)
    run(Engine(grid_blend_net(), device="cpu", temporal="tc"), "grid-blend-s2", "lookgrid", 2)

    # farm style: the analysis once, then a chunk rendered from it
    analysis = folder / "analysis.pt"
    shipped.analyze_clip(make_spec(paths, str(folder / "unused" / "o.####.exr"), "lookgrid", 2), analysis)
    run(shipped, "track-chunk-s2", "lookgrid", 2, frames=[1004, 1005, 1006], analysis=str(analysis))

    # the service's way: frames in memory, out of order, then new keyframes on the open clip
    spec = make_spec(paths, "", "lookgrid", 2)
    inputs = {f: frame_pixels(f) for f in FRAMES}
    clip = shipped.open_clip(spec, frames=FRAMES,
                             loader=lambda f: (_working(inputs[f][0]), inputs[f][1][None]))
    order = [1005, 1002, 1006, 1001, 1004, 1003]
    got = {f: clip.render(f, _working(inputs[f][0]), inputs[f][1][None]) for f in order}
    results["inline-out-of-order-s2"] = _digest([got[f] for f in FRAMES])
    clip.update(make_spec(paths, "", "lookgrid", 2, late_cross=True))
    got = {f: clip.render(f, _working(inputs[f][0]), inputs[f][1][None]) for f in order}
    results["inline-updated-s2"] = _digest([got[f] for f in FRAMES])
    shipped.close_clip(clip.id)
    return results


def _working(rgb: np.ndarray) -> np.ndarray:
    """ACEScg → the working space (the input's declared default), as the service receives it."""
    from lookgrid.imaging import get_pipeline

    return np.asarray(get_pipeline(None, "ACEScg").to_working(rgb), np.float32)


def save(results: dict, path: Path) -> None:
    arrays = {}
    for name, (hashes, thumbs) in results.items():
        arrays[f"{name}/hashes"] = np.array(hashes)
        arrays[f"{name}/thumbs"] = thumbs
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    data = np.load(path)
    names = sorted({k.split("/")[0] for k in data.files})
    return {n: ([str(h) for h in data[f"{n}/hashes"]], data[f"{n}/thumbs"]) for n in names}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/same_pixels_clip.py OUT.npz")
    with tempfile.TemporaryDirectory() as tmp:
        res = render_cases(Path(tmp))
    save(res, Path(sys.argv[1]))
    print(f"wrote {len(res)} cases to {sys.argv[1]}")
