"""Reference photographs and masks, read into what the model and the engine use.

* :func:`read_style_image` — a reference photo as (H, W, 3) float32 in the working space.
  Integer files (8/16-bit PNG/JPEG/TIFF) are taken as "sRGB - Texture"; float files (EXR) as
  ``colorspace`` (default ACEScg). Grey files are repeated to RGB; alpha is dropped.
* :func:`read_mask` — a matte as (H, W) float32 in [0, 1]:
    - ``channel=`` picks a channel by name;
    - one channel (Y / A / R): that channel;
    - a colour-coded segmentation with ``color=(r, g, b)`` (0..1 or 0..255 ints): 1 where the
      pixel is within ``tolerance`` (Euclidean, 0..1 units) of that colour, else 0;
    - RGB(A) without ``color``: an alpha channel that is not constant is the mask; else, if the
      colour channels are equal everywhere (a grey matte, within 2/255) their value is the (soft) mask; else any
      non-black pixel is 1 (a colour-coded matte of one region);
    - values are clipped to [0, 1]; NaN becomes 0;
    - ``size=(height, width)`` resizes (area-average down, bilinear up).
"""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from lookgrid.errors import InvalidInputError
from lookgrid.imaging.color import WORKING_SPACE, default_colorspace, get_pipeline
from lookgrid.imaging.io import Image, read_image


def _as_image(source: str | os.PathLike | Image) -> Image:
    return source if isinstance(source, Image) else read_image(source)


def read_style_image(
    path: str | os.PathLike | Image,
    *,
    colorspace: str | None = None,
    config: str | None = None,
    working: str = WORKING_SPACE,
) -> np.ndarray:
    """Read a reference photo → (H, W, 3) float32 in the working space (finite values).

    Args:
        path: file path (or an already read :class:`Image`).
        colorspace: the file's colour space; default :func:`lookgrid.imaging.color.default_colorspace`.
        config: OpenColorIO config (None → $OCIO or the ACES studio config).
    """
    img = _as_image(path)
    src = colorspace or default_colorspace(img.spec_info, config)
    rgb = img.rgb()
    return get_pipeline(config, src, working).to_working(rgb)


def _parse_color(color) -> np.ndarray:
    c = np.asarray(color, dtype=np.float64).reshape(-1)
    if c.size != 3:
        raise InvalidInputError(f"mask colour needs 3 values, got {color!r}")
    if c.max() > 1.0:  # 0..255 integers
        c = c / 255.0
    return c


def mask_from_pixels(
    pixels: np.ndarray, channel_names: Sequence[str] | None = None, *, color=None, tolerance: float = 0.1
) -> np.ndarray:
    """(H, W, C) pixels → (H, W) float32 mask in [0, 1] by the rules in the module docstring."""
    px = np.asarray(pixels, dtype=np.float32)
    if px.ndim == 2:
        px = px[..., None]
    if px.ndim != 3:
        raise InvalidInputError(f"mask pixels must be (H, W) or (H, W, C), got {px.shape}")
    if not np.isfinite(px).all():  # a check costs ~1/5 of the copy nan_to_num always makes
        px = np.nan_to_num(px, nan=0.0, posinf=1.0, neginf=0.0)
    names = list(channel_names) if channel_names is not None else []
    c = px.shape[2]
    if color is not None:
        if c < 3:
            raise InvalidInputError("a mask colour needs an RGB mask file")
        dist = np.linalg.norm(px[..., :3] - _parse_color(color).astype(np.float32), axis=-1)
        return (dist <= tolerance).astype(np.float32)
    if c == 1:
        m = px[..., 0]
    else:
        alpha = None
        if names and "A" in names:
            alpha = names.index("A")
        elif c in (2, 4):
            alpha = c - 1
        a = px[..., alpha] if alpha is not None else None
        if a is not None and float(a.max()) != float(a.min()):
            m = a
        else:
            rgb = px[..., :3] if c >= 3 else px[..., :1]
            spread = float((rgb.max(axis=-1) - rgb.min(axis=-1)).max()) if rgb.size else 0.0
            if spread <= 2.0 / 255.0:  # grey (JPEG noise allowed): a soft matte
                m = rgb[..., 0]
            else:
                m = (np.abs(rgb).max(axis=-1) > 0).astype(np.float32)
    return np.clip(m, 0.0, 1.0).astype(np.float32, copy=False)  # clip made the copy


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) → (h, w) = ``size``; area average when shrinking, bilinear when growing."""

    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise InvalidInputError(f"mask size must be positive (height, width), got {size!r}")
    if mask.shape == (h, w):
        return mask.astype(np.float32, copy=False)
    shrink = h <= mask.shape[0] and w <= mask.shape[1]
    out = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def read_mask(
    path: str | os.PathLike | Image,
    size: tuple[int, int] | None = None,
    *,
    channel: str | None = None,
    color=None,
    tolerance: float = 0.1,
    part: int | str | None = None,
) -> np.ndarray:
    """Read a matte → (H, W) float32 in [0, 1] (see the module docstring for the rules).

    Args:
        path: mask file (8/16-bit or float; one channel, alpha, grey or colour-coded), or an
            already read :class:`Image`.
        size: optional (height, width) to resize to.
        channel: take this channel (e.g. "A", "whitebarmask.left.mask").
        color: for colour-coded segmentations, the region's colour (0..1 floats or 0..255 ints).
        tolerance: colour distance (0..1 units) still counted as ``color``.
        part: EXR part for multi-part files.
    """
    img = path if isinstance(path, Image) else read_image(path, part=part)
    if channel is not None:
        m = mask_from_pixels(img.pixels[..., img.index(channel)])
    else:
        m = mask_from_pixels(img.pixels, img.channel_names, color=color, tolerance=tolerance)
    if size is not None:
        m = resize_mask(m, size)
    return m
