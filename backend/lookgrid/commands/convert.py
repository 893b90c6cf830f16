"""``lookgrid convert IN OUT``: a frame sequence through the colour pipeline.

Examples::

    lookgrid convert shot.####.exr shot_cct.####.exr --frames 1001-1100 --from ACEScg --to ACEScct
    lookgrid convert plate.exr plate.png --to "sRGB - Texture"

A plain file path is a one-frame sequence. Without ``--from`` the input's colour space follows
:func:`lookgrid.imaging.default_colorspace`: "sRGB - Texture" for 8/16-bit files; for float files the
one the file declares (``oiio:ColorSpace``) when the config knows it, else ACEScg. The colour channels (R, G, B) are converted; alpha and
other channels pass through; windows, per-channel formats and metadata are carried to the output,
whose ``oiio:ColorSpace`` names the target space. NaN/Inf become finite (see
``lookgrid.imaging.color``) and are counted in the summary.
"""

from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from lookgrid.errors import InvalidInputError
from lookgrid.imaging import (
    WORKING_SPACE,
    FrameSequence,
    SanitizeReport,
    default_colorspace,
    get_pipeline,
    read_image,
    write_image,
)


def add_arguments(parser) -> None:
    parser.add_argument("input", help="input pattern (shot.####.exr, shot.%%04d.exr, @) or file")
    parser.add_argument("output", help="output pattern or file (format from the extension)")
    parser.add_argument(
        "--frames", help="frame range, e.g. 1001-1100 or 1001-1100x2 (default: every frame found on disk)"
    )
    parser.add_argument(
        "--from",
        dest="src",
        default=None,
        help="input colour space (default: 'sRGB - Texture' for 8/16-bit files; "
        "for float files what the file declares in oiio:ColorSpace if the "
        "config knows it, else ACEScg)",
    )
    parser.add_argument(
        "--to", dest="dst", default=None, help="output colour space (default: the model's working space, ACEScct)"
    )
    parser.add_argument(
        "--config",
        default=None,
        help="OpenColorIO config: ocio://... built-in, a path, default $OCIO or "
        "the versioned ACES studio config built into OpenColorIO",
    )
    parser.add_argument("--part", default=None, help="EXR part to read (index or name)")
    parser.add_argument(
        "--dtype",
        choices=["half", "float", "uint8", "uint16"],
        default=None,
        help="output pixel format (default: like the input where the format allows)",
    )
    parser.add_argument(
        "--isolated", action="store_true", help="decode each input in a child process (untrusted files)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")


def run(args) -> int:
    src_seq = FrameSequence.parse(args.input, args.frames)
    src_seq.check_exists()
    # the output names the same frames (a plain output file only takes a one-frame input)
    out_seq = FrameSequence.parse(args.output, [src_seq.first]).with_frames(src_seq.frames)
    part = int(args.part) if args.part is not None and args.part.isdigit() else args.part
    dst = args.dst or WORKING_SPACE

    total = SanitizeReport()
    bar = tqdm(src_seq.frames, desc="convert", unit="frame", disable=args.quiet, file=sys.stderr)
    for frame in bar:
        in_path, out_path = src_seq.path(frame), out_seq.path(frame)
        img = read_image(in_path, part=part, isolated=args.isolated)
        src = args.src or default_colorspace(img.spec_info, args.config)
        pipe = get_pipeline(args.config, src, dst)
        idx = img.rgb_indices()
        if len(set(idx)) != 3:
            raise InvalidInputError(
                f"{in_path} has no R, G, B channels to convert (channels: {', '.join(img.channel_names)})"
            )
        pixels = img.pixels
        if idx == (0, 1, 2):
            out, report = pipe.to_working(pixels, return_report=True)
        else:
            out = np.array(pixels, dtype=np.float32, copy=True)
            rgb, report = pipe.to_working(np.ascontiguousarray(pixels[..., list(idx)]), return_report=True)
            out[..., list(idx)] = rgb
        total = total + report
        write_image(out_path, out, like=img, dtype=args.dtype, colorspace=pipe.working)
    bar.close()
    if not args.quiet:
        note = f"; {total}" if total else ""
        print(
            f"converted {len(src_seq)} frame(s) {args.input} → {args.output} ({pipe.src} → {pipe.working}){note}",
            file=sys.stderr,
        )
    return 0
