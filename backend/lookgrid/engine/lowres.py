"""A clip's network-resolution frames: what analysis reads, made one way and kept within bounds.

Every path into analysis — in order, out of order, inline or from disk — goes through
:func:`make_lowres`, so analysis sees identical inputs; :class:`LowResCache` decides which frames
stay (:data:`MAX_STORED_LOWRES` when the clip can re-read them, :data:`MAX_INLINE_LOWRES` otherwise).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from lookgrid.engine.tensors import resize_planes

#: inline (never re-readable) network-resolution frames a clip keeps at most, beyond the ones it
#: still needs; ~0.4 MB + 0.13 MB per region each
MAX_INLINE_LOWRES = 256
#: network-resolution frames kept when the clip can re-read its frames from storage
MAX_STORED_LOWRES = 16


@dataclass
class LowRes:
    """One analysed frame at the network's resolution: content ``(1,3,L,L)``, masks ``(1,N,L,L)``."""

    content: torch.Tensor
    masks: torch.Tensor


def make_lowres(image: torch.Tensor, masks: torch.Tensor, size: int) -> LowRes:
    """Network-resolution copy, stored as float16 (half the memory; every path — in order, out of
    order, inline or from disk — goes through here, so analysis sees identical inputs)."""
    image = torch.nan_to_num(image, nan=0.0, posinf=16.0, neginf=-16.0).clamp(-16.0, 16.0)
    return LowRes(
        resize_planes(image, size, size).to(torch.float16).contiguous(),
        resize_planes(masks, size, size).clamp(0.0, 1.0).to(torch.float16).contiguous(),
    )


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
