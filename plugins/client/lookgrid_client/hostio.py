"""Reading a host's frame files off its UI thread.

A host whose only image reader lives on its UI thread (Blender's ``bpy.data.images.load``) would
stall its interface for every frame and matte. Where OpenImageIO's Python module can be imported
(Blender 4.x/5.x bundles it; Blender as a pip module keeps it under ``<version>/python/lib/...``,
which :func:`add_bundled_site_packages` puts on ``sys.path``), a worker thread reads the files
itself; OpenImageIO releases the GIL while it decodes, so the host's thread keeps running. Without
it a host falls back to its own reader on its UI thread (one frame per timer tick).

Pixels are the values stored in the file (no colour conversion), rows top first, as RGBA float32:
one channel becomes grey with alpha 1, two are grey and alpha, three get alpha 1. A matte is the
file's alpha when it has one, else its first channel (as the backend reads mask files).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import numpy as np

from lookgrid_client.errors import InvalidRequestError


def add_bundled_site_packages(folder: str) -> None:
    """Put a host's bundled ``site-packages`` folder at the end of ``sys.path`` (when it exists)."""
    if folder and os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)


def openimageio():
    """OpenImageIO's Python module, or None when it cannot be imported."""
    try:
        import OpenImageIO
    except ImportError:
        return None
    return OpenImageIO


def _read(path: str) -> tuple[np.ndarray, int]:
    oiio = openimageio()
    if oiio is None:
        raise InvalidRequestError("OpenImageIO is not available to read frames off the host's thread")
    if not os.path.isfile(path):
        raise InvalidRequestError(f"missing frame file {path}")
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise InvalidRequestError(f"cannot read the image {path}: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
        if pixels is None or inp.has_error:
            raise InvalidRequestError(f"cannot read the image {path}: {inp.geterror()}")
        alpha = spec.alpha_channel
    finally:
        inp.close()
    return np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels), alpha


def read_rgba(path: str) -> np.ndarray:
    """(H, W, 4) float32 RGBA of an image file, top row first, values as stored."""
    px, alpha = _read(path)
    h, w, n = px.shape
    one = np.ones((h, w, 1), np.float32)
    if n == 1:
        return np.concatenate([px, px, px, one], axis=2)
    if n == 2:
        return np.concatenate([px[..., :1]] * 3 + [px[..., 1:2]], axis=2)
    if n == 3:
        return np.concatenate([px, one], axis=2)
    a = alpha if 0 <= alpha < n else 3
    return np.ascontiguousarray(np.concatenate([px[..., :3], px[..., a : a + 1]], axis=2))


def read_matte(path: str) -> np.ndarray:
    """(H, W) float32 matte: the file's alpha when it has one, else its first channel."""
    px, alpha = _read(path)
    return np.ascontiguousarray(px[..., alpha] if 0 <= alpha < px.shape[2] else px[..., 0])


def read_frame_files(frame: int, plate: str, masks: Mapping[str, str]):
    """The FrameIn of ``frame`` from its plate file and each region's matte file (any thread)."""
    from lookgrid_client import FrameIn

    return FrameIn(
        frame, read_rgba(plate), ["R", "G", "B", "A"], masks={name: read_matte(path) for name, path in masks.items()}
    )


__all__ = ["add_bundled_site_packages", "openimageio", "read_frame_files", "read_matte", "read_rgba"]
