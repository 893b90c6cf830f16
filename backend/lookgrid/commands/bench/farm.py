"""``lookgrid bench farm``: the farm's throughput, measured, and a model of N workers from it.

1. **I/O floor** at ``--size`` (default 3840x2160, half-float ZIP EXR plates, RGB): per frame, the
   median of reading the plate and writing it back (``read_image`` into float32 + ``write_image``
   like the input, i.e. half ZIP EXR; nothing else) against rendering it from an analysis with
   ``Engine.render_clip`` — read, compute and write overlapped (``lookgrid.engine.pipeline``), as
   ``lookgrid render`` and the farm's workers do. Also the engine's read (colour conversion,
   masks), compute (from the analysis, as ``render_clip`` computes) and write one at a time, and
   their plain sum. Each with the engine's fast I/O and with its reference path
   (``SequenceIO(reference=True)``, ``LOOKGRID_REFERENCE_IO=1``), interleaved frame by frame and run
   by run with floor passes, so that the ratios compare times taken under the same load.
   Target: render ≤ 1.15 × floor. Then the overlap table (:func:`overlap_lines`): the floor,
   ``render_clip``'s plain loop with the libraries' default threads (``LOOKGRID_RENDER_PLAIN``) and
   its overlapped stages in their thread budgets (:mod:`lookgrid.engine.budget`), interleaved in the
   same repeats; overlapped / plain (target ≤ 0.95) and / floor (target ≤ 1.35 at 4K); and a model
   of more cores from the stages' CPU seconds. ``--threads N`` budgets the render for N cores.
2. **Workers**: frames/s of ``lookgrid farm render`` (Ray, chunks of ``--chunk``) for each of
   ``--workers`` (default 1 2) on a ``--farm-size`` clip, analysed once and the analysis reused;
   Ray's start-up and the analysis are timed apart. Then the same at ``--size`` (e.g. 4K) when it
   differs from ``--farm-size``.
3. **Model of N workers**: from the measured per-frame analyse cost ``a`` (sequential, one
   worker) and render cost ``t`` (one worker), a job of F frames with stride r takes about
   ``F/r·a + F·t/N`` (+ start-up). Analysis dominates once ``N > r·t/a``; stride r divides the
   sequential part by r. ``--analyze-ms``/``--render-ms`` put in other costs (e.g. a GPU's, from
   ``lookgrid bench analyze|render --device cuda``).
4. **Analysis in parts** (:mod:`lookgrid.farm.parts`, what ``lookgrid farm render`` runs): on a
   ``--farm-size`` clip at stride 1, the per-frame cost ``a`` of a part (read at full size, colour
   conversion, downscale, masks, network, flow to the previous analysed frame; one process, as one
   worker runs it), the in-order fold's ``s`` ms per analysed frame (target ≤ 5), and the fresh
   analysis on Ray for each of ``--workers``. The model then divides the per-frame analysis by N
   too: ``F/r·a/N + F/r·s + F·t/N`` (+ start-up), beside the sequential-analysis model of 3.
   (``--fold-ms`` puts in another ``s``.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch

from lookgrid.commands.options import add_threads_option
from lookgrid.engine import Engine
from lookgrid.engine import parts as engine_parts
from lookgrid.engine.analysis import load_analysis
from lookgrid.engine.budget import CORES_ENV, PLAIN_ENV, UNBUDGETED_ENV, stage_threads
from lookgrid.engine.io import REFERENCE_IO_ENV, SequenceIO
from lookgrid.engine.spec import ClipSpec, RegionSpec, StyleTrack
from lookgrid.errors import InvalidInputError
from lookgrid.farm import job as jobs
from lookgrid.farm import parts as analysis_parts
from lookgrid.farm.analysis import FOLDER, analysed_frames
from lookgrid.farm.chunks import chunk_frames
from lookgrid.farm.job import load_spec
from lookgrid.imaging import read_image, write_image
from lookgrid.model.device import configure_threads

SIZES = {"960x540": (540, 960), "1920x1080": (1080, 1920), "3840x2160": (2160, 3840)}


def add_arguments(parser) -> None:
    parser.add_argument("--size", choices=list(SIZES), default="3840x2160", help="plate size for the I/O floor")
    parser.add_argument("--frames", type=int, default=5, help="plates for the I/O floor (default 5)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="overlapped renders of the plates, each beside a floor pass (default 2)"
    )
    parser.add_argument("--farm-size", choices=list(SIZES), default="960x540", help="clip size for the workers")
    parser.add_argument("--farm-frames", type=int, default=24, help="clip length for the workers (default 24)")
    parser.add_argument("--chunk", type=int, default=4, help="frames per chunk (default 4)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--model-frames", type=int, default=1000, help="job length in the model (default 1000)")
    parser.add_argument("--analyze-ms", type=float, help="per-frame analyse cost for the model (default: measured)")
    parser.add_argument("--render-ms", type=float, help="per-frame render cost for the model (default: measured)")
    add_threads_option(parser, budget=True)
    parser.add_argument("--fold-ms", type=float, help="in-order fold cost per analysed frame (default: measured)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["floor", "workers", "parts"], help="sections to skip")
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
        rgb = np.stack(
            [0.1 + 0.6 * x / w + 0.8 * blob, 0.2 + 0.4 * y / h + 0.3 * blob, 0.5 - 0.3 * x / w + 0.2 * blob], axis=-1
        )
        rgb = rgb + 0.01 * rng.standard_normal(rgb.shape).astype(np.float32)
        write_image(
            folder / f"plate.{f:04d}.exr",
            rgb.astype(np.float32),
            channel_names=["R", "G", "B"],
            dtype="half",
            attributes={"compression": "zip"},
        )
        write_image(folder / f"mask.{f:04d}.png", (blob > 0.35).astype(np.float32), dtype="uint8")
    write_image(folder / "ref_a.png", skimage.data.astronaut() / 255.0, dtype="uint8")
    write_image(folder / "ref_b.png", skimage.data.coffee() / 255.0, dtype="uint8")
    spec = ClipSpec(
        input="plate.####.exr",
        frames=f"{frames[0]}-{frames[-1]}",
        output="out/o.####.exr",
        regions=[
            RegionSpec("fg", "mask.####.png", [StyleTrack("ref_a.png")]),
            RegionSpec("background", None, [StyleTrack("ref_b.png")]),
        ],
    )
    spec.save(folder / "clip.json")
    return str(folder / "clip.json")


def _floor_pass(spec, frames, folder, cpu: list | None = None, half: bool = False) -> list[tuple[float, float]]:
    """The files alone: per frame, (seconds to read the plate, seconds to write it back);
    ``cpu`` gets the process's CPU seconds per frame of the pass. ``half``: read as float16 and
    written from it (no conversion either way: the floor of the engine's own half path)."""
    out = []
    os.sync()  # what earlier runs wrote is flushed first, not while this one is timed
    c0 = time.process_time()
    for f in frames:
        t0 = time.perf_counter()
        img = read_image(spec.input.replace("####", f"{f:04d}"), half=half)
        t1 = time.perf_counter()
        write_image(folder / f"o.{f:04d}.exr", img.pixels, like=img)
        out.append((t1 - t0, time.perf_counter() - t1))
    if cpu is not None:
        cpu.append((time.process_time() - c0) / len(frames))
    return out


def _render_s(
    engine, spec, analysis, n: int, fast: bool, plain: bool = False, unbudgeted: bool = False
) -> tuple[float, float]:
    """(Seconds, CPU seconds of the process) per frame of ``Engine.render_clip`` from the analysis,
    with the fast or the reference engine I/O (:class:`SequenceIO`'s ``reference``, chosen by
    ``LOOKGRID_REFERENCE_IO``); ``plain``: the plain loop with the libraries' default threads
    (``LOOKGRID_RENDER_PLAIN``) instead of the overlapped stages in their thread budgets;
    ``unbudgeted``: overlapped with the libraries' default threads (``LOOKGRID_RENDER_UNBUDGETED``)."""
    modes = {PLAIN_ENV: "1" if plain else "0", UNBUDGETED_ENV: "1" if unbudgeted else "0"}
    with _env({REFERENCE_IO_ENV: "0" if fast else "1", **modes}):
        os.sync()  # the previous run's files are flushed before this one is timed, not during it
        t0, c0 = time.perf_counter(), time.process_time()
        engine.render_clip(spec, analysis=analysis)
        return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


@contextlib.contextmanager
def _env(values: dict):
    """Environment variables set inside, restored after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _floor(args, root) -> dict:
    """The I/O floor beside the engine's read, compute, write and overlapped render, fast and
    reference engine I/O interleaved so that both see the same load (module docstring)."""
    h, w = SIZES[args.size]
    frames = list(range(1, max(2, args.frames) + 1))
    spec = load_spec(write_plates(root / "floor", frames, h, w))
    io_dir = root / "floor" / "io"
    engine = Engine(device=spec.device, model_path=spec.model)
    analysis = root / "floor" / "analysis.pt"
    t0 = time.perf_counter()
    n = engine.analyze_clip(spec, analysis)
    analyze_s = (time.perf_counter() - t0) / n
    stages: dict[bool, list] = {True: [], False: []}  # fast → [(read, compute, write)]
    stage_cpu: dict[bool, list] = {True: [], False: []}  # the same stages' CPU seconds
    floor_t, out_write = [], []
    ios = {fast: SequenceIO(spec, reference=not fast) for fast in (True, False)}
    clips = {}
    for fast, io in ios.items():
        clips[fast] = engine.open_clip(spec, frames=io.frames, loader=io.load)
        clips[fast].import_analysis(load_analysis(analysis))
    try:
        for f in frames:
            floor_t += _floor_pass(spec, [f], io_dir)
            for fast in (True, False):
                io, clip = ios[fast], clips[fast]
                t0, c0 = time.perf_counter(), time.process_time()
                fin = io.read(f)
                t1, c1 = time.perf_counter(), time.process_time()
                image, masks = clip.inputs(fin.working, fin.masks)  # as render_clip computes
                out = clip.render_tensors(f, image, masks)[0].permute(1, 2, 0).cpu().numpy()
                t2, c2 = time.perf_counter(), time.process_time()
                io.write(f, out, fin, to=str(io_dir / f"e.{f:04d}.exr"))
                stages[fast].append((t1 - t0, t2 - t1, time.perf_counter() - t2))
                stage_cpu[fast].append((c1 - c0, c2 - c1, time.process_time() - c2))
            # the rendered pixels written alone: how much of the engine's write is the content
            rendered = read_image(io_dir / f"e.{f:04d}.exr")
            t0 = time.perf_counter()
            write_image(io_dir / f"r.{f:04d}.exr", rendered.pixels, like=rendered)
            out_write.append(time.perf_counter() - t0)
    finally:
        for clip in clips.values():
            engine.close_clip(clip.id)
    render: dict[bool, list] = {True: [], False: []}
    plain_t: list[tuple[float, float]] = []  # the plain loop (render_clip, default threads), fast I/O
    unbudgeted_t: list[tuple[float, float]] = []  # overlapped with default threads (before budgets)
    floor_cpu: list[float] = []
    half_t: list[tuple[float, float]] = []  # the floor with float16 buffers
    _render_s(engine, spec, analysis, len(frames), True)  # warm: kernels, OCIO processors
    n = len(frames)
    runs = [  # each render once per repeat, beside floor passes: the same load
        lambda: plain_t.append(_render_s(engine, spec, analysis, n, True, plain=True)),
        lambda: unbudgeted_t.append(_render_s(engine, spec, analysis, n, True, unbudgeted=True)),
        lambda: render[True].append(_render_s(engine, spec, analysis, n, True)),
        lambda: render[False].append(_render_s(engine, spec, analysis, n, False)),
    ]
    for r in range(max(1, args.repeats)):
        floor_t += _floor_pass(spec, frames, io_dir, floor_cpu)
        half_t += _floor_pass(spec, frames, io_dir, half=True)
        # in a rotated order, so that no mode is always the one run first after the floors
        # (measured at 4K: the plain loop, always run first, came out 4-12 % slower than the
        # same loop run third; rotated, the two were within 3 %)
        for run in runs[r % len(runs) :] + runs[: r % len(runs)]:
            run()
    med = statistics.median
    read_s, write_s = med(r for r, _ in floor_t), med(wr for _, wr in floor_t)
    floor = read_s + write_s
    row = {}
    for fast in (True, False):
        r, c, wr = (med(x[i] for x in stages[fast]) for i in range(3))
        row[fast] = dict(
            read=r,
            compute=c,
            write=wr,
            plain=med(sum(x) for x in stages[fast]),
            overlapped=med(s for s, _ in render[fast]),
            cpu=med(c for _, c in render[fast]),
            cpu_stages=tuple(med(x[i] for x in stage_cpu[fast]) for i in range(3)),
        )
    load = os.getloadavg()
    print(
        f"I/O floor, {args.size} half ZIP EXR, {len(frames)} frames, {args.repeats} overlapped "
        f"runs each (medians, s/frame; load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}):"
    )
    print(f"  {'':44} {'fast I/O':>9} {'ref. I/O':>9}")
    print(f"  {'floor: read (read_image)':44} {read_s:>9.3f}")
    print(f"  {'floor: write (write_image, like the input)':44} {write_s:>9.3f}")
    print(f"  {'floor: read + write':44} {floor:>9.3f}")
    print(f"  {'(the rendered frame written alone)':44} {med(out_write):>9.3f}")
    lines = [
        ("engine read (colour conversion, masks)", "read"),
        ("engine write (colour conversion)", "write"),
        ("compute (from the analysis)", "compute"),
        ("plain sequence (read, compute, write)", "plain"),
        ("overlapped (Engine.render_clip)", "overlapped"),
    ]
    for label, key in lines:
        print(f"  {label:44} {row[True][key]:>9.3f} {row[False][key]:>9.3f}")
    print(
        f"  {'overlapped / floor (target <= 1.15)':44} {row[True]['overlapped'] / floor:>9.2f} "
        f"{row[False]['overlapped'] / floor:>9.2f}"
    )
    print(
        f"  {'overlapped / plain sequence':44} {row[True]['overlapped'] / row[True]['plain']:>9.2f} "
        f"{row[False]['overlapped'] / row[False]['plain']:>9.2f}"
    )
    fc = med(floor_cpu)
    print(f"  {'CPU s/frame: floor read + write':44} {fc:>9.3f}")
    print(f"  {'CPU s/frame: overlapped render':44} {row[True]['cpu']:>9.3f} {row[False]['cpu']:>9.3f}")
    print(
        f"  {'CPU: overlapped / floor':44} {row[True]['cpu'] / fc:>9.2f} {row[False]['cpu'] / fc:>9.2f}"
        f"   (the wall ratio's bound when the cores are busy)"
    )
    print(f"  analysis: {analyze_s:.3f} s per analysed frame (read at full size, downscale, network)")
    print()
    row[True]["unbudgeted"] = med(s for s, _ in unbudgeted_t)
    row[True]["half_floor"] = med(r for r, _ in half_t) + med(wr for _, wr in half_t)
    print("\n".join(overlap_lines(args.size, floor, med(s for s, _ in plain_t), row[True], threads=args.threads)))
    return {"analyze_s": analyze_s}


def overlap_lines(size: str, floor: float, plain: float, fast: dict, threads: int | None = None) -> list[str]:
    """The render beside its plain loop and the I/O floor (issue 27 items 2 and 3), all s/frame from
    one interleaved run: ``floor`` (read + write alone), ``plain`` (``Engine.render_clip``'s plain
    loop, the libraries' default threads), ``fast`` the row of the overlapped render and of the
    engine's stages measured one at a time (``read``, ``compute``, ``write``, ``overlapped``).
    Then a model of more cores from the stages' CPU seconds (``cpu_stages``) and the budgets of
    :func:`lookgrid.engine.budget.stage_threads`: a lower bound, as if the work spread perfectly."""
    budget = stage_threads(threads)
    over = fast["overlapped"]
    cr, cc, cw = fast["cpu_stages"]
    mode = "overlapped" if budget.overlap else "plain loop"
    load = os.getloadavg()
    lines = [
        f"Overlap, {size} (s/frame, medians; budget {budget.line()}; load average {load[0]:.1f} "
        f"{load[1]:.1f} {load[2]:.1f}):",
        f"  {'floor: read + write':44} {floor:>9.3f}",
        f"  {'plain loop (render_clip, default threads)':44} {plain:>9.3f}",
        f"  {'overlapped, default threads (no budgets)':44} {fast.get('unbudgeted', float('nan')):>9.3f}",
        f"  {'render_clip in its budget (' + mode + ')':44} {over:>9.3f}",
        f"  {'budgeted / plain (target <= 0.95)':44} {over / plain:>9.2f}",
        f"  {'budgeted / floor (target <= 1.35 at 4K)':44} {over / floor:>9.2f}",
        f"  {'floor with float16 buffers (no conversions)':44} {fast.get('half_floor', float('nan')):>9.3f}",
        f"  {'budgeted / that floor':44} {over / fast.get('half_floor', float('nan')):>9.2f}",
        f"  CPU s/frame of the stages measured alone: read {cr:.3f}, compute {cc:.3f}, write {cw:.3f}",
        "  model, more cores (a bound: all CPU seconds spread over the cores, or, overlapped, the",
        "  compute on its own numba threads, whichever is longer):",
    ]
    for cores in (1, 2, 4, 8, 16):
        b = stage_threads(cores)
        # the plain loop: each stage in turn over every core; overlapped: also the compute on its share
        bound = max((cr + cc + cw) / cores, cc / b.compute) if b.overlap else (cr + cc + cw) / cores
        lines.append(f"    {cores:>3} cores: {b.line().split(': ', 1)[1]}: >= {bound:.3f} s/frame")
    return lines


def _workers(args, root) -> dict:
    h, w = SIZES[args.farm_size]
    frames = list(range(1, max(2, args.farm_frames) + 1))
    path = write_plates(root / "farm", frames, h, w)
    spec = load_spec(path)
    res = jobs.analyze_task(spec)
    analyze_s = res["seconds"] / max(1, res["analysed"])
    state = root / "farm" / "out" / FOLDER
    # here: Ray is slow to import and only the workers and parts sections run it (the floor
    # section runs where Ray is not installed: tools/gpu_check.sh on the GPU image)
    import ray

    from lookgrid.farm.ray_runner import run_job, start_ray  # here: it imports Ray (above)

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
    print(
        f"\nWorkers, {args.farm_size}, {len(frames)} frames, chunks of {args.chunk} "
        f"(Ray start {startup:.1f} s, paid once; analysis {res['seconds']:.1f} s, once):"
    )
    print(f"  {'workers':>7} {'seconds':>8} {'frames/s':>9} {'vs 1':>6}")
    base = rows[0][2]
    for k, sec, fps in rows:
        print(f"  {k:>7} {sec:>8.2f} {fps:>9.2f} {fps / base:>6.2f}")
    return {"analyze_s": analyze_s, "render_s": 1.0 / rows[0][2], "startup": startup}


def _workers_at_size(args, root) -> None:
    """1 vs N workers (``--workers``) on a clip of the plates' size (``--size``, e.g. 4K; the
    frames of ``--farm-frames``), beside the ``--farm-size`` run: what a farm gains at the size it
    renders. Printed only; the N-worker model keeps the ``--farm-size`` costs."""
    sized = argparse.Namespace(**{**vars(args), "farm_size": args.size})
    _workers(sized, root / f"workers-{args.size}")


def model_table(
    analyze_s: float,
    render_s: float,
    frames: int,
    startup: float = 5.0,
    workers=(1, 2, 4, 8, 16, 32, 64, 128),
    strides=(1, 8),
) -> list[str]:
    """Lines of the N-worker model (see the module docstring)."""
    lines = [
        f"Model: {frames} frames, analyse {analyze_s * 1000:.0f} ms/analysed frame (sequential), "
        f"render {render_s * 1000:.0f} ms/frame/worker, start-up {startup:.0f} s"
    ]
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


def _parts(args, root) -> dict:
    """Section 4 (module docstring): the analysis in parts, measured; returns ``part_s`` (per
    analysed frame, one worker), ``fold_s`` (in order, per analysed frame) and, when section 2
    did not run, ``render_s`` and ``startup``."""
    h, w = SIZES[args.farm_size]
    frames = list(range(1, max(2, args.farm_frames) + 1))
    path = write_plates(root / "parts", frames, h, w)
    spec = load_spec(path)
    anchors = analysed_frames(spec, frames)
    engine = jobs.worker_engine(spec, jobs.analysis_threads(None))
    engine.analyze_part(spec, anchors[:2])  # warm: model, styles, kernels
    t0 = time.perf_counter()
    for chunk in chunk_frames(anchors, args.chunk):  # the part tasks, one after the other
        analysis_parts.analyze_part(spec, chunk, engine)
    part_s = (time.perf_counter() - t0) / len(anchors)
    stored = sorted(analysis_parts.parts_dir(spec).glob("*.pt"))
    loaded = [torch.load(p, map_location="cpu", weights_only=True) for p in stored]
    t0 = time.perf_counter()
    jobs.fold_task(spec)  # check the parts, fold, write the analysis and its manifest
    task_s = (time.perf_counter() - t0) / len(anchors)
    configure_threads(jobs.analysis_threads(None))
    engine.fold_analysis(spec, loaded, root / "parts" / "fold.pt")  # (open, fold, save)
    io = SequenceIO(spec)
    clip = engine.open_clip(spec, frames=io.frames, loader=io.load)
    folds = []
    threads = torch.get_num_threads()
    configure_threads(jobs.FOLD_THREADS)  # as the fold task runs it
    try:
        for _ in range(7):  # the fold alone: what runs in order
            t0 = time.perf_counter()
            engine_parts.fold_parts(clip, loaded)
            folds.append((time.perf_counter() - t0) / len(anchors))
    finally:
        engine.close_clip(clip.id)
        configure_threads(threads)
    fold_s = statistics.median(folds)
    t0 = time.perf_counter()  # the same analysis in order, on the same warm engine
    engine.analyze_clip(spec, root / "parts" / "sequential.pt")
    sequential_s = (time.perf_counter() - t0) / len(anchors)
    folded, sequential = (load_analysis(root / "parts" / n) for n in ("fold.pt", "sequential.pt"))
    same = folded["keys"] == sequential["keys"] and torch.equal(folded["grids"], sequential["grids"])
    import ray  # here: see _workers

    from lookgrid.farm.ray_runner import run_job, start_ray  # here: it imports Ray (see _workers)

    t0 = time.perf_counter()
    start_ray(None, max(args.workers))
    startup = time.perf_counter() - t0
    rows = []
    try:
        for k in args.workers:  # a fresh analysis each time: parts on k workers, then the fold
            spec_k = load_spec(path)
            spec_k.output = str(root / "parts" / f"w{k}" / "o.####.exr")
            s = run_job(spec_k, chunk=args.chunk, workers=k)
            rows.append((k, s.analyse_seconds, s.seconds))
    finally:
        ray.shutdown()
    load = os.getloadavg()
    print(
        f"\nAnalysis in parts, {args.farm_size}, {len(frames)} frames, stride 1, parts of {args.chunk} "
        f"analysed frames (load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}):"
    )
    print(f"  per analysed frame in order, one process (Engine.analyze_clip):   {sequential_s * 1000:8.1f} ms")
    print(f"  per analysed frame in a part, one worker (read .. network, flow): {part_s * 1000:8.1f} ms")
    print(
        f"  in order: fold per analysed frame (median of 7; target <= 5):     {fold_s * 1000:8.2f} ms"
        f"  (best {min(folds) * 1000:.2f})"
    )
    print(f"  in order: fold task per analysed frame (+ checks, manifest):      {task_s * 1000:8.2f} ms")
    print(f"  folded grids equal the in-order analysis's (torch.equal): {'yes' if same else 'NO'}")
    print(f"  {'workers':>7} {'analysis s':>11} {'job s':>8} {'analysis vs 1':>14}  (Ray start {startup:.1f} s)")
    for k, an, total in rows:
        print(f"  {k:>7} {an:>11.2f} {total:>8.2f} {rows[0][1] / an:>14.2f}")
    out = {"part_s": part_s, "fold_s": fold_s, "parts_startup": startup, "parts_sequential_s": sequential_s}
    if rows:  # one worker's render per frame: the job less its analysis
        out["parts_render_s"] = (rows[0][2] - rows[0][1]) / len(frames)
    return out


def parts_model_table(
    part_s: float,
    fold_s: float,
    render_s: float,
    frames: int,
    startup: float = 5.0,
    sequential_s: float | None = None,
    workers=(1, 2, 8, 32, 128),
    strides=(1, 8),
) -> list[str]:
    """Lines of the N-worker model with the analysis in parts: ``F/r·a/N + F/r·s + F·t/N`` +
    start-up, ``a`` = ``part_s``, ``s`` = ``fold_s``, ``t`` = ``render_s``; beside it the model of
    one sequential analysis (``sequential_s`` per analysed frame; ``part_s`` when not given)."""
    seq = part_s if sequential_s is None else sequential_s
    lines = [
        f"Model, analysis in parts: {frames} frames, a = {part_s * 1000:.0f} ms/analysed frame/worker, "
        f"s = {fold_s * 1000:.2f} ms/analysed frame in order, t = {render_s * 1000:.0f} ms/frame/worker, "
        f"start-up {startup:.0f} s; 'sequential' analyses in order at {seq * 1000:.0f} ms/analysed frame"
    ]
    for r in strides:
        n_an = frames / r
        lines.append(f"  stride {r}: in-order part {n_an * fold_s:.1f} s")
        lines.append(f"  {'N':>5} {'total s':>9} {'speed-up':>9} {'in order':>9} {'sequential s':>13} {'speed-up':>9}")
        one = startup + n_an * part_s + n_an * fold_s + frames * render_s
        old_one = startup + n_an * seq + frames * render_s
        for n in workers:
            t = startup + n_an * part_s / n + n_an * fold_s + frames * render_s / n
            old = startup + n_an * seq + frames * render_s / n
            lines.append(
                f"  {n:>5} {t:>9.1f} {one / t:>9.1f} {100 * n_an * fold_s / t:>8.1f}% {old:>13.1f} {old_one / old:>9.1f}"
            )
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
            cores = {CORES_ENV: str(args.threads)} if args.threads else {}
            with _env(cores):  # --threads: the render's budget for that many cores
                measured.update(_floor(args, root))
        if "workers" not in args.skip:
            measured.update(_workers(args, root))
            if args.size != args.farm_size:
                _workers_at_size(args, root)
        if "parts" not in args.skip:
            measured.update(_parts(args, root))
    a = args.analyze_ms / 1000 if args.analyze_ms else measured.get("analyze_s")
    t = args.render_ms / 1000 if args.render_ms else measured.get("render_s")
    if a and t:
        print()
        print("\n".join(model_table(a, t, args.model_frames, measured.get("startup", 5.0))))
    _print_parts_model(args, measured, a, t)
    return 0


def _print_parts_model(args, measured: dict, sequential_s, render_s) -> None:
    part_s = args.analyze_ms / 1000 if args.analyze_ms else measured.get("part_s")
    fold_s = args.fold_ms / 1000 if args.fold_ms else measured.get("fold_s")
    render_s = render_s or measured.get("parts_render_s")
    if part_s and fold_s and render_s:
        print()
        startup = measured.get("startup", measured.get("parts_startup", 5.0))
        sequential_s = measured.get("parts_sequential_s", sequential_s)  # warm, beside the parts
        print("\n".join(parts_model_table(part_s, fold_s, render_s, args.model_frames, startup, sequential_s)))
