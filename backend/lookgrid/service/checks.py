"""What the servicer checks on a request before the engine sees it: the server's limits, the
announced sizes of raw payloads, and the spec (validated here, once, on its way in)."""

from __future__ import annotations

from dataclasses import dataclass

from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError, ResourceLimitError
from lookgrid_client import wire
from lookgrid_client.proto import lookgrid_pb2 as pb

RAW = (pb.RAW_HALF, pb.RAW_FLOAT)


@dataclass
class Limits:
    """The server's limits (reported in ``ServerInfo.limits``)."""

    max_frame_pixels: int = 8192 * 8192
    max_frame_bytes: int = 2 << 30
    max_style_bytes: int = 256 << 20
    max_regions: int = 16
    max_styles_per_region: int = 8
    #: pixels a style file's header may announce (decompression bombs are refused before decoding)
    max_style_pixels: int = 40_000_000


def raw_payload_bytes(encoding: int, width: int, height: int, channels: int) -> int:
    """Bytes of a ``RAW_*`` picture of ``width × height × channels``."""
    return width * height * channels * wire.dtype_for_encoding(encoding).itemsize


def check_spec(spec: ClipSpec, limits: Limits) -> ClipSpec:
    """The server's spec limits (RESOURCE_EXHAUSTED beyond), then :meth:`ClipSpec.validate`."""
    if len(spec.regions) > limits.max_regions:
        raise ResourceLimitError(f"spec.regions: {len(spec.regions)} regions, this server allows {limits.max_regions}")
    for r in spec.regions:
        if len(r.styles) > limits.max_styles_per_region:
            raise ResourceLimitError(
                f"region {r.name!r}: {len(r.styles)} styles, this server allows "
                f"{limits.max_styles_per_region} per region"
            )
    return spec.validate(need_paths=False)


def check_style_header(h: pb.StyleHeader, limits: Limits) -> None:
    if not wire.is_style_key(h.sha256):
        raise InvalidInputError(f"header.sha256: {h.sha256!r} is not 'sha256:' and 64 lowercase hex digits")
    if h.payload_bytes <= 0:
        raise InvalidInputError("header.payload_bytes must be positive")
    if h.payload_bytes > limits.max_style_bytes:
        raise ResourceLimitError(
            f"header.payload_bytes: {h.payload_bytes} bytes exceeds the style limit of {limits.max_style_bytes}"
        )
    if h.encoding in RAW:
        if h.width * h.height > limits.max_style_pixels:
            raise ResourceLimitError(
                f"header: a raw style of {h.width}x{h.height} pixels exceeds the "
                f"limit of {limits.max_style_pixels} pixels"
            )
        need = raw_payload_bytes(h.encoding, h.width, h.height, h.channels)
        if h.channels not in (3, 4) or h.width <= 0 or h.height <= 0 or need != h.payload_bytes:
            raise InvalidInputError(
                f"header: a raw style of {h.width}x{h.height}x{h.channels} does not match "
                f"payload_bytes {h.payload_bytes} (channels must be 3 or 4)"
            )
    elif h.encoding != pb.ENCODED:
        raise InvalidInputError("header.encoding must be ENCODED, RAW_HALF or RAW_FLOAT")


def check_frame_header(h: pb.FrameHeader, limits: Limits) -> None:
    if h.payload_bytes < 0:
        raise InvalidInputError(f"frame {h.frame}: header.payload_bytes must not be negative")
    if h.payload_bytes > limits.max_frame_bytes:
        raise ResourceLimitError(
            f"frame {h.frame}: header.payload_bytes {h.payload_bytes} exceeds the "
            f"server's limit of {limits.max_frame_bytes} bytes per frame"
        )
    if h.width * h.height > limits.max_frame_pixels:
        raise ResourceLimitError(
            f"frame {h.frame}: {h.width}x{h.height} exceeds the server's limit of {limits.max_frame_pixels} pixels"
        )
    if h.encoding in RAW:
        need = raw_payload_bytes(h.encoding, h.width, h.height, len(h.channels))
        if need != h.payload_bytes:
            raise InvalidInputError(
                f"frame {h.frame}: header.payload_bytes is {h.payload_bytes} but "
                f"{h.width}x{h.height}x{len(h.channels)} "
                f"{pb.PixelEncoding.Name(h.encoding)} needs {need}"
            )


def style_header(request_iterator) -> pb.StyleHeader:
    """The header that opens an UploadStyle stream (checked with :func:`check_style_header`)."""
    first = next(request_iterator, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidInputError("UploadStyle: the first message must carry the header")
    return first.header


def collect_payload(h: pb.StyleHeader, request_iterator, take=None) -> bytearray:
    """The rest of an UploadStyle stream: chunks adding up to exactly ``h.payload_bytes``;
    ``take(n)`` (the call's memory budget) before each chunk is kept."""
    buf = bytearray()
    for msg in request_iterator:
        if msg.WhichOneof("part") != "chunk":
            raise InvalidInputError("UploadStyle: only chunks may follow the header")
        if take is not None:
            take(len(msg.chunk))
        buf += msg.chunk
        if len(buf) > h.payload_bytes:
            raise InvalidInputError(f"header.payload_bytes: more than the {h.payload_bytes} bytes announced")
    if len(buf) != h.payload_bytes:
        raise InvalidInputError(f"header.payload_bytes: the upload ended after {len(buf)} of {h.payload_bytes} bytes")
    return buf  # no second copy
