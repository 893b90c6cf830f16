"""One open clip: its regions, its inputs at full and network resolution, and its caches.

Analysis and rendering are separate (DESIGN.md §3.4):

* **Analysis** (low resolution, sequential, stateful) runs the network on the *analysed* frames —
  every ``stride``-th frame counted from the clip's first frame, plus its last
  (:func:`lookgrid.timeline.subsample_frames`) — through the passes of the clip's method
  (:mod:`lookgrid.engine.methods`), keeping grids and temporal state in a
  :class:`lookgrid.engine.chain.Chains`.
  With the engine's ``temporal = "flow"`` the state is the previous analysed frame's grids,
  warped along DIS flow at analysis resolution (:meth:`Clip._flow_pass`), not its statistics.
* **Rendering** (full resolution, stateless given the grids) takes the two analysed neighbours of a
  frame, interpolates linearly (paper §7), mixes each region's styles with its keyframed weights
  ``Σᵢ wᵢ(t)·Γᵢ(t)`` in grid space (paper §4.4), blends toward identity by the region's strength and
  renders as the method says.

Regions are ``spec.regions`` in order; when no region is the background an implicit one is appended
(no style: identity grid, strength 0), so the N render masks always include a background whose mask
is ``clip(1 − Σ others, 0, 1)``. What a new spec invalidates is decided by
:mod:`lookgrid.engine.invalidation`; the grid-track file is :mod:`lookgrid.engine.track`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numba
import numpy as np
import torch
import torch.nn.functional as F

from lookgrid import _numba
from lookgrid.engine import track as tracks
from lookgrid.engine.chain import Chains, GridKey, Pass, StateKey
from lookgrid.engine.invalidation import SpecChange, keyframe_changes
from lookgrid.engine.methods import combine_styles, get_method
from lookgrid.engine.spec import BACKGROUND, ClipSpec, RegionSpec
from lookgrid.errors import ClipStateError, InvalidInputError, ShapeMismatchError
from lookgrid.imaging.flow import flow_to_previous
from lookgrid.imaging.sequence import check_frame_count
from lookgrid.model.colormath import display_luma_u8
from lookgrid.model.grid import identity_grid
from lookgrid.model.propagate import FlowState, propagate_grids
from lookgrid.model.smooth import smooth_looks
from lookgrid.timeline import bracket, region_weights, subsample_frames

if TYPE_CHECKING:  # annotations only
    from lookgrid.engine.engine import Engine

#: inline (never re-readable) network-resolution frames a clip keeps at most, beyond the ones it
#: still needs; ~0.4 MB + 0.13 MB per region each
MAX_INLINE_LOWRES = 256
#: network-resolution frames kept when the clip can re-read its frames from storage
MAX_STORED_LOWRES = 16

FrameLoader = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``loader(frame) -> (image_working (H,W,3) float32, region_masks (M,H,W) float32)``; M = masked regions."""


# --- array helpers (pure functions) -------------------------------------------------------------
def resize_planes(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``(B, C, h, w)`` to ``(B, C, height, width)``: bilinear, antialiased when shrinking."""
    if x.shape[-2:] == (height, width):
        return x
    shrink = x.shape[-2] > height or x.shape[-1] > width
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                         antialias=shrink)


def to_image_tensor(image, device: torch.device) -> torch.Tensor:
    """``(H, W, 3)`` numpy/tensor or ``(1, 3, H, W)`` tensor → float32 ``(1, 3, H, W)`` on ``device``.

    An ``(H, W, 3)`` view of planar ``(3, H, W)`` memory (:meth:`lookgrid.engine.io.SequenceIO.read`)
    is taken as it is: no copy on the CPU."""
    if isinstance(image, np.ndarray) and min(image.strides, default=0) < 0:
        image = np.ascontiguousarray(image)  # torch takes any strides but negative ones
    t = torch.as_tensor(image)
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


@numba.njit(cache=True, parallel=True, nogil=True)
def _mask_plane_kernel(src, dst, bg, first, last):
    """One region's matte into its slot of the render masks, and into the background:
    ``dst = clamp(nan→0 (src), 0, 1)``; ``bg = dst`` (``first``) or ``bg + dst``; with ``last``
    then ``bg = clamp(1 − bg, 0, 1)``. (H, W) float32, any strides; float32 arithmetic."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for y in numba.prange(src.shape[0]):
        for x in range(src.shape[1]):
            v = src[y, x]
            v = zero if v != v else min(max(v, zero), one)
            dst[y, x] = v
            s = v if first else bg[y, x] + v
            bg[y, x] = min(max(one - s, zero), one) if last else s


def full_masks_fast(planes: Sequence[np.ndarray], background_index: int) -> torch.Tensor:
    """``full_masks(nan_to_num(stack(planes)), background_index)`` on the CPU in one pass per
    plane (the reference makes seven full-frame passes, each into a new tensor: ~0.14 s of a 4K
    frame with one matte): M ≥ 1 (H, W) float32 planes of the masked regions in order → ``(1,
    M+1, H, W)``. Same values: the background's sum adds the planes in order, as torch does."""
    m = len(planes)
    h, w = planes[0].shape
    out = torch.empty((1, m + 1, h, w), dtype=torch.float32)
    full = out.numpy()[0]
    slots = [j if j < background_index else j + 1 for j in range(m)]
    with _numba.PARALLEL_LOCK:
        for j, p in enumerate(planes):
            _mask_plane_kernel(p, full[slots[j]], full[background_index], j == 0, j == m - 1)
    return out


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


@dataclass
class LowRes:
    """One analysed frame at the network's resolution: content ``(1,3,L,L)``, masks ``(1,N,L,L)``."""

    content: torch.Tensor
    masks: torch.Tensor


def make_lowres(image: torch.Tensor, masks: torch.Tensor, size: int) -> LowRes:
    """Network-resolution copy, stored as float16 (half the memory; every path — in order, out of
    order, inline or from disk — goes through here, so analysis sees identical inputs)."""
    image = torch.nan_to_num(image, nan=0.0, posinf=16.0, neginf=-16.0).clamp(-16.0, 16.0)
    return LowRes(resize_planes(image, size, size).to(torch.float16).contiguous(),
                  resize_planes(masks, size, size).clamp(0.0, 1.0).to(torch.float16).contiguous())


class LowResCache:
    """The network-resolution frames of a clip, most recently used last.

    Two retention policies: frames re-readable from storage (``rereadable``) keep only
    :data:`MAX_STORED_LOWRES`; inline frames cannot be re-read, so they are kept while they may still
    be needed, and beyond :data:`MAX_INLINE_LOWRES` the oldest frames whose grids are all cached are
    dropped (needed again only if a style changes, which then asks the client to send them again).
    """

    def __init__(self, rereadable: bool) -> None:
        self.rereadable = rereadable
        self.frames: OrderedDict[int, LowRes] = OrderedDict()

    def get(self, frame: int) -> LowRes | None:
        return self.frames.get(frame)

    def __contains__(self, frame: int) -> bool:
        return frame in self.frames

    def first(self) -> int | None:
        return min(self.frames) if self.frames else None

    def put(self, frame: int, low: LowRes, analysed: set[int]) -> None:
        self.frames[frame] = low
        self.frames.move_to_end(frame)
        if self.rereadable:
            while len(self.frames) > MAX_STORED_LOWRES:
                self.frames.popitem(last=False)
        elif len(self.frames) > MAX_INLINE_LOWRES:
            for f in [f for f in self.frames if f in analysed][: len(self.frames) - MAX_INLINE_LOWRES]:
                del self.frames[f]

    def clear(self) -> None:
        self.frames.clear()


class Clip:
    """One clip's state: spec, analysed-frame chains, caches. Opened through :class:`Engine`."""

    def __init__(self, engine: "Engine", clip_id: str, spec: ClipSpec, *,
                 frames: Sequence[int] | None = None, loader: FrameLoader | None = None):
        self.engine = engine
        self.id = clip_id
        self.lock = threading.RLock()
        self.loader = loader
        self.last_used = time.monotonic()
        self._lowres = LowResCache(rereadable=loader is not None)
        self._chains = Chains()
        self._combined: dict[int, torch.Tensor] = {}  # frame -> (N,12,D,Hg,Wg) style-weighted grids
        self._smoothed: dict[GridKey, torch.Tensor] = {}  # spec.smooth > 0: the shot-smoothed grids
        self._smoothed_from: dict[GridKey, torch.Tensor] = {}  # ... and the raw grids they came from
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
        self.styled = [i for i, r in enumerate(regions) if r.styles]   # regions given to the network
        self.masked = [i for i, r in enumerate(regions) if not r.is_background]
        self.n_passes = max(len(r.styles) for r in regions)
        if frames is not None:
            self.frames = sorted(set(int(f) for f in frames))
            if not self.frames:
                raise InvalidInputError("clip has no frames")
            check_frame_count(len(self.frames), "clip")
        else:
            self.frames = None
        self._frame_set = set(self.frames) if self.frames else set()
        self.anchors = subsample_frames(self.frames, self.stride) if self.frames else None
        self.smooth = float(spec.smooth)
        if self.smooth > 0 and self.anchors is None and self.method.analysed:
            raise InvalidInputError("smoothing over the shot (spec.smooth > 0) needs the clip's frame range "
                                    "(set 'frames'); a stream without one renders causally")
        self._smoothed, self._smoothed_from = {}, {}

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    def style_at(self, region: int, p: int) -> str:
        styles = self.regions[region].styles
        return styles[min(p, len(styles) - 1)].style

    # --- frames and inputs --------------------------------------------------------------------
    def _anchor_list(self, frame: int) -> list[int]:
        if self.anchors is not None:
            if frame not in self._frame_set:
                raise InvalidInputError(
                    f"frame {frame} is not in the clip (frames {self.frames[0]}-{self.frames[-1]}, "
                    f"{len(self.frames)} in all)")
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
        passes = self.method.passes(self)
        f = frame - 1
        while f >= start:
            if all(StateKey(p, f) in self._chains.states for p in passes):
                return
            if f not in self._lowres:
                raise ClipStateError(
                    f"frame {f} is needed for the temporal state of frame {frame} but was never sent "
                    f"to clip {self.id}; send the frames in order (or give the clip an input on storage)")
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
        low = make_lowres(image, masks, self.engine.low_res)
        if self.frames is None:
            start = self._lowres.first()
            if start is not None and frame < start and self._chains.states:
                # The chain now starts earlier: every state computed from the later start is stale.
                if self._chains.clear():
                    self._combined.clear()
        self._lowres.put(frame, low, self._chains.analysed_frames())
        return low

    def _analysed(self, frame: int) -> bool:
        """True when ``frame``'s grids are all cached (e.g. from a grid track) and the clip can
        re-read the frame should a change need them again: its network-resolution copy
        (~0.2 s per 4K frame to make) is then not needed."""
        return self.loader is not None and all(
            self._chains.done(p, frame, self.regions, self.styled) for p in self.method.passes(self))

    def _lowres_for(self, frame: int) -> LowRes:
        low = self._lowres.get(frame)
        if low is not None:
            return low
        if self.loader is None:
            raise ClipStateError(
                f"frame {frame} is needed for the temporal state but was never sent to clip {self.id}; "
                "send the earlier frames first (or give the clip an input on storage)")
        image, masks = self.loader(frame)
        return self._store_lowres(frame, *self.inputs(image, masks))

    def inputs(self, image_working, region_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """image_working ``(H,W,3)``, region_masks ``(M,H,W)`` / ``(N,H,W)`` or name → ``(h,w)``
        → image ``(1,3,H,W)`` and all N masks ``(1,N,H,W)`` (background included) on the device."""
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
            if masks and dev.type == "cpu" and self.background_index is not None:
                return image, full_masks_fast([t[0, 0].numpy() for t in masks], self.background_index)
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

    # --- analysis -----------------------------------------------------------------------------
    def _run_pass(self, pass_: Pass, frame: int, state):
        """One network call for ``pass_`` on analysed ``frame``; keeps its grids; returns new state."""
        low = self._lowres_for(frame)
        styles, rows = pass_.network_inputs(self.regions, self.styled)
        masks = torch.ones_like(low.masks[:, :1]) if rows is None else low.masks[:, rows]
        temporal = self.method.temporal
        if temporal and self.engine.temporal == "flow":
            grids, new_state = self._flow_pass(low, masks, styles, state)
        else:
            grids, new_state = self.engine.predict(low.content.float(), masks.float(), styles,
                                                   state if temporal else None)
        self.stats["analysed"] += 1
        for j, k, i in pass_.outputs(self.regions, self.styled):
            self._chains.grids[GridKey(frame, k, i)] = grids[j]
        return new_state if temporal else None

    def _flow_pass(self, low: LowRes, masks: torch.Tensor, styles: list[str], state: FlowState | None):
        """``temporal = "flow"``: this frame's grids without statistics state, blended with the
        previous analysed frame's propagated grids warped along DIS flow at analysis resolution
        (:func:`lookgrid.model.propagate.propagate_grids`). Returns ``(grids, FlowState)``."""
        grids, _ = self.engine.predict(low.content.float(), masks.float(), styles, None)
        luma = display_luma_u8(low.content[0].permute(1, 2, 0).float().cpu().numpy())
        if state is not None:
            flow, visible = flow_to_previous(luma, state.luma.numpy())
            alpha = float(getattr(self.engine.model, "config", {}).get("alpha", 0.5))
            grids = propagate_grids(state.grids, grids, torch.from_numpy(flow).to(grids.device),
                                    torch.from_numpy(visible).to(grids.device), alpha)
        return grids, FlowState(grids, torch.from_numpy(luma))

    def analyze(self, frame: int, cancel: Callable[[], bool] | None = None) -> None:
        """Compute and cache the grids of the analysed frames that ``frame`` needs."""
        if not self.method.analysed:
            return
        with self.lock:
            self.last_used = time.monotonic()
            f0, f1, _ = self._bracket(frame)
            for f in sorted({f0, f1}):
                for pass_ in self.method.passes(self):
                    self._chains.ensure(pass_, f, self._anchor_list, temporal=self.method.temporal,
                                        run=self._run_pass, regions=self.regions, styled=self.styled,
                                        cancel=cancel)
            if self.smooth > 0:  # the one hook of whole-shot smoothing: the shot's grids are final here
                self._smooth_shot(cancel)

    def _smooth_shot(self, cancel: Callable[[], bool] | None = None) -> None:
        """Analyse every anchor, then smooth each (region, style)'s grids over the shot, both ways
        (:func:`lookgrid.model.smooth.smooth_looks`, sigma ``spec.smooth`` in analysed frames). The
        raw grids stay in the chains (and in grid tracks), so a track or a farm chunk smooths the
        same grids to the same result; it is redone only when a raw grid changed."""
        anchors = self.anchors or []
        for f in anchors:
            for pass_ in self.method.passes(self):
                self._chains.ensure(pass_, f, self._anchor_list, temporal=self.method.temporal,
                                    run=self._run_pass, regions=self.regions, styled=self.styled,
                                    cancel=cancel)
        raw = self._chains.grids
        old = self._smoothed_from
        if raw.keys() == old.keys() and all(old[k] is g for k, g in raw.items()):
            return
        series = sorted({(k.region, k.style) for k in raw})
        looks = torch.stack([torch.stack([raw[GridKey(f, r, i)] for r, i in series]) for f in anchors])
        smoothed = smooth_looks(looks, sigma=self.smooth)  # (T, R, 12, D, Hg, Wg)
        self._smoothed = {GridKey(f, r, i): smoothed[t, j] for t, f in enumerate(anchors)
                          for j, (r, i) in enumerate(series)}
        self._smoothed_from = dict(raw)
        self._combined.clear()

    def region_grids(self, frame: int) -> list[list[torch.Tensor]]:
        """Per region, per style: the stride-interpolated grid ``(12,D,Hg,Wg)`` at ``frame``."""
        with self.lock:
            self.analyze(frame)
            f0, f1, t = self._bracket(frame)
            grids = self._smoothed if self.smooth > 0 else self._chains.grids
            out = []
            for k, r in enumerate(self.regions):
                per_style = []
                for i in range(len(r.styles)):
                    g0 = grids[GridKey(f0, k, i)]
                    per_style.append(g0 if t == 0.0 else torch.lerp(g0, grids[GridKey(f1, k, i)], t))
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
        image, masks = self.inputs(image_working, region_masks)
        return _to_hwc(self.render_tensors(frame, image, masks))

    def render_with_grids(self, image_working, region_masks, grids: torch.Tensor, strength: torch.Tensor) -> np.ndarray:
        """Render a frame with given per-region grids ``(N,12,D,Hg,Wg)`` and strength ``(N,)`` (e.g.
        another frame's :meth:`grids_at` / :meth:`strength_at`) instead of its own analysis.
        Inputs as in :meth:`render`; returns ``(H,W,3)`` float32 working space."""
        image, masks = self.inputs(image_working, region_masks)
        return _to_hwc(self.engine.render_grids(image, masks, grids, strength))

    def render_tensors(self, frame: int, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """image ``(1,3,H,W)``, masks ``(1,N,H,W)`` (background included) → ``(1,3,H,W)``."""
        with self.lock:
            self.last_used = time.monotonic()
            if self.method.analysed:
                anchors = self._anchor_list(frame)
                if frame in anchors and frame not in self._lowres and not self._analysed(frame):
                    self._store_lowres(frame, image, masks)  # analysis will need it next
            self.stats["rendered"] += 1
        return self.method.render(self, frame, image, masks)

    # --- updates and memory -------------------------------------------------------------------
    def update(self, spec: ClipSpec, frames: Sequence[int] | None = None, *,
               validated: bool = False) -> int:
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
                touched = self._chains.clear() | set(self._combined)
                self._combined.clear()
                self._lowres.clear()
                self._set_spec(spec, frames)
                return len(touched)
            touched: set[int] = set()
            if change.styles:
                stale = [p for p in self.method.passes(self) if p.replaced_by(set(change.styles))]
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
            return (nbytes(self._chains.grids) + nbytes(self._combined) + nbytes(self._smoothed)
                    + nbytes(list(self._lowres.frames.values())) + nbytes(list(self._chains.states.values())))

    # --- grid tracks: analysis once, render anywhere -----------------------------------------
    def export_track(self) -> dict:
        """The analysed grids as plain data (:func:`lookgrid.engine.track.export_track`)."""
        with self.lock:
            return tracks.export_track(self.spec, self.frames, self._chains.grids)

    def import_track(self, track: dict) -> int:
        """Add the grids of a track (:meth:`export_track`) to this clip's cache; returns how many
        frames. Raises :class:`InvalidInputError` unless it was analysed with the same inputs."""
        grids = tracks.check_track(track, self.spec, self.frames)
        with self.lock:
            for key, g in grids.items():
                self._chains.grids[key] = g.to(self.engine.device)
            self._combined.clear()
            return len({k.frame for k in grids})

    def save_track(self, path) -> str:
        """Write :meth:`export_track` to ``path`` atomically."""
        return tracks.save_track(self.export_track(), path)


def _to_hwc(out: torch.Tensor) -> np.ndarray:
    return out[0].permute(1, 2, 0).cpu().numpy()
