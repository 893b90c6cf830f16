"""``lookgrid bench convert``: colour conversion of one frame, against a plain copy of it.

Times, on the same frame in the same run (median of ``--runs``):

* ``copy``            — ``numpy.copy`` of the frame (the floor: memory traffic only);
* ``to_working``      — :meth:`ColorPipeline.to_working` (the exact fast path when available);
* ``from_working``    — the inverse;
* ``ocio``            — OpenColorIO's CPU processor, lossless, one call (the reference);
* ``ocio_threads``    — OpenColorIO split over the CPU's threads (the fallback path);

and checks the round trip (max relative error for |x| ≥ 1e-3) and the fast path against OpenColorIO.
Each line gives the median and minimum wall time and the median CPU time of the process (summed
over its threads) — on a busy shared machine the wall time includes waiting for a core.
"""

from __future__ import annotations

import json

import numpy as np

from lookgrid.commands.bench.timing import time_call
from lookgrid.commands.options import parse_size
from lookgrid.errors import InvalidInputError
from lookgrid.imaging import SCENE_DEFAULT, WORKING_SPACE, ColorPipeline, read_image


def add_arguments(parser) -> None:
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the synthetic frame")
    parser.add_argument("--image", default=None, help="time a real frame instead (its RGB channels)")
    parser.add_argument("--from", dest="src", default=SCENE_DEFAULT, help=f"source colour space ({SCENE_DEFAULT})")
    parser.add_argument("--to", dest="dst", default=None, help="target (default: working space)")
    parser.add_argument("--config", default=None, help="OpenColorIO config (default $OCIO/studio)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _timing(fn, runs: int) -> dict:
    return time_call(fn, runs).as_dict()


def run(args) -> int:
    dst = args.dst or WORKING_SPACE
    if args.runs < 1:
        raise InvalidInputError("--runs must be at least 1")
    if args.image:
        img = read_image(args.image)
        frame = np.ascontiguousarray(img.rgb())
        what = args.image
    else:
        w, h = parse_size(args.size)
        rng = np.random.default_rng(0)
        # scene-linear-like values: log-normal around mid grey, a few negatives and highlights
        frame = (
            rng.lognormal(np.log(0.18), 1.5, (h, w, 3)) * np.where(rng.random((h, w, 3)) < 0.02, -0.05, 1.0)
        ).astype(np.float32)
        what = f"synthetic {w}x{h} RGB float32"

    fast = ColorPipeline(args.config, src=args.src, working=dst)
    slow = ColorPipeline(args.config, src=args.src, working=dst, fast=False)
    work = fast.to_working(frame)
    results = {
        "copy": _timing(lambda: frame.copy(), args.runs),
        "to_working": _timing(lambda: fast.to_working(frame), args.runs),
        "from_working": _timing(lambda: fast.from_working(work), args.runs),
        "ocio": _timing(lambda: fast.to_working_reference(frame), max(3, args.runs // 3)),
        "ocio_threads": _timing(lambda: slow.to_working(frame), max(3, args.runs // 3)),
    }
    back = fast.from_working(work)
    big = np.abs(frame) >= 1e-3
    rel = float(np.max(np.abs(back[big] - frame[big]) / np.abs(frame[big]))) if big.any() else 0.0
    ref = fast.to_working_reference(frame)
    agree = float(np.max(np.abs(work - ref)))
    copy_ms = results["copy"]["median_ms"]
    summary = {
        "frame": what,
        "shape": list(frame.shape),
        "src": fast.src,
        "dst": fast.working,
        "fast_path": fast.fast_path,
        "runs": args.runs,
        "results": results,
        "round_trip_max_rel_error": rel,
        "fast_vs_ocio_max_abs_diff": agree,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"colour conversion {fast.src} → {fast.working} on {what} "
        f"(fast path: {'yes' if fast.fast_path else 'no'}), median of {args.runs} runs"
    )
    for name, r in results.items():
        ratio = r["median_ms"] / copy_ms if copy_ms > 0 else float("nan")
        print(
            f"  {name:14s} {r['median_ms']:8.2f} ms   (min {r['min_ms']:7.2f}, "
            f"cpu {r['cpu_ms']:7.2f})   {ratio:7.1f}x copy"
        )
    print(f"  round trip max relative error (|x| >= 1e-3): {rel:.2e}")
    print(f"  fast path vs OpenColorIO max abs difference: {agree:.2e}")
    return 0
