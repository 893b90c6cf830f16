"""``lookgrid bench serve``: frames/s through gRPC vs in process, at 1920x1080 and 3840x2160.

Both sides do the same work per frame — decode a raw RGBA half frame with a matte channel, convert
ACEScg -> working space, analyse (stride 1: the network runs on every frame), render, convert back,
encode — once inside the server behind gRPC (frames streamed in 2 MiB chunks by the client library),
once by calling the servicer's frame functions directly in this process. The figure that matters
is the ratio: what the service costs on top of the work.

Each measurement opens a fresh clip and renders ``--frames`` frames; the median over ``--repeats``
runs is reported. Without ``--server`` a server is started in this process on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time

import numpy as np
from skimage import data

from lookgrid.commands.options import add_device_option, parse_sizes
from lookgrid.engine import Engine
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import atomic_write
from lookgrid.imaging import get_pipeline
from lookgrid.service import frames as framing
from lookgrid.service.server import start_in_process
from lookgrid_client import FrameIn, LookGridClient, pb, wire


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default="1920x1080,3840x2160", help="WxH list (1920x1080,3840x2160)")
    parser.add_argument("--frames", type=int, default=6, help="frames per run (6)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is kept (3)")
    parser.add_argument("--server", default=None, metavar="HOST:PORT", help="measure this running server")
    add_device_option(parser, "the in-process engine")
    parser.add_argument("--token", default=os.environ.get("LOOKGRID_TOKEN"), help="token for --server")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def synthetic_frame(width: int, height: int, f: int):
    """(H, W, 5) float16 RGBA + matte channel: gradients and a moving soft disc."""

    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    disc = np.exp(-(((x - 0.3 - 0.01 * f) / 0.15) ** 2 + ((y - 0.5) / 0.2) ** 2))
    out = np.empty((height, width, 5), np.float16)
    out[..., 0] = 0.05 + 0.5 * x + 0.3 * disc
    out[..., 1] = 0.1 + 0.3 * y
    out[..., 2] = 0.3 - 0.2 * x + 0.2 * disc
    out[..., 3] = 1.0
    out[..., 4] = disc > 0.4
    return out


CHANNELS = ["R", "G", "B", "A", "subject"]


def spec_for(keys) -> dict:
    return {
        "regions": [
            {"name": "subject", "mask": "inline", "styles": [{"style": keys[0]}]},
            {"name": "background", "styles": [{"style": keys[1]}]},
        ],
        "frames": "1-10000",
    }


def _styles():
    return [np.ascontiguousarray(getattr(data, n)()[..., :3].astype(np.float32) / 255) for n in ("chelsea", "coffee")]


def run(args) -> int:
    sizes = parse_sizes(args.sizes)
    if args.frames < 1 or args.repeats < 1:
        raise InvalidInputError("--frames and --repeats must be at least 1")

    engine = Engine(device=args.device)
    styles = _styles()
    results = []
    with contextlib.ExitStack() as stack:
        address = args.server
        if address is None:
            _, address = stack.enter_context(start_in_process(engine))
        with LookGridClient(address, token=args.token, timeout=600, stream_timeout=3600) as client:
            client.wait_ready(30)
            keys = [client.upload_style(s, colorspace="sRGB - Texture") for s in styles]
            local_keys = [f"bench:{i}" for i in range(len(styles))]

            for key, img in zip(local_keys, styles):
                engine.register_style(key, get_pipeline(None, "sRGB - Texture").to_working(img))
            for w, h in sizes:
                frames = [synthetic_frame(w, h, f) for f in range(1, args.frames + 1)]
                mb = frames[0].nbytes / 2**20

                def grpc_run():
                    clip = client.open_clip(spec_for(keys))
                    items = (FrameIn(f, frames[f - 1], list(CHANNELS)) for f in range(1, args.frames + 1))
                    t0 = time.perf_counter()
                    n = sum(1 for _ in client.render_frames(clip.clip_id, items))
                    dt = time.perf_counter() - t0
                    client.close_clip(clip.clip_id)
                    assert n == args.frames
                    return args.frames / dt

                def local_run():
                    clip = engine.open_clip(ClipSpec.from_dict(spec_for(local_keys)), frames=range(1, 10001))
                    t0 = time.perf_counter()
                    for f in range(1, args.frames + 1):
                        pix = frames[f - 1]
                        header = pb.FrameHeader(
                            clip_id=clip.id,
                            frame=f,
                            encoding=pb.RAW_HALF,
                            width=w,
                            height=h,
                            channels=CHANNELS,
                            payload_bytes=pix.nbytes,
                        )
                        fr = wire.Frame(header, bytearray(wire.raw_bytes(pix)))  # the bytes as received
                        out, _ = framing.render(clip, framing.decode(fr, clip))
                        bytes(wire.raw_bytes(out))  # the bytes to send
                    dt = time.perf_counter() - t0
                    engine.close_clip(clip.id)
                    return args.frames / dt

                local_run()  # warm up (numba compilation, caches)
                grpc_run()
                local = [local_run() for _ in range(args.repeats)]
                remote = [grpc_run() for _ in range(args.repeats)]
                row = {
                    "width": w,
                    "height": h,
                    "frame_mib": round(mb, 1),
                    "frames": args.frames,
                    "in_process_fps": statistics.median(local),
                    "grpc_fps": statistics.median(remote),
                }
                row["ratio"] = row["grpc_fps"] / row["in_process_fps"]
                results.append(row)
                print(
                    f"{w}x{h} RGBA+matte half ({mb:.1f} MiB/frame): in process {row['in_process_fps']:.2f} "
                    f"frames/s, gRPC {row['grpc_fps']:.2f} frames/s, ratio {row['ratio'] * 100:.0f}%",
                    flush=True,
                )
    print(
        f"device {engine.device}; server {'in this process' if args.server is None else args.server}; "
        f"median of {args.repeats} runs of {args.frames} frames"
    )
    if args.json:
        with atomic_write(args.json) as tmp, open(tmp, "w") as f:
            json.dump({"device": str(engine.device), "results": results}, f, indent=2)
    return 0
