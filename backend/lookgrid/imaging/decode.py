"""Pictures that arrive as bytes or raw arrays (uploads, inline frames) ↔ working-space pixels.

OpenImageIO reads and writes files and picks its codec by extension, so bytes go through a private
temporary file whose extension is sniffed from the content (magic bytes), never trusted from a
client's file name alone. Untrusted uploads are decoded in a child process
(:func:`lookgrid.imaging.io.read_image` with ``isolated=True``), so a crashing decoder cannot take
the server down.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from lookgrid.errors import InvalidInputError
from lookgrid.imaging.color import SRGB_TEXTURE, get_pipeline
from lookgrid.imaging.io import Image, read_image, sniff_extension, write_image
from lookgrid.imaging.style import read_style_image

#: formats a style upload may have (by sniffed extension)
STYLE_FORMATS = {".exr": "EXR", ".png": "PNG", ".jpg": "JPEG", ".tif": "TIFF"}


def _read_bytes(data: bytes | bytearray | memoryview, ext: str, *, isolated: bool, **limits) -> Image:
    fd, path = tempfile.mkstemp(suffix=ext, prefix="lookgrid-bytes-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return read_image(path, isolated=isolated, **limits)
    finally:
        os.unlink(path)


def decode_exr(data: bytes | bytearray | memoryview, *, max_pixels: int | None = None) -> Image:
    """An :class:`Image` from the bytes of an EXR file (an inline frame); ``max_pixels``: refuse
    a header announcing more (:class:`ResourceLimitError`) before decoding."""
    return _read_bytes(data, ".exr", isolated=False, max_pixels=max_pixels)


def encode_exr(pixels: np.ndarray, channels: list[str], like: Image | None = None, dtype: str | None = None) -> bytes:
    """The bytes of an EXR file of ``(H, W, C)`` pixels (``like``: carry an input image's
    windows and metadata when it has the same shape)."""
    if like is not None and tuple(np.asarray(like.pixels).shape) != tuple(pixels.shape):
        like = None
    with tempfile.TemporaryDirectory(prefix="lookgrid-exr-") as folder:
        path = os.path.join(folder, "frame.exr")
        write_image(path, pixels, channel_names=channels, like=like, dtype=dtype)
        with open(path, "rb") as f:
            return f.read()


def decode_style(
    data: bytes,
    *,
    filename: str = "",
    colorspace: str | None = None,
    max_pixels: int | None = None,
    max_side: int | None = None,
) -> np.ndarray:
    """Working-space ``(H, W, 3)`` pixels of an uploaded style file (PNG, JPEG, EXR or TIFF,
    recognised by content; decoded in a child process). ``max_pixels``: refuse a header that
    announces more (:class:`ResourceLimitError`, nothing decoded); ``max_side``: the child shrinks
    the picture to at most this long side before sending it back."""
    sniffed = sniff_extension(data)
    if sniffed not in STYLE_FORMATS:
        raise InvalidInputError(f"style {filename or '(upload)'}: not a PNG, JPEG, EXR or TIFF file")
    ext = os.path.splitext(filename)[1].lower()
    ext = sniffed if ext not in (".jpeg", sniffed) else ext
    img = _read_bytes(data, ext, isolated=True, max_pixels=max_pixels, max_side=max_side)
    return read_style_image(img, colorspace=colorspace or None)


def raw_style_to_working(pixels: np.ndarray, colorspace: str | None = None) -> np.ndarray:
    """Working-space ``(H, W, 3)`` of a raw ``(H, W, C≥3)`` style array in ``colorspace``
    (default ``sRGB - Texture``)."""
    rgb = np.ascontiguousarray(pixels[..., :3], dtype=np.float32)
    return get_pipeline(None, colorspace or SRGB_TEXTURE).to_working(rgb)
