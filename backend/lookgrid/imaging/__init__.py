"""Imaging: frames in and out (OpenImageIO), colour (OpenColorIO), sequences, references, masks.

The only package of LookGrid that imports OpenImageIO or PyOpenColorIO. See the modules:

* :mod:`lookgrid.imaging.io` — :func:`read_image` / :func:`write_image`, :class:`Image`
  (pixels (H, W, C) float32 in the display window), windows, metadata, damaged files, isolated reads;
* :mod:`lookgrid.imaging.color` — :data:`WORKING_SPACE` (ACEScct, and why), :class:`ColorPipeline`
  (scene ↔ working, exact fast path), :func:`sanitize` (the NaN/Inf policy);
* :mod:`lookgrid.imaging.sequence` — :class:`FrameSequence` (``%04d``, ``####``, ``@``, ranges, gaps);
* :mod:`lookgrid.imaging.style` — :func:`read_style_image`, :func:`read_mask`.
"""

from lookgrid.imaging.color import (
    DEFAULT_CONFIG,
    HALF_MAX,
    OCIO_VERSION,
    SCENE_DEFAULT,
    SRGB_TEXTURE,
    WORKING_SPACE,
    ColorPipeline,
    SanitizeReport,
    builtin_configs,
    check_config,
    config_source,
    declared_colorspace,
    default_colorspace,
    get_pipeline,
    load_config,
    pinned_config,
    resolve_colorspace,
    sanitize,
)
from lookgrid.imaging.io import Image, SpecInfo, io_threads, read_header, read_image, set_io_threads, write_image
from lookgrid.imaging.sequence import FrameSequence, format_frame_ranges, parse_frame_range
from lookgrid.imaging.style import mask_from_pixels, read_mask, read_style_image, resize_mask

__all__ = [
    "DEFAULT_CONFIG",
    "HALF_MAX",
    "OCIO_VERSION",
    "SCENE_DEFAULT",
    "SRGB_TEXTURE",
    "WORKING_SPACE",
    "ColorPipeline",
    "SanitizeReport",
    "builtin_configs",
    "check_config",
    "config_source",
    "declared_colorspace",
    "default_colorspace",
    "get_pipeline",
    "load_config",
    "pinned_config",
    "resolve_colorspace",
    "sanitize",
    "Image",
    "SpecInfo",
    "io_threads",
    "read_header",
    "set_io_threads",
    "read_image",
    "write_image",
    "FrameSequence",
    "format_frame_ranges",
    "parse_frame_range",
    "mask_from_pixels",
    "read_mask",
    "read_style_image",
    "resize_mask",
]
