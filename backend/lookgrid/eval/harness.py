"""The evaluation harness: load a clip, render it with each method through the engine, measure.

Pipeline for one clip (:func:`evaluate_clip`):

1. :func:`load_clip` reads frames and masks with the engine's own reader
   (:class:`lookgrid.engine.io.SequenceIO`, so colour handling is exactly ``lookgrid render``'s),
   keeps at most ``max_frames`` frames, resizes masks to the frame and scales everything down to at
   most ``max_height`` rows (a working-resolution cap; aspect ratio kept). References are read with
   :meth:`Engine.style_image` (same as rendering).
2. :func:`render_method` is the one render step: it opens an in-memory clip on the shared
   :class:`lookgrid.engine.Engine` with the method's spec and renders every frame in order with
   :meth:`Clip.render` — the same analysis/render code ``lookgrid render`` runs, minus file I/O,
   which is why its timing is pure compute (analysis + render, ms per frame).
3. :func:`measure` computes the metrics of :mod:`lookgrid.eval.metrics` for each method's outputs
   and for the untouched input (the row every style distance is compared with), using one set of
   input optical flows per clip.

Everything works with any model weights (an untrained model renders the identity).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from lookgrid.engine import BACKGROUND, METHOD_NAMES, ClipSpec, RegionSpec, StyleTrack, get_method
from lookgrid.engine.io import SequenceIO
from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.eval import classical
from lookgrid.eval import metrics as M
from lookgrid.model.colormath import working_to_lab

METHODS: tuple[str, ...] = METHOD_NAMES
# Diagnostic rows, not methods a user renders with. "frozen": the first frame's lookgrid grids
# applied to every frame — a look that cannot change over time at all, so its warping error is all
# the content's own. It is the lower bound of what any temporal state in grid space can reach:
# if per-frame is already close to it, the grids do not flicker and a state has nothing to remove.
DIAGNOSTICS: tuple[str, ...] = ("frozen",)
# "smoothed": the lookgrid method with whole-shot smoothing (spec.smooth, lookgrid.model.smooth) at
# the run's --smooth sigma, or SMOOTHED_SIGMA when the run smooths nothing else.
SMOOTHED: tuple[str, ...] = ("smoothed",)
SMOOTHED_SIGMA = 3.0
# Classical per-region transfers computed here, not by the engine (they are yardsticks, not ways a
# user renders): :mod:`lookgrid.eval.classical`. Reinhard is an engine method (``--method reinhard``).
CLASSICAL: tuple[str, ...] = classical.TRANSFERS
#: every row ``lookgrid eval --methods`` accepts
ROWS: tuple[str, ...] = METHODS + SMOOTHED + CLASSICAL + DIAGNOSTICS
INPUT_ROW = "input"
#: with ``grain > 0``: the grainy frames themselves, untouched -- the floor of any look that keeps the
#: grain (its low-pass ratio is what the grain alone adds after the blur)
GRAIN_ROW = "input+grain"


@dataclass
class EvalClip:
    """A clip ready for evaluation (all arrays in working space, one resolution).

    ``frames``: T images ``(H, W, 3)``; ``masks``: region name -> T masks ``(H, W)`` in [0, 1] for
    the masked regions (background excluded, it is ``clip(1 - sum, 0, 1)``); ``styles``: region name
    (background included) -> reference ``(h, w, 3)``; ``style_keys``: region name -> the key/path the
    engine knows the reference by; ``frame_numbers``: T ints.
    """

    name: str
    frames: list[np.ndarray]
    masks: dict[str, list[np.ndarray]]
    styles: dict[str, np.ndarray]
    style_keys: dict[str, str]
    frame_numbers: list[int]
    mask_patterns: dict[str, str] = field(default_factory=dict)

    @property
    def region_names(self) -> list[str]:
        """Masked regions in order, then ``background``."""
        return list(self.masks) + [BACKGROUND]

    def all_masks(self, t: int) -> np.ndarray:
        """``(N, H, W)`` masks of frame index ``t``: masked regions, then the background."""
        planes = [self.masks[name][t] for name in self.masks]
        union = np.sum(planes, axis=0) if planes else np.zeros(self.frames[t].shape[:2], np.float32)
        return np.stack(planes + [np.clip(1.0 - union, 0.0, 1.0)]).astype(np.float32)

    def validate(self) -> "EvalClip":
        if len(self.frames) < 2:
            raise InvalidInputError(f"clip {self.name!r}: at least 2 frames are needed, got {len(self.frames)}")
        if len(self.frame_numbers) != len(self.frames):
            raise InvalidInputError(
                f"clip {self.name!r}: {len(self.frame_numbers)} frame numbers for {len(self.frames)} frames"
            )
        shape = self.frames[0].shape
        for name, seq in self.masks.items():
            if len(seq) != len(self.frames):
                raise InvalidInputError(
                    f"clip {self.name!r}: region {name!r} has {len(seq)} masks for {len(self.frames)} frames"
                )
            for m in seq:
                if m.shape != shape[:2]:
                    raise ShapeMismatchError(
                        f"clip {self.name!r}: mask of {name!r} is {m.shape}, frames are {shape[:2]}"
                    )
        missing = [r for r in self.region_names if r not in self.styles or r not in self.style_keys]
        if missing:
            raise InvalidInputError(f"clip {self.name!r}: no reference for region(s) {', '.join(missing)}")
        return self


# ------------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------------
def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    if img.shape[:2] == (height, width):
        return np.ascontiguousarray(img, dtype=np.float32)
    shrink = height < img.shape[0]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(img, dtype=np.float32), (width, height), interpolation=interp)


def build_spec(
    input_pattern: str,
    masks: dict[str, str],
    styles: dict[str, str],
    *,
    frames: str | None = None,
    method: str = "lookgrid",
    stride: int = 1,
    input_colorspace: str = "",
    model: str | None = None,
    output: str = "",
):
    """A :class:`lookgrid.engine.spec.ClipSpec` for one clip: masked regions in ``masks`` order, then
    the background; every region (background included) needs a style path."""
    names = list(masks) + [BACKGROUND]
    missing = [n for n in names if n not in styles]
    extra = [n for n in styles if n not in names]
    if missing:
        raise InvalidInputError(f"region(s) {', '.join(missing)} have no --style")
    if extra:
        raise InvalidInputError(f"--style for unknown region(s) {', '.join(extra)} (no --mask of that name)")
    regions = [RegionSpec(n, masks[n], [StyleTrack(styles[n])]) for n in masks]
    regions.append(RegionSpec(BACKGROUND, None, [StyleTrack(styles[BACKGROUND])]))
    return ClipSpec(
        input=input_pattern,
        frames=frames,
        input_colorspace=input_colorspace,
        output=output or "/nonexistent-lookgrid-eval/out.%05d.exr",
        regions=regions,
        stride=stride,
        method=method,
        model=model,
    )


def suite_spec(clip, data: Path, *, frames: str | None = None, model: str | None = None):
    """The spec of suite clip ``clip`` (:class:`lookgrid.eval.suites.SuiteClip`) with its files under
    ``data``: region ``fg`` with its mask, then the background (:func:`build_spec`)."""
    return build_spec(
        str(data / clip.frames),
        {"fg": str(data / clip.mask)},
        {"fg": str(data / clip.fg_style), "background": str(data / clip.bg_style)},
        frames=frames,
        model=model,
    )


def load_clip(name: str, spec, engine, *, max_frames: int | None = None, max_height: int | None = 480) -> EvalClip:
    """Read a clip described by ``spec`` (see :func:`build_spec`) into an :class:`EvalClip`.

    Frames beyond the first ``max_frames`` are skipped; frames taller than ``max_height`` are scaled
    down (area filter), masks bilinearly to the same size.
    """
    io = SequenceIO(spec.validate(need_paths=True))
    numbers = io.frames[:max_frames] if max_frames else list(io.frames)
    frames: list[np.ndarray] = []
    masks: dict[str, list[np.ndarray]] = {r.name: [] for r in spec.regions if not r.is_background}
    for f in numbers:
        fin = io.read(f)
        img = np.nan_to_num(np.asarray(fin.working, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        h, w = img.shape[:2]
        if max_height and h > max_height:
            h, w = int(max_height), max(1, int(round(w * max_height / h)))
        frames.append(_resize(img, h, w))
        for rname, plane in fin.masks.items():
            masks[rname].append(np.clip(_resize(plane, h, w), 0.0, 1.0))
    styles = {r.name: np.asarray(engine.style_image(r.styles[0].style), np.float32) for r in spec.regions}
    keys = {r.name: r.styles[0].style for r in spec.regions}
    patterns = {r.name: r.mask for r in spec.regions if not r.is_background}
    return EvalClip(name, frames, masks, styles, keys, list(numbers), patterns).validate()


# ------------------------------------------------------------------------------------------------
# rendering (the one place that calls the engine)
# ------------------------------------------------------------------------------------------------
@dataclass
class MethodRun:
    """One method's outputs ``T x (H, W, 3)`` working space and its per-frame compute seconds."""

    method: str
    outputs: list[np.ndarray]
    seconds: list[float]

    @property
    def ms_per_frame(self) -> float:
        return M.ms_per_frame(float(np.sum(self.seconds)), len(self.seconds))


def render_method(
    engine,
    clip: EvalClip,
    method: str,
    *,
    stride: int = 1,
    smooth: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> MethodRun:
    """Render every frame of ``clip`` with ``method`` through ``engine`` (in order, in memory).

    Analysis (grids, temporal state) happens inside :meth:`Clip.render` and is included in the
    per-frame time. With ``stride > 1`` the low-resolution inputs of all frames are handed to the
    clip first (:meth:`Clip.provide`, not timed) so that a frame can use the next analysed frame;
    likewise with ``smooth > 0`` (``spec.smooth``: the whole shot is analysed before the first frame
    renders, so that frame's time holds the whole analysis). Row ``smoothed`` is ``lookgrid`` with
    ``smooth`` (or :data:`SMOOTHED_SIGMA` when 0).
    """

    if method not in ROWS:
        raise InvalidInputError(f"unknown method {method!r}; choose from {', '.join(ROWS)}")
    if method in CLASSICAL:
        return render_classical(clip, method, progress=progress)
    for name, img in clip.styles.items():
        engine.register_style(clip.style_keys[name], img)
    regions = [
        RegionSpec(n, clip.mask_patterns.get(n) or f"{n}.%05d.png", [StyleTrack(clip.style_keys[n])])
        for n in clip.masks
    ]
    regions.append(RegionSpec(BACKGROUND, None, [StyleTrack(clip.style_keys[BACKGROUND])]))
    frozen = method == "frozen"
    if method in SMOOTHED:
        smooth = smooth or SMOOTHED_SIGMA
    spec = ClipSpec(
        input=f"{clip.name}.%05d.exr",
        output=f"{clip.name}.out.%05d.exr",
        regions=regions,
        stride=stride,
        method="lookgrid" if frozen or method in SMOOTHED else method,
        smooth=smooth,
    )
    ec = engine.open_clip(spec, frames=clip.frame_numbers)
    outputs, seconds = [], []
    try:
        masks_at = [{n: clip.masks[n][t] for n in clip.masks} for t in range(len(clip.frames))]
        if (stride > 1 or smooth > 0) and get_method(spec.method).analysed:
            for t, f in enumerate(clip.frame_numbers):
                ec.provide(f, clip.frames[t], masks_at[t])
        fixed = None
        for t, f in enumerate(clip.frame_numbers):
            t0 = time.perf_counter()
            if frozen and fixed is not None:
                out = ec.render_with_grids(clip.frames[t], masks_at[t], *fixed)
            else:
                out = ec.render(f, clip.frames[t], masks_at[t])
                if frozen:
                    fixed = (ec.grids_at(f), ec.strength_at(f))
            seconds.append(time.perf_counter() - t0)
            outputs.append(np.asarray(out, np.float32))
            if progress is not None:
                progress(t + 1, len(clip.frames))
    finally:
        engine.close_clip(ec.id)
    return MethodRun(method, outputs, seconds)


def render_classical(clip: EvalClip, kind: str, *, progress: Callable[[int, int], None] | None = None) -> MethodRun:
    """Every frame of ``clip`` through the classical per-region transfer ``kind``
    (:func:`lookgrid.eval.classical.transfer`, re-fitted per frame; the references' statistics once,
    untimed)."""
    refs = [classical.reference(clip.styles[n]) for n in clip.region_names]
    outputs, seconds = [], []
    for t, frame in enumerate(clip.frames):
        t0 = time.perf_counter()
        outputs.append(classical.transfer(frame, clip.all_masks(t), refs, kind))
        seconds.append(time.perf_counter() - t0)
        if progress is not None:
            progress(t + 1, len(clip.frames))
    return MethodRun(kind, outputs, seconds)


def warm_up(engine, clip: EvalClip, methods: Sequence[str], *, smooth: float = 0.0) -> None:
    """Render the first two frames of ``clip`` with each method, untimed, so one-off costs (model
    loading, kernel compilation, thread pools) are not charged to the first measured clip."""
    short = EvalClip(
        clip.name,
        clip.frames[:2],
        {n: m[:2] for n, m in clip.masks.items()},
        clip.styles,
        clip.style_keys,
        clip.frame_numbers[:2],
        clip.mask_patterns,
    )
    for method in methods:
        render_method(engine, short, method, smooth=smooth)


# ------------------------------------------------------------------------------------------------
# measuring
# ------------------------------------------------------------------------------------------------
@dataclass
class MetricSettings:
    """Knobs of :func:`measure` (all fixed for comparability; recorded in the JSON)."""

    flow_preset: str = "medium"
    style_pixels: int = 10000
    swd_projections: int = 64
    seed: int = 0
    style_every: int = 1  # style/structure/halo on every n-th frame
    halo_inner: float = 3.0
    halo_width: float = 16.0
    lowpass_sigma: float = M.LOWPASS_SIGMA


@dataclass
class ClipContext:
    """Per-clip data shared by every method: input flows and reference Lab samples."""

    flows: list[M.FlowPair]
    input_warping: np.ndarray
    reference_lab: dict[str, np.ndarray]
    input_luma: list[np.ndarray]
    reference_quantiles: dict[str, np.ndarray]
    input_warping_lowpass: np.ndarray
    #: region -> share of the frame it covers (mean over frames)
    coverage: dict[str, float] = field(default_factory=dict)


def prepare(clip: EvalClip, settings: MetricSettings) -> ClipContext:
    """Input flows (forward, visibility), the input's own warping error, reference Lab samples."""
    flows = M.input_flows(clip.frames, settings.flow_preset)
    ref = {
        name: working_to_lab(
            M.sample_pixels(np.nan_to_num(img.reshape(-1, 3).astype(np.float64)), settings.style_pixels, settings.seed)
        )
        for name, img in clip.styles.items()
    }
    luma = [M.display_luma_of(M.display(f)) for f in clip.frames]
    quant = {
        name: M.projected_quantiles(lab, n_projections=settings.swd_projections, seed=settings.seed)
        for name, lab in ref.items()
    }
    disp = [M.display(f) for f in clip.frames]
    masks = [clip.all_masks(t) for t in range(len(clip.frames))]
    coverage = {name: M.region_coverage([m[k] for m in masks]) for k, name in enumerate(clip.region_names)}
    return ClipContext(
        flows,
        M.warping_errors_display(disp, flows),
        ref,
        luma,
        quant,
        M.warping_errors_display(disp, flows, lowpass_sigma=settings.lowpass_sigma),
        coverage,
    )


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def measure(
    clip: EvalClip,
    outputs: Sequence[np.ndarray],
    ctx: ClipContext,
    settings: MetricSettings,
    *,
    seconds: Sequence[float] | None = None,
) -> dict:
    """All metrics of one method on one clip, as a JSON-ready dict.

    Keys: ``warping_error`` (mean over pairs), ``warping_error_per_frame`` (list, T-1),
    ``warping_ratio`` (output / input), ``warping_error_lowpass`` and ``lowpass_ratio`` (the same
    after a Gaussian blur of ``settings.lowpass_sigma`` px), ``style`` (region -> ``{"lab_moments", "swd"}`` means over
    frames), ``pumping`` (grade pumping, mean over regions; ``pumping_per_region``: region -> value,
    :func:`lookgrid.eval.metrics.grade_pumping`), ``swd_small`` (mean SWD of the regions covering
    under :data:`lookgrid.eval.metrics.SMALL_REGION` of the frame; None when the clip has none),
    ``structure`` (mean SSIM structure term vs the input), ``halo`` (mean over frames;
    None if no region has an edge with room around it), ``ms_per_frame`` (None for the input row).
    """
    if len(outputs) != len(clip.frames):
        raise InvalidInputError(f"{len(outputs)} outputs for a clip of {len(clip.frames)} frames")
    disp = [M.display(o) for o in outputs]
    per_pair = M.warping_errors_display(disp, ctx.flows)
    e_in = float(ctx.input_warping.mean())
    e_out = float(per_pair.mean())
    e_in_lp = float(ctx.input_warping_lowpass.mean())
    e_out_lp = float(M.warping_errors_display(disp, ctx.flows, lowpass_sigma=settings.lowpass_sigma).mean())
    style: dict[str, dict] = {}
    structure, halo = [], []
    names = clip.region_names
    for t in range(0, len(outputs), max(1, settings.style_every)):
        masks = clip.all_masks(t)
        for k, name in enumerate(names):
            d = M.region_style_distance(
                outputs[t],
                masks[k],
                ctx.reference_lab[name],
                max_pixels=settings.style_pixels,
                seed=settings.seed,
                n_projections=settings.swd_projections,
                reference_quantiles=ctx.reference_quantiles[name],
            )
            if d is not None:
                acc = style.setdefault(name, {"lab_moments": [], "swd": []})
                acc["lab_moments"].append(d.lab_moments)
                acc["swd"].append(d.swd)
        y_out = M.display_luma_of(disp[t])
        structure.append(M.structure_similarity_luma(ctx.input_luma[t], y_out))
        halo.append(
            M.halo_ratio_luma(ctx.input_luma[t], y_out, masks, inner=settings.halo_inner, width=settings.halo_width)
        )
    all_masks = [clip.all_masks(t) for t in range(len(outputs))]
    pumping = {
        name: M.grade_pumping(M.region_grade_offsets(clip.frames, outputs, [m[k] for m in all_masks]))
        for k, name in enumerate(names)
    }
    small = [n for n in names if ctx.coverage.get(n, 1.0) < M.SMALL_REGION]
    style_out = {n: {"lab_moments": _mean(v["lab_moments"]), "swd": _mean(v["swd"])} for n, v in style.items()}
    return {
        "warping_error": e_out,
        "warping_error_per_frame": [float(v) for v in per_pair],
        "warping_ratio": e_out / e_in if e_in > 0 else None,
        "warping_error_lowpass": e_out_lp,
        "lowpass_ratio": e_out_lp / e_in_lp if e_in_lp > 0 else None,
        "style": style_out,
        "pumping": _mean(pumping.values()),
        "pumping_per_region": pumping,
        "swd_small": _mean(style_out[n]["swd"] for n in small if n in style_out),
        "coverage": dict(ctx.coverage),
        "structure": _mean(structure),
        "halo": _mean(halo),
        "ms_per_frame": M.ms_per_frame(float(np.sum(seconds)), len(seconds)) if seconds else None,
    }


@dataclass
class ClipResult:
    """Metrics of every row (input + methods) of one clip, plus the runs for sheets and plots."""

    clip: EvalClip
    rows: dict[str, dict]
    runs: dict[str, MethodRun]

    def to_dict(self) -> dict:
        c = self.clip
        return {
            "clip": c.name,
            "frames": c.frame_numbers,
            "resolution": [int(c.frames[0].shape[1]), int(c.frames[0].shape[0])],
            "regions": c.region_names,
            "references": dict(c.style_keys),
            "methods": self.rows,
        }


def with_frames(clip: EvalClip, frames: list[np.ndarray], name: str | None = None) -> EvalClip:
    """The same clip (masks, references, frame numbers) with other pixels ``T x (H, W, 3)``."""
    return EvalClip(
        name or clip.name, frames, clip.masks, clip.styles, clip.style_keys, clip.frame_numbers, clip.mask_patterns
    ).validate()


def zoomed_out(clip: EvalClip, factor: int) -> EvalClip:
    """``clip`` as a wider shot: each frame ``(H,W,3)`` shrunk by ``factor`` (area filter) into the
    middle of the frame and mirrored out to ``(H,W)`` again (reflect padding: the frame's own
    texture, no black border), its masks shrunk alike and zero outside. A masked region then covers
    ``1/factor²`` of what it did (a region of 10 % becomes ~1.1 % at 3), with its own pixels and
    reference, as an object seen from further away; the mirrored copies around it are background."""
    if factor < 1:
        raise InvalidInputError(f"zoom-out factor must be >= 1, got {factor}")
    if factor == 1:
        return clip
    h, w = clip.frames[0].shape[:2]
    sh, sw = max(1, round(h / factor)), max(1, round(w / factor))
    top, left = (h - sh) // 2, (w - sw) // 2
    pads = ((top, h - sh - top), (left, w - sw - left))

    def frame(img: np.ndarray) -> np.ndarray:
        return np.pad(_resize(img, sh, sw), pads + ((0, 0),), mode="symmetric")

    def mask(plane: np.ndarray) -> np.ndarray:
        return np.pad(np.clip(_resize(plane, sh, sw), 0.0, 1.0), pads)

    masks = {name: [mask(m) for m in seq] for name, seq in clip.masks.items()}
    return EvalClip(
        f"{clip.name}@1/{factor}",
        [frame(f) for f in clip.frames],
        masks,
        clip.styles,
        clip.style_keys,
        clip.frame_numbers,
        clip.mask_patterns,
    ).validate()


def evaluate_clip(
    engine,
    clip: EvalClip,
    methods: Sequence[str],
    *,
    stride: int = 1,
    smooth: float = 0.0,
    settings: MetricSettings | None = None,
    grain: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> ClipResult:
    """Render ``clip`` with each method and measure every method and the untouched input.

    ``grain > 0``: every method renders the frames with fresh per-frame grain of that sigma
    (display units, :func:`lookgrid.eval.metrics.grain_frames`, seeded with ``settings.seed``) and
    is measured against the clean clip (the input row stays the clean input), and a
    :data:`GRAIN_ROW` row measures the grainy frames themselves.
    """
    settings = settings or MetricSettings()
    say = log or (lambda s: None)
    t0 = time.perf_counter()
    ctx = prepare(clip, settings)
    say(f"{clip.name}: input flows for {len(clip.frames)} frames in {time.perf_counter() - t0:.1f} s")
    rows = {INPUT_ROW: measure(clip, clip.frames, ctx, settings)}
    runs: dict[str, MethodRun] = {}
    source = with_frames(clip, M.grain_frames(clip.frames, grain, settings.seed)) if grain > 0 else clip
    if grain > 0:
        rows[GRAIN_ROW] = measure(clip, source.frames, ctx, settings)
    for method in methods:
        t1 = time.perf_counter()
        run = render_method(engine, source, method, stride=stride, smooth=smooth)
        runs[method] = run
        rows[method] = measure(clip, run.outputs, ctx, settings, seconds=run.seconds)
        say(
            f"{clip.name}: {method} rendered at {run.ms_per_frame:.0f} ms/frame, measured "
            f"(total {time.perf_counter() - t1:.1f} s)"
        )
    return ClipResult(clip, rows, runs)


# ------------------------------------------------------------------------------------------------
# the cut measure
# ------------------------------------------------------------------------------------------------
def cut_clip(first: EvalClip, second: EvalClip, frames_each: int) -> tuple[EvalClip, EvalClip]:
    """Two shots back to back: the first ``frames_each`` frames of ``first``, then of ``second``
    (scaled to ``first``'s size, its masks under ``first``'s region names, in order), with
    ``first``'s references on both. Returns ``(cut, fresh)``: the joined clip (frames numbered
    0..2K-1) and the second shot alone with the same references (numbered 0..K-1), the fresh start
    the cut is compared with."""
    k = int(frames_each)
    if k < 1 or len(first.frames) < k or len(second.frames) < k:
        raise InvalidInputError(
            f"a cut of {k} frames per shot needs {k} frames in {first.name!r} "
            f"({len(first.frames)}) and {second.name!r} ({len(second.frames)})"
        )
    if len(first.masks) != len(second.masks):
        raise InvalidInputError(f"shots {first.name!r} and {second.name!r} have different numbers of regions")
    h, w = first.frames[0].shape[:2]
    frames2 = [_resize(f, h, w) for f in second.frames[:k]]
    masks2 = {
        n: [np.clip(_resize(m, h, w), 0.0, 1.0) for m in seq[:k]] for n, seq in zip(first.masks, second.masks.values())
    }
    name = f"{first.name}|{second.name}"
    fresh = EvalClip(
        f"{second.name}-fresh", frames2, masks2, first.styles, first.style_keys, list(range(k)), first.mask_patterns
    ).validate()
    cut = EvalClip(
        name,
        first.frames[:k] + frames2,
        {n: first.masks[n][:k] + masks2[n] for n in first.masks},
        first.styles,
        first.style_keys,
        list(range(2 * k)),
        first.mask_patterns,
    ).validate()
    return cut, fresh


def measure_cut(
    engine,
    cut: EvalClip,
    fresh: EvalClip,
    method: str,
    *,
    stride: int = 1,
    smooth: float = 0.0,
    threshold: float = M.CUT_THRESHOLD,
) -> dict:
    """Render ``cut`` and ``fresh`` (see :func:`cut_clip`) with ``method``; ``{"distance_per_frame":
    [d_0, ...], "frames_carried": n}`` (:func:`lookgrid.eval.metrics.frames_carried`)."""
    k = len(fresh.frames)
    whole = render_method(engine, cut, method, stride=stride, smooth=smooth).outputs[-k:]
    alone = render_method(engine, fresh, method, stride=stride, smooth=smooth).outputs
    dist = [M.look_distance(a, b) for a, b in zip(whole, alone)]
    return {
        "clip": cut.name,
        "distance_per_frame": dist,
        "frames_carried": M.frames_carried(dist, threshold),
        "threshold": threshold,
    }


def _clip_swd(row: dict) -> float | None:
    """A row's SWD on one clip: the mean over its regions."""
    return _mean(s["swd"] for s in row["style"].values())


def summarize(results: Sequence[ClipResult], baseline: str = "reinhard") -> dict:
    """Per row: the mean of each scalar metric over clips (style: over clips and regions).

    With a ``baseline`` row present: ``swd_vs_baseline`` (mean over clips of the row's SWD over the
    baseline's on that clip) and ``swd_vs_baseline_max`` (the worst clip's ratio, small regions
    counted as their own entries where a clip has any)."""
    rows = {}
    names = list(results[0].rows) if results else []
    for row in names:
        vals = [r.rows[row] for r in results if row in r.rows]
        style_lm = [s["lab_moments"] for v in vals for s in v["style"].values()]
        style_swd = [s["swd"] for v in vals for s in v["style"].values()]
        ratios, worst = [], []
        for r in results:
            if row in r.rows and baseline in r.rows:
                a, b = _clip_swd(r.rows[row]), _clip_swd(r.rows[baseline])
                if a is not None and b:
                    ratios.append(a / b)
                    worst.append(a / b)
                a, b = r.rows[row].get("swd_small"), r.rows[baseline].get("swd_small")
                if a is not None and b:
                    worst.append(a / b)
        rows[row] = {
            "warping_error": _mean(v["warping_error"] for v in vals),
            "warping_ratio": _mean(v["warping_ratio"] for v in vals),
            "lowpass_ratio": _mean(v.get("lowpass_ratio") for v in vals),
            "style_lab_moments": _mean(style_lm),
            "style_swd": _mean(style_swd),
            "swd_small": _mean(v.get("swd_small") for v in vals),
            "swd_vs_baseline": _mean(ratios),
            "swd_vs_baseline_max": max(worst) if worst else None,
            "pumping": _mean(v.get("pumping") for v in vals),
            "structure": _mean(v["structure"] for v in vals),
            "halo": _mean(v["halo"] for v in vals),
            "ms_per_frame": _mean(v["ms_per_frame"] for v in vals),
        }
    return rows
