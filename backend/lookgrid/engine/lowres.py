"""A clip's network-resolution frames: what analysis reads, made one way and kept within bounds.

Every path into analysis — in order, out of order, inline or from disk — goes through
:func:`make_lowres`, so analysis sees identical inputs; :class:`LowResCache` decides which frames
stay (:data:`MAX_STORED_LOWRES` when the clip can re-read them, :data:`MAX_INLINE_LOWRES` otherwise).
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import torch

from lookgrid.engine.tensors import resize_planes

#: inline (never re-readable) network-resolution frames a clip keeps at most, beyond the ones it
#: still needs; ~0.4 MB + 0.13 MB per region each (and as much again per small region's crop)
MAX_INLINE_LOWRES = 256
#: network-resolution frames kept when the clip can re-read its frames from storage
MAX_STORED_LOWRES = 16


#: a region whose padded bounding box covers at most this share of the frame is analysed in its
#: own crop as well (:func:`crop_box`): there it has at least 4× the analysis pixels it has in the
#: frame, and far fewer of them mixed with its surroundings at its edge
CROP_MAX_SHARE = 0.25
#: set to 0 to analyse every region in the frame only (to measure what the crops give)
REGION_CROPS_ENV = "LOOKGRID_REGION_CROPS"
#: the crop's margin around the region's bounding box, as a share of the box's side each way
CROP_MARGIN = 0.25


@dataclass
class LowRes:
    """One analysed frame at the network's resolution: content ``(1,3,L,L)``, masks ``(1,N,L,L)``;
    ``views``: region index → its own crop of the frame ``(content (1,3,L,L), masks (1,N,L,L))``,
    for the regions small enough to have one (:func:`crop_box`)."""

    content: torch.Tensor
    masks: torch.Tensor
    views: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def network_views(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Where the network's rows (region indices; the analysed masks ``masks[:, rows]``) take
        their colour statistics: content ``(S,3,L,L)`` and masks ``(S,S,L,L)``, a row's own crop
        where it has one and the frame otherwise (``views`` of
        :meth:`lookgrid.model.network.LookGridNet.predict_grids`); None when no row has a crop."""
        if not any(k in self.views for k in rows):
            return None
        contents, masks = [], []
        for k in rows:
            content, planes = self.views.get(k, (self.content, self.masks))
            contents.append(content)
            masks.append(planes[:, list(rows)])
        return torch.cat(contents).float(), torch.cat(masks).float()


def crop_box(mask: torch.Tensor, max_share: float = CROP_MAX_SHARE) -> tuple[int, int, int, int] | None:
    """The crop a region is analysed in: mask ``(H,W)`` → ``(y0, y1, x0, x1)``, the bounding box of
    its pixels over 0.5 grown by :data:`CROP_MARGIN` of its size each way (at least 2 pixels) and
    clipped to the frame; None when the region is empty or the crop would cover more than
    ``max_share`` of the frame (the frame's own analysis then sees it well enough)."""
    h, w = mask.shape
    on = mask > 0.5
    ys = torch.nonzero(on.any(dim=1)).flatten()
    if ys.numel() == 0:
        return None
    xs = torch.nonzero(on.any(dim=0)).flatten()
    y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    my = max(2, math.ceil(CROP_MARGIN * (y1 - y0)))
    mx = max(2, math.ceil(CROP_MARGIN * (x1 - x0)))
    y0, y1, x0, x1 = max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)
    return None if (y1 - y0) * (x1 - x0) > max_share * h * w else (y0, y1, x0, x1)


def make_lowres(image: torch.Tensor, masks: torch.Tensor, size: int) -> LowRes:
    """Network-resolution copy of image ``(1,3,H,W)`` and masks ``(1,N,H,W)``, and of each small
    region's crop (:func:`crop_box`), stored as float16 (half the memory; every path — in order, out
    of order, inline or from disk — goes through here, so analysis sees identical inputs)."""
    image = torch.nan_to_num(image, nan=0.0, posinf=16.0, neginf=-16.0).clamp(-16.0, 16.0)

    def low(img: torch.Tensor, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            resize_planes(img, size, size).to(torch.float16).contiguous(),
            resize_planes(planes, size, size).clamp(0.0, 1.0).to(torch.float16).contiguous(),
        )

    views = {}
    share = 0.0 if os.environ.get(REGION_CROPS_ENV, "1") == "0" else CROP_MAX_SHARE
    for k in range(masks.shape[1]):
        box = crop_box(masks[0, k], share)
        if box is not None:
            y0, y1, x0, x1 = box
            views[k] = low(image[..., y0:y1, x0:x1], masks[..., y0:y1, x0:x1])
    return LowRes(*low(image, masks), views=views)


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
