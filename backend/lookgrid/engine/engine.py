"""The engine's façade: one shared model, the style store, the open clips, whole-sequence jobs.

* the model (loaded lazily; shared by all clips, used only for inference) and what it says about
  itself (:meth:`Engine.model_info`);
* styles: :attr:`Engine.styles` (:class:`lookgrid.engine.styles.StyleStore`);
* clips: :meth:`open_clip` / :meth:`get_clip` / :meth:`close_clip`, eviction and the busy gate
  (:class:`lookgrid.engine.registry.ClipRegistry`); each clip has its own lock
  (:class:`lookgrid.engine.clip.Clip`);
* jobs on storage: :meth:`analyze_clip`, :meth:`render_clip` (:mod:`lookgrid.engine.jobs`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from lookgrid.engine import jobs
from lookgrid.engine.clip import Clip, FrameLoader
from lookgrid.engine.registry import ClipRegistry
from lookgrid.engine.spec import ClipSpec
from lookgrid.engine.styles import StyleStore
from lookgrid.errors import UnknownStyleError
from lookgrid.model.device import resolve_device
from lookgrid.model.licence import model_data_licence
from lookgrid.model.load import load_model, resolve_model_path
from lookgrid.model.network import temporal_mode
from lookgrid.model.propagate import check_temporal_mode
from lookgrid.model.render import render_frame


@dataclass(frozen=True)
class ModelInfo:
    """What the engine's model says about itself (the service's ``ModelInfo``)."""

    name: str
    path: str
    identity: bool
    description: str
    #: licence class of the training data (:data:`lookgrid.model.licence.DATA_LICENCES`)
    data_licence: str = "unknown"


class Engine:
    """Holds one model (shared by all clips), the open clips and the style store.

    ``model``: a ``LookGridNet`` (or anything with its interface); ``None`` loads the shipped
    weights lazily on first use (``model_path`` to choose a checkpoint). ``ttl_s`` and
    ``max_cache_bytes`` are the eviction policy, kept (and changeable) as ``engine.clips.ttl_s``
    and ``engine.clips.max_cache_bytes`` (:class:`ClipRegistry`). ``temporal``: ``"tc"`` or
    ``"flow"`` for every clip (see :attr:`temporal`; ``None``: what the model's config says).
    """

    def __init__(self, model=None, device: str = "auto", *, model_path: str | None = None,
                 ttl_s: float = 900.0, max_cache_bytes: int = 2 << 30,
                 enhance_masks: bool | None = None, temporal: str | None = None):
        self.device = resolve_device(device)
        self._temporal = None if temporal is None else check_temporal_mode(temporal)
        self._enhance_masks = enhance_masks
        self._model = model
        if model is not None:
            self._model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.model_path = model_path
        self._model_lock = threading.Lock()
        self.clips = ClipRegistry(ttl_s=ttl_s, max_cache_bytes=max_cache_bytes)
        self.styles = StyleStore(self.device, lambda: self.model)

    # --- model --------------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = load_model(self.model_path, device=str(self.device)).eval()
        return self._model

    @property
    def enhance_masks(self) -> bool:
        """Run the model's mask enhancer (paper §3.3) before the grid path. Default: only when the
        model says its enhancer is trained (``model.mask_enhancer_trained``), because an untrained
        enhancer would blur every mask toward 0.5."""
        if self._enhance_masks is not None:
            return bool(self._enhance_masks)
        return bool(getattr(self.model, "mask_enhancer_trained", False))

    @property
    def temporal(self) -> str:
        """How temporal methods carry the look between analysed frames: ``"tc"`` (region
        statistics, TC-AdaIN) or ``"flow"`` (grids warped along optical flow,
        :mod:`lookgrid.model.propagate`). The constructor's ``temporal`` if given, else the
        model's ``config["temporal"]`` (the model default, ``"flow"``, for checkpoints that do not say)."""
        if self._temporal is not None:
            return self._temporal
        return temporal_mode(self.model)

    @property
    def low_res(self) -> int:
        return int(getattr(self.model, "LOW_RES", 256))

    def model_info(self) -> ModelInfo:
        """Name, file, whether it renders the identity (an untrained net), a description and the
        licence class of its training data."""
        model = self.model
        identity = getattr(model, "is_identity", None)
        if identity is None:  # a LookGridNet whose grid head is all zeros gives identity grids
            head = getattr(model, "to_grid", None)
            identity = head is not None and int(torch.count_nonzero(head.weight)) == 0
        path = resolve_model_path(self.model_path) if self.model_path or hasattr(model, "meta") else None
        path = str(path or "")
        name = str(getattr(model, "name", "") or (os.path.splitext(os.path.basename(path))[0] if path
                                                  else "lookgrid-untrained"))
        return ModelInfo(name=name, path=path, identity=bool(identity),
                         description=str(getattr(model, "description", "") or type(model).__name__),
                         data_licence=str(getattr(model, "data_licence", "") or model_data_licence(model)))

    def predict(self, content: torch.Tensor, masks: torch.Tensor, styles: Sequence[str], state):
        """One network call: content ``(1,3,L,L)``, masks ``(1,S,L,L)``, S style keys →
        ``(grids (S,12,D,Hg,Wg), new_state)``."""
        net = self.model
        feats = self.styles.features(tuple(styles))
        with torch.inference_mode():
            if self.enhance_masks:
                masks = net.enhance_masks(masks)
            grids, new_state = net.predict_grids(content, masks, feats, state)
        return grids.detach(), new_state

    def render_grids(self, image: torch.Tensor, masks: torch.Tensor, grids: torch.Tensor,
                     strength: torch.Tensor) -> torch.Tensor:
        """Full-resolution render: image ``(1,3,H,W)``, masks ``(1,N,H,W)``, grids ``(N,12,D,Hg,Wg)``,
        strength ``(N,)`` → ``(1,3,H,W)``."""
        with torch.inference_mode():
            return render_frame(self.model, image, masks, grids, strength, fast=True)

    # --- styles (shortcuts to the store) ------------------------------------------------------
    def register_style(self, key: str, pixels_working: np.ndarray) -> str:
        """Keep a style image ``(H,W,3)`` (working space) under ``key`` (e.g. ``sha256:<hex>``)."""
        return self.styles.register(key, pixels_working)

    def style_image(self, key: str) -> np.ndarray:
        """``(H,W,3)`` working-space pixels of a style: registered key, or a path read from disk."""
        return self.styles.image(key)

    # --- clips --------------------------------------------------------------------------------
    def open_clip(self, spec: ClipSpec, *, frames: Sequence[int] | None = None,
                  loader: FrameLoader | None = None, clip_id: str | None = None,
                  validated: bool = False) -> Clip:
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
        return self.clips.add(lambda cid: Clip(self, cid, spec, frames=frames, loader=loader), clip_id)

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
    def analyze_clip(self, spec: ClipSpec, track_path, progress: Callable | None = None, *,
                     cancel: Callable[[], bool] | None = None, validated: bool = False) -> int:
        """Analyse a clip on storage and save its grid track (:func:`lookgrid.engine.jobs.analyze_clip`).
        ``progress(done, total, frame, None, seconds)``."""
        return jobs.analyze_clip(self, spec, track_path, progress, cancel=cancel, validated=validated)

    def render_clip(self, spec: ClipSpec, progress: Callable | None = None, *,
                    frames: Sequence[int] | None = None, cancel: Callable[[], bool] | None = None,
                    track=None, validated: bool = False, allow_missing: bool = False) -> jobs.RenderSummary:
        """Read, render and write a sequence (:func:`lookgrid.engine.jobs.render_clip`).
        ``progress(done, total, frame, path, seconds)`` after each written frame; ``cancel()``
        returning true stops with :class:`CancelledError`; the job is all or nothing."""
        return jobs.render_clip(self, spec, progress, frames=frames, cancel=cancel, track=track,
                                validated=validated, allow_missing=allow_missing)
