"""One open clip: its regions, its inputs at full and network resolution, and its caches.

* **Analysis** (low resolution, sequential, stateful; DESIGN.md §3.4) runs the clip's
  :class:`~lookgrid.engine.runtime.ModelRuntime` on the analysed frames (every ``stride``-th from the
  first, plus the last: :func:`lookgrid.timeline.subsample_frames`) through the method's passes
  (:mod:`lookgrid.engine.methods`), keeping grids and temporal state (with ``temporal = "flow"`` the
  previous analysed frame's grids warped along DIS flow) in a :class:`~lookgrid.engine.chain.Chains`;
  with ``spec.smooth`` the shot's grids are then smoothed both ways (:meth:`Chains.smooth`).
* **Rendering** (full resolution, stateless given the grids) interpolates a frame's two analysed
  neighbours (paper §7), mixes each region's styles with their keyframed weights in grid space
  (paper §4.4), blends toward identity by the strength, and renders as the method says: the clip
  fills the frame's :class:`~lookgrid.engine.methods.FrameRecord` under its lock
  (:meth:`Clip.record_at`); the method renders it with the runtime, outside the lock.

Regions: ``spec.regions`` in order, plus an implicit background (no style, strength 0, mask
``clip(1 − Σ others, 0, 1)``) when none is. Invalidation: :mod:`lookgrid.engine.invalidation`."""

from __future__ import annotations

import threading
import time
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from lookgrid.engine import analysis as analyses
from lookgrid.engine.chain import Chains, GridKey, Pass, StateKey
from lookgrid.engine.invalidation import SpecChange, keyframe_changes
from lookgrid.engine.lowres import LowRes, LowResCache, make_lowres
from lookgrid.engine.methods import FrameRecord, combine_styles, get_method
from lookgrid.engine.runtime import ModelRuntime
from lookgrid.engine.spec import BACKGROUND, ClipSpec, RegionSpec
from lookgrid.engine.tensors import nbytes, render_masks, to_hwc, to_image_tensor
from lookgrid.errors import ClipStateError, InvalidInputError
from lookgrid.imaging.sequence import check_frame_count
from lookgrid.model.grid import identity_grid
from lookgrid.timeline import bracket, region_weights, subsample_frames

FrameLoader = Callable[[int], tuple[np.ndarray, "np.ndarray | Mapping[str, np.ndarray]"]]
"""``loader(frame) -> (image_working (H,W,3) float32, region_masks)``: the masks of the M masked
regions as ``(M,H,W)`` float32 or by region name, as :meth:`Clip.inputs` takes them."""


class Clip:
    """One clip's state: spec, analysed-frame chains, caches. Opened through :class:`Engine`."""

    def __init__(
        self,
        runtime: ModelRuntime,
        clip_id: str,
        spec: ClipSpec,
        *,
        frames: Sequence[int] | None = None,
        loader: FrameLoader | None = None,
    ):
        self.runtime = runtime
        self.id = clip_id
        self.lock = threading.RLock()
        self.loader = loader
        self.last_used = time.monotonic()
        self._lowres = LowResCache(rereadable=loader is not None)
        self._chains = Chains()
        self._combined: dict[int, torch.Tensor] = {}  # frame -> (N,12,D,Hg,Wg) style-weighted grids
        self.stats = {"analysed": 0, "combined": 0, "rendered": 0}
        self._set_spec(spec, frames)

    # --- spec ---------------------------------------------------------------------------------
    def _set_spec(self, spec: ClipSpec, frames: Sequence[int] | None) -> None:
        """Take a spec the engine has validated (:meth:`Engine.open_clip`, :meth:`update`)."""
        self.spec = spec
        self.method = get_method(spec.method)
        self.stride = max(int(spec.stride), 1)
        regions = list(spec.regions)
        self.background_index = next((i for i, r in enumerate(regions) if r.is_background), None)
        self.implicit_background = self.background_index is None
        if self.implicit_background:
            regions.append(RegionSpec(BACKGROUND, None, [], spec.regions[0].strength))
            self.background_index = len(regions) - 1
        self.regions = regions
        self.styled = [i for i, r in enumerate(regions) if r.styles]  # regions given to the network
        self.masked = [i for i, r in enumerate(regions) if not r.is_background]
        self.frames: list[int] | None = None
        if frames is not None:
            self.frames = sorted(set(int(f) for f in frames))
            if not self.frames:
                raise InvalidInputError("clip has no frames")
            check_frame_count(len(self.frames), "clip")
        self._frame_set = set(self.frames) if self.frames else set()
        self.anchors = subsample_frames(self.frames, self.stride) if self.frames else None
        whole_shot = self.anchors is not None and self.loader is not None  # it can read every frame
        self.smooth = spec.smooth_sigma(whole_shot) if self.method.analysed else 0.0
        if self.smooth > 0 and self.anchors is None:
            raise InvalidInputError("spec.smooth > 0 needs the clip's frame range ('frames'); streams render causally")

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    def _passes(self) -> list[Pass]:
        return self.method.passes(self.regions, self.styled)

    # --- frames and inputs --------------------------------------------------------------------
    def _anchor_list(self, frame: int) -> Sequence[int]:
        if self.anchors is not None and self.frames is not None:
            if frame not in self._frame_set:
                raise InvalidInputError(
                    f"frame {frame} is not in the clip (frames {self.frames[0]}-{self.frames[-1]}, "
                    f"{len(self.frames)} in all)"
                )
            return self.anchors
        # Open-ended clip (inline frames, no range): every frame is analysed, the chain is the
        # contiguous run of integers from the first frame it was given (a range: no memory).
        if self.stride != 1:
            raise InvalidInputError("stride > 1 needs the clip's frame range (set 'frames')")
        start = self._lowres.first()
        start = frame if start is None else min(start, frame)
        if self.method.temporal:
            self._check_chain_inputs(start, frame)
        return range(start, frame + 1)

    def _check_chain_inputs(self, start: int, frame: int) -> None:
        """An open-ended clip's chain up to ``frame`` replays from the nearest frame whose state is
        kept; every frame after that must have been sent. Walks back only over frames the clip
        holds, so a jump in frame numbers costs nothing (ClipStateError naming the first gap)."""
        passes = self._passes()
        f = frame - 1
        while f >= start:
            if all(StateKey(p, f) in self._chains.states for p in passes):
                return
            if f not in self._lowres:
                raise ClipStateError(
                    f"frame {f} is needed for the temporal state of frame {frame} but was never sent "
                    f"to clip {self.id}; send the frames in order (or give the clip an input on storage)"
                )
            f -= 1

    def _bracket(self, frame: int) -> tuple[int, int, float]:
        return bracket(frame, self._anchor_list(frame)) if self.anchors else (frame, frame, 0.0)

    def provide(self, frame: int, image_working, region_masks) -> None:
        """Give the clip a frame's pixels (for analysis), e.g. frames sent inline.

        image_working ``(H,W,3)``; region_masks ``(M,H,W)`` or a mapping name → ``(h,w)`` for the
        masked regions (any resolution; resized).
        """
        with self.lock:
            image, masks = self.inputs(image_working, region_masks)
            self._store_lowres(frame, image, masks)

    def _store_lowres(self, frame: int, image: torch.Tensor, masks: torch.Tensor) -> LowRes:
        low = make_lowres(image, masks, self.runtime.low_res)
        if self.frames is None:
            start = self._lowres.first()
            if start is not None and frame < start and self._chains.states:
                # The chain now starts earlier: every state computed from the later start is stale.
                if self._chains.clear():
                    self._combined.clear()
        self._lowres.put(frame, low, self._chains.analysed_frames())
        return low

    def _analysed(self, frame: int) -> bool:
        """True when ``frame``'s grids are all cached (e.g. from an analysis file) and the clip can
        re-read the frame should a change need them again: its network-resolution copy
        (~0.2 s per 4K frame to make) is then not needed."""
        return self.loader is not None and all(
            self._chains.done(p, frame, self.regions, self.styled) for p in self._passes()
        )

    def _lowres_for(self, frame: int) -> LowRes:
        low = self._lowres.get(frame)
        if low is not None:
            return low
        if self.loader is None:
            raise ClipStateError(
                f"frame {frame} is needed for the temporal state but was never sent to clip {self.id}; "
                "send the earlier frames first (or give the clip an input on storage)"
            )
        image, masks = self.loader(frame)
        return self._store_lowres(frame, *self.inputs(image, masks))

    def inputs(self, image_working, region_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """image_working ``(H,W,3)``, region_masks ``(M,H,W)`` / ``(N,H,W)`` or name → ``(h,w)``
        → image ``(1,3,H,W)`` and all N masks ``(1,N,H,W)`` (background included) on the device."""
        dev = self.runtime.device
        image = to_image_tensor(image_working, dev)
        h, w = image.shape[-2:]
        names = [r.name for r in self.regions]
        return image, render_masks(region_masks, names, self.background_index, h, w, dev)

    # --- analysis -----------------------------------------------------------------------------
    def _run_pass(self, pass_: Pass, frame: int, state):
        """One network call for ``pass_`` on analysed ``frame``; keeps its grids; returns new state."""
        content, masks, styles, views = self.pass_inputs(pass_, frame)
        temporal = self.method.temporal
        if temporal and self.runtime.temporal == "flow":
            grids, new_state = self.runtime.predict_flow(content, masks, styles, state, views)
        else:
            state = state if temporal else None
            grids, new_state = self.runtime.predict(content.float(), masks.float(), styles, state, views)
        self.stats["analysed"] += 1
        for j, k, i in pass_.outputs(self.regions, self.styled):
            self._chains.grids[GridKey(frame, k, i)] = grids[j]
        return new_state if temporal else None

    def pass_inputs(self, pass_: Pass, frame: int):
        """``pass_``'s network inputs at analysed ``frame``: content ``(1,3,L,L)``, masks ``(1,S,L,L)``
        (float16, :func:`make_lowres`), S style keys, the rows' views (:meth:`LowRes.network_views`)."""
        low = self._lowres_for(frame)
        styles, rows = pass_.network_inputs(self.regions, self.styled)
        if rows is None:
            return low.content, torch.ones_like(low.masks[:, :1]), styles, None
        return low.content, low.masks[:, rows], styles, low.network_views(rows)

    def analyze(self, frame: int, cancel: Callable[[], bool] | None = None) -> None:
        """Compute and cache the grids of the analysed frames that ``frame`` needs."""
        if not self.method.analysed:
            return
        with self.lock:
            self.last_used = time.monotonic()
            f0, f1, _ = self._bracket(frame)
            # whole-shot smoothing (the one hook) needs every anchor; otherwise the bracket's two
            for f in (self.anchors or []) if self.smooth > 0 else sorted({f0, f1}):
                for pass_ in self._passes():
                    self._chains.ensure(
                        pass_,
                        f,
                        self._anchor_list,
                        temporal=self.method.temporal,
                        run=self._run_pass,
                        regions=self.regions,
                        styled=self.styled,
                        cancel=cancel,
                    )
            if self.smooth > 0 and self._chains.smooth(self.anchors or [], self.smooth):
                self._combined.clear()  # every frame's look moved with the shot's smoothed grids

    def region_grids(self, frame: int) -> list[list[torch.Tensor]]:
        """Per region, per style: the stride-interpolated grid ``(12,D,Hg,Wg)`` at ``frame``."""
        with self.lock:
            self.analyze(frame)
            f0, f1, t = self._bracket(frame)
            grids = self._chains.smoothed if self.smooth > 0 else self._chains.grids
            out = []
            for k, r in enumerate(self.regions):
                per_style = []
                for i in range(len(r.styles)):
                    g0 = grids[GridKey(f0, k, i)]
                    per_style.append(g0 if t == 0.0 else torch.lerp(g0, grids[GridKey(f1, k, i)], t))
                out.append(per_style)
            return out

    def weights_at(self, frame: int) -> list[list[float]]:
        return [region_weights([s.weight for s in r.styles], frame) if r.styles else [] for r in self.regions]

    def strength_at(self, frame: int) -> torch.Tensor:
        """``(N,)`` strength per region at ``frame`` (0 for the implicit background)."""
        vals = [
            0.0 if (self.implicit_background and k == self.background_index) else r.strength.evaluate(frame)
            for k, r in enumerate(self.regions)
        ]
        return torch.tensor(vals, dtype=torch.float32, device=self.runtime.device)

    def grids_at(self, frame: int) -> torch.Tensor:
        """``(N,12,D,Hg,Wg)``: each region's look at ``frame`` — stride interpolation, then the
        keyframed style mix ``Σᵢ wᵢ(t)·Γᵢ(t)`` (identity for a region with no style / zero weights).
        Strength is *not* applied (see :meth:`strength_at`)."""
        if not self.method.mixes_grids:
            raise InvalidInputError(f"method {self.method.name!r} has no blended per-region grids")
        with self.lock:
            self.last_used = time.monotonic()
            cached = self._combined.get(frame)
            if cached is not None:
                return cached
            weights = self.weights_at(frame)
            per_region = self.region_grids(frame)
            ident = None
            out = []
            for k in range(self.n_regions):
                if per_region[k]:
                    out.append(combine_styles(per_region[k], weights[k]))
                else:
                    if ident is None:
                        some = next(iter(self._chains.grids.values()), None)
                        shape = tuple(some.shape[1:]) if some is not None else (8, 16, 16)
                        ident = identity_grid(1, *shape, device=self.runtime.device)[0]
                    out.append(ident)
            combined = torch.stack(out)
            self._combined[frame] = combined
            self.stats["combined"] += 1
            return combined

    # --- rendering ----------------------------------------------------------------------------
    def render(self, frame: int, image_working, region_masks) -> np.ndarray:
        """Render one frame. image_working ``(H,W,3)`` float32 (working space); region_masks as in
        :meth:`provide`. Returns ``(H,W,3)`` float32 working space. Thread-safe per clip."""
        image, masks = self.inputs(image_working, region_masks)
        return to_hwc(self.render_tensors(frame, image, masks))

    def render_with_grids(self, image_working, region_masks, grids: torch.Tensor, strength: torch.Tensor) -> np.ndarray:
        """Render a frame with given per-region grids ``(N,12,D,Hg,Wg)`` and strength ``(N,)`` (e.g.
        another frame's :meth:`grids_at` / :meth:`strength_at`) instead of its own analysis.
        Inputs as in :meth:`render`; returns ``(H,W,3)`` float32 working space."""
        image, masks = self.inputs(image_working, region_masks)
        return to_hwc(self.runtime.render_grids(image, masks, grids, strength))

    def record_at(self, frame: int) -> FrameRecord:
        """What the clip's method renders ``frame`` from (:class:`FrameRecord`), taken under the
        clip's lock (analysing what it needs first): the one place a render holds the lock."""
        with self.lock:
            grids = self.grids_at(frame) if self.method.mixes_grids else None
            style_grids = (
                tuple(tuple(g) for g in self.region_grids(frame))
                if self.method.analysed and not self.method.mixes_grids
                else None
            )
            return FrameRecord(
                frame=frame,
                styles=tuple(tuple(s.style for s in r.styles) for r in self.regions),
                weights=tuple(tuple(w) for w in self.weights_at(frame)),
                strength=self.strength_at(frame),
                grids=grids,
                style_grids=style_grids,
            )

    def render_tensors(self, frame: int, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """image ``(1,3,H,W)``, masks ``(1,N,H,W)`` (background included) → ``(1,3,H,W)``: the
        frame's :meth:`record_at`, rendered by the method outside the lock."""
        with self.lock:
            self.last_used = time.monotonic()
            if self.method.analysed:
                anchors = self._anchor_list(frame)
                if frame in anchors and frame not in self._lowres and not self._analysed(frame):
                    self._store_lowres(frame, image, masks)  # analysis will need it next
            self.stats["rendered"] += 1
            record = self.record_at(frame)
        return self.method.render(self.runtime, record, image, masks)

    # --- updates and memory -------------------------------------------------------------------
    def update(self, spec: ClipSpec, frames: Sequence[int] | None = None, *, validated: bool = False) -> int:
        """Replace the spec; drop only what the change affects (:mod:`lookgrid.engine.invalidation`).
        Returns the number of frames whose cached grids (analysed or combined) were invalidated.
        ``validated``: the caller has run ``spec.validate()``."""
        if not validated:
            spec.validate(need_paths=False)
        with self.lock:
            self.last_used = time.monotonic()
            old = self.spec
            frames = self.frames if frames is None else frames
            change = SpecChange.between(old, spec, self.frames, frames)
            if change.structural:
                dropped = self._chains.clear() | set(self._combined)
                self._combined.clear()
                self._lowres.clear()
                self._set_spec(spec, frames)
                return len(dropped)
            touched: set[int] = set()
            if change.styles:
                stale = [p for p in self._passes() if p.replaced_by(set(change.styles))]
                touched |= self._chains.drop_passes(stale, self.regions, self.styled)
            self._set_spec(spec, frames)
            if change.styles:
                touched |= set(self._combined)
                self._combined.clear()
            else:
                for f in keyframe_changes(old, spec, list(self._combined)):
                    del self._combined[f]
                    touched.add(f)
            return len(touched)

    def cached_frames(self) -> dict[str, list[int]]:
        """Which frames have analysed grids and combined grids cached (for tests and UIs)."""
        with self.lock:
            return {"analysed": sorted(self._chains.analysed_frames()), "combined": sorted(self._combined)}

    def cache_bytes(self) -> int:
        with self.lock:
            chains = self._chains
            held = [chains.grids, self._combined, chains.smoothed, self._lowres.frames, chains.states]
            return nbytes(held)

    # --- analyses: analyse once, render anywhere ---------------------------------------------
    def export_analysis(self) -> dict:
        """The analysed grids as plain data (:func:`lookgrid.engine.analysis.export_analysis`)."""
        with self.lock:
            return analyses.export_analysis(self.spec, self.frames, self._chains.grids)

    def import_analysis(self, analysis: dict) -> int:
        """Add the grids of an analysis (:meth:`export_analysis`) to this clip's cache; returns how
        many frames. Raises :class:`InvalidInputError` unless it was made with the same inputs."""
        grids = analyses.check_analysis(analysis, self.spec, self.frames)
        with self.lock:
            for key, g in grids.items():
                self._chains.grids[key] = g.to(self.runtime.device)
            self._combined.clear()
            return len({k.frame for k in grids})

    def save_analysis(self, path) -> str:
        """Write :meth:`export_analysis` to ``path`` atomically."""
        return analyses.save_analysis(self.export_analysis(), path)
