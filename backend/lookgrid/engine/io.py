"""Reading and writing a clip's frames for :meth:`Engine.render_clip` (through ``lookgrid.imaging``).

Colour rules (issue 4):

* input colour space: the spec's, else ``sRGB - Texture`` for integer (8/16-bit) files such as
  PNG/JPEG, else the colour space a float file declares (``oiio:ColorSpace``), else ``ACEScg``;
* output colour space: the spec's, else — EXR (scene-linear, float) → the input's colour space
  (``Linear Rec.709 (sRGB)`` when the input was an sRGB picture), PNG/JPEG (8-bit,
  display-referred) → ``sRGB - Texture``;
* EXR output carries the input's other channels (alpha, AOVs), metadata and windows (``like=``);
* masks: the region's ``mask_channel``, else :func:`lookgrid.imaging.mask_from_pixels`'s rules
  (one channel; a varying alpha; a grey matte; any non-black pixel); any bit depth; any resolution
  with the frame's aspect ratio (resized to the frame by the clip); values clipped to [0, 1].
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError, MissingFramesError, ShapeMismatchError
from lookgrid.imaging import (
    SRGB_TEXTURE,
    FrameSequence,
    SanitizeReport,
    default_colorspace,
    format_frame_ranges,
    get_pipeline,
    read_image,
    read_mask,
    sanitize,
    write_image,
)
from lookgrid.imaging.io import Image

EIGHT_BIT_OUT = {".png", ".jpg", ".jpeg"}
#: ``LOOKGRID_REFERENCE_IO=1``: :class:`SequenceIO` takes its plain reference read/write path
#: (the same pixels and files; ``lookgrid bench farm`` measures both in one run)
REFERENCE_IO_ENV = "LOOKGRID_REFERENCE_IO"
LINEAR_SRGB = "Linear Rec.709 (sRGB)"
ASPECT_TOLERANCE = 0.03


def _ext(pattern: str) -> str:
    return os.path.splitext(pattern)[1].lower()


def default_output_colorspace(out_pattern: str, input_colorspace: str) -> str:
    """Colour space of the output when the spec gives none (see the module docstring)."""
    if _ext(out_pattern) in EIGHT_BIT_OUT:
        return SRGB_TEXTURE
    if input_colorspace == SRGB_TEXTURE:  # an sRGB picture written to EXR becomes scene-linear
        return LINEAR_SRGB
    return input_colorspace


@dataclass
class FrameIn:
    """One input frame: working-space RGB ``(H,W,3)``, masks by region name (``(h,w)`` planes at the
    mask files' own resolution), and the image as read (for writing back channels and metadata)."""

    working: np.ndarray
    masks: dict[str, np.ndarray]
    image: Image
    rgb: list[int]


class SequenceIO:
    """The files of a :class:`ClipSpec`: input and mask sequences, colour pipelines, output paths.

    Checks what it can up front: missing input or mask frames (named), a hole in a sequence found
    on disk (:func:`missing_in_sequence`; accepted only with ``allow_missing``), output patterns
    that would overwrite the input, unknown colour spaces (on the first frame read). The spec must
    have been validated (``spec.validate(need_paths=True)``) by the caller. ``report`` counts the
    non-finite values replaced in what was read and written (colour, alpha and other channels).
    """

    def __init__(self, spec: ClipSpec, *, allow_missing: bool = False, reference: bool | None = None):
        self.spec = spec
        #: ``True``: the plain reference path; ``False``: the fast path (planar working frames,
        #: colour converted straight between layouts, no full-frame copies for an RGB file), same
        #: results. ``None``: the reference path only when ``$LOOKGRID_REFERENCE_IO`` is 1.
        self.reference = os.environ.get(REFERENCE_IO_ENV, "") == "1" if reference is None else bool(reference)
        self.input = FrameSequence.parse(spec.input, spec.frames or None)
        self.input.check_exists()
        self.frames = sorted(int(f) for f in self.input.frames)
        self.missing = missing_in_sequence(self.frames) if not spec.frames else []
        if self.missing and not allow_missing:
            raise MissingFramesError(
                f"input {spec.input}: frames {format_frame_ranges(self.missing)} are missing from the "
                f"sequence {self.frames[0]}-{self.frames[-1]} on disk; name the frames to render "
                "(--frames) or accept the holes (--allow-missing)"
            )
        self.report = SanitizeReport()
        self._report_lock = threading.Lock()  # reads and writes may run on different threads
        self.output = FrameSequence.parse(spec.output, self.frames)
        self.masks = []
        for r in spec.regions:
            if not r.mask:  # the background
                continue
            seq = FrameSequence.parse(r.mask, self.frames)
            if not seq.is_single_file:
                seq.check_exists()
            elif not os.path.isfile(seq.path(self.frames[0])):
                raise InvalidInputError(f"mask of region {r.name!r}: no such file {r.mask}")
            self.masks.append((r, seq))
        for f in self.frames:
            if os.path.abspath(self.output.path(f)) == os.path.abspath(self.input.path(f)):
                raise InvalidInputError(f"output {spec.output!r} would overwrite input frame {f}")
        self.eight_bit = _ext(spec.output) in EIGHT_BIT_OUT
        self.input_colorspace: str | None = spec.input_colorspace or None
        self.output_colorspace: str | None = None
        self._to = self._from = None

    def _pipelines(self, image):
        if self._to is None:
            cs_in = self.input_colorspace or default_colorspace(image.spec_info, self.spec.config)
            cs_out = self.spec.output_colorspace or default_output_colorspace(self.spec.output, cs_in)
            self._to = get_pipeline(self.spec.config, cs_in)
            self._from = get_pipeline(self.spec.config, cs_out)
            self.input_colorspace, self.output_colorspace = cs_in, cs_out
        return self._to, self._from

    # --- reading ------------------------------------------------------------------------------
    def read(self, frame: int) -> FrameIn:
        """One input frame (:class:`FrameIn`). Fast path (:attr:`reference` false): a file whose channels
        are all half-float is read as float16 (``read_image(half=True)``) and, when the colour
        transform is per channel, converted through the pipeline's table of the 65,536 halves
        (:attr:`ColorPipeline.half_table`: OpenColorIO's values, bit for bit); the working frame is
        an ``(H, W, 3)`` view of a planar ``(3, H, W)`` buffer — the model's layout, so the clip
        takes it without a transposing copy — written by the conversion straight from the file's
        channels. The reference path reads float32 and converts a contiguous copy of the colour
        channels into a new ``(H, W, 3)`` array: with OpenColorIO's processor where the fast path
        takes the table, else with :meth:`ColorPipeline.to_working` — the same values either way."""
        img = read_image(self.input.path(frame), half=not self.reference)
        to_working, _ = self._pipelines(img)
        rgb = list(img.rgb_indices())
        h, w = img.pixels.shape[:2]
        if not self.reference:
            working = np.empty((3, h, w), np.float32).transpose(1, 2, 0)
            _, report = to_working.to_working(img.rgb(copy=False), return_report=True, out=working)
        else:
            # where the fast path reads float16 (every channel half) and has a table
            halves = img.spec_info is not None and img.spec_info.all_half
            if halves and to_working.per_channel:
                working, report = to_working.to_working_reference(
                    img.rgb(), return_report=True, threads=to_working.threads
                )
            else:
                working, report = to_working.to_working(img.rgb(), return_report=True)
            working = np.asarray(working, np.float32)
        self._count(report)
        masks = {r.name: self._read_mask(r, seq, frame, h, w) for r, seq in self.masks}
        return FrameIn(working=working, masks=masks, image=img, rgb=rgb)

    def load(self, frame: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Loader for :class:`Clip` analysis: ``(working (H,W,3), {region: mask (h,w)})``."""
        f = self.read(frame)
        return f.working, f.masks

    def _read_mask(self, region, seq, frame: int, h: int, w: int) -> np.ndarray:
        path = seq.path(frame)
        plane = read_mask(read_image(path), channel=region.mask_channel or None)
        mh, mw = plane.shape
        if (mh, mw) != (h, w) and abs((mw / mh) / (w / h) - 1.0) > ASPECT_TOLERANCE:
            raise ShapeMismatchError(
                f"mask {path} of region {region.name!r} is {mw}x{mh} but the frame is {w}x{h}: the "
                "aspect ratios differ (masks may be lower resolution, but must cover the same picture)"
            )
        return plane  # resized to the frame by the clip

    # --- writing ------------------------------------------------------------------------------
    def write(self, frame: int, out_working: np.ndarray, frame_in: FrameIn, to: str | None = None) -> str:
        """Write one rendered frame atomically (to ``to`` when given, e.g. a staged temporary,
        else to its output path); returns the path written. Channels besides colour (alpha,
        AOVs) get the NaN/Inf policy too. Fast path (:attr:`reference` false): ``out_working`` in any layout
        (e.g. the clip's planar output seen as ``(H, W, 3)``) is converted without a copy first,
        and an RGB-only EXR is written from the converted array itself; the reference path
        converts a contiguous copy and puts it into a copy of the input's pixels: the same file."""
        _, from_working = self._pipelines(frame_in.image)
        path = self.output.path(frame) if to is None else to
        if self.reference:
            rgb, report = from_working.from_working(
                np.ascontiguousarray(out_working, dtype=np.float32), return_report=True
            )
            self._count(report)
            return self._write_rgb(path, rgb, frame_in)
        out_working = np.asarray(out_working)
        if out_working.dtype != np.float32:
            out_working = out_working.astype(np.float32)
        img = frame_in.image
        if not self.eight_bit and _ext(path) == ".exr" and frame_in.rgb == [0, 1, 2] and img.pixels.shape[-1] == 3:
            # a half-float file gets float16 from the conversion itself: rounded as OpenImageIO
            # would round float32, without a float32 frame or OpenImageIO's conversion
            half = img.spec_info is not None and img.spec_info.all_half
            rgb, report = from_working.from_working(out_working, return_report=True, half=half)
            self._count(report)  # the policy applied by the conversion: nothing is left to clean
            write_image(
                path,
                rgb,
                channel_names=list(img.channel_names),
                like=img,
                colorspace=self.output_colorspace,
            )
            return str(path)
        rgb, report = from_working.from_working(out_working, return_report=True)
        self._count(report)
        return self._write_rgb(path, rgb, frame_in)

    def _write_rgb(self, path, rgb: np.ndarray, frame_in: FrameIn) -> str:
        if self.eight_bit:
            write_image(path, np.clip(rgb, 0.0, 1.0), channel_names=["R", "G", "B"], dtype="uint8")
            return str(path)
        img = frame_in.image
        names = list(img.channel_names)
        if len(set(frame_in.rgb)) == 3 and _ext(path) == ".exr":
            full = np.array(img.pixels, dtype=np.float32, copy=True)
            full[..., frame_in.rgb] = rgb
            write_image(path, self._clean(full), channel_names=names, like=img, colorspace=self.output_colorspace)
        else:
            channels = ["R", "G", "B"]
            pixels = rgb
            a = img.alpha_index()
            if a is not None:
                pixels = np.concatenate([rgb, img.pixels[..., a : a + 1]], axis=-1)
                channels.append("A")
            write_image(path, self._clean(pixels), channel_names=channels, colorspace=self.output_colorspace)
        return str(path)

    def _clean(self, pixels: np.ndarray) -> np.ndarray:
        out, report = sanitize(pixels, copy=False)
        self._count(report)
        return out

    def _count(self, report: SanitizeReport) -> None:
        with self._report_lock:
            self.report = self.report + report


def missing_in_sequence(frames: list[int]) -> list[int]:
    """Frame numbers missing inside a sorted sequence found on disk: holes wider than its
    smallest step (a sequence on every 2nd frame has none). Costs nothing for wide numbers."""
    steps = [b - a for a, b in zip(frames, frames[1:])]
    if not steps:
        return []
    step = min(steps)
    missing: list[int] = []
    for a, d in zip(frames, steps):
        if d > step:
            missing.extend(range(a + step, a + d, step)[: 1000 - len(missing)])
            if len(missing) >= 1000:
                break
    return missing
