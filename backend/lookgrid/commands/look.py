"""``lookgrid look``: a clip's per-region looks as files other tools read, and how faithful they are.

    lookgrid look export --spec clip.json --out looks/ [--frames 1001[-1048]] [--size 33|65]
        [--formats clf,cube,cdl,ocio] [--regions fg,background] [--device D] [--model PATH]
    lookgrid look table [--suite dev] [--data DIR] [--frames-per-clip 4] [--sizes 33,65]

``export`` writes, per region, the LUT as CLF (shot colour space in/out) and ``.cube`` (ACEScct), an
ASC CDL ``.cc`` fitted to it, an OpenColorIO config with one Look per region, and the matte per frame
(see :mod:`lookgrid.engine.look`), then prints the fidelity of each region's CLF against LookGrid's
own render and that of one global whole-frame LUT (:mod:`lookgrid.eval.looks`). ``table`` measures
the same on the dev clips for each LUT size, for a one-frame look (the first frame's) and a shot look
(all frames), both applied to every frame measured.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from lookgrid.commands.options import add_device_option, add_model_option
from lookgrid.engine import ClipSpec, Engine
from lookgrid.engine.look import collect_looks, export_look, region_luts
from lookgrid.engine.lookfidelity import file_result
from lookgrid.engine.spec import StyleTrack
from lookgrid.errors import InvalidInputError
from lookgrid.eval import harness
from lookgrid.eval.looks import fidelity, fidelity_rows, lut_fidelity, pooled
from lookgrid.eval.suites import SUITES, missing_files, shared_data_dir
from lookgrid.imaging import format_frame_ranges, parse_frame_range
from lookgrid.timeline import Key, Track


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="look", metavar="WHAT", required=True)
    e = sub.add_parser(
        "export",
        help="write per-region LUT/CLF/CDL/OCIO looks and mattes",
        description="write per-region LUT/CLF/CDL/OCIO looks and mattes",
    )
    e.add_argument("--spec", required=True, metavar="JSON", help="the clip (ClipSpec JSON)")
    e.add_argument("--out", required=True, metavar="DIR", help="folder for the files")
    e.add_argument(
        "--frames",
        metavar="RANGE",
        help="frames of the look: 1001 (a frame look) or 1001-1048 (a shot look); default: every frame of the clip",
    )
    e.add_argument("--size", type=int, default=33, help="LUT size per axis: 17, 33 (default) or 65")
    e.add_argument("--formats", default="clf,cube,cdl,ocio", help="comma list of clf, cube, cdl, ocio")
    e.add_argument("--regions", help="comma list of regions (default: all, background included)")
    e.add_argument(
        "--bake",
        action="store_true",
        help="also what a native-node bake needs: one LUT per "
        "reference per frame range, Keymix masks, and the fidelity of the dissolved references",
    )
    add_device_option(e)
    add_model_option(e)
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(_look=run_export)
    t = sub.add_parser(
        "table",
        help="fidelity of exported looks on the dev clips",
        description="fidelity of exported looks on the dev clips",
    )
    t.add_argument("--suite", choices=["dev"], default="dev")
    t.add_argument("--data", help="data folder (default: $LOOKGRID_SHARED_DATA or ../shared/data)")
    t.add_argument("--frames-per-clip", type=int, default=4, help="first N frames of each clip (default 4)")
    t.add_argument("--clips", help="comma list of clip names (default: all of the suite)")
    t.add_argument("--sizes", default="33,65", help="LUT sizes (default 33,65)")
    t.add_argument(
        "--bake",
        action="store_true",
        help="instead: the native-node bake (references dissolved "
        "with the curves) on a shot look, a keyed transition and a strength curve (first size)",
    )
    add_device_option(t)
    add_model_option(t)
    t.set_defaults(_look=run_table)


def run(args) -> int:
    return int(args._look(args) or 0)


def _items(text: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise InvalidInputError(f"empty list {text!r}")
    return items


def _list(text: str | None) -> list[str] | None:
    return None if text is None else _items(text)


def _sizes(text: str) -> list[int]:
    try:
        return [int(s) for s in _items(text)]
    except ValueError:
        raise InvalidInputError(f"--sizes {text!r}: expected numbers such as 33,65") from None


def _fmt(f) -> str:
    return f"{f.mean:6.2f} {f.p95:6.2f}"


def run_export(args) -> int:
    spec = ClipSpec.load(args.spec)
    frames = parse_frame_range(args.frames) if args.frames else None
    engine = Engine(device=args.device or spec.device, model_path=args.model or spec.model)

    def progress(done, total, frame):
        if not args.no_progress:
            print(f"\rlook export: frame {frame} ({done}/{total})", end="", file=sys.stderr, flush=True)

    result = export_look(
        engine,
        spec,
        args.out,
        frames,
        size=args.size,
        formats=_items(args.formats),
        regions=_list(args.regions),
        progress=progress,
        bake=args.bake,
    )
    if not args.no_progress:
        print(file=sys.stderr)
    col = result.collection
    print(
        f"wrote {len(result.files)} files to {result.out} (frames {format_frame_ranges(col.frames)}, "
        f"{result.size}^3, shot colour space {col.shot_space}, {col.seconds:.1f} s)"
    )
    for look in col.regions:
        if look.cdl is not None:
            print(f"  {look.name}.cc: ASC CDL fit error rms {look.cdl.rms:.4f}, max {look.cdl.max:.4f} (ACEScct)")
    rows = fidelity_rows(result)
    if rows:
        print("fidelity vs LookGrid's render inside each matte (ΔE2000 of the display image, mean p95):")
        print(f"  {'region':16s} {'its CLF':>13s}   {'global LUT':>13s}")
        for name, own, glob in rows:
            print(f"  {name:16s} {_fmt(own)}   {_fmt(glob)}   ({own.pixels} px)")
    if result.bake:
        print("bake (references dissolved with the weight curves, strength as a mix; ΔE2000 mean p95):")
        for name, b in result.bake.items():
            spans = ", ".join(f"{s.first}-{s.last}" for s in b.segments)
            if b.fidelity is not None:
                print(f"  {name:16s} {_fmt(b.fidelity)}   ranges {spans}")
    return 0


def run_table(args) -> int:
    data = Path(args.data) if args.data else shared_data_dir()
    suite = SUITES[args.suite]
    if args.clips:
        wanted = _items(args.clips)
        unknown = [c for c in wanted if c not in {s.name for s in suite}]
        if unknown:
            raise InvalidInputError(f"unknown clip(s) {', '.join(unknown)}")
        suite = tuple(c for c in suite if c.name in wanted)
    missing = missing_files(suite, data)
    if missing:
        raise InvalidInputError(f"suite {args.suite!r}: data not found under {data} (missing {missing[0]})")
    if args.frames_per_clip < 1:
        raise InvalidInputError("--frames-per-clip must be >= 1")
    sizes = _sizes(args.sizes)
    engine = Engine(device=args.device, model_path=args.model)
    if args.bake:
        return _bake_table(engine, suite, data, args.frames_per_clip, sizes[0], args.model)
    pools: dict[tuple, list] = {}
    print(f"{'clip':11s} {'size':>4s} {'look':5s} {'region':11s} {'its LUT':>13s}   {'global LUT':>13s}   pixels")
    for c in suite:
        spec = harness.suite_spec(c, data, frames=f"0-{args.frames_per_clip - 1}", model=args.model)
        col = collect_looks(engine, spec)
        for size in sizes:
            for label, frames in (("frame", slice(0, 1)), ("shot", None)):
                luts, glob = region_luts(col, size, frames)
                for k, look in enumerate(col.regions):
                    shot, _, render = look.samples()
                    own = lut_fidelity(luts[k].numpy(), shot, render, col.shot_space, col.config)
                    gl = lut_fidelity(glob.numpy(), shot, render, col.shot_space, col.config)
                    pools.setdefault((size, label, "own"), []).append(own)
                    pools.setdefault((size, label, "global"), []).append(gl)
                    fo, fg = fidelity(*own), fidelity(*gl)
                    print(
                        f"{c.name:11s} {size:4d} {label:5s} {look.name:11s} {_fmt(fo)}   {_fmt(fg)}   {fo.pixels}",
                        flush=True,
                    )
    print(f"all clips ({args.frames_per_clip} frames each), pooled over regions:")
    for size in sizes:
        for label in ("frame", "shot"):
            fo, fg = pooled(pools[(size, label, "own")]), pooled(pools[(size, label, "global")])
            print(f"{'all':11s} {size:4d} {label:5s} {'regions':11s} {_fmt(fo)}   {_fmt(fg)}   {fo.pixels}")
    return 0


def _bake_table(engine, suite, data: Path, n: int, size: int, model) -> int:
    """Per clip and case: the shot look (one CLF per region) and the native-node bake (one LUT per
    reference dissolved with the weight curves, strength as a mix) against LookGrid's render."""
    last = n - 1
    cases = ("shot look", "transition", "strength curve")
    pools: dict[tuple, list] = {}
    print(f"{'clip':11s} {'case':15s} {'region':11s} {'shot CLF':>13s}   {'bake':>13s}   pixels")
    for c in suite:
        for case in cases:
            spec = harness.suite_spec(c, data, frames=f"0-{last}", model=model)
            fg = spec.regions[0]
            if case == "transition":  # the subject from its own reference to the background's, smooth
                fg.styles = [
                    StyleTrack(str(data / c.fg_style), Track((Key(0, 1.0, "smooth"), Key(last, 0.0)))),
                    StyleTrack(str(data / c.bg_style), Track((Key(0, 0.0, "smooth"), Key(last, 1.0)))),
                ]
            elif case == "strength curve":
                fg.strength = Track((Key(0, 1.0), Key(last, 0.3)))
            with tempfile.TemporaryDirectory(prefix="lookgrid-bake-table-") as tmp:
                res = export_look(engine, spec, tmp, size=size, formats=["clf"], bake=True)
                col = res.collection
                for look in col.regions:
                    shot, _, render = look.samples()
                    own = (render, file_result(res.clf_path(look.name), shot, col.shot_space, col.config))
                    bake = res.bake[look.name]
                    print(
                        f"{c.name:11s} {case:15s} {look.name:11s} {_fmt(fidelity(*own))}   "
                        f"{_fmt(bake.fidelity)}   {len(render)}",
                        flush=True,
                    )
                    pools.setdefault((case, "shot"), []).append(own)
                    pools.setdefault((case, "bake"), []).append(bake.pair)
    print(f"all clips ({n} frames each, {size}^3), pooled over regions: shot CLF, bake")
    for case in cases:
        print(
            f"{'all':11s} {case:15s} {'regions':11s} {_fmt(pooled(pools[(case, 'shot')]))}   "
            f"{_fmt(pooled(pools[(case, 'bake')]))}"
        )
    return 0
