"""The engine: one shared model, clips with explicit temporal state, a grid cache, rendering.

Analysis and rendering are separate (DESIGN.md §3.4):

* **Analysis** (low resolution, sequential, stateful) runs the network on the *analysed* frames of a
  clip — every ``stride``-th frame counted from the clip's first frame, plus its last
  (:func:`lookgrid.timeline.subsample_frames`) — and caches one grid ``(12, D, 16, 16)`` per
  ``(frame, region, style)``.
* **Rendering** (full resolution, stateless given the grids) takes the two analysed neighbours of a
  frame, interpolates linearly (paper §7), mixes each region's styles with its keyframed weights
  ``Σᵢ wᵢ(t)·Γᵢ(t)`` in grid space (paper §4.4), blends toward identity by the region's strength and
  slices once (:func:`lookgrid.model.render.render_frame`).

Temporal state and out-of-order requests
----------------------------------------
The network is called once per *pass* and analysed frame: pass ``p`` gives region ``k`` its
``p``-th style (its last one when it has fewer), and every pass has its own ST-AdaIN state chain
along the analysed frames. After analysing a frame the clip keeps that frame's grids **and the
state it produced**. A request for analysed frame ``a_j`` walks back to the nearest ``a_i < a_j``
whose state is cached (or to the clip's first frame, which starts from ``None``) and re-runs the
chain forward from there, caching as it goes. Every frame's grids are therefore computed from exactly
the same inputs as in one in-order run, so out-of-order requests give identical pixels. The
``per-frame`` method has no chain (state is always ``None``); ``pixel-blend`` keeps one chain per
``(region, style)`` with a full-frame mask; ``reinhard`` has no grids at all.

Invalidation (:meth:`Clip.update`)
----------------------------------
Cached grids depend only on content, masks, styles, method, model and stride — never on weights or
strength. A new spec that changes only weight/strength keyframes drops only the combined grids of
the frames whose evaluated weights/strengths actually changed (tracks are compared frame by frame).
Changing one region's ``i``-th style drops pass ``i`` (all its frames); changing masks, input,
stride, method or model drops everything.

Memory and lifetime: :meth:`Engine.evict` closes clips idle longer than ``ttl_s`` and then the least
recently used clips until the engine's cache estimate is under ``max_cache_bytes``; a later call on an
evicted clip raises :class:`UnknownClipError` saying so. Each clip has its own lock; the model is
shared and used only for inference.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lookgrid.engine.spec import ClipSpec, RegionSpec
from lookgrid.errors import (CancelledError, ClipStateError, InvalidInputError,
                             ShapeMismatchError, UnknownClipError, UnknownStyleError)
from lookgrid.timeline import bracket, region_weights, subsample_frames

log = logging.getLogger(__name__)

IMPLICIT_BACKGROUND = "background"
#: inline (never re-readable) network-resolution frames a clip keeps at most, beyond the ones it
#: still needs; ~0.4 MB + 0.13 MB per region each
MAX_INLINE_LOWRES = 256


def resolve_device(device: str | None) -> torch.device:
    """``auto``/empty → cuda when available, else cpu; anything else is passed to ``torch.device``."""
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise InvalidInputError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} requested but no CUDA GPU is available")
    return dev


def nbytes(obj) -> int:
    """Rough size in bytes of the tensors/arrays held by ``obj`` (nested containers, dataclasses)."""
    if isinstance(obj, torch.Tensor):
        return obj.element_size() * obj.nelement()
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(nbytes(getattr(obj, f, None)) for f in obj.__dataclass_fields__)
    if hasattr(obj, "__dict__"):
        return sum(nbytes(v) for v in vars(obj).values())
    return 0


# --- array helpers (all pure functions) ---------------------------------------------------------
def resize_planes(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``(B, C, h, w)`` to ``(B, C, height, width)``: bilinear, antialiased when shrinking."""
    if x.shape[-2:] == (height, width):
        return x
    shrink = x.shape[-2] > height or x.shape[-1] > width
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                         antialias=shrink)


def to_image_tensor(image, device: torch.device) -> torch.Tensor:
    """``(H, W, 3)`` numpy/tensor or ``(1, 3, H, W)`` tensor → float32 ``(1, 3, H, W)`` on ``device``."""
    t = torch.as_tensor(np.ascontiguousarray(image) if isinstance(image, np.ndarray) else image)
    if t.dim() == 3 and t.shape[-1] == 3:
        t = t.permute(2, 0, 1).unsqueeze(0)
    if t.dim() != 4 or t.shape[:2] != (1, 3):
        raise ShapeMismatchError(f"image must be (H, W, 3) or (1, 3, H, W), got {tuple(t.shape)}")
    return t.to(device=device, dtype=torch.float32).contiguous()


def full_masks(region_masks: torch.Tensor, background_index: int | None) -> torch.Tensor:
    """Insert the background mask ``clip(1 − Σ others, 0, 1)``.

    region_masks ``(B, M, H, W)`` for the masked regions in order; returns ``(B, M+1, H, W)`` with
    the background at ``background_index`` (``None``: returned unchanged, clamped to [0, 1]).
    """
    m = region_masks.clamp(0.0, 1.0)
    if background_index is None:
        return m
    bg = (1.0 - m.sum(dim=1, keepdim=True)).clamp(0.0, 1.0)
    return torch.cat([m[:, :background_index], bg, m[:, background_index:]], dim=1)


TRACK_FORMAT = "lookgrid-track"


def analysis_key(spec: ClipSpec) -> dict:
    """The parts of a spec that the analysed grids depend on (not weights, not strength, not output)."""
    return {"input": spec.input, "frames": spec.frames or "", "inputColorspace": spec.input_colorspace,
            "config": spec.config or "", "method": spec.method, "stride": max(int(spec.stride), 1),
            "model": spec.model or "",
            "regions": [[r.name, r.mask or "", r.mask_channel, [s.style for s in r.styles]]
                        for r in spec.regions]}


def combine_styles(grids: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """``Σᵢ wᵢ·Γᵢ + (1 − Σᵢ wᵢ)·I`` for one region; grids each ``(12, D, Hg, Wg)``.

    With normalised weights this is the plain weighted sum; all-zero weights give the identity.
    """
    from lookgrid.model.grid import identity_grid

    total = float(sum(weights))
    out = None
    for g, w in zip(grids, weights):
        if w == 0.0:
            continue
        out = g * w if out is None else out + g * w
    ident = identity_grid(1, *grids[0].shape[1:], dtype=grids[0].dtype, device=grids[0].device)[0]
    if out is None:
        return ident
    if total < 1.0:
        out = out + ident * (1.0 - total)
    return out


def pixel_blend(image: torch.Tensor, outputs: Sequence[torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
    """``x + Σ_k w_k (out_k − x)`` with ``w_k = m_k / max(1, Σ_j m_j)``.

    image ``(1, 3, H, W)``, outputs N × ``(1, 3, H, W)``, masks ``(1, N, H, W)``. Where the masks sum
    to one this is the convex blend ``Σ m_k out_k``; uncovered pixels keep the input.
    """
    w = masks / masks.sum(dim=1, keepdim=True).clamp(min=1.0)
    out = image.clone()
    for k, o in enumerate(outputs):
        out = out + w[:, k:k + 1] * (o - image)
    return out


# --- data the engine passes around --------------------------------------------------------------
@dataclass
class LowRes:
    """One analysed frame at the network's resolution: content ``(1,3,L,L)``, masks ``(1,N,L,L)``."""

    content: torch.Tensor
    masks: torch.Tensor


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


FrameLoader = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``loader(frame) -> (image_working (H,W,3) float32, region_masks (M,H,W) float32)``; M = masked regions."""


class Clip:
    """One clip's state: spec, analysed-frame chain, caches. Use through :class:`Engine`.

    Regions are ``spec.regions`` in order; when no region is the background an implicit one is
    appended (no style: identity grid, strength 0), so N = number of render masks always includes a
    background whose mask is ``clip(1 − Σ others, 0, 1)``.
    """

    def __init__(self, engine: "Engine", clip_id: str, spec: ClipSpec, *,
                 frames: Sequence[int] | None = None, loader: FrameLoader | None = None):
        self.engine = engine
        self.id = clip_id
        self.lock = threading.RLock()
        self.loader = loader
        self.last_used = time.monotonic()
        self._lowres: OrderedDict[int, LowRes] = OrderedDict()
        self._states: dict[tuple, object] = {}        # (pass key, frame) -> state after that frame
        self._grids: dict[tuple[int, int, int], torch.Tensor] = {}  # (frame, region, style) -> (12,D,Hg,Wg)
        self._combined: dict[int, torch.Tensor] = {}  # frame -> (N,12,D,Hg,Wg) style-weighted grids
        self.stats = {"analysed": 0, "combined": 0, "rendered": 0}
        self._set_spec(spec, frames)

    # --- spec ---------------------------------------------------------------------------------
    def _set_spec(self, spec: ClipSpec, frames: Sequence[int] | None) -> None:
        spec.validate(need_paths=False)
        self.spec = spec
        self.method = spec.method
        self.stride = max(int(spec.stride), 1)
        regions = list(spec.regions)
        self.background_index = next((i for i, r in enumerate(regions) if r.is_background), None)
        self.implicit_background = self.background_index is None
        if self.implicit_background:
            regions.append(RegionSpec(IMPLICIT_BACKGROUND, None, [], spec.regions[0].strength))
            self.background_index = len(regions) - 1
        self.regions = regions
        self.styled = [i for i, r in enumerate(regions) if r.styles]   # regions given to the network
        self.masked = [i for i, r in enumerate(regions) if not r.is_background]
        self.n_passes = max(len(r.styles) for r in regions)
        if frames is not None:
            self.frames = sorted(set(int(f) for f in frames))
            if not self.frames:
                raise InvalidInputError("clip has no frames")
        else:
            self.frames = None
        self._frame_set = set(self.frames) if self.frames else set()
        self.anchors = subsample_frames(self.frames, self.stride) if self.frames else None

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    def style_at(self, region: int, p: int) -> str:
        styles = self.regions[region].styles
        return styles[min(p, len(styles) - 1)].style

    # --- frames and low-res inputs ------------------------------------------------------------
    def _anchor_list(self, frame: int) -> list[int]:
        if self.anchors is not None:
            if frame not in self._frame_set:
                raise InvalidInputError(
                    f"frame {frame} is not in the clip (frames {self.frames[0]}-{self.frames[-1]}, "
                    f"{len(self.frames)} in all)")
            return self.anchors
        # Open-ended clip (inline frames, no range): every frame is analysed, the chain is the
        # contiguous run of integers from the first frame it was given.
        if self.stride != 1:
            raise InvalidInputError("stride > 1 needs the clip's frame range (set 'frames')")
        start = min(self._lowres) if self._lowres else frame
        start = min(start, frame)
        return list(range(start, frame + 1))

    def provide(self, frame: int, image_working, region_masks) -> None:
        """Give the clip a frame's pixels (for analysis), e.g. frames sent inline.

        image_working ``(H,W,3)``; region_masks ``(M,H,W)`` or a mapping name → ``(h,w)`` for the
        masked regions (any resolution; resized).
        """
        with self.lock:
            image, masks = self._full_inputs(image_working, region_masks)
            self._store_lowres(frame, self._make_lowres(image, masks))

    def _store_lowres(self, frame: int, low: LowRes) -> None:
        if self.frames is None:
            start = min(self._lowres) if self._lowres else frame
            if frame < start and self._states:
                # The chain now starts earlier: every state computed from the later start is stale.
                self._drop(lambda key: True)
        self._lowres[frame] = low
        self._lowres.move_to_end(frame)
        if self.loader is not None:  # re-readable from disk: keep only a few
            while len(self._lowres) > 16:
                self._lowres.popitem(last=False)
        elif len(self._lowres) > MAX_INLINE_LOWRES:
            # inline frames cannot be re-read: keep them while they may still be needed, but drop
            # the oldest frames whose grids are all cached (needed again only if a style changes,
            # which then asks the client to send those frames again)
            done = {k[0] for k in self._grids}
            for f in [f for f in self._lowres if f in done][: len(self._lowres) - MAX_INLINE_LOWRES]:
                del self._lowres[f]

    def _lowres_for(self, frame: int) -> LowRes:
        low = self._lowres.get(frame)
        if low is not None:
            return low
        if self.loader is None:
            raise ClipStateError(
                f"frame {frame} is needed for the temporal state but was never sent to clip {self.id}; "
                "send the earlier frames first (or give the clip an input on storage)")
        image, masks = self.loader(frame)
        image_t, masks_t = self._full_inputs(image, masks)
        low = self._make_lowres(image_t, masks_t)
        self._store_lowres(frame, low)
        return low

    def _full_inputs(self, image_working, region_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """→ image ``(1,3,H,W)`` and all N masks ``(1,N,H,W)`` (background included) on the device."""
        dev = self.engine.device
        image = to_image_tensor(image_working, dev)
        h, w = image.shape[-2:]
        m = len(self.masked)
        if isinstance(region_masks, Mapping):
            missing = [self.regions[i].name for i in self.masked if self.regions[i].name not in region_masks]
            if missing:
                raise InvalidInputError(f"no mask given for region(s) {', '.join(missing)}")
            planes = [np.asarray(region_masks[self.regions[i].name], dtype=np.float32) for i in self.masked]
            for i, p in zip(self.masked, planes):
                if p.ndim != 2:
                    raise ShapeMismatchError(
                        f"mask of region {self.regions[i].name!r} must be (H, W), got {p.shape}")
            planes = [torch.as_tensor(p)[None, None] for p in planes]
            masks = [resize_planes(p.to(dev), h, w) for p in planes]
            masks = torch.cat(masks, dim=1) if masks else torch.zeros(1, 0, h, w, device=dev)
        else:
            arr = torch.as_tensor(np.asarray(region_masks, dtype=np.float32) if region_masks is not None
                                  else np.zeros((0, h, w), np.float32))
            if arr.dim() == 2:
                arr = arr[None]
            if arr.dim() != 3 or arr.shape[0] not in (m, self.n_regions):
                raise ShapeMismatchError(
                    f"masks must be (M, H, W) with M = {m} masked region(s) "
                    f"({', '.join(self.regions[i].name for i in self.masked) or 'none'}), got {tuple(arr.shape)}")
            if arr.shape[0] == self.n_regions and m != self.n_regions:
                arr = arr[[i for i in range(self.n_regions) if i != self.background_index]]
            masks = resize_planes(arr[None].to(dev), h, w)
        masks = torch.nan_to_num(masks, nan=0.0)
        return image, full_masks(masks, self.background_index)

    def _make_lowres(self, image: torch.Tensor, masks: torch.Tensor) -> LowRes:
        """Network-resolution copy, stored as float16 (half the memory; every path — in order, out
        of order, inline or from disk — goes through here, so analysis sees identical inputs)."""
        size = self.engine.low_res
        image = torch.nan_to_num(image, nan=0.0, posinf=16.0, neginf=-16.0).clamp(-16.0, 16.0)
        return LowRes(resize_planes(image, size, size).to(torch.float16).contiguous(),
                      resize_planes(masks, size, size).clamp(0.0, 1.0).to(torch.float16).contiguous())

    # --- analysis -----------------------------------------------------------------------------
    def _pass_keys(self) -> list[tuple]:
        """The independent network passes: ("p", p) per style index, or ("pb", region, style)."""
        if self.method == "pixel-blend":
            return [("pb", k, i) for k in self.styled for i in range(len(self.regions[k].styles))]
        return [("p", p) for p in range(self.n_passes)]

    def _pass_done(self, key: tuple, frame: int) -> bool:
        if key[0] == "pb":
            return (frame, key[1], key[2]) in self._grids
        p = key[1]
        return all((frame, k, p) in self._grids
                   for k in self.styled if p < len(self.regions[k].styles))

    def _run_pass(self, key: tuple, frame: int, state):
        """Run the network for one pass on one analysed frame; caches its grids; returns new state."""
        eng = self.engine
        low = self._lowres_for(frame)
        temporal = self.method in ("lookgrid", "pixel-blend")
        if key[0] == "pb":
            _, k, i = key
            styles = [self.regions[k].styles[i].style]
            masks = torch.ones_like(low.masks[:, :1])
        else:
            p = key[1]
            styles = [self.style_at(k, p) for k in self.styled]
            masks = low.masks[:, self.styled]
        grids, new_state = eng.predict(low.content.float(), masks.float(), styles,
                                       state if temporal else None)
        self.stats["analysed"] += 1
        if key[0] == "pb":
            self._grids[(frame, key[1], key[2])] = grids[0]
        else:
            for j, k in enumerate(self.styled):
                if key[1] < len(self.regions[k].styles):
                    self._grids[(frame, k, key[1])] = grids[j]
        return new_state if temporal else None

    def _ensure_pass(self, key: tuple, frame: int, cancel: Callable[[], bool] | None = None) -> None:
        if self._pass_done(key, frame):
            return
        anchors = self._anchor_list(frame)
        j = anchors.index(frame)
        temporal = self.method in ("lookgrid", "pixel-blend")
        if not temporal:
            self._run_pass(key, frame, None)
            return
        # walk back to the nearest cached state (or the start of the chain)
        start = j
        while start > 0 and (key, anchors[start - 1]) not in self._states:
            start -= 1
        state = self._states.get((key, anchors[start - 1])) if start > 0 else None
        for idx in range(start, j + 1):
            if cancel is not None and cancel():
                raise CancelledError("analysis cancelled")
            f = anchors[idx]
            state = self._run_pass(key, f, state)
            self._states[(key, f)] = state

    def analyze(self, frame: int, cancel: Callable[[], bool] | None = None) -> None:
        """Compute and cache the grids of the analysed frames that ``frame`` needs."""
        if self.method == "reinhard":
            return
        with self.lock:
            self.last_used = time.monotonic()
            f0, f1, _ = bracket(frame, self._anchor_list(frame)) if self.anchors else (frame, frame, 0.0)
            for f in sorted({f0, f1}):
                for key in self._pass_keys():
                    self._ensure_pass(key, f, cancel)

    def region_grids(self, frame: int) -> list[list[torch.Tensor]]:
        """Per region, per style: the stride-interpolated grid ``(12,D,Hg,Wg)`` at ``frame``."""
        with self.lock:
            self.analyze(frame)
            f0, f1, t = bracket(frame, self._anchor_list(frame)) if self.anchors else (frame, frame, 0.0)
            out = []
            for k, r in enumerate(self.regions):
                per_style = []
                for i in range(len(r.styles)):
                    g0 = self._grids[(f0, k, i)]
                    per_style.append(g0 if t == 0.0 else torch.lerp(g0, self._grids[(f1, k, i)], t))
                out.append(per_style)
            return out

    def weights_at(self, frame: int) -> list[list[float]]:
        return [region_weights([s.weight for s in r.styles], frame) if r.styles else []
                for r in self.regions]

    def strength_at(self, frame: int) -> torch.Tensor:
        """``(N,)`` strength per region at ``frame`` (0 for the implicit background)."""
        vals = [0.0 if (self.implicit_background and k == self.background_index)
                else r.strength.evaluate(frame) for k, r in enumerate(self.regions)]
        return torch.tensor(vals, dtype=torch.float32, device=self.engine.device)

    def grids_at(self, frame: int) -> torch.Tensor:
        """``(N,12,D,Hg,Wg)``: each region's look at ``frame`` — stride interpolation, then the
        keyframed style mix ``Σᵢ wᵢ(t)·Γᵢ(t)`` (identity for a region with no style / zero weights).
        Strength is *not* applied (see :meth:`strength_at`)."""
        if self.method in ("reinhard", "pixel-blend"):
            raise InvalidInputError(f"method {self.method!r} has no blended per-region grids")
        with self.lock:
            self.last_used = time.monotonic()
            cached = self._combined.get(frame)
            if cached is not None:
                return cached
            from lookgrid.model.grid import identity_grid

            weights = self.weights_at(frame)
            per_region = self.region_grids(frame)
            ident = None
            out = []
            for k in range(self.n_regions):
                if per_region[k]:
                    out.append(combine_styles(per_region[k], weights[k]))
                else:
                    if ident is None:
                        some = next(iter(self._grids.values()), None)
                        shape = tuple(some.shape[1:]) if some is not None else (8, 16, 16)
                        ident = identity_grid(1, *shape, device=self.engine.device)[0]
                    out.append(ident)
            combined = torch.stack(out)
            self._combined[frame] = combined
            self.stats["combined"] += 1
            return combined

    # --- rendering ----------------------------------------------------------------------------
    def render(self, frame: int, image_working, region_masks) -> np.ndarray:
        """Render one frame. image_working ``(H,W,3)`` float32 (working space); region_masks as in
        :meth:`provide`. Returns ``(H,W,3)`` float32 working space. Thread-safe per clip."""
        image, masks = self._full_inputs(image_working, region_masks)
        out = self.render_tensors(frame, image, masks)
        return out[0].permute(1, 2, 0).cpu().numpy()

    def render_with_grids(self, image_working, region_masks, grids: torch.Tensor, strength: torch.Tensor) -> np.ndarray:
        """Render a frame with given per-region grids ``(N,12,D,Hg,Wg)`` and strength ``(N,)`` (e.g.
        another frame's :meth:`grids_at` / :meth:`strength_at`) instead of its own analysis.
        Inputs as in :meth:`render`; returns ``(H,W,3)`` float32 working space."""
        image, masks = self._full_inputs(image_working, region_masks)
        out = self.engine.render_grids(image, masks, grids, strength)
        return out[0].permute(1, 2, 0).cpu().numpy()

    def render_tensors(self, frame: int, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """image ``(1,3,H,W)``, masks ``(1,N,H,W)`` (background included) → ``(1,3,H,W)``."""
        with self.lock:
            self.last_used = time.monotonic()
            if self.method != "reinhard":
                anchors = self._anchor_list(frame)
                if frame in anchors and frame not in self._lowres:
                    self._store_lowres(frame, self._make_lowres(image, masks))
            self.stats["rendered"] += 1
            if self.method == "reinhard":
                return self._render_reinhard(frame, image, masks)
            if self.method == "pixel-blend":
                return self._render_pixel_blend(frame, image, masks)
            grids = self.grids_at(frame)
            strength = self.strength_at(frame)
        return self.engine.render_grids(image, masks, grids, strength)

    def _render_pixel_blend(self, frame, image, masks):
        per_region = self.region_grids(frame)
        weights = self.weights_at(frame)
        strength = self.strength_at(frame)
        ones = torch.ones_like(masks[:, :1])
        outs = []
        for k in range(self.n_regions):
            if not per_region[k]:
                outs.append(image)
                continue
            g = combine_styles(per_region[k], weights[k])[None]
            outs.append(self.engine.render_grids(image, ones, g, strength[k:k + 1]))
        return pixel_blend(image, outs, masks)

    def _render_reinhard(self, frame, image, masks):
        """Per-region Reinhard transfer. ``reinhard_transfer`` is linear in its strengths
        (``x + Σ_k s_k w_k (T_k(x) − x)``), so a region's keyframed style mix is one call per style
        pass with strengths ``s_k·w_kp``, and the passes' changes add up."""
        from lookgrid.eval.baselines import reinhard_transfer

        x = image[0].permute(1, 2, 0).cpu().numpy()
        m = masks[0].cpu().numpy()
        weights = self.weights_at(frame)
        strength = self.strength_at(frame).cpu().numpy()
        any_style = next(s.style for r in self.regions for s in r.styles)
        out = x.copy()
        for p in range(self.n_passes):
            s_p = [float(strength[k] * weights[k][p]) if p < len(weights[k]) else 0.0
                   for k in range(self.n_regions)]
            if not any(s_p):
                continue
            styles = [self.engine.style_stats(self.style_at(k, p) if self.regions[k].styles
                                              else any_style) for k in range(self.n_regions)]
            out += reinhard_transfer(x, m, styles, strength=s_p) - x
        return torch.as_tensor(out, dtype=torch.float32, device=image.device).permute(2, 0, 1)[None]

    # --- updates and memory -------------------------------------------------------------------
    def _drop(self, pred: Callable[[tuple], bool]) -> int:
        """Drop grids/states whose key matches; returns the number of frames touched."""
        frames = {k[0] for k in self._grids if pred(k)}
        for k in [k for k in self._grids if pred(k)]:
            del self._grids[k]
        for k in [k for k in self._states if pred(k)]:
            del self._states[k]
        self._combined.clear() if frames else None
        return len(frames)

    def update(self, spec: ClipSpec, frames: Sequence[int] | None = None) -> int:
        """Replace the spec; drop only what the change affects. Returns the number of frames whose
        cached grids (analysed or combined) were invalidated."""
        with self.lock:
            self.last_used = time.monotonic()
            old = self.spec
            spec.validate(need_paths=False)
            frames = self.frames if frames is None else frames
            structural = (
                spec.method != old.method or max(int(spec.stride), 1) != self.stride
                or spec.model != old.model or spec.input != old.input
                or spec.input_colorspace != old.input_colorspace or spec.config != old.config
                or [(r.name, r.mask, r.mask_channel, len(r.styles)) for r in spec.regions]
                != [(r.name, r.mask, r.mask_channel, len(r.styles)) for r in old.regions]
                or (frames is not None and self.frames is not None and list(frames) != self.frames))
            if structural:
                touched = {k[0] for k in self._grids} | set(self._combined)
                self._grids.clear()
                self._states.clear()
                self._combined.clear()
                self._lowres.clear()
                self._set_spec(spec, frames)
                return len(touched)
            touched: set[int] = set()
            # styles replaced: drop those passes (all frames)
            changed_passes = set()
            for k, (ro, rn) in enumerate(zip(old.regions, spec.regions)):
                for i, (so, sn) in enumerate(zip(ro.styles, rn.styles)):
                    if so.style != sn.style:
                        changed_passes.add((k, i))
            if changed_passes:
                if self.method == "pixel-blend":
                    def hit(key):
                        if len(key) == 3 and isinstance(key[0], int):
                            return (key[1], key[2]) in changed_passes
                        pk = key[0]
                        return pk[0] == "pb" and (pk[1], pk[2]) in changed_passes
                else:
                    idx = {i for _, i in changed_passes}

                    def hit(key):
                        if len(key) == 3 and isinstance(key[0], int):
                            return key[2] in idx
                        return key[0][0] == "p" and key[0][1] in idx
                touched |= {k[0] for k in self._grids if hit(k)}
                for k in [k for k in self._grids if hit(k)]:
                    del self._grids[k]
                for k in [k for k in self._states if hit(k)]:
                    del self._states[k]
            # weights / strength: only frames where the evaluated curves differ
            self._set_spec(spec, frames)
            if changed_passes:
                touched |= set(self._combined)
                self._combined.clear()
            else:
                for f in list(self._combined):
                    if self._curves_differ(old, spec, f):
                        del self._combined[f]
                        touched.add(f)
            return len(touched)

    @staticmethod
    def _curves_differ(old: ClipSpec, new: ClipSpec, frame: int) -> bool:
        for ro, rn in zip(old.regions, new.regions):
            if ro.strength.evaluate(frame) != rn.strength.evaluate(frame):
                return True
            wo = region_weights([s.weight for s in ro.styles], frame)
            wn = region_weights([s.weight for s in rn.styles], frame)
            if wo != wn:
                return True
        return False

    # --- grid tracks: analysis once, render anywhere -----------------------------------------
    def export_track(self) -> dict:
        """The analysed grids as plain data (CPU tensors), for :meth:`import_track` elsewhere.

        ``{"format": "lookgrid-track", "version": 1, "analysis": analysis_key(spec), "frames",
        "keys": [(frame, region, style), ...], "grids": (K,12,D,Hg,Wg)}``. Grids do not depend on
        weights or strength, so a track stays valid when only keyframes change."""
        with self.lock:
            keys = sorted(self._grids)
            grids = (torch.stack([self._grids[k] for k in keys]).cpu() if keys
                     else torch.zeros(0, 12, 1, 1, 1))
            return {"format": TRACK_FORMAT, "version": 1, "analysis": analysis_key(self.spec),
                    "frames": list(self.frames or []), "keys": [list(k) for k in keys], "grids": grids}

    def import_track(self, track: dict) -> int:
        """Add the grids of :meth:`export_track` to this clip's cache; returns how many frames.

        Raises :class:`InvalidInputError` unless the track was analysed with the same inputs
        (frames, masks, styles, method, stride, model, colour settings)."""
        if not isinstance(track, dict) or track.get("format") != TRACK_FORMAT:
            raise InvalidInputError("not a LookGrid grid track (format 'lookgrid-track')")
        if track.get("version") != 1:
            raise InvalidInputError(f"grid track version {track.get('version')} is not supported")
        mine = analysis_key(self.spec)
        if track.get("analysis") != mine:
            raise InvalidInputError("the grid track was analysed with other inputs (frames, masks, "
                                    "styles, method, stride, model or colour settings) than this clip")
        if self.frames is not None and list(track.get("frames") or []) != self.frames:
            raise InvalidInputError("the grid track covers other frames than this clip")
        grids = track["grids"]
        with self.lock:
            for key, g in zip(track["keys"], grids):
                self._grids[(int(key[0]), int(key[1]), int(key[2]))] = g.to(self.engine.device)
            self._combined.clear()
            return len({int(k[0]) for k in track["keys"]})

    def save_track(self, path) -> str:
        """Write :meth:`export_track` with ``torch.save``, atomically (temp file, then replace)."""
        import os

        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}-{threading.get_ident()}")
        torch.save(self.export_track(), tmp)
        os.replace(tmp, path)
        return path

    def cached_frames(self) -> dict[str, list[int]]:
        """Which frames have analysed grids and combined grids cached (for tests and UIs)."""
        with self.lock:
            return {"analysed": sorted({k[0] for k in self._grids}), "combined": sorted(self._combined)}

    def cache_bytes(self) -> int:
        with self.lock:
            return (nbytes(self._grids) + nbytes(self._combined) + nbytes(list(self._lowres.values()))
                    + nbytes(list(self._states.values())))


# --- the engine ---------------------------------------------------------------------------------
class Engine:
    """Holds one model (shared by all clips), the open clips and the style cache.

    ``model``: a ``LookGridNet`` (or anything with its interface); ``None`` loads the shipped
    weights lazily on first use (``model_path`` to choose a checkpoint). ``ttl_s`` and
    ``max_cache_bytes`` are the eviction policy applied by :meth:`evict`.
    """

    def __init__(self, model=None, device: str = "auto", *, model_path: str | None = None,
                 ttl_s: float = 900.0, max_cache_bytes: int = 2 << 30,
                 enhance_masks: bool | None = None):
        self.device = resolve_device(device)
        self._enhance_masks = enhance_masks
        self._model = model
        if model is not None:
            self._model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.model_path = model_path
        self.ttl_s = float(ttl_s)
        self.max_cache_bytes = int(max_cache_bytes)
        self._lock = threading.RLock()
        self._model_lock = threading.Lock()
        self._clips: dict[str, Clip] = {}
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._styles: dict[str, np.ndarray] = {}          # key -> (H,W,3) working space
        self._style_low: dict[str, torch.Tensor] = {}      # key -> (1,3,L,L)
        self._style_feats: OrderedDict[str, object] = OrderedDict()
        self._style_stats: dict[str, object] = {}
        self._counter = itertools.count(1)

    # --- model --------------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    from lookgrid.model.load import load_model

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
    def low_res(self) -> int:
        return int(getattr(self.model, "LOW_RES", 256))

    def predict(self, content: torch.Tensor, masks: torch.Tensor, styles: Sequence[str], state):
        """One network call: content ``(1,3,L,L)``, masks ``(1,S,L,L)``, S style keys →
        ``(grids (S,12,D,Hg,Wg), new_state)``."""
        net = self.model
        feats = self.style_features(tuple(styles))
        with torch.inference_mode():
            if self.enhance_masks:
                masks = net.enhance_masks(masks)
            grids, new_state = net.predict_grids(content, masks, feats, state)
        return grids.detach(), new_state

    def render_grids(self, image: torch.Tensor, masks: torch.Tensor, grids: torch.Tensor,
                     strength: torch.Tensor) -> torch.Tensor:
        """Full-resolution render: image ``(1,3,H,W)``, masks ``(1,N,H,W)``, grids ``(N,12,D,Hg,Wg)``,
        strength ``(N,)`` → ``(1,3,H,W)``."""
        from lookgrid.model.render import render_frame

        with torch.inference_mode():
            return render_frame(self.model, image, masks, grids, strength, fast=True)

    # --- styles -------------------------------------------------------------------------------
    def register_style(self, key: str, pixels_working: np.ndarray) -> str:
        """Keep a style image ``(H,W,3)`` (working space) under ``key`` (e.g. ``sha256:<hex>``)."""
        arr = np.asarray(pixels_working, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[2] < 3:
            raise ShapeMismatchError(f"style image must be (H, W, 3), got {arr.shape}")
        with self._lock:
            self._styles[key] = np.ascontiguousarray(arr[..., :3])
            self._style_low.pop(key, None)
            self._style_stats.pop(key, None)
            self.forget_style_features(key)
        return key

    def style_image(self, key: str) -> np.ndarray:
        """``(H,W,3)`` working-space pixels of a style: registered key, or a path read from disk."""
        with self._lock:
            img = self._styles.get(key)
        if img is not None:
            return img
        if key.startswith("sha256:"):
            raise UnknownStyleError(f"style {key} was never uploaded")
        from lookgrid.imaging import read_style_image

        img = np.asarray(read_style_image(key), dtype=np.float32)
        with self._lock:
            self._styles[key] = img
        return img

    def style_lowres(self, key: str) -> torch.Tensor:
        with self._lock:
            low = self._style_low.get(key)
        if low is None:
            img = self.style_image(key)
            t = to_image_tensor(np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0), self.device)
            low = resize_planes(t, self.low_res, self.low_res).contiguous()
            with self._lock:
                self._style_low[key] = low
        return low

    def style_features(self, keys: tuple[str, ...]):
        """Encoded styles for one network call: each style is encoded once and cached, then the
        per-region rows are stacked (``StyleFeatures.stack``)."""
        items = []
        for key in keys:
            with self._lock:
                feats = self._style_feats.get(key)
                if feats is not None:
                    self._style_feats.move_to_end(key)
            if feats is None:
                low = self.style_lowres(key)
                with torch.inference_mode():
                    feats = self.model.encode_style(low)
                with self._lock:
                    self._style_feats[key] = feats
                    while len(self._style_feats) > 256:
                        self._style_feats.popitem(last=False)
            items.append(feats)
        if len(items) == 1:
            return items[0]
        return type(items[0]).stack(items)

    def forget_style_features(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._style_feats.clear()
            else:
                self._style_feats.pop(key, None)

    def style_stats(self, key: str):
        with self._lock:
            st = self._style_stats.get(key)
        if st is None:
            from lookgrid.eval.baselines import style_stats

            st = style_stats(self.style_image(key))
            with self._lock:
                self._style_stats[key] = st
        return st

    # --- clips --------------------------------------------------------------------------------
    def open_clip(self, spec: ClipSpec, *, frames: Sequence[int] | None = None,
                  loader: FrameLoader | None = None, clip_id: str | None = None) -> Clip:
        """Open a clip. ``frames``: the clip's frame numbers (needed for stride > 1 and for exact
        out-of-order analysis); ``loader``: reads a frame from storage when analysis needs it."""
        spec.validate(need_paths=False)
        for r in spec.regions:
            for s in r.styles:
                if s.style.startswith("sha256:") and s.style not in self._styles:
                    raise UnknownStyleError(f"region {r.name!r}: style {s.style} was never uploaded")
        with self._lock:
            cid = clip_id or f"clip-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
            if cid in self._clips:
                raise InvalidInputError(f"clip id {cid!r} is already open")
            clip = Clip(self, cid, spec, frames=frames, loader=loader)
            self._clips[cid] = clip
            self._gone.pop(cid, None)
        return clip

    def get_clip(self, clip_id: str) -> Clip:
        with self._lock:
            clip = self._clips.get(clip_id)
            if clip is None:
                reason = self._gone.get(clip_id)
                if reason:
                    raise UnknownClipError(f"clip {clip_id!r} was {reason}")
                raise UnknownClipError(f"no clip {clip_id!r} is open")
            clip.last_used = time.monotonic()
            return clip

    def close_clip(self, clip_id: str, reason: str = "closed") -> None:
        with self._lock:
            clip = self._clips.pop(clip_id, None)
            if clip is None:
                self.get_clip(clip_id)  # raises with the reason
            self._remember_gone(clip_id, reason)

    def _remember_gone(self, clip_id: str, reason: str) -> None:
        self._gone[clip_id] = reason
        while len(self._gone) > 10_000:
            self._gone.popitem(last=False)

    def clip_ids(self) -> list[str]:
        with self._lock:
            return list(self._clips)

    def cache_bytes(self) -> int:
        with self._lock:
            clips = list(self._clips.values())
        return sum(c.cache_bytes() for c in clips)

    def evict(self, now: float | None = None) -> list[str]:
        """Close idle clips (TTL) and then least-recently-used ones until the caches fit
        ``max_cache_bytes``. Returns the evicted ids; a later call on them raises
        :class:`UnknownClipError` ("… was evicted …")."""
        now = time.monotonic() if now is None else now
        evicted = []
        with self._lock:
            for cid, clip in list(self._clips.items()):
                idle = now - clip.last_used
                if idle > self.ttl_s:
                    del self._clips[cid]
                    self._remember_gone(cid, f"evicted after {idle:.0f} s idle (ttl {self.ttl_s:.0f} s)")
                    evicted.append(cid)
            clips = dict(self._clips)
        # Sizes are read without the engine lock: a clip's size takes that clip's lock, and a render
        # holds its clip's lock while it takes the engine lock (style cache). Taking them in the
        # opposite order here would deadlock.
        sizes = {cid: c.cache_bytes() for cid, c in clips.items()}
        total = sum(sizes.values())
        with self._lock:
            for cid in sorted(clips, key=lambda c: clips[c].last_used):
                if total <= self.max_cache_bytes:
                    break
                if self._clips.get(cid) is not clips[cid]:
                    continue  # closed or replaced meanwhile
                del self._clips[cid]
                total -= sizes[cid]
                self._remember_gone(cid, f"evicted to stay under the memory bound "
                                         f"({self.max_cache_bytes} bytes)")
                evicted.append(cid)
        if evicted:
            log.info("evicted clips: %s", ", ".join(evicted))
        return evicted

    # --- whole sequences ----------------------------------------------------------------------
    def analyze_clip(self, spec: ClipSpec, track_path, progress: Callable | None = None, *,
                     cancel: Callable[[], bool] | None = None) -> int:
        """Analyse every analysed frame of a clip on storage (low resolution, sequential) and save
        the grid track to ``track_path``; returns the number of analysed frames. A farm runs this
        once, then renders chunks anywhere with ``render_clip(..., track=track_path)``.
        ``progress(done, total, frame, None, seconds)``."""
        from lookgrid.engine.io import SequenceIO

        io = SequenceIO(spec)
        clip = self.open_clip(spec, frames=io.frames, loader=io.load)
        try:
            anchors = clip.anchors or []
            for n, frame in enumerate(anchors, 1):
                t1 = time.perf_counter()
                clip.analyze(frame, cancel=cancel)
                if progress is not None:
                    progress(n, len(anchors), frame, None, time.perf_counter() - t1)
            clip.save_track(track_path)
            return len(anchors)
        finally:
            self.close_clip(clip.id)

    def render_clip(self, spec: ClipSpec, progress: Callable | None = None, *,
                    frames: Sequence[int] | None = None,
                    cancel: Callable[[], bool] | None = None, track=None) -> RenderSummary:
        """Read, render and write a whole sequence (``lookgrid render``, render-by-path, farm).

        ``frames``: a subset to render (e.g. a farm chunk); analysis still follows the whole clip's
        chain, so chunks give the same pixels as one run. ``track``: a grid track saved by
        :meth:`analyze_clip` (path or dict) — its grids are used instead of analysing again.
        ``progress(done, total, frame, path, seconds)`` is called after each written frame;
        ``cancel()`` returning true stops with :class:`CancelledError`.
        """
        from lookgrid.engine.io import SequenceIO

        io = SequenceIO(spec)
        clip = self.open_clip(spec, frames=io.frames, loader=io.load)
        if track is not None:
            try:
                data = track if isinstance(track, dict) else _load_track(track)
                clip.import_track(data)
            except BaseException:
                self.close_clip(clip.id)
                raise
        todo = list(io.frames if frames is None else frames)
        missing = sorted(set(todo) - set(io.frames))
        if missing:
            self.close_clip(clip.id)
            raise InvalidInputError(f"frames {missing[:5]} are not in the clip's frame range")
        t0 = time.perf_counter()
        from lookgrid.engine.pipeline import run_overlapped

        def compute(frame, frame_in):
            image, masks = clip._full_inputs(frame_in.working, frame_in.masks)
            return clip.render_tensors(frame, image, masks)[0].permute(1, 2, 0).cpu().numpy()

        def done(n, frame, path, seconds):
            if progress is not None:
                progress(n, len(todo), frame, path, seconds)

        try:  # read, compute and write overlap (lookgrid.engine.pipeline)
            outputs = run_overlapped(todo, io.read, compute, lambda f, fin, out: io.write(f, out, fin),
                                     cancel=cancel, on_done=done, cancel_message="render cancelled")
        finally:
            analysed = clip.stats["analysed"]
            self.close_clip(clip.id)
        return RenderSummary(frames=len(todo), seconds=time.perf_counter() - t0, method=spec.method,
                             stride=max(int(spec.stride), 1), device=str(self.device),
                             outputs=outputs, analysed=analysed)


def _load_track(path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InvalidInputError(f"grid track {path} does not exist") from None
    except Exception as err:  # a damaged or foreign file
        raise InvalidInputError(f"cannot read grid track {path}: {err}") from None
