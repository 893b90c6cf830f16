"""Whole-sequence jobs on storage: analyse a clip to an analysis file, render a clip (or a chunk).

``lookgrid render``, the service's RenderByPath and the farm run these through the façade
(:meth:`lookgrid.engine.engine.Engine.render_clip`), which opens a one-off clip with the sequence's
frames and loader (:class:`lookgrid.engine.io.SequenceIO`), hands the job the open clip and its
files, and closes the clip when the job ends or fails. Temporaries that killed runs left in the output folders
are removed first (:func:`lookgrid.fsutil.remove_stale_temps`).

A render is all or nothing per job (:class:`lookgrid.fsutil.StagedFiles`): every frame is
written complete under a temporary name beside its output, and all are moved into place when the
last one is done. A job that fails or is cancelled leaves the outputs as they were before it; one
that is killed leaves only temporaries, which the next run removes. A rerun renders the job again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from lookgrid.engine import parts as analysis_parts
from lookgrid.engine.analysis import export_analysis, load_analysis, save_analysis
from lookgrid.engine.budget import run_budgeted
from lookgrid.engine.clip import Clip
from lookgrid.engine.io import SequenceIO
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import StagedFiles, remove_stale_temps

Progress = Callable[[int, int, int, "str | None", float], None]
"""``progress(done, total, frame, output path or None, seconds for this frame)``."""


@dataclass
class RenderSummary:
    frames: int
    seconds: float
    method: str
    stride: int
    device: str
    outputs: list[str] = field(default_factory=list)
    analysed: int = 0
    replaced: str = ""  # the NaN/Inf values replaced, in words ("" when none)
    missing: list[int] = field(default_factory=list)  # holes accepted with allow_missing

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        return (
            f"rendered {self.frames} frames in {self.seconds:.2f} s ({self.fps:.2f} frames/s; "
            f"method {self.method}, stride {self.stride}, {self.analysed} analysed, {self.device})"
        )


def _output_folders(io: SequenceIO) -> set[str]:
    return {os.path.dirname(os.path.abspath(io.output.path(f))) for f in io.frames}


def analyze_clip(
    clip: Clip, path, progress: Progress | None = None, *, cancel: Callable[[], bool] | None = None
) -> int:
    """Analyse every analysed frame of an open clip on storage (low resolution, sequential) and save
    its analysis to ``path`` (:mod:`lookgrid.engine.analysis`); returns the number of analysed frames."""
    remove_stale_temps(os.path.dirname(os.path.abspath(os.fspath(path))))
    anchors = clip.anchors or []
    for n, frame in enumerate(anchors, 1):
        t1 = time.perf_counter()
        clip.analyze(frame, cancel=cancel)
        if progress is not None:
            progress(n, len(anchors), frame, None, time.perf_counter() - t1)
    clip.save_analysis(path)
    return len(anchors)


def fold_analysis(clip: Clip, parts, path) -> int:
    """Fold the analysis parts of an open clip (:func:`lookgrid.engine.parts.fold_parts`) and save
    the analysis to ``path``, as :func:`analyze_clip` would have; returns the number of analysed frames."""
    remove_stale_temps(os.path.dirname(os.path.abspath(os.fspath(path))))
    grids = analysis_parts.fold_parts(clip, parts)
    save_analysis(export_analysis(clip.spec, clip.frames, grids), path)
    return len(clip.anchors or [])


def render_clip(
    clip: Clip,
    io: SequenceIO,
    progress: Progress | None = None,
    *,
    frames: Sequence[int] | None = None,
    cancel: Callable[[], bool] | None = None,
    analysis=None,
) -> RenderSummary:
    """Read, render and write the whole sequence of ``io`` through the open ``clip`` over it, or the
    ``frames`` of it (a farm chunk: analysis still follows the whole clip's chain, so chunks give
    the same pixels as one run), all or nothing (module docstring). ``analysis``: an analysis (path
    or dict, :mod:`lookgrid.engine.analysis`) used instead of analysing again."""
    todo = list(io.frames if frames is None else frames)
    missing = sorted(set(todo) - set(io.frames))
    for folder in _output_folders(io):  # what killed runs left behind
        remove_stale_temps(folder)
    if analysis is not None:
        clip.import_analysis(analysis if isinstance(analysis, dict) else load_analysis(analysis))
    if missing:
        raise InvalidInputError(f"frames {missing[:5]} are not in the clip's frame range")
    t0 = time.perf_counter()

    def compute(frame, frame_in):
        image, masks = clip.inputs(frame_in.working, frame_in.masks)
        return clip.render_tensors(frame, image, masks)[0].permute(1, 2, 0).cpu().numpy()

    def done(n, frame, path, seconds):
        if progress is not None:  # the path the frame will have when the job is done
            progress(n, len(todo), frame, path, seconds)

    with StagedFiles() as staged:
        staged.open_folders(_output_folders(io))  # once: a folder swapped later is not followed

        def write(frame, frame_in, out):
            path = str(io.output.path(frame))
            io.write(frame, out, frame_in, to=staged.path_for(path))
            return path

        # read, compute and write overlap, each stage in its thread budget (lookgrid.engine.budget;
        # the plain loop on 1 core); all moved into place at the end
        outputs = run_budgeted(
            todo, io.read, compute, write, cancel=cancel, on_done=done, cancel_message="render cancelled"
        )
    spec = clip.spec
    return RenderSummary(
        frames=len(todo),
        seconds=time.perf_counter() - t0,
        method=spec.method,
        stride=max(int(spec.stride), 1),
        device=str(clip.runtime.device),
        outputs=outputs,
        analysed=clip.stats["analysed"],
        replaced=str(io.report) if io.report else "",
        missing=list(io.missing),
    )
