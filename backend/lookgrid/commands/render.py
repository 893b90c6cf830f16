"""``lookgrid render``: render a clip with per-region looks (a command line over the engine).

    lookgrid render --input 'clip/frames/%05d.jpg' --output 'out/%05d.png' \\
        --mask fg='clip/masks/%05d.png' --style fg=ref_a.png --style background=ref_b.png \\
        [--frames 0-49] [--stride R] [--smooth SIGMA] [--strength fg=0.8] \\
        [--method lookgrid|per-frame|pixel-blend|reinhard] \\
        [--input-colorspace NAME] [--output-colorspace NAME] [--device auto|cpu|cuda[:N]] [--model PATH]
        [--spec clip.json] [--write-spec clip.json]

Regions are named by ``--mask NAME=PATTERN``; ``background`` is what no mask covers. Every masked
region needs a ``--style``; ``background`` without a style is left untouched. Repeating ``--style``
for one region gives it several looks, mixed by ``--style-weight NAME=KEYS`` (one per style, in
order). ``KEYS`` is a number or keyframes ``FRAME:VALUE[:INTERP],...`` with INTERP one of constant,
linear (default), smooth/ease, cubic — e.g. ``--strength fg=1001:0:smooth,1010:1``.

``--spec clip.json`` reads the job (protobuf JSON of ``lookgrid.v1.ClipSpec``; relative paths are
relative to the file); ``--write-spec clip.json`` writes the job described by the flags (absolute
paths) and exits without rendering.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

from lookgrid.commands.options import add_device_option, add_model_option
from lookgrid.engine import BACKGROUND, METHOD_NAMES, ClipSpec, Engine, RegionSpec, StyleTrack
from lookgrid.errors import InvalidInputError
from lookgrid.imaging import FrameSequence, check_config, format_frame_ranges, pinned_config
from lookgrid.imaging.outputs import check_output
from lookgrid.model.names import is_model_name
from lookgrid.timeline import Key, Track


def add_arguments(parser) -> None:
    parser.add_argument("--input", metavar="PATTERN", help="input frames (%%04d, ####, @ or one file)")
    parser.add_argument("--output", metavar="PATTERN", help="output frames (format by extension)")
    parser.add_argument(
        "--mask", action="append", default=[], metavar="NAME=PATTERN", help="a region and its mask frames (repeatable)"
    )
    parser.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="NAME=IMAGE",
        help="reference image for a region, or 'background' (repeatable)",
    )
    parser.add_argument(
        "--style-weight",
        action="append",
        default=[],
        metavar="NAME=KEYS",
        help="weight track of the region's next style (in --style order)",
    )
    parser.add_argument(
        "--strength",
        action="append",
        default=[],
        metavar="NAME=KEYS",
        help="how strongly the look applies, 0..1 (number or keyframes)",
    )
    parser.add_argument("--frames", metavar="RANGE", help="e.g. 0-49, 1001-1100x2 (default: all on disk)")
    parser.add_argument("--stride", type=int, metavar="R", help="compute grids every R frames (default 1)")
    parser.add_argument(
        "--smooth",
        type=float,
        metavar="SIGMA",
        help="smooth each region's look over the whole shot, both ways in time (sigma in "
        "analysed frames; default 3, the engine's default for a clip with a frame range; 0 = off, "
        "each frame's look as analysed)",
    )
    parser.add_argument("--method", choices=METHOD_NAMES, help="default lookgrid")
    parser.add_argument(
        "--input-colorspace",
        metavar="NAME",
        help="OpenColorIO name (default: sRGB for PNG/JPEG, else declared or ACEScg)",
    )
    parser.add_argument("--output-colorspace", metavar="NAME", help="default: the input's for EXR, sRGB for PNG/JPEG")
    parser.add_argument("--config", metavar="OCIO", help="OpenColorIO config (default $OCIO or the ACES studio config)")
    add_device_option(parser)
    add_model_option(parser)
    parser.add_argument("--spec", metavar="JSON", help="read the job from a ClipSpec JSON file")
    parser.add_argument("--write-spec", metavar="JSON", help="write the job as ClipSpec JSON and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="render a sequence found on disk although frames are missing inside it",
    )


def parse_keys(text: str, what: str):
    """``0.8`` or ``FRAME:VALUE[:INTERP],...`` → :class:`lookgrid.timeline.Track`."""

    text = text.strip()
    try:
        return Track.constant(float(text))
    except ValueError:
        pass
    keys = []
    for part in text.split(","):
        bits = part.strip().split(":")
        if len(bits) not in (2, 3):
            raise InvalidInputError(f"{what}: bad key {part!r}; use FRAME:VALUE[:INTERP]")
        try:
            frame, value = float(bits[0]), float(bits[1])
        except ValueError:
            raise InvalidInputError(f"{what}: bad key {part!r}; frame and value must be numbers") from None
        keys.append(Key(frame, value, bits[2] if len(bits) == 3 else "linear"))
    return Track(tuple(keys))


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInputError(f"{flag} {item!r}: expected NAME=VALUE")
        out.append((name.strip(), value.strip()))
    return out


def spec_from_args(args):
    """Build the :class:`ClipSpec` described by the flags (paths made absolute)."""

    absp = os.path.abspath
    if args.spec:
        if args.mask or args.style or args.style_weight or args.strength:
            raise InvalidInputError(
                "--spec already describes the regions; drop --mask/--style/--style-weight/--strength (or drop --spec)"
            )
        spec = ClipSpec.load(args.spec)
    else:
        if not args.input:
            raise InvalidInputError("--input is required (or --spec)")
        if not args.style:
            raise InvalidInputError("at least one --style NAME=IMAGE is required")
        regions: dict[str, RegionSpec] = {}
        for name, pattern in _pairs(args.mask, "--mask"):
            if name == BACKGROUND:
                raise InvalidInputError(
                    "--mask background=...: 'background' is what no mask covers; give it only a --style"
                )
            if name in regions:
                raise InvalidInputError(f"--mask {name}=...: region {name!r} given twice")
            regions[name] = RegionSpec(name, absp(pattern))
        for name, image in _pairs(args.style, "--style"):
            if name not in regions:
                if name != BACKGROUND:
                    known = ", ".join(list(regions) + [BACKGROUND])
                    raise InvalidInputError(
                        f"--style {name}=...: no region {name!r} (regions: {known}; add --mask {name}=PATTERN)"
                    )
                regions[name] = RegionSpec(name, None)
            regions[name].styles.append(StyleTrack(image if image.startswith("sha256:") else absp(image)))
        counts: dict[str, int] = {}
        for name, keys in _pairs(args.style_weight, "--style-weight"):
            r = regions.get(name)
            if r is None:
                raise InvalidInputError(f"--style-weight {name}=...: no region {name!r}")
            i = counts.get(name, 0)
            if i >= len(r.styles):
                raise InvalidInputError(f"--style-weight {name}=...: region {name!r} has only {len(r.styles)} style(s)")
            r.styles[i].weight = parse_keys(keys, f"--style-weight {name}")
            counts[name] = i + 1
        for name, keys in _pairs(args.strength, "--strength"):
            if name not in regions:
                raise InvalidInputError(f"--strength {name}=...: no region {name!r}")
            regions[name].strength = parse_keys(keys, f"--strength {name}")
        missing = [n for n, r in regions.items() if not r.styles]
        if missing:
            raise InvalidInputError(f"region(s) {', '.join(missing)} have a --mask but no --style")
        spec = ClipSpec(input=absp(args.input), regions=list(regions.values()))
    # scalar flags override the spec (paths are made absolute); a config the spec recorded is not
    # silently replaced by another
    recorded = spec.config if args.spec else None
    if args.input and args.spec:
        spec.input = absp(args.input)
    for attr, is_path in (
        ("output", True),
        ("frames", False),
        ("method", False),
        ("input_colorspace", False),
        ("output_colorspace", False),
        ("config", False),
        ("device", False),
        ("model", True),
    ):
        value = getattr(args, attr)
        if attr == "model" and is_model_name(value or ""):
            is_path = False  # a model by name (lookgrid-v2, prior), not a file beside the cwd
        if value:
            setattr(spec, attr, absp(value) if is_path else value)
    if args.stride is not None:
        spec.stride = args.stride
    if args.smooth is not None:
        spec.smooth = args.smooth
    if recorded:
        check_config(pinned_config(recorded), spec.config)
    return spec.validate(need_paths=not args.write_spec or bool(spec.output))


def run(args) -> int:
    spec = spec_from_args(args)
    if args.write_spec:
        spec.config = pinned_config(spec.config)  # the config it was made with, by a name that holds
        spec.save(args.write_spec)
        print(f"wrote {args.write_spec}")
        return 0
    if not spec.output:
        raise InvalidInputError("--output is required")
    # where it writes, before any work (a model load, the analysis): one line naming the user's path
    check_output(spec.output, FrameSequence.parse(spec.input, spec.frames).frames)

    engine = Engine(device=spec.device, model_path=spec.model)
    bar = None

    def progress(done, total, frame, path, seconds):
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc="render", file=sys.stderr, leave=False)
        bar.update(1)
        bar.set_postfix_str(f"frame {frame}", refresh=False)

    t0 = time.perf_counter()
    try:
        summary = engine.render_clip(spec, progress=progress, allow_missing=args.allow_missing)
    finally:
        if bar is not None:
            bar.close()
    total = time.perf_counter() - t0
    print(
        f"{summary.frames} frames in {total:.2f} s ({summary.frames / total:.2f} frames/s), "
        f"method {summary.method}, stride {summary.stride}, {summary.analysed} analysed, "
        f"device {summary.device} -> {spec.output}"
    )
    if summary.missing:
        print(
            f"lookgrid render: warning: frames {format_frame_ranges(summary.missing)} are missing from "
            "the input and were skipped (--allow-missing)",
            file=sys.stderr,
        )
    if summary.replaced:
        print(f"lookgrid render: {summary.replaced}")
    return 0
