"""Export a clip's per-region looks as files: LUT (CLF, .cube), ASC CDL, OpenColorIO Looks, mattes.

The job behind ``lookgrid look export`` and the ``ExportLook`` RPC. For the frames asked for it
reads each frame, takes the clip's per-region grids with their strengths (the engine's analysis,
temporal state included) and the full-resolution mattes (the render's blend weights, background
included), accumulates each region's look statistics (:func:`lookgrid.model.look.look_stats`) and
turns them into one LUT per region (:func:`lookgrid.model.look.look_lut`: the matte-weighted mean of
the region's local transforms over all those frames — a *shot look*; one frame gives a frame look).

Files, per region ``R`` in ``out/`` (``formats`` picks among clf, cube, cdl, ocio):

* ``R.clf`` — shot colour space in and out (the CLF carries the conversions to and from ACEScct);
* ``R.acescct.clf`` — the LUT alone in ACEScct (what the config's Look references);
* ``R.cube`` — ``resolve_cube`` baked by OpenColorIO, ACEScct in and out (named in its header);
* ``R.cc`` — ASC CDL fitted by least squares to the LUT at the region's own colours;
* ``config.ocio`` — the clip's config plus a Look ``lookgrid-R`` per region;
* ``R.matte.####.exr`` — the matte per frame (RGBA, all four the matte), always written.

Nothing is written unless everything succeeds: files go to a staging folder inside ``out/`` and are
moved into place at the end (each move atomic); a failed run removes its staging folder, and a
staging folder left by a killed run is removed by the next run. The job also keeps a sample of each
region's pixels (shot colours in, LookGrid's render out) so the caller can measure how faithfully
the exported files reproduce the render (:mod:`lookgrid.eval.looks`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from lookgrid.engine.io import SequenceIO
from lookgrid.engine.lookbake import KEY_PATTERN, BakeRegion, bake_files, key_mattes
from lookgrid.engine.lookfidelity import Fidelity, fidelity, file_result
from lookgrid.engine.lookfiles import commit, staging, write_matte, write_region_files
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import CancelledError, InvalidInputError
from lookgrid.imaging import format_frame_ranges, pinned_config
from lookgrid.imaging.looks import look_config_text, write_text
from lookgrid.model.blend import pixel_blend_weights
from lookgrid.model.grid import apply_strength
from lookgrid.model.guide import region_code_map
from lookgrid.model.look import (
    LUT_SIZES,
    CDLFit,
    global_lut,
    guide_of,
    look_lut,
    look_stats,
)
from lookgrid.model.render import blend_mode, blended_grid

FORMATS = ("clf", "cube", "cdl", "ocio")
STAGING_PREFIX = ".lookgrid-export-"
#: pixels sampled per region (over all frames) for the fidelity measurement and the CDL fit
SAMPLES = 40000
MATTE_PATTERN = "{region}.matte.%04d.exr"  # region names hold no "%" (ClipSpec.validate)


@dataclass
class RegionLook:
    """One region's look: statistics per frame (:class:`lookgrid.model.look.LookStats`), its LUT and
    the pixel samples ``shot (P,3)`` (input, shot space), ``working (P,3)`` (input, working space) and
    ``render (P,3)`` (LookGrid's output, working space) from inside its matte (weight ≥ 0.5)."""

    name: str
    stats: list = field(default_factory=list)
    shot: list = field(default_factory=list)
    working: list = field(default_factory=list)
    render: list = field(default_factory=list)
    lut: np.ndarray | None = None
    cdl: CDLFit | None = None
    #: per frame, per reference of the region's style track: the statistics of that reference's own
    #: grid (no weight, no strength) under the region's matte (``per_reference`` collections only)
    ref_stats: list = field(default_factory=list)
    #: per frame: ``(weights, strength)`` the render used (weights normalised, one per reference)
    mix: list = field(default_factory=list)
    #: per sample: the position of its frame in the collection's frame list
    sample_frame: list = field(default_factory=list)
    #: per sample: every region's blend weight at its pixel ``(P, N)``
    sample_blend: list = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # the style of each reference

    def total(self, frames: slice | None = None):
        """Sum of the per-frame statistics (all frames, or ``frames`` of the list)."""
        items = self.stats if frames is None else self.stats[frames]
        out = items[0]
        for s in items[1:]:
            out = out + s
        return out

    def ref_totals(self, frames: slice | None = None) -> list:
        """Per reference, the sum of its statistics over ``frames`` (a slice of the frame list)."""
        items = self.ref_stats if frames is None else self.ref_stats[frames]
        out = list(items[0])
        for per_frame in items[1:]:
            out = [a + b for a, b in zip(out, per_frame)]
        return out

    def frame_of_samples(self) -> np.ndarray:
        return np.concatenate(self.sample_frame) if self.sample_frame else np.zeros(0, np.int64)

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros((0, 3), np.float32)  # noqa: E731
        return cat(self.shot), cat(self.working), cat(self.render)


@dataclass
class LookCollection:
    """What :func:`collect_looks` gathered over the frames: regions in the clip's order."""

    regions: list[RegionLook]
    frames: list[int]
    frame_area: float  # Σ over frames of H·W
    shot_space: str
    config: str  # the OpenColorIO config, pinned (imaging.pinned_config)
    guide: Callable  # lookgrid.model.look.Guide of the clip's model
    seconds: float = 0.0


@dataclass
class LookExport:
    """Result of :func:`export_look`: the collection, the LUT size, the global (whole-frame) LUT
    and the files written (final paths)."""

    collection: LookCollection
    size: int
    global_lut: np.ndarray
    files: list[str]
    out: str
    exported: list[str] = field(default_factory=list)  # the regions whose files were written
    #: region -> its CLF (shot look) against LookGrid's render inside its matte
    fidelity: dict[str, Fidelity] = field(default_factory=dict)
    #: region -> what a native-node bake needs (``export_look(..., bake=True)`` only)
    bake: dict[str, BakeRegion] = field(default_factory=dict)

    def key_pattern(self, region: str) -> str:
        return os.path.join(self.out, KEY_PATTERN.format(region=region))

    def clf_path(self, region: str) -> str:
        return os.path.join(self.out, f"{region}.clf")


def matte_pattern(out: str | os.PathLike, region: str) -> str:
    """The ``%04d`` pattern of a region's matte frames in ``out`` (Nuke, OIIO and ffmpeg read it)."""
    return os.path.join(os.fspath(out), MATTE_PATTERN.format(region=region))


def _check_request(spec: ClipSpec, size: int, formats: Sequence[str], regions: Sequence[str] | None):
    if spec.method not in ("lookgrid", "per-frame"):
        raise InvalidInputError(
            f"method {spec.method!r} has no per-region grids to export as a look (use lookgrid or per-frame)"
        )
    if size not in LUT_SIZES:
        raise InvalidInputError(f"LUT size must be one of {', '.join(map(str, LUT_SIZES))}, got {size}")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InvalidInputError(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    names = [r.name for r in spec.regions]
    for r in regions or []:
        if r not in names:
            raise InvalidInputError(f"no region named {r!r}; regions are {', '.join(names)}")


def _sample(mask: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` flat pixel indices where ``mask`` is true, drawn without replacement."""
    idx = np.flatnonzero(mask)
    if idx.size > n:
        idx = np.sort(np.random.default_rng(seed).choice(idx, n, replace=False))
    return idx


def collect_looks(
    engine,
    spec: ClipSpec,
    frames: Sequence[int] | None = None,
    *,
    on_frame: Callable | None = None,
    progress: Callable | None = None,
    cancel: Callable[[], bool] | None = None,
    samples: int = SAMPLES,
    per_reference: bool = False,
) -> LookCollection:
    """Read, analyse and render ``frames`` of the clip and gather every region's look statistics.

    ``frames``: frame numbers of the clip (default: all). ``on_frame(frame, names, weights (N,H,W))``
    is called per frame with the mattes (the export writes them); ``progress(done, total, frame)``.
    ``per_reference``: also each reference's own statistics per frame (:attr:`RegionLook.ref_stats`;
    the blend mode must be "pixel", where a region's look is exactly its references' looks mixed).
    """
    t0 = time.perf_counter()
    if not spec.output:  # the export writes no frames; SequenceIO wants an output pattern
        spec = replace(spec, output=os.path.join(tempfile.gettempdir(), "lookgrid-look-unused.%04d.exr"))
    io = SequenceIO(spec)
    todo = list(io.frames if frames is None else frames)
    if not todo:
        raise InvalidInputError("no frames to export")
    outside = sorted(set(todo) - set(io.frames))
    if outside:
        raise InvalidInputError(
            f"frame(s) {', '.join(map(str, outside[:5]))} are outside the clip (frames {io.frames[0]}-{io.frames[-1]})"
        )
    clip = engine.open_clip(spec, frames=io.frames, loader=io.load)
    try:
        names = [r.name for r in clip.regions]
        looks = [RegionLook(n) for n in names]
        net = engine.model
        grid_mode = blend_mode(net) == "grid"
        if per_reference and grid_mode:
            raise InvalidInputError(
                'per-reference looks need the model\'s "pixel" blend mode: in "grid" '
                "mode regions bleed into each other's grid cells"
            )
        for look, region in zip(looks, clip.regions):
            look.references = [st.style for st in region.styles]
        per_frame = max(1, samples // len(todo))
        area = 0.0
        for n, frame in enumerate(todo, 1):
            if cancel is not None and cancel():
                raise CancelledError("look export cancelled")
            frame_in = io.read(frame)
            image, masks = clip.inputs(frame_in.working, frame_in.masks)
            grids = clip.grids_at(frame)
            strength = clip.strength_at(frame)
            rendered = clip.render_tensors(frame, image, masks)
            with torch.inference_mode():
                if grid_mode:
                    g, _ = blended_grid(net, image, masks, grids, strength)
                    region_grids = g.unsqueeze(0).expand(len(names), *g.shape)
                else:
                    region_grids = apply_strength(grids, strength)
            weights = pixel_blend_weights(masks)[0].cpu()  # (N,H,W)
            code = region_code_map(masks)[0, 0].cpu()  # (H,W)
            h, w = code.shape
            area += float(h * w)
            shot = frame_in.image.rgb().reshape(-1, 3)
            working = np.asarray(frame_in.working, np.float32).reshape(-1, 3)
            out = rendered[0].permute(1, 2, 0).cpu().numpy().reshape(-1, 3)
            mix = clip.weights_at(frame)
            per_style = clip.region_grids(frame) if per_reference else None
            for k, look in enumerate(looks):
                look.stats.append(look_stats(region_grids[k].cpu(), code, weights[k]))
                look.mix.append((list(mix[k]), float(strength[k])))
                if per_style is not None:
                    look.ref_stats.append([look_stats(g.cpu(), code, weights[k]) for g in per_style[k]])
                idx = _sample(weights[k].numpy().reshape(-1) >= 0.5, per_frame, seed=frame * 131 + k)
                look.sample_frame.append(np.full(len(idx), n - 1, np.int64))
                look.sample_blend.append(weights.numpy().reshape(len(names), -1)[:, idx].T)
                look.shot.append(shot[idx])
                look.working.append(working[idx])
                look.render.append(out[idx])
            if on_frame is not None:
                on_frame(frame, names, weights.numpy())
            if progress is not None:
                progress(n, len(todo), frame)
        assert io.input_colorspace is not None  # decided by the first frame read
        return LookCollection(
            regions=looks,
            frames=todo,
            frame_area=area,
            shot_space=io.input_colorspace,
            config=pinned_config(spec.config),
            guide=guide_of(net.guide_net),
            seconds=time.perf_counter() - t0,
        )
    finally:
        engine.close_clip(clip.id)


def region_luts(collection: LookCollection, size: int, frames: slice | None = None):
    """Per-region LUTs ``(K,S,S,S,3)`` and the global LUT ``(S,S,S,3)`` (float64 tensors) from the
    collection's statistics over ``frames`` (a slice of its frame list; default all)."""
    totals = [r.total(frames) for r in collection.regions]
    luts = torch.stack([look_lut(t, collection.guide, size) for t in totals])
    n_frames = len(collection.frames[frames] if frames is not None else collection.frames)
    frame_area = collection.frame_area * n_frames / len(collection.frames)
    areas = torch.tensor([t.total for t in totals], dtype=torch.float64)
    return luts, global_lut(luts, areas, frame_area)


def _describe(region: str, collection: LookCollection, size: int) -> str:
    return (
        f"LookGrid look of region '{region}', frames {format_frame_ranges(collection.frames)}: "
        f"the matte-weighted mean of the region's local colour transforms, as a {size}^3 LUT "
        f"on ACEScct [0, 1]; OpenColorIO config {collection.config}"
    )


def export_look(
    engine,
    spec: ClipSpec,
    out: str | os.PathLike,
    frames: Sequence[int] | None = None,
    *,
    size: int = 33,
    formats: Sequence[str] = FORMATS,
    regions: Sequence[str] | None = None,
    progress: Callable | None = None,
    cancel: Callable[[], bool] | None = None,
    bake: bool = False,
) -> LookExport:
    """Run the export (see the module docstring). ``regions``: names to export (default all, the
    background included); mattes are written for those regions, every frame. Each exported
    region's CLF is measured against LookGrid's render (:attr:`LookExport.fidelity`).

    ``bake``: also what a native-node bake needs (:class:`BakeRegion` per region): per region one
    LUT per reference of its style track over all the frames (``R.ref<i>.acescct.clf``, and
    ``.cube``); the Keymix masks of a region-order chain (``R.key.####.exr``, :func:`key_mattes`);
    the weights and strength of every frame; the fidelity of the references dissolved with the
    weights and mixed toward the input with the strength (:func:`dissolve`), the way the native
    graph does it; and the frame ranges over which the look holds or changes (:func:`look_segments`),
    each with its own look (``R.<first>-<last>.clf`` / ``.cube``) when there are several, for hosts
    that cannot keyframe."""
    formats = list(dict.fromkeys(formats or FORMATS))
    _check_request(spec, size, formats, regions)
    want = set(regions or [r.name for r in spec.regions] + ["background"])
    if bake and regions:
        raise InvalidInputError(
            "a bake exports every region (the native graph's Keymix chain needs them all): leave the region list empty"
        )
    out = Path(out)
    stage, created = staging(out)
    done = False
    try:

        def write_mattes(frame, names, weights):
            keys = key_mattes(weights) if bake else None
            for k, name in enumerate(names):
                if name in want:
                    write_matte(stage / (MATTE_PATTERN.format(region=name) % frame), weights[k], "half")
                if keys is not None:  # every region: the chain needs all of them
                    write_matte(stage / (KEY_PATTERN.format(region=name) % frame), keys[k], "float")

        col = collect_looks(
            engine, spec, frames, on_frame=write_mattes, progress=progress, cancel=cancel, per_reference=bake
        )
        luts, glob = region_luts(col, size)
        cfg = col.config
        looks_in_config = {}
        for k, look in enumerate(col.regions):
            look.lut = luts[k].numpy()
            if look.name not in want:
                continue
            desc = _describe(look.name, col, size)
            look.cdl = write_region_files(
                stage,
                look.name,
                luts[k],
                look.samples()[1],
                formats,
                config=cfg,
                shot_space=col.shot_space,
                description=desc,
            )
            if "clf" in formats or "ocio" in formats:
                looks_in_config[f"lookgrid-{look.name}"] = (f"{look.name}.acescct.clf", desc)
        if "ocio" in formats:
            write_text(stage / "config.ocio", look_config_text(looks_in_config, config=cfg, folder=stage))
        measured = {}
        for look in col.regions:
            if look.name in want and "clf" in formats:
                shot, _, render = look.samples()
                measured[look.name] = (
                    fidelity(render, file_result(stage / f"{look.name}.clf", shot, col.shot_space, cfg))
                    if len(shot)
                    else None
                )
        baked = bake_files(col, size, formats, stage, out) if bake else {}
        files = commit(stage, out)
        done = True
        return LookExport(
            collection=col,
            size=size,
            global_lut=glob.numpy(),
            files=files,
            out=str(out),
            exported=[r.name for r in col.regions if r.name in want],
            fidelity={k: v for k, v in measured.items() if v is not None},
            bake=baked,
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not done:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if empty: the folder this failed run made
