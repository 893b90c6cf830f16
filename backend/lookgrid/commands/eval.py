"""``lookgrid eval``: render a clip (or a fixed suite of clips) with several methods and measure them.

One clip::

    lookgrid eval --input 'clip/frames/%05d.jpg' --mask fg='clip/masks/%05d.png' \\
        --style fg=ref_a.png --style background=ref_b.png [--frames 0-49] \\
        [--methods lookgrid,per-frame,pixel-blend,reinhard,mkl,hm-mkl-hm,frozen] [--max-frames N] [--max-height 480] \\
        [--stride R] [--model PATH] [--device auto|cpu|cuda[:N]] --out eval_out/

The dev suite (5 DAVIS clips with fixed references; skipped with a message when the data is absent)::

    lookgrid eval --suite dev [--data ../shared/data] [--grain 0.03] [--cut 8] --out eval_dev/

Prints a table per clip (input row + one per method) and the means over clips, and writes into
``--out``: ``eval.json`` (every number, settings, per-frame warping errors), ``<clip>_contact.png``
(references, input, regions and each method's output on a few frames) and ``<clip>_warping.png``
(per-frame warping error per method; ``warping_all.png`` has every clip of a suite). Metrics are
defined in :mod:`lookgrid.eval.metrics`; timings are compute only (analysis + render, no file I/O)
after an untimed warm-up.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from lookgrid.commands.options import add_device_option, add_model_option
from lookgrid.engine import METHOD_NAMES, Engine
from lookgrid.errors import InvalidInputError
from lookgrid.eval import harness, report
from lookgrid.eval.suites import DEV_MAX_FRAMES, DEV_MAX_HEIGHT, SUITES, missing_files, shared_data_dir
from lookgrid.fsutil import remove_stale_temps
from lookgrid.model.load import default_model_choice
from lookgrid.model.propagate import TEMPORAL_MODES


def _pairs(values, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        name, sep, rest = v.partition("=")
        if not sep or not name or not rest:
            raise InvalidInputError(f"{what} must be NAME=VALUE, got {v!r}")
        if name in out:
            raise InvalidInputError(f"{what} given twice for region {name!r}")
        out[name] = rest
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--suite", choices=["dev"], help="run a fixed suite of clips instead of one clip")
    parser.add_argument("--data", help="data folder for --suite (default: $LOOKGRID_SHARED_DATA or ../shared/data)")
    parser.add_argument("--input", help="input frame pattern (%%05d, ####, @) or a single file")
    parser.add_argument("--mask", action="append", metavar="NAME=PATTERN", help="region mask sequence (repeatable)")
    parser.add_argument(
        "--style",
        action="append",
        metavar="NAME=PATH",
        help="reference for a region; 'background' is what no mask covers (repeatable)",
    )
    parser.add_argument("--frames", help="frame range, e.g. 0-49")
    parser.add_argument("--name", help="clip name for reports (default: the input folder's name)")
    parser.add_argument("--input-colorspace", default="", help="colour space of the input (default by file type)")
    parser.add_argument(
        "--methods",
        default=",".join(METHOD_NAMES),
        help="comma-separated methods (default: all four); also 'smoothed' (lookgrid with "
        "--smooth), the classical per-region "
        "transfers 'mkl', 'hm' and 'hm-mkl-hm' (lookgrid.eval.classical), and "
        "'frozen', a diagnostic row: the first frame's lookgrid grids on every frame "
        "(the warping error and grade pumping a held look reaches)",
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, help="use at most the first N frames (default: all; --suite dev: 24)"
    )
    parser.add_argument(
        "--max-height", type=int, default=None, help="scale frames down to at most this many rows (default 480)"
    )
    parser.add_argument("--stride", type=int, default=1, help="analyse every R-th frame (default 1)")
    parser.add_argument(
        "--smooth",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="smooth each region's look over the whole shot (spec.smooth: sigma in analysed "
        "frames) for every engine row; row 'smoothed' is lookgrid with it (default sigma "
        f"{harness.SMOOTHED_SIGMA:g} when this is 0)",
    )
    parser.add_argument(
        "--grain",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="render from frames with fresh per-frame luminance + chroma grain of this "
        "sigma (0-1 display units, seeded) and measure against the clean frames",
    )
    parser.add_argument(
        "--cut",
        type=int,
        default=0,
        metavar="K",
        help="with --suite: also join each clip's first K frames to the next clip's "
        "first K and count the frames after the cut that still carry the first "
        "shot's look (vs a fresh start on the second shot)",
    )
    parser.add_argument(
        "--temporal",
        choices=TEMPORAL_MODES,
        default=None,
        help="how temporal methods carry the look: tc (statistics, TC-AdaIN) or flow "
        "(grids warped along optical flow); default: what the model says",
    )
    parser.add_argument(
        "--zoom-out",
        type=int,
        default=1,
        metavar="K",
        help="measure each clip as a wider shot: frames shrunk K times into the middle and mirrored "
        "out to their size, masks shrunk alike (a region then covers 1/K² of what it did: the "
        "small-region test; default 1 = as they are)",
    )
    add_model_option(parser)
    add_device_option(parser)
    parser.add_argument("--sheet-frames", type=int, default=3, help="frames per contact sheet (default 3)")
    parser.add_argument("--out", required=True, help="folder for eval.json, contact sheets and plots")


def _clip_jobs(args):
    """-> list of (name, spec, max_frames, max_height) and a note for the JSON."""

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = harness.ROWS
    bad = [m for m in methods if m not in known]
    if bad or not methods:
        raise InvalidInputError(f"unknown method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(known)}")
    if args.suite:
        if args.input or args.mask or args.style:
            raise InvalidInputError("--suite runs fixed clips; do not combine it with --input/--mask/--style")
        data = Path(args.data) if args.data else shared_data_dir()
        suite = SUITES[args.suite]
        missing = missing_files(suite, data)
        if missing:
            return None, methods, f"suite {args.suite!r}: data not found under {data} (missing {missing[0]}, ...)"
        max_frames = args.max_frames if args.max_frames is not None else DEV_MAX_FRAMES
        max_height = args.max_height if args.max_height is not None else DEV_MAX_HEIGHT
        jobs = []
        for c in suite:
            jobs.append((c.name, harness.suite_spec(c, data, model=args.model), max_frames, max_height))
        return jobs, methods, None
    if not args.input:
        raise InvalidInputError("give --input (with --mask and --style) or --suite dev")
    masks = _pairs(args.mask, "--mask")
    styles = _pairs(args.style, "--style")
    spec = harness.build_spec(
        args.input, masks, styles, frames=args.frames, input_colorspace=args.input_colorspace, model=args.model
    )
    name = args.name or Path(args.input).resolve().parent.parent.name or "clip"
    return [(name, spec, args.max_frames, args.max_height if args.max_height is not None else 480)], methods, None


def _model_label(path: str | None) -> str:
    """Which model the model-based methods ran with (recorded in the JSON)."""
    return path or default_model_choice()


def _cuts(engine, jobs, methods, args, say) -> dict[str, list[dict]]:
    """The cut measure: clip i's first K frames, then clip i+1's (the last wraps to the first);
    per method, one :func:`lookgrid.eval.harness.measure_cut` dict per cut."""
    k = args.cut
    shots = [harness.load_clip(name, spec, engine, max_frames=k, max_height=mh) for name, spec, _, mh in jobs]
    out: dict[str, list[dict]] = {m: [] for m in methods}
    for i, first in enumerate(shots):
        cut, fresh = harness.cut_clip(first, shots[(i + 1) % len(shots)], k)
        for m in methods:
            out[m].append(harness.measure_cut(engine, cut, fresh, m, stride=args.stride, smooth=args.smooth))
        say(f"cut {cut.name}: frames carried " + ", ".join(f"{m} {out[m][-1]['frames_carried']}" for m in methods))
    return out


def run(args) -> int:
    jobs, methods, skip = _clip_jobs(args)
    if jobs is None:
        print(f"lookgrid eval: skipped: {skip}")
        return 0
    if args.stride < 1:
        raise InvalidInputError(f"--stride must be >= 1, got {args.stride}")
    if args.smooth < 0:
        raise InvalidInputError(f"--smooth must be >= 0, got {args.smooth}")
    if not 0.0 <= args.grain <= 1.0:
        raise InvalidInputError(f"--grain must lie in [0, 1], got {args.grain}")
    if args.zoom_out < 1:
        raise InvalidInputError(f"--zoom-out must be >= 1, got {args.zoom_out}")
    if args.cut < 0 or (args.cut and len(jobs) < 2):
        raise InvalidInputError("--cut K needs K >= 1 and two or more clips (--suite dev)")
    os.makedirs(args.out, exist_ok=True)
    remove_stale_temps(args.out)  # what a killed earlier run left half-written
    engine = Engine(model_path=args.model, device=args.device, temporal=args.temporal)
    settings = harness.MetricSettings()
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    results: list = []
    dicts: list = []
    for name, spec, max_frames, max_height in jobs:
        clip = harness.load_clip(name, spec, engine, max_frames=max_frames, max_height=max_height)
        clip = harness.zoomed_out(clip, args.zoom_out)
        say(f"{name}: {len(clip.frames)} frames at {clip.frames[0].shape[1]}x{clip.frames[0].shape[0]}")
        if not results:
            harness.warm_up(engine, clip, methods, smooth=args.smooth)
            say("warm-up done (model loaded, kernels compiled; not timed)")
        res = harness.evaluate_clip(
            engine, clip, methods, stride=args.stride, smooth=args.smooth, settings=settings, grain=args.grain, log=say
        )
        d = res.to_dict()
        sheet = report.contact_sheet(res, frames=report.pick_frames(len(clip.frames), args.sheet_frames))
        d["contact_sheet"] = os.path.join(args.out, f"{name}_contact.png")
        d["warping_plot"] = os.path.join(args.out, f"{name}_warping.png")
        report.write_png(d["contact_sheet"], sheet)
        report.warping_plot(d["warping_plot"], [d])
        results.append(res)
        dicts.append(d)
        # drop the rendered frames of finished clips (sheets are written), keep memory flat
        res.runs.clear()
        res.clip.frames.clear()

    summary = harness.summarize(results)
    cuts = _cuts(engine, jobs, methods, args, say) if args.cut else {}
    for method, per_cut in cuts.items():
        summary[method]["cut_frames_carried"] = sum(c["frames_carried"] for c in per_cut) / len(per_cut)
    out = {
        "suite": args.suite,
        "methods": methods,
        "stride": args.stride,
        "smooth": args.smooth,
        "grain": args.grain,
        "zoom_out": args.zoom_out,
        "temporal": engine.temporal,
        "cut_frames": args.cut,
        "cuts": cuts,
        "device": str(engine.device),
        "model": _model_label(args.model),
        "settings": vars(settings),
        "seconds": time.perf_counter() - t_start,
        "clips": dicts,
        "summary": summary,
    }
    if len(dicts) > 1:
        out["warping_plot"] = os.path.join(args.out, "warping_all.png")
        report.warping_plot(out["warping_plot"], dicts)
    json_path = os.path.join(args.out, "eval.json")
    report.write_json(json_path, out)
    print(report.format_table(dicts))
    print()
    print(report.format_summary(summary))
    print(f"model: {out['model']}")
    print(
        f"\nwrote {json_path}, {len(dicts)} contact sheet(s) and warping plot(s) in {args.out} ({out['seconds']:.0f} s)"
    )
    return 0
