"""Whole-sequence jobs on storage: analyse a clip to a grid track, render a clip (or a chunk).

``lookgrid render``, the service's RenderByPath and the farm run these. Each opens a one-off clip
on the engine with the sequence's frames and loader (:class:`lookgrid.engine.io.SequenceIO`) and
closes it when the job ends or fails. Temporaries that killed runs left in the output folders
are removed first (:func:`lookgrid.fsutil.remove_stale_temps`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from lookgrid.engine.io import SequenceIO
from lookgrid.engine.pipeline import run_overlapped
from lookgrid.engine.spec import ClipSpec
from lookgrid.engine.track import load_track
from lookgrid.errors import InvalidInputError
from lookgrid.fsutil import remove_stale_temps

if TYPE_CHECKING:  # annotations only
    from lookgrid.engine.engine import Engine

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

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        return (f"rendered {self.frames} frames in {self.seconds:.2f} s ({self.fps:.2f} frames/s; "
                f"method {self.method}, stride {self.stride}, {self.analysed} analysed, {self.device})")


def _open_on_storage(engine: "Engine", spec: ClipSpec, validated: bool):
    if not validated:
        spec.validate(need_paths=True)
    io = SequenceIO(spec)
    return io, engine.open_clip(spec, frames=io.frames, loader=io.load, validated=True)


def _output_folders(io: SequenceIO) -> set[str]:
    return {os.path.dirname(os.path.abspath(io.output.path(f))) for f in io.frames}


def analyze_clip(engine: "Engine", spec: ClipSpec, track_path, progress: Progress | None = None, *,
                 cancel: Callable[[], bool] | None = None, validated: bool = False) -> int:
    """Analyse every analysed frame of a clip on storage (low resolution, sequential) and save the
    grid track to ``track_path``; returns the number of analysed frames. ``validated``: the
    caller has run ``spec.validate(need_paths=True)``."""
    _, clip = _open_on_storage(engine, spec, validated)
    try:
        remove_stale_temps(os.path.dirname(os.path.abspath(os.fspath(track_path))))
        anchors = clip.anchors or []
        for n, frame in enumerate(anchors, 1):
            t1 = time.perf_counter()
            clip.analyze(frame, cancel=cancel)
            if progress is not None:
                progress(n, len(anchors), frame, None, time.perf_counter() - t1)
        clip.save_track(track_path)
        return len(anchors)
    finally:
        engine.close_clip(clip.id)


def render_clip(engine: "Engine", spec: ClipSpec, progress: Progress | None = None, *,
                frames: Sequence[int] | None = None, cancel: Callable[[], bool] | None = None,
                track=None, validated: bool = False) -> RenderSummary:
    """Read, render and write a whole sequence, or the ``frames`` of it (a farm chunk: analysis
    still follows the whole clip's chain, so chunks give the same pixels as one run). ``track``: a
    grid track (path or dict) used instead of analysing again."""
    io, clip = _open_on_storage(engine, spec, validated)
    todo = list(io.frames if frames is None else frames)
    missing = sorted(set(todo) - set(io.frames))
    outputs = []
    try:
        for folder in _output_folders(io):  # what killed runs left behind
            remove_stale_temps(folder)
        if track is not None:
            clip.import_track(track if isinstance(track, dict) else load_track(track))
        if missing:
            raise InvalidInputError(f"frames {missing[:5]} are not in the clip's frame range")
        t0 = time.perf_counter()

        def compute(frame, frame_in):
            image, masks = clip.inputs(frame_in.working, frame_in.masks)
            return clip.render_tensors(frame, image, masks)[0].permute(1, 2, 0).cpu().numpy()

        def done(n, frame, path, seconds):
            if progress is not None:
                progress(n, len(todo), frame, path, seconds)

        # read, compute and write overlap (lookgrid.engine.pipeline)
        outputs = run_overlapped(todo, io.read, compute, lambda f, fin, out: io.write(f, out, fin),
                                 cancel=cancel, on_done=done, cancel_message="render cancelled")
    finally:
        analysed = clip.stats["analysed"]
        engine.close_clip(clip.id)
    return RenderSummary(frames=len(todo), seconds=time.perf_counter() - t0, method=spec.method,
                         stride=max(int(spec.stride), 1), device=str(engine.device),
                         outputs=outputs, analysed=analysed)
