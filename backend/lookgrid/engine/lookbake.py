"""The look as native nodes (issue 26): what a host's graph needs beyond the shot look.

A region's LUT is linear in its grid (:mod:`lookgrid.model.look`); the render blends the references'
grids of a region linearly with the weight curves, applies strength as a mix toward the identity, and
the guide does not depend on the style. So one LUT per reference of the region's style track,
dissolved with the weights and mixed toward the input with the strength (:func:`dissolve`), is the
LUT of the blended grid at every frame (:func:`dissolve_lut`; tests prove it numerically). The regions
are blended as the render blends them by a Keymix chain in region order over :func:`key_mattes`.

:func:`bake_files` writes, for :func:`lookgrid.engine.look.export_look` with ``bake``, the reference
LUTs, the looks per frame range (:func:`look_segments`) and measures the whole graph against the
render on the export's samples. It takes the export's collection (:class:`lookgrid.engine.look.
LookCollection`, its regions :class:`lookgrid.engine.look.RegionLook`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lookgrid.engine.lookfidelity import Fidelity, fidelity, file_result, working_file_result
from lookgrid.imaging import format_frame_ranges
from lookgrid.imaging.looks import clf_text, cube_text, write_text
from lookgrid.model.look import look_lut, lut_lattice

KEY_PATTERN = "{region}.key.%04d.exr"  # the Keymix masks of a bake (key_mattes)


@dataclass
class BakeSegment:
    """A frame range over which the look holds, or one transition: the range's own look (shot space
    CLF and ``.cube``; "" when the shot is one range) and its fidelity on the range's frames."""

    first: int
    last: int
    clf: str = ""
    cube: str = ""
    fidelity: Fidelity | None = None


@dataclass
class BakeRegion:
    """What the native graph needs for one region: one ACEScct LUT file per reference of its style
    track (``.cube`` beside it when written), its key matte pattern, the weights (normalised) and
    strength at every frame, the look's frame ranges, and how close the references dissolved with
    the curves come to the render inside its matte."""

    reference_clfs: list[str]
    reference_cubes: list[str]
    segments: list[BakeSegment]
    key_pattern: str
    frames: list[int]
    weights: list[list[float]]
    strength: list[float]
    references: list[str]
    fidelity: Fidelity | None = None
    #: ``(render, graph result)`` working-space samples behind :attr:`fidelity` (pooled tables)
    pair: tuple | None = None


def look_segments(mixes: Sequence[Sequence], frames: Sequence[int]) -> list[tuple[int, int]]:
    """The frame ranges ``(first, last)`` of a shot whose look changes: runs of frames over which
    every region's weights and strength hold, and, between them, each run of frames where they
    change (a transition) as one range. ``mixes[i]``: what frame ``frames[i]`` uses, e.g. per region
    ``(weights, strength)`` (compared as values: keys sampled at every frame, as a host sends them,
    cut nothing where the values hold)."""
    n = len(frames)
    sig = [repr(m) for m in mixes]
    holds = [(i > 0 and sig[i] == sig[i - 1]) or (i < n - 1 and sig[i] == sig[i + 1]) for i in range(n)]
    out, start = [], 0
    for i in range(1, n):
        same = (holds[i] and holds[i - 1] and sig[i] == sig[i - 1]) or (not holds[i] and not holds[i - 1])
        if not same:
            out.append((frames[start], frames[i - 1]))
            start = i
    out.append((frames[start], frames[n - 1]))
    return out


def key_mattes(weights: np.ndarray) -> np.ndarray:
    """Keymix masks ``(N,H,W)`` for a chain in region order that gives exactly the render's blend.

    The render gives ``p + Σ_k w_k·(L_k − p)`` (``weights`` = the blend weights ``w``, Σ ≤ 1). A
    chain ``x_k = x_{k−1} + a_k·(L_k − x_{k−1})`` from ``x_0 = p`` gives the same when
    ``a_k = w_k / (1 − Σ_j w_j + Σ_{j≤k} w_j)`` (0 where that is 0): each step keeps the running
    result a weighted mean of the input and the looks so far. With mattes that do not overlap,
    ``a_k = w_k``."""
    w = np.asarray(weights, np.float64)
    rest = 1.0 - w.sum(axis=0)
    running = rest + np.cumsum(w, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(running > 1e-12, w / np.maximum(running, 1e-12), 0.0)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def reference_luts(look, guide, size: int, frames: slice | None = None) -> list[torch.Tensor]:
    """Per reference of the region's style track, the LUT of that reference's own grid (no weight,
    no strength) under the region's matte over ``frames`` (a slice of the collection's frames)."""
    if not look.ref_stats:
        return []
    return [look_lut(t, guide, size) for t in look.ref_totals(frames)]


def dissolve(inputs: np.ndarray, refs: Sequence[np.ndarray], weights: Sequence[float], strength: float) -> np.ndarray:
    """What the native graph does with one region's per-reference results: dissolve them with the
    weights (normalised), then mix toward the input with the strength:
    ``c + s·Σᵢ wᵢ·(Lᵢ(c) − c)``. ``inputs`` and each of ``refs`` ``(..., 3)`` in ACEScct."""
    c = np.asarray(inputs, np.float64)
    out = c.copy()
    for ref, w in zip(refs, weights):
        out += strength * w * (np.asarray(ref, np.float64) - c)
    return out


def dissolve_lut(
    ref_luts: Sequence[torch.Tensor], weights: Sequence[float], strength: float, size: int
) -> torch.Tensor:
    """:func:`dissolve` on LUTs: the LUT of the region's blended, strength-applied grid, when every
    statistic comes from one frame (tests prove it against :func:`lookgrid.model.look.look_lut`)."""
    ident = lut_lattice(size)
    out = ident.clone()
    for lut, w in zip(ref_luts, weights):
        out += strength * w * (lut - ident)
    return out


def bake_files(col, size: int, formats, stage: Path, out: Path) -> dict:
    """The bake's files in ``stage`` and its :class:`BakeRegion` per region (final paths); every
    region, as the native graph's Keymix chain needs them all.

    Its fidelity is that of the whole graph at each region's sampled pixels: every region's
    references dissolved with its curves (:func:`dissolve`), blended as the render blends regions
    (``c + Σ_j w_j·(D_j(c) − c)``, what the Keymix chain over :func:`key_mattes` gives), against the
    render."""
    segments = look_segments([[look.mix[i] for look in col.regions] for i in range(len(col.frames))], col.frames)
    index = {f: i for i, f in enumerate(col.frames)}
    cfg = col.config
    frames_text = format_frame_ranges(col.frames)
    files: dict[str, tuple[list[str], list[str]]] = {}
    for look in col.regions:
        clfs, cubes = [], []
        for i, lut in enumerate(reference_luts(look, col.guide, size), 1):
            name = f"{look.name}.ref{i}"
            desc = (
                f"LookGrid look of region '{look.name}', reference {i} ({look.references[i - 1]}) alone "
                f"(no weight, no strength), frames {frames_text}: a {size}^3 LUT on ACEScct [0, 1]; "
                f"OpenColorIO config {cfg}"
            )
            write_text(
                stage / f"{name}.acescct.clf",
                clf_text(lut.numpy(), config=cfg, description=f"{desc}; input and output ACEScct"),
            )
            clfs.append(f"{name}.acescct.clf")
            if "cube" in formats:
                write_text(
                    stage / f"{name}.cube",
                    cube_text(lut.numpy(), config=cfg, description=f"{desc}\nInput: ACEScct. Output: ACEScct."),
                )
            cubes.append(f"{name}.cube" if "cube" in formats else "")
        files[look.name] = (clfs, cubes)

    def graph(working: np.ndarray, blend: np.ndarray, at: np.ndarray) -> np.ndarray:
        c = working.astype(np.float64)
        result = c.copy()
        for j, other in enumerate(col.regions):
            refs = [working_file_result(stage / f, working, cfg) for f in files[other.name][0]]
            d = c.copy()
            for pos in np.unique(at):
                weights, strength = other.mix[pos]
                sel = at == pos
                d[sel] = dissolve(working[sel], [r[sel] for r in refs], weights, strength)
            result += blend[:, j : j + 1] * (d - c)
        return result

    result = {}
    for look in col.regions:
        shot, working, render = look.samples()
        at = look.frame_of_samples()
        blend = np.concatenate(look.sample_blend) if look.sample_blend else np.zeros((0, len(col.regions)))
        segs = []
        for first, last in segments:
            seg = BakeSegment(first, last)
            if len(segments) > 1:
                part = slice(index[first], index[last] + 1)
                span = f"{first}-{last}"
                desc = (
                    f"LookGrid look of region '{look.name}', frames {span}: the matte-weighted mean of the "
                    f"region's local colour transforms, as a {size}^3 LUT on ACEScct [0, 1]; "
                    f"OpenColorIO config {cfg}"
                )
                seg_lut = look_lut(look.total(part), col.guide, size).numpy()
                write_text(
                    stage / f"{look.name}.{span}.clf",
                    clf_text(
                        seg_lut,
                        config=cfg,
                        shot_space=col.shot_space,
                        description=f"{desc}; input and output {col.shot_space}",
                    ),
                )
                seg.clf = str(out / f"{look.name}.{span}.clf")
                if "cube" in formats:
                    write_text(
                        stage / f"{look.name}.{span}.cube",
                        cube_text(seg_lut, config=cfg, description=f"{desc}\nInput: ACEScct. Output: ACEScct."),
                    )
                    seg.cube = str(out / f"{look.name}.{span}.cube")
                in_seg = (at >= part.start) & (at < part.stop)
                if in_seg.any():
                    seg.fidelity = fidelity(
                        render[in_seg],
                        file_result(stage / f"{look.name}.{span}.clf", shot[in_seg], col.shot_space, cfg),
                    )
            segs.append(seg)
        clfs, cubes = files[look.name]
        result[look.name] = BakeRegion(
            reference_clfs=[str(out / f) for f in clfs],
            reference_cubes=[str(out / f) if f else "" for f in cubes],
            segments=segs,
            key_pattern=str(out / KEY_PATTERN.format(region=look.name)),
            frames=list(col.frames),
            weights=[list(w) for w, _ in look.mix],
            strength=[s for _, s in look.mix],
            references=list(look.references),
            pair=(render, graph(working, blend, at).astype(np.float32)) if len(render) else None,
        )
        pair = result[look.name].pair
        result[look.name].fidelity = fidelity(*pair) if pair is not None else None
    return result
