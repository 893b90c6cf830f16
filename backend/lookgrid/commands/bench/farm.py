"""``lookgrid bench farm``: the farm's throughput, measured, and a model of N workers from it.

1. **I/O floor** at ``--size`` (default 3840x2160, half-float ZIP EXR plates, RGB): per frame, the
   median of reading the plate and writing it back (``read_image`` + ``write_image``, nothing
   else) against rendering it from a grid track with ``Engine.render_clip`` — read, compute and
   write overlapped (``lookgrid.engine.pipeline``), as ``lookgrid render`` and the farm's workers
   do. Also the compute alone (``Clip.render`` on frames already in memory), so the sum without
   overlap can be read beside it. Target: render ≤ 1.15 × floor.
2. **Workers**: frames/s of ``lookgrid farm render`` (Ray, chunks of ``--chunk``) for each of
   ``--workers`` (default 1 2) on a ``--farm-size`` clip, the track analysed once and reused;
   Ray's start-up and the analysis are timed apart.
3. **Model of N workers**: from the measured per-frame analyse cost ``a`` (sequential, one
   worker) and render cost ``t`` (one worker), a job of F frames with stride r takes about
   ``F/r·a + F·t/N`` (+ start-up). Analysis dominates once ``N > r·t/a``; stride r divides the
   sequential part by r. ``--analyze-ms``/``--render-ms`` put in other costs (e.g. a GPU's, from
   ``lookgrid bench analyze|render --device cuda``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import skimage.data

from lookgrid.engine import Engine
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.spec import ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.track import load_track
from lookgrid.errors import InvalidInputError
from lookgrid.farm import job as jobs
from lookgrid.farm.job import load_spec
from lookgrid.farm.ray_runner import run_job, start_ray
from lookgrid.farm.track import FOLDER
from lookgrid.imaging import read_image, write_image

SIZES = {"960x540": (540, 960), "1920x1080": (1080, 1920), "3840x2160": (2160, 3840)}


def add_arguments(parser) -> None:
    parser.add_argument("--size", choices=list(SIZES), default="3840x2160", help="plate size for the I/O floor")
    parser.add_argument("--frames", type=int, default=5, help="plates for the I/O floor (default 5)")
    parser.add_argument("--farm-size", choices=list(SIZES), default="960x540", help="clip size for the workers")
    parser.add_argument("--farm-frames", type=int, default=24, help="clip length for the workers (default 24)")
    parser.add_argument("--chunk", type=int, default=4, help="frames per chunk (default 4)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--model-frames", type=int, default=1000, help="job length in the model (default 1000)")
    parser.add_argument("--analyze-ms", type=float, help="per-frame analyse cost for the model (default: measured)")
    parser.add_argument("--render-ms", type=float, help="per-frame render cost for the model (default: measured)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["floor", "workers"], help="parts to skip")
    parser.add_argument("--keep", metavar="DIR", help="write the clips here and keep them (default: a temp dir)")


def write_plates(folder, frames, h: int, w: int) -> str:
    """Synthetic scene-linear plates (smooth light, a moving object, grain) as half ZIP EXRs,
    masks of the object as 8-bit PNGs, two reference photos; returns the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    for f in frames:
        cx = w * (0.3 + 0.02 * f)
        blob = np.exp(-(((x - cx) / (0.2 * w)) ** 2 + ((y - 0.5 * h) / (0.3 * h)) ** 2))
        rgb = np.stack([0.1 + 0.6 * x / w + 0.8 * blob, 0.2 + 0.4 * y / h + 0.3 * blob,
                        0.5 - 0.3 * x / w + 0.2 * blob], axis=-1)
        rgb = rgb + 0.01 * rng.standard_normal(rgb.shape).astype(np.float32)
        write_image(folder / f"plate.{f:04d}.exr", rgb.astype(np.float32), channel_names=["R", "G", "B"],
                    dtype="half", attributes={"compression": "zip"})
        write_image(folder / f"mask.{f:04d}.png", (blob > 0.35).astype(np.float32), dtype="uint8")
    write_image(folder / "ref_a.png", skimage.data.astronaut() / 255.0, dtype="uint8")
    write_image(folder / "ref_b.png", skimage.data.coffee() / 255.0, dtype="uint8")
    spec = ClipSpec(input="plate.####.exr", frames=f"{frames[0]}-{frames[-1]}", output="out/o.####.exr",
                    regions=[RegionSpec("fg", "mask.####.png", [StyleTrack("ref_a.png")]),
                             RegionSpec("background", None, [StyleTrack("ref_b.png")])])
    spec.save(folder / "clip.json")
    return str(folder / "clip.json")


def _floor(args, root) -> dict:
    h, w = SIZES[args.size]
    frames = list(range(1, max(2, args.frames) + 1))
    spec = load_spec(write_plates(root / "floor", frames, h, w))
    io_t = []
    for f in frames:
        t0 = time.perf_counter()
        img = read_image(spec.input.replace("####", f"{f:04d}"))
        t1 = time.perf_counter()
        write_image(root / "floor" / "io" / f"o.{f:04d}.exr", img.pixels, like=img)
        io_t.append((t1 - t0, time.perf_counter() - t1))
    engine = Engine(device=spec.device, model_path=spec.model)
    track = root / "floor" / "track.pt"
    t0 = time.perf_counter()
    n = engine.analyze_clip(spec, track)
    analyze_s = (time.perf_counter() - t0) / n
    io = SequenceIO(spec)
    clip = engine.open_clip(spec, frames=io.frames, loader=io.load)
    clip.import_track(load_track(track))
    compute, eng_io = [], []
    for f in frames:
        t0 = time.perf_counter()
        fin = io.read(f)
        t1 = time.perf_counter()
        out = clip.render(f, fin.working, fin.masks)
        t2 = time.perf_counter()
        io.write(f, out, fin)
        eng_io.append((t1 - t0) + (time.perf_counter() - t2))
        compute.append(t2 - t1)
    engine.close_clip(clip.id)
    engine.render_clip(spec, track=track)  # warm: OCIO processors, kernels
    t0 = time.perf_counter()
    summary = engine.render_clip(spec, track=track)
    render_s = (time.perf_counter() - t0) / len(frames)
    read_s = statistics.median(r for r, _ in io_t)
    write_s = statistics.median(wr for _, wr in io_t)
    floor = read_s + write_s
    comp, eio = statistics.median(compute), statistics.median(eng_io)
    print(f"I/O floor, {args.size} half ZIP EXR, {len(frames)} frames (medians, s/frame):")
    print(f"  files alone: read {read_s:.3f} + write {write_s:.3f} = floor {floor:.3f}")
    print(f"  the engine's read + write (colour conversion and masks included): {eio:.3f}")
    print(f"  compute alone {comp:.3f}; engine read + compute + write one after the other {eio + comp:.3f}")
    print(f"  Engine.render_clip (lookgrid render from a track), overlapped: {render_s:.3f} s/frame "
          f"= {render_s / floor:.2f} x floor (target <= 1.15), {render_s / (eio + comp):.2f} x "
          f"the plain sequence ({summary.frames} frames)")
    print(f"  analysis: {analyze_s:.3f} s per analysed frame (read at full size, downscale, network)")
    return {"analyze_s": analyze_s}


def _workers(args, root) -> dict:
    h, w = SIZES[args.farm_size]
    frames = list(range(1, max(2, args.farm_frames) + 1))
    path = write_plates(root / "farm", frames, h, w)
    spec = load_spec(path)
    res = jobs.analyze_task(spec)
    analyze_s = res["seconds"] / max(1, res["analysed"])
    state = root / "farm" / "out" / FOLDER
    t0 = time.perf_counter()
    start_ray(None, max(args.workers))
    startup = time.perf_counter() - t0
    rows = []
    try:
        for k in args.workers:
            out = root / "farm" / f"w{k}"
            shutil.copytree(state, out / FOLDER, ignore=shutil.ignore_patterns("job.json"))
            spec_k = load_spec(path)
            spec_k.output = str(out / "o.####.exr")
            s = run_job(spec_k, chunk=args.chunk, workers=k)
            rows.append((k, s.seconds, s.rendered / s.seconds))
    finally:
        ray.shutdown()
    print(f"\nWorkers, {args.farm_size}, {len(frames)} frames, chunks of {args.chunk} "
          f"(Ray start {startup:.1f} s, paid once; analysis {res['seconds']:.1f} s, once):")
    print(f"  {'workers':>7} {'seconds':>8} {'frames/s':>9} {'vs 1':>6}")
    base = rows[0][2]
    for k, sec, fps in rows:
        print(f"  {k:>7} {sec:>8.2f} {fps:>9.2f} {fps / base:>6.2f}")
    return {"analyze_s": analyze_s, "render_s": 1.0 / rows[0][2], "startup": startup}


def model_table(analyze_s: float, render_s: float, frames: int, startup: float = 5.0,
                workers=(1, 2, 4, 8, 16, 32, 64, 128), strides=(1, 8)) -> list[str]:
    """Lines of the N-worker model (see the module docstring)."""
    lines = [f"Model: {frames} frames, analyse {analyze_s * 1000:.0f} ms/analysed frame (sequential), "
             f"render {render_s * 1000:.0f} ms/frame/worker, start-up {startup:.0f} s"]
    for r in strides:
        a = frames / r * analyze_s
        cross = r * render_s / analyze_s
        lines.append(f"  stride {r}: analysis {a:.0f} s; it dominates beyond N = {cross:.1f} workers")
        lines.append(f"  {'N':>5} {'total s':>9} {'speed-up':>9} {'analysis share':>15}")
        t1 = startup + a + frames * render_s
        for n in workers:
            t = startup + a + frames * render_s / n
            lines.append(f"  {n:>5} {t:>9.0f} {t1 / t:>9.1f} {100 * a / t:>14.0f}%")
    return lines


def run(args) -> int:
    if args.chunk < 1 or any(k < 1 for k in args.workers):
        raise InvalidInputError("--chunk and --workers must be >= 1")
    load = os.getloadavg()
    print(f"lookgrid bench farm: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    with tempfile.TemporaryDirectory(prefix="lookgrid-bench-farm-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        measured: dict = {}
        if "floor" not in args.skip:
            measured.update(_floor(args, root))
        if "workers" not in args.skip:
            measured.update(_workers(args, root))
    a = args.analyze_ms / 1000 if args.analyze_ms else measured.get("analyze_s")
    t = args.render_ms / 1000 if args.render_ms else measured.get("render_s")
    if a and t:
        print()
        print("\n".join(model_table(a, t, args.model_frames, measured.get("startup", 5.0))))
    return 0
