"""The frames a host sends and gets back: :class:`FrameIn` and :class:`FrameOut` (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FrameIn:
    """One frame to send: ``pixels`` (H, W, C) float16/float32 with ``channels`` names (e.g. R,G,B,A).

    ``masks`` maps region names to (H, W) arrays in [0, 1]; they are sent as extra channels named
    after the region. Alternatively pass ``exr`` (the bytes of an OpenEXR file) instead of pixels.
    """

    frame: int
    pixels: np.ndarray | None = None
    channels: list[str] = field(default_factory=lambda: ["R", "G", "B"])
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    exr: bytes | None = None


@dataclass
class FrameOut:
    """A rendered frame: ``pixels`` (H, W, C) for raw frames, ``exr`` bytes for encoded ones."""

    frame: int
    channels: list[str]
    pixels: np.ndarray | None
    exr: bytes | None
    seconds: float
