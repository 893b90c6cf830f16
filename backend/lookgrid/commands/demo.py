"""``lookgrid demo``: render the built-in clip through the service, with a keyframed look transition.

The clip is made from photographs that ship inside scikit-image (CC0), so it needs no download:
``astronaut`` seen through a slow synthetic camera move (pan + zoom, 24 frames by default) with the
astronaut's own matte (hair, suit, collar and the helmet she holds; ``astronaut_matte.png``, made
once by ``tools/demo_matte.py``'s documented GrabCut recipe) moving with the camera. The astronaut region changes look
from ``chelsea`` (warm) to ``coffee`` with a SMOOTH keyframed transition; the background takes the
look of ``rocket``. Frames go to the server inline (as a host plugin would send them), come back
rendered, and are written as PNGs with a contact sheet (input / matte / output rows).

Without ``--server`` the demo starts its own server on 127.0.0.1 (a free port) in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from lookgrid.commands.options import parse_size
from lookgrid.engine import Engine
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import atomic_write, remove_stale_temps
from lookgrid.imaging import write_image
from lookgrid.service.server import start_in_process
from lookgrid_client import FrameIn, LookGridClient


def add_arguments(parser) -> None:
    parser.add_argument(
        "--server",
        default=None,
        metavar="HOST:PORT",
        help="use this running server (default: start one in this process)",
    )
    parser.add_argument("--output", default="out/demo", help="folder for frames and contact sheet (out/demo)")
    parser.add_argument("--frames", type=int, default=24, help="number of frames (24)")
    parser.add_argument("--size", default="480x320", help="frame size WxH (480x320)")
    parser.add_argument("--stride", type=int, default=1, help="grid stride r (1)")
    parser.add_argument(
        "--token", default=os.environ.get("LOOKGRID_TOKEN"), help="token for a server that wants one ($LOOKGRID_TOKEN)"
    )
    parser.add_argument("--tls-ca", default=None, help="PEM file of the server's CA (for TLS)")


def camera(n_frames: int, width: int, height: int, src_size: int = 512):
    """Affine crops of the source for a pan + zoom: one 2x3 matrix (output -> source) per frame."""

    mats = []
    aspect = width / height
    for i in range(n_frames):
        t = i / max(n_frames - 1, 1)
        s = 0.5 - 0.5 * np.cos(np.pi * t)  # ease in/out camera move
        crop_w = src_size * (0.98 - 0.28 * s)  # zoom in
        crop_h = crop_w / aspect
        cx = src_size * (0.46 + 0.04 * s)  # pan right and up a little
        cy = src_size * (0.50 - 0.12 * s)
        x0, y0 = cx - crop_w / 2, cy - crop_h / 2
        mats.append(np.array([[crop_w / width, 0.0, x0], [0.0, crop_h / height, y0]], np.float64))
    return mats


MATTE = Path(__file__).with_name("astronaut_matte.png")


def astronaut_matte() -> np.ndarray:
    """The astronaut's matte in the 512² photo, (512, 512) float32 in [0, 1] (``tools/demo_matte.py``)."""
    matte = cv2.imread(str(MATTE), cv2.IMREAD_UNCHANGED)
    if matte is None or matte.shape != (512, 512):
        raise InvalidInputError(f"the demo's matte {MATTE} is missing or damaged (reinstall lookgrid)")
    return matte.astype(np.float32) / 255.0


def build_clip(n_frames: int, width: int, height: int):
    """(frames (N,H,W,3) float32 sRGB in [0,1], mattes (N,H,W) float32) of the demo clip."""

    src = data.astronaut().astype(np.float32) / 255.0
    matte = astronaut_matte()
    frames, mattes = [], []
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for m in camera(n_frames, width, height):
        frames.append(cv2.warpAffine(src, m, (width, height), flags=flags, borderMode=cv2.BORDER_REFLECT))
        mattes.append(cv2.warpAffine(matte, m, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT))
    return np.stack(frames).astype(np.float32), np.clip(np.stack(mattes), 0, 1).astype(np.float32)


def looks():
    """The three reference photos as (H, W, 3) float32 sRGB: chelsea, coffee, rocket."""

    return {name: getattr(data, name)()[..., :3].astype(np.float32) / 255.0 for name in ("chelsea", "coffee", "rocket")}


def demo_spec(keys: dict, n_frames: int, stride: int) -> dict:
    """The demo's ClipSpec in its JSON form."""
    return {
        "frames": f"1-{n_frames}",
        "inputColorspace": "sRGB - Texture",
        "outputColorspace": "sRGB - Texture",
        "stride": stride,
        "method": "lookgrid",
        "regions": [
            {
                "name": "astronaut",
                "mask": "inline",
                "styles": [
                    {
                        "style": keys["chelsea"],
                        "weight": {
                            "keys": [
                                {"frame": 1, "value": 1, "interpolation": "SMOOTH"},
                                {"frame": n_frames, "value": 0},
                            ]
                        },
                    },
                    {
                        "style": keys["coffee"],
                        "weight": {
                            "keys": [
                                {"frame": 1, "value": 0, "interpolation": "SMOOTH"},
                                {"frame": n_frames, "value": 1},
                            ]
                        },
                    },
                ],
            },
            {"name": "background", "styles": [{"style": keys["rocket"]}]},
        ],
    }


def contact_sheet(frames, mattes, outputs, refs, picks: int = 6):
    """One picture: the references on top, then input / matte / output rows for ``picks`` frames."""

    n, h, w = frames.shape[:3]
    idx = np.linspace(0, n - 1, min(picks, n)).round().astype(int)
    tw = 240
    th = int(round(h * tw / w))
    pad = 6

    def thumb(img):
        img = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        return cv2.resize(np.clip(img, 0, 1), (tw, th), interpolation=cv2.INTER_AREA)

    cols = len(idx)
    sheet = np.full((pad + 4 * (th + pad), pad + cols * (tw + pad), 3), 0.12, np.float32)
    for j, ref in enumerate(refs.values()):
        x = pad + j * (tw + pad)
        rh = min(th, int(round(ref.shape[0] * tw / ref.shape[1])))
        sheet[pad : pad + rh, x : x + tw] = cv2.resize(ref, (tw, rh), interpolation=cv2.INTER_AREA)
    for j, i in enumerate(idx):
        x = pad + j * (tw + pad)
        for row, img in enumerate((frames[i], mattes[i], outputs[i]), start=1):
            y = pad + row * (th + pad)
            sheet[y : y + th, x : x + tw] = thumb(img)
    return sheet


def run(args) -> int:
    width, height = parse_size(args.size, lo=16, hi=8192)
    if args.frames < 2:
        raise InvalidInputError("--frames must be at least 2 (the demo shows a transition)")
    with contextlib.ExitStack() as stack:
        address = args.server
        if address is None:
            _, address = stack.enter_context(start_in_process(Engine()))
            print(f"lookgrid demo: started a server on {address}", flush=True)
        with LookGridClient(address, token=args.token, root_certificates=args.tls_ca, timeout=120) as client:
            client.wait_ready(30)
            info = client.server_info()
            if any(m.identity for m in info.models if m.loaded):
                print(
                    "lookgrid demo: warning: the server has no trained weights (identity model): "
                    "output frames will equal the input",
                    flush=True,
                )
            frames, mattes = build_clip(args.frames, width, height)
            refs = looks()
            keys = {name: client.upload_style(img, colorspace="sRGB - Texture") for name, img in refs.items()}
            spec = demo_spec(keys, args.frames, args.stride)
            clip = client.open_clip(spec, label="lookgrid demo")
            t0 = time.perf_counter()
            items = (
                FrameIn(i + 1, frames[i], ["R", "G", "B"], masks={"astronaut": mattes[i]}) for i in range(args.frames)
            )
            outputs = np.empty_like(frames)
            os.makedirs(args.output, exist_ok=True)
            remove_stale_temps(args.output)  # what a killed earlier run left half-written
            for out in client.render_frames(clip.clip_id, items):
                assert out.pixels is not None  # raw frames in, raw frames out
                rgb = np.clip(out.pixels[..., :3].astype(np.float32), 0, 1)
                outputs[out.frame - 1] = rgb
                write_image(
                    os.path.join(args.output, f"demo.{out.frame:04d}.png"),
                    rgb,
                    channel_names=["R", "G", "B"],
                    dtype="uint8",
                )
            seconds = time.perf_counter() - t0
            client.close_clip(clip.clip_id)
    sheet = contact_sheet(frames, mattes, outputs, refs)
    sheet_path = os.path.join(args.output, "contact_sheet.png")
    write_image(sheet_path, sheet, channel_names=["R", "G", "B"], dtype="uint8")
    spec_path = os.path.join(args.output, "demo_spec.json")
    with atomic_write(spec_path) as tmp, open(tmp, "w") as f:
        json.dump(spec, f, indent=2)
    change = float(np.abs(outputs - frames).mean())
    print(
        f"lookgrid demo: {args.frames} frames of {width}x{height} in {seconds:.1f} s "
        f"({args.frames / seconds:.2f} frames/s) through {address}; mean change {change:.4f}"
    )
    print(f"lookgrid demo: wrote {args.output}/demo.####.png, {sheet_path}, {spec_path}")
    return 0
