"""Inline frames on the wire <-> what the engine takes: colour channels, masks, colour spaces.

Pure translation: channel bookkeeping and colour-space conversion through ``lookgrid.imaging``;
the look itself is the engine's :meth:`Clip.render`.

Inline frames are float (half or float32) pictures; their colour space is the clip's
``input_colorspace`` (default :data:`lookgrid.imaging.SCENE_DEFAULT`, ACEScg) and the result is sent back in ``output_colorspace``
(default: the input's). Alpha and any other non-mask channels travel back unchanged; mask channels
are not echoed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lookgrid.errors import InvalidInputError
from lookgrid.imaging import SCENE_DEFAULT, FrameSequence, Image, get_pipeline, read_mask, sanitize
from lookgrid.imaging.decode import decode_exr, encode_exr
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.wire import Frame, dtype_for_encoding, raw_bytes

INLINE = "inline"
"""RegionSpec.mask value meaning: the mask arrives with each frame (see the .proto)."""


@dataclass
class DecodedFrame:
    """A frame ready for the engine.

    pixels ``(H, W, C)`` as received (float16/float32), channel names, the indices of R, G, B,
    the masks of the clip's masked regions by name ``(H, W)``, the indices of mask channels, and
    the decoded :class:`lookgrid.imaging.Image` for EXR payloads (to write the result alike).
    """

    frame: int
    pixels: np.ndarray
    channels: list[str]
    rgb: list[int]
    masks: dict[str, np.ndarray]
    mask_indices: set[int]
    image: Image | None = None


def _channel_index(names: list[str], wanted: str) -> int | None:
    """Index of channel ``wanted``: exact name first, then case-insensitive, then the last
    component of a layered name (``rgba.R``); None when absent."""
    if wanted in names:
        return names.index(wanted)
    low = wanted.lower()
    for pick in (lambda n: n.lower() == low, lambda n: n.lower().rsplit(".", 1)[-1] == low):
        hits = [i for i, n in enumerate(names) if pick(n)]
        if hits:
            return hits[0]
    return None


def decode(fr: Frame, clip, max_pixels: int | None = None) -> DecodedFrame:
    """Pixels, colour channels and region masks of one received frame for ``clip`` (an engine Clip).

    A region's mask is found, in order: ``header.mask_channels[region]``, a channel named like the
    region, the region's mask pattern on the server's storage (read for this frame number).
    ``max_pixels``: an EXR payload whose header announces more is refused before decoding.
    """
    h = fr.header
    image = None
    if h.encoding == pb.ENCODED:
        image = decode_exr(fr.payload, max_pixels=max_pixels)
        pixels = np.asarray(image.pixels)
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        names = list(image.channel_names)
    elif h.encoding in (pb.RAW_HALF, pb.RAW_FLOAT):
        dtype_for_encoding(h.encoding)
        pixels = fr.pixels()
        names = list(h.channels)
    else:
        raise InvalidInputError(f"frame {h.frame}: header.encoding is not set (ENCODED, RAW_HALF or RAW_FLOAT)")
    if len(names) != pixels.shape[2]:
        raise InvalidInputError(f"frame {h.frame}: {len(names)} channel names for {pixels.shape[2]} channels")
    rgb = list(Image(pixels, tuple(names)).rgb_indices())
    if len(set(rgb)) != 3:
        raise InvalidInputError(f"frame {h.frame}: channels {names} have no R, G and B")
    masks, used = {}, set()
    for k in clip.masked:
        region = clip.regions[k]
        inline = region.mask == INLINE
        wanted = h.mask_channels.get(region.name) or (region.mask_channel if inline else "")
        idx = _channel_index(names, wanted) if wanted else None
        if wanted and idx is None:
            raise InvalidInputError(
                f"frame {h.frame}: the mask of region {region.name!r} should be in channel "
                f"{wanted!r}, which is not among {names}"
            )
        if idx is None:
            idx = next((i for i, n in enumerate(names) if n == region.name), None)
        if idx is not None:
            masks[region.name] = np.clip(np.nan_to_num(pixels[..., idx].astype(np.float32), nan=0.0), 0.0, 1.0)
            used.add(idx)
        elif not inline:
            masks[region.name] = _mask_from_storage(region, h.frame)
        else:
            raise InvalidInputError(
                f"frame {h.frame}: no mask for region {region.name!r}: send a channel named "
                f"{region.name!r}, or name the channel in mask_channels / the region's mask_channel"
            )
    both = sorted(set(rgb) & used)
    if both:
        raise InvalidInputError(
            f"frame {h.frame}: channel {names[both[0]]!r} cannot be both a colour "
            f"channel and a mask; channels {names} need R, G and B besides the masks"
        )
    return DecodedFrame(h.frame, pixels, names, rgb, masks, used, image)


def _mask_from_storage(region, frame: int) -> np.ndarray:
    return read_mask(FrameSequence.parse(region.mask).path(frame), channel=region.mask_channel or None)


def colorspaces(spec) -> tuple[str, str]:
    """(input, output) colour spaces of inline frames for a spec."""
    src = spec.input_colorspace or SCENE_DEFAULT
    return src, spec.output_colorspace or src


def render(clip, dec: DecodedFrame) -> tuple[np.ndarray, list[str]]:
    """Render a decoded frame with ``clip``; returns (pixels (H, W, C'), channel names), in the
    input's dtype, with the mask channels removed and R, G, B replaced by the result."""
    spec = clip.spec
    src, dst = colorspaces(spec)
    rgb = np.ascontiguousarray(dec.pixels[..., dec.rgb], dtype=np.float32)
    working = get_pipeline(spec.config, src).to_working(rgb)
    out_working = clip.render(dec.frame, working, dec.masks)
    out_rgb = get_pipeline(spec.config, dst).from_working(np.ascontiguousarray(out_working, dtype=np.float32))
    keep = [i for i in range(dec.pixels.shape[2]) if i not in dec.mask_indices]
    if keep == list(range(dec.pixels.shape[2])) and dec.pixels.flags.writeable:
        out = dec.pixels  # the received buffer is ours: write the result into it
    else:
        out = dec.pixels[..., keep].copy()
    for j, i in enumerate(dec.rgb):
        out[..., keep.index(i)] = out_rgb[..., j]
    others = [j for j, i in enumerate(keep) if i not in dec.rgb]  # alpha, AOVs: the NaN/Inf policy
    if others:
        out[..., others] = sanitize(out[..., others])[0]
    return out, [dec.channels[i] for i in keep]


def render_message(clip, fr: Frame, max_pixels: int) -> tuple[pb.FrameHeader, bytes | memoryview]:
    """Decode, render and encode one frame for ``clip``: (response header, payload bytes) — an EXR
    when the frame asks for ``ENCODED`` output, else raw pixels of the requested (or its own) type."""
    t0 = time.perf_counter()
    h = fr.header
    dec = decode(fr, clip, max_pixels)
    out, names = render(clip, dec)
    out_encoding = h.output_encoding or h.encoding
    header = pb.FrameHeader(
        clip_id=h.clip_id, frame=h.frame, encoding=out_encoding, width=out.shape[1], height=out.shape[0], channels=names
    )
    if out_encoding == pb.ENCODED:
        payload: bytes | memoryview = encode_exr(out, names, like=dec.image)
    else:
        dtype = dtype_for_encoding(out_encoding)
        payload = raw_bytes(out if out.dtype == dtype else out.astype(dtype))
    header.seconds = time.perf_counter() - t0
    return header, payload
