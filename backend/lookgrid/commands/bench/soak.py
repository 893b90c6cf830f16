"""``lookgrid bench soak --minutes N``: concurrent clients and injected faults against one server,
with memory and latency over time (a release check, not a test).

``--clients`` threads each loop until the time is up, choosing by a seeded draw between a normal
call (render a few small inline frames of a clip, upload a style, server info) and a fault (a
header announcing a large payload that never comes, then cancelled; a decompression-bomb PNG; a
mutated EXR frame; a malformed stream; a frame range of millions of frames; a frame-number jump;
a client that goes away mid-frame). Every call's status code and latency is kept; the process's
RSS (server and clients share it; the clients hold next to nothing) is sampled every second.
At the end: a summary (calls, errors by code, peak/final RSS, p50/p99 latency of the normal
calls, open clips and budget left), a JSON file and a plot of RSS and latency over time.

Without ``--server`` the server runs in this process (RSS then covers it); with ``--server``
only the client side is measured here.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
import zlib
from collections import Counter

import grpc
import numpy as np

from lookgrid.commands.options import add_device_option, add_model_option
from lookgrid.engine import Engine
from lookgrid.fsutil import atomic_write
from lookgrid.imaging.decode import encode_exr
from lookgrid.service.server import start_in_process
from lookgrid_client import FrameIn, LookGridClient, pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc


def add_arguments(parser) -> None:
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (30)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of calls that are faults (0.3)")
    parser.add_argument("--size", type=int, default=96, help="side of the inline frames (96)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--server", default=None, metavar="HOST:PORT", help="soak this running server")
    parser.add_argument("--out", default="runs/soak", help="folder for soak.json and soak.png")
    add_device_option(parser, "the in-process server")
    add_model_option(parser)


# --- faults (also used by tests/hostile) ---------------------------------------------------------
def png_bomb(width: int, height: int) -> bytes:
    """A valid grey 8-bit PNG of ``width × height`` zeros: a few hundred KB that decode to W·H bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One seeded mutation of a file: flipped bytes, a truncation, a duplicated or a zeroed block."""
    buf = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:
        for i in rng.integers(0, len(buf), size=int(rng.integers(1, 16))):
            buf[i] ^= int(rng.integers(1, 256))
    elif kind == 1:
        buf = buf[: int(rng.integers(8, len(buf)))]
    elif kind == 2:
        a = int(rng.integers(0, len(buf) - 64))
        buf[a:a] = buf[a : a + 64]
    else:
        a = int(rng.integers(8, len(buf) - 64))
        buf[a : a + 64] = bytes(64)
    return bytes(buf)


def rss_bytes() -> int:
    """This process's resident set size, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _frame(size: int, f: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgba = np.stack([0.1 + 0.5 * x, 0.1 + 0.4 * y, 0.3 + 0.01 * (f % 20) + 0 * x, 1 + 0 * x], -1)
    mask = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1).astype(np.float32)
    return rgba.astype(np.float16), mask


class Soak:
    def __init__(self, address: str, args) -> None:
        self.address = address
        self.args = args
        self.lock = threading.Lock()
        self.calls: list[tuple[float, str, str, float]] = []  # (t, kind, code, seconds)
        self.rss: list[tuple[float, int]] = []
        self.t0 = time.monotonic()
        self.end = self.t0 + args.minutes * 60
        self.bomb = png_bomb(8000, 8000)
        rgba, mask = _frame(args.size, 0)
        self.exr = encode_exr(
            np.concatenate([rgba.astype(np.float32), mask[..., None]], -1), ["R", "G", "B", "A", "fg"]
        )

    def record(self, kind: str, code, seconds: float) -> None:
        name = code.name if hasattr(code, "name") else str(code)
        with self.lock:
            self.calls.append((time.monotonic() - self.t0, kind, name, seconds))

    def sample(self) -> None:
        while time.monotonic() < self.end:
            self.rss.append((time.monotonic() - self.t0, rss_bytes()))
            time.sleep(1.0)
        self.rss.append((time.monotonic() - self.t0, rss_bytes()))

    def client(self, index: int) -> None:
        rng = np.random.default_rng(self.args.seed + index)
        with LookGridClient(self.address, timeout=120, token=os.environ.get("LOOKGRID_TOKEN")) as c:
            channel = grpc.insecure_channel(self.address)
            stub = pb_grpc.LookGridStub(channel)
            fg = c.upload_style(np.clip(rng.random((32, 32, 3)), 0, 1).astype(np.float32))
            bg = c.upload_style(np.clip(rng.random((32, 32, 3)), 0, 1).astype(np.float32))
            spec = {
                "regions": [
                    {"name": "fg", "mask": "inline", "styles": [{"style": fg}]},
                    {"name": "background", "styles": [{"style": bg}]},
                ]
            }
            frame = 0
            clip = c.open_clip(spec).clip_id
            while time.monotonic() < self.end:
                fault = rng.random() < self.args.fault_rate
                kind = str(rng.choice(FAULTS if fault else NORMAL))
                t = time.perf_counter()
                try:
                    if kind == "render":
                        if rng.random() < 0.1:  # now and then a fresh clip
                            c.close_clip(clip)
                            clip, frame = c.open_clip(spec).clip_id, 0
                        items = []
                        for _ in range(3):
                            rgba, mask = _frame(self.args.size, frame)
                            items.append(FrameIn(frame, rgba, list("RGBA"), masks={"fg": mask}))
                            frame += 1
                        outs = list(c.render_frames(clip, items))
                        if not all(
                            o.pixels is not None and np.isfinite(o.pixels.astype(np.float32)).all() for o in outs
                        ):
                            raise RuntimeError("non-finite output")
                    elif kind == "upload":
                        c.upload_style(rng.random((48, 48, 3)).astype(np.float32))
                    elif kind == "info":
                        c.server_info()
                    else:
                        self.fault(kind, c, stub, clip, rng)
                    code = grpc.StatusCode.OK
                except Exception as err:  # noqa: BLE001 - a status is a result here
                    code = getattr(err, "code", None)
                    code = code() if callable(code) else code
                    if code is None:
                        code = f"client error {type(err).__name__}: {err}"
                self.record(kind, code, time.perf_counter() - t)
            c.close_clip(clip)
            channel.close()

    def fault(self, kind: str, c, stub, clip: str, rng) -> None:
        if kind == "held-header":

            def requests():
                yield pb.RenderFramesRequest(
                    header=pb.FrameHeader(
                        clip_id=clip,
                        frame=1,
                        encoding=pb.RAW_HALF,
                        width=8192,
                        height=8192,
                        channels=list("RGBA"),
                        payload_bytes=8192 * 8192 * 8,
                    )
                )
                yield pb.RenderFramesRequest(chunk=b"\0" * (1 << 20))
                time.sleep(0.5)

            call = stub.RenderFrames(requests(), timeout=10)
            time.sleep(0.3)
            call.cancel()
            for _ in call:
                pass
        elif kind == "bomb":
            c.upload_style(self.bomb, filename="bomb.png")
        elif kind == "mutated-exr":
            list(c.render_frames(clip, [FrameIn(10**6, exr=mutate(self.exr, rng))]))
        elif kind == "malformed":
            list(stub.RenderFrames(iter([pb.RenderFramesRequest(chunk=b"x")]), timeout=10))
        elif kind == "huge-range":
            c.open_clip({"frames": "0-9999999", "regions": [{"name": "background"}]})
        elif kind == "frame-jump":
            rgba, mask = _frame(16, 0)
            list(
                c.render_frames(clip, [FrameIn(30_000_000, rgba[:16, :16], list("RGBA"), masks={"fg": mask[:16, :16]})])
            )
        elif kind == "gone-mid-frame":

            def requests():
                yield pb.RenderFramesRequest(
                    header=pb.FrameHeader(
                        clip_id=clip,
                        frame=1,
                        encoding=pb.RAW_FLOAT,
                        width=512,
                        height=512,
                        channels=list("RGBA"),
                        payload_bytes=512 * 512 * 16,
                    )
                )
                yield pb.RenderFramesRequest(chunk=b"\0" * (1 << 20))

            call = stub.RenderFrames(requests(), timeout=10)
            call.cancel()
            for _ in call:
                pass

    def summary(self, server=None) -> dict:
        codes = Counter(code for _, _, code, _ in self.calls)
        normal = sorted(s for _, k, code, s in self.calls if k in NORMAL and code == "OK")

        def pct(q: float) -> float:
            return float(np.quantile(normal, q)) if normal else float("nan")

        out = {
            "minutes": self.args.minutes,
            "clients": self.args.clients,
            "calls": len(self.calls),
            "codes": dict(codes),
            "faults": dict(Counter(k for _, k, _, _ in self.calls if k in FAULTS)),
            "peak_rss_mb": max(r for _, r in self.rss) / 2**20 if self.rss else 0,
            "start_rss_mb": self.rss[0][1] / 2**20 if self.rss else 0,
            "final_rss_mb": self.rss[-1][1] / 2**20 if self.rss else 0,
            "p50_s": pct(0.5),
            "p99_s": pct(0.99),
            "load": os.getloadavg(),
        }
        if server is not None:
            out["open_clips_after"] = len(server.servicer.engine.clip_ids())
            out["budget_used_after"] = server.servicer.budget.used
            out["budget_peak_mb"] = server.servicer.budget.peak / 2**20
        return out


NORMAL = ("render", "render", "render", "upload", "info")
FAULTS = ("held-header", "bomb", "mutated-exr", "malformed", "huge-range", "frame-jump", "gone-mid-frame")


def _plot(soak: Soak, path: str) -> None:
    # matplotlib costs ~0.7 s to import and only this plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg")

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    a.plot([t / 60 for t, _ in soak.rss], [r / 2**20 for _, r in soak.rss])
    a.set_ylabel("RSS (MiB)")
    ok = [(t, s) for t, k, code, s in soak.calls if k in NORMAL and code == "OK"]
    bad = [(t, s) for t, k, code, s in soak.calls if not (k in NORMAL and code == "OK")]
    b.scatter([t / 60 for t, _ in ok], [s for _, s in ok], s=3, label="normal calls")
    b.scatter([t / 60 for t, _ in bad], [s for _, s in bad], s=3, label="faults / errors")
    b.set_yscale("log")
    b.set_ylabel("latency (s)")
    b.set_xlabel("minutes")
    b.legend()
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def _soak(address: str, args, server=None) -> dict:
    soak = Soak(address, args)
    sampler = threading.Thread(target=soak.sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=soak.client, args=(i,), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.minutes * 60 + 300)
    sampler.join(5)
    time.sleep(1.0)  # let the server finish what the last cancelled calls held
    soak.rss.append((time.monotonic() - soak.t0, rss_bytes()))
    result = soak.summary(server)
    os.makedirs(args.out, exist_ok=True)
    with atomic_write(os.path.join(args.out, "soak.json")) as tmp, open(tmp, "w") as f:
        json.dump({"summary": result, "rss": soak.rss, "calls": soak.calls}, f)
    _plot(soak, os.path.join(args.out, "soak.png"))
    return result


def run(args) -> int:
    if args.server:
        result = _soak(args.server, args)
    else:
        engine = Engine(device=args.device or "auto", model_path=args.model)
        _ = engine.model  # loaded before the clock starts
        with start_in_process(engine, grace=1.0) as (server, address):
            result = _soak(address, args, server)
    codes = ", ".join(f"{k} {v}" for k, v in sorted(result["codes"].items()))
    print(
        f"soak: {result['minutes']:g} min, {result['clients']} clients, {result['calls']} calls ({codes}); "
        f"RSS start {result['start_rss_mb']:.0f} MiB, peak {result['peak_rss_mb']:.0f} MiB, "
        f"final {result['final_rss_mb']:.0f} MiB; normal calls p50 {result['p50_s']:.3f} s, "
        f"p99 {result['p99_s']:.3f} s; load {result['load'][0]:.1f}"
        + (
            f"; open clips after {result['open_clips_after']}, budget held after "
            f"{result['budget_used_after']} B (peak {result['budget_peak_mb']:.0f} MiB)"
            if "open_clips_after" in result
            else ""
        )
    )
    print(f"soak: wrote {os.path.join(args.out, 'soak.json')} and soak.png")
    return 0
