"""The engine's façade: one shared model, the style store, the open clips, whole-sequence jobs.

What the service, the CLI, the farm and the evaluation call. It delegates:

* the model, the device and the style store to its :class:`~lookgrid.engine.runtime.ModelRuntime`
  (:attr:`Engine.runtime`), which is also what clips receive;
* clips to :meth:`open_clip` / :meth:`get_clip` / :meth:`close_clip`, eviction and the busy gate
  (:class:`lookgrid.engine.registry.ClipRegistry`); each clip has its own lock
  (:class:`lookgrid.engine.clip.Clip`);
* jobs on storage to :mod:`lookgrid.engine.jobs`: :meth:`analyze_clip` and :meth:`render_clip` open a
  clip with its files (:class:`lookgrid.engine.io.SequenceIO`), run the job on it and close it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from lookgrid.engine import jobs
from lookgrid.engine import parts as analysis_parts
from lookgrid.engine.clip import Clip, FrameLoader
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.methods import get_method
from lookgrid.engine.registry import ClipRegistry
from lookgrid.engine.runtime import ModelInfo, ModelRuntime
from lookgrid.engine.spec import ClipSpec
from lookgrid.engine.styles import StyleStore
from lookgrid.errors import UnknownStyleError


class Engine:
    """Holds one model (shared by all clips, :attr:`runtime`), the open clips and the style store.

    ``model``, ``device``, ``model_path``, ``enhance_masks`` and ``temporal`` make the
    :class:`ModelRuntime` (``None`` model: the shipped weights, loaded on first use). ``ttl_s`` and
    ``max_cache_bytes`` are the eviction policy, kept (and changeable) as ``engine.clips.ttl_s``
    and ``engine.clips.max_cache_bytes`` (:class:`ClipRegistry`).
    """

    def __init__(
        self,
        model: Any = None,
        device: str = "auto",
        *,
        model_path: str | None = None,
        ttl_s: float = 900.0,
        max_cache_bytes: int = 2 << 30,
        enhance_masks: bool | None = None,
        temporal: str | None = None,
    ) -> None:
        self.runtime = ModelRuntime(
            model, device, model_path=model_path, enhance_masks=enhance_masks, temporal=temporal
        )
        self.clips = ClipRegistry(ttl_s=ttl_s, max_cache_bytes=max_cache_bytes)

    # --- the model (the runtime's) ------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.runtime.device

    @property
    def model(self) -> Any:
        """The network, loaded on first use (:attr:`ModelRuntime.model`)."""
        return self.runtime.model

    @property
    def model_path(self) -> str | None:
        """The checkpoint the model comes from (``None``: the shipped weights)."""
        return self.runtime.model_path

    @property
    def styles(self) -> StyleStore:
        return self.runtime.styles

    @property
    def temporal(self) -> str:
        """:attr:`ModelRuntime.temporal`: ``"tc"`` or ``"flow"``."""
        return self.runtime.temporal

    def model_info(self) -> ModelInfo:
        """:meth:`ModelRuntime.model_info`."""
        return self.runtime.model_info()

    # --- styles (shortcuts to the store) ------------------------------------------------------
    def register_style(self, key: str, pixels_working: np.ndarray) -> str:
        """Keep a style image ``(H,W,3)`` (working space) under ``key`` (e.g. ``sha256:<hex>``)."""
        return self.styles.register(key, pixels_working)

    def style_image(self, key: str) -> np.ndarray:
        """``(H,W,3)`` working-space pixels of a style: registered key, or a path read from disk."""
        return self.styles.image(key)

    # --- clips --------------------------------------------------------------------------------
    def open_clip(
        self,
        spec: ClipSpec,
        *,
        frames: Sequence[int] | None = None,
        loader: FrameLoader | None = None,
        clip_id: str | None = None,
        validated: bool = False,
    ) -> Clip:
        """Open a clip. ``frames``: the clip's frame numbers (needed for stride > 1 and for exact
        out-of-order analysis); ``loader``: reads a frame from storage when analysis needs it.
        The spec is validated here unless the caller did (``validated=True``: a spec is checked
        once, where it comes in)."""
        if not validated:
            spec.validate(need_paths=False)
        for r in spec.regions:
            for s in r.styles:
                if s.style.startswith("sha256:") and s.style not in self.styles:
                    raise UnknownStyleError(f"region {r.name!r}: style {s.style} was never uploaded")
        return self.clips.add(lambda cid: Clip(self.runtime, cid, spec, frames=frames, loader=loader), clip_id)

    def get_clip(self, clip_id: str) -> Clip:
        return self.clips.get(clip_id)

    def close_clip(self, clip_id: str, reason: str = "closed") -> None:
        self.clips.close(clip_id, reason)

    def clip_ids(self) -> list[str]:
        return self.clips.ids()

    def cache_bytes(self) -> int:
        return self.clips.cache_bytes()

    def evict(self, now: float | None = None) -> list[str]:
        """See :meth:`ClipRegistry.evict`."""
        return self.clips.evict(now)

    # --- whole sequences ----------------------------------------------------------------------
    @contextmanager
    def _on_storage(
        self, spec: ClipSpec, validated: bool = False, allow_missing: bool = False
    ) -> Iterator[tuple[SequenceIO, Clip]]:
        """The files of ``spec`` and a one-off clip over them, closed on leaving."""
        if not validated:
            spec.validate(need_paths=True)
        io = SequenceIO(spec, allow_missing=allow_missing)
        clip = self.open_clip(spec, frames=io.frames, loader=io.load, validated=True)
        try:
            yield io, clip
        finally:
            self.close_clip(clip.id)

    def analyze_clip(
        self,
        spec: ClipSpec,
        path,
        progress: jobs.Progress | None = None,
        *,
        cancel: Callable[[], bool] | None = None,
        validated: bool = False,
    ) -> int:
        """Analyse a clip on storage and save its analysis to ``path`` (:func:`lookgrid.engine.jobs.analyze_clip`);
        returns the number of analysed frames. ``progress(done, total, frame, None, seconds)``.
        ``validated``: the caller has run ``spec.validate(need_paths=True)``."""
        with self._on_storage(spec, validated) as (_, clip):
            return jobs.analyze_clip(clip, path, progress, cancel=cancel)

    def analysis_in_order(self, spec: ClipSpec) -> str | None:
        """Why the analysis of ``spec`` must run in order on one worker (None: it can be split into
        parts, :mod:`lookgrid.engine.parts`)."""
        return analysis_parts.in_order_reason(get_method(spec.method), self.temporal)

    def analyze_part(self, spec: ClipSpec, anchors: Sequence[int]) -> dict:
        """The per-frame and per-pair analysis of consecutive analysed frames ``anchors`` of a clip
        on storage (:func:`lookgrid.engine.parts.analyze_part`), as plain data."""
        with self._on_storage(spec) as (_, clip):
            return analysis_parts.analyze_part(clip, anchors)

    def fold_analysis(self, spec: ClipSpec, parts: Sequence[dict], path) -> int:
        """Fold analysis ``parts`` into the analysis :meth:`analyze_clip` saves, bit for bit
        (:func:`lookgrid.engine.jobs.fold_analysis`); returns the number of analysed frames."""
        with self._on_storage(spec) as (_, clip):
            return jobs.fold_analysis(clip, parts, path)

    def render_clip(
        self,
        spec: ClipSpec,
        progress: jobs.Progress | None = None,
        *,
        frames: Sequence[int] | None = None,
        cancel: Callable[[], bool] | None = None,
        analysis=None,
        validated: bool = False,
        allow_missing: bool = False,
    ) -> jobs.RenderSummary:
        """Read, render and write a sequence (:func:`lookgrid.engine.jobs.render_clip`).
        ``progress(done, total, frame, path, seconds)`` after each written frame; ``cancel()``
        returning true stops with :class:`CancelledError`; the job is all or nothing.
        ``analysis``: an analysis (path or dict) instead of analysing again; ``allow_missing``:
        render a sequence found on disk despite holes in it."""
        with self._on_storage(spec, validated, allow_missing) as (io, clip):
            return jobs.render_clip(clip, io, progress, frames=frames, cancel=cancel, analysis=analysis)
