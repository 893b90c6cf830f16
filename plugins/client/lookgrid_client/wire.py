"""The wire format of frames and style images: chunking, raw arrays, content hashes.

One implementation used by both ends (the client and ``lookgrid.service``), so they cannot drift.
Imports only numpy and the generated protobuf stubs.

Raw arrays are row-major ``(height, width, channels)``, top row first, little-endian ``float16``
(``RAW_HALF``) or ``float32`` (``RAW_FLOAT``). A payload travels as a header message followed by
chunks of at most ``chunk_bytes`` bytes (default :data:`DEFAULT_CHUNK_BYTES`, well under gRPC's 4 MiB
default message limit), so a 3840x2160 RGBA half frame (66 MB) needs no raised limits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from lookgrid_client.proto import lookgrid_pb2 as pb

DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024
"""Chunk size for payloads: 2 MiB (gRPC's default receive limit is 4 MiB per message)."""

_DTYPES: dict[int, np.dtype] = {pb.RAW_HALF: np.dtype("<f2"), pb.RAW_FLOAT: np.dtype("<f4")}
_DTYPE_NAMES: dict[int, str] = {pb.RAW_HALF: "float16", pb.RAW_FLOAT: "float32"}


class WireError(ValueError):
    """A payload does not match its header (size, shape, order of messages).

    ``field`` names the header field at fault, for error messages and status mapping.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def encoding_for_dtype(dtype) -> pb.PixelEncoding:
    """``np.float16`` -> ``RAW_HALF``, ``np.float32`` -> ``RAW_FLOAT``; others raise WireError."""
    dt = np.dtype(dtype)
    if dt == np.float16:
        return pb.RAW_HALF
    if dt == np.float32:
        return pb.RAW_FLOAT
    raise WireError(f"raw pixels must be float16 or float32, got {dt}", "encoding")


def dtype_for_encoding(encoding: int) -> np.dtype:
    """The little-endian numpy dtype of a ``RAW_*`` encoding; WireError for others."""
    try:
        return _DTYPES[encoding]
    except KeyError:
        raise WireError(
            f"encoding {pb.PixelEncoding.Name(encoding) if encoding in pb.PixelEncoding.values() else encoding} is not a raw encoding",
            "encoding",
        ) from None


def raw_bytes(pixels: np.ndarray) -> memoryview:
    """Little-endian, C-contiguous bytes of a (H, W, C) float16/float32 array (no copy if possible)."""
    if pixels.ndim != 3:
        raise WireError(f"pixels must be (height, width, channels), got shape {tuple(pixels.shape)}", "channels")
    dt = np.dtype(pixels.dtype)
    arr = np.ascontiguousarray(pixels, dtype=dt.newbyteorder("<"))
    return arr.data.cast("B")


def chunks(payload, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
    """Split a bytes-like payload into pieces of at most ``chunk_bytes`` (at least one piece)."""
    if chunk_bytes <= 0:
        raise WireError(f"chunk_bytes must be positive, got {chunk_bytes}", "chunk_bytes")
    view = memoryview(payload).cast("B")
    n = len(view)
    if n == 0:
        return
    for start in range(0, n, chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])


def style_hash(
    payload, *, encoding: int = pb.ENCODED, shape: tuple[int, int, int] | None = None, colorspace: str = ""
) -> str:
    """Content key of a style image, ``"sha256:<hex>"`` (see StyleHeader.sha256 in the .proto).

    ``ENCODED``: sha256 of the file bytes. ``RAW_*``: sha256 of the line
    ``"lookgrid-raw-v1 <dtype> <height> <width> <channels> <colorspace>\\n"`` then the bytes.
    """
    h = hashlib.sha256()
    if encoding != pb.ENCODED:
        if shape is None:
            raise WireError("a raw style needs its (height, width, channels)", "height")
        height, width, channels = shape
        h.update(f"lookgrid-raw-v1 {_DTYPE_NAMES[encoding]} {height} {width} {channels} {colorspace}\n".encode("ascii"))
    h.update(memoryview(payload).cast("B"))
    return "sha256:" + h.hexdigest()


def is_style_key(text: str) -> bool:
    """True for ``"sha256:"`` followed by 64 lowercase hex digits."""
    if not text.startswith("sha256:"):
        return False
    digits = text[7:]
    return len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)


@dataclass
class Frame:
    """A frame as it travels: its header and its complete payload.

    ``pixels()`` gives the raw array (H, W, C) for ``RAW_*`` payloads; ``payload`` is the file bytes
    for ``ENCODED`` ones.
    """

    header: pb.FrameHeader
    payload: bytes | bytearray | memoryview = b""
    extra: dict = field(default_factory=dict)

    def pixels(self) -> np.ndarray:
        """(H, W, C) array viewing the payload; WireError if the header's shape does not match it."""
        dt = dtype_for_encoding(self.header.encoding)
        h, w, c = self.header.height, self.header.width, len(self.header.channels)
        if h <= 0 or w <= 0:
            raise WireError(f"raw frame needs a positive width and height, got {w}x{h}", "width")
        if c == 0:
            raise WireError("raw frame needs its channel names (FrameHeader.channels)", "channels")
        expected = h * w * c * dt.itemsize
        if len(self.payload) != expected:
            raise WireError(
                f"payload has {len(self.payload)} bytes but {w}x{h}x{c} {dt.name} needs {expected}", "payload_bytes"
            )
        return np.frombuffer(self.payload, dtype=dt).reshape(h, w, c)


def frame_messages(header: pb.FrameHeader, payload, message_type, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
    """Yield ``message_type(header=...)`` then ``message_type(chunk=...)`` pieces for one frame.

    ``message_type`` is ``pb.RenderFramesRequest`` or ``pb.RenderFramesResponse``; the header's
    ``payload_bytes`` is set here.
    """
    view = memoryview(payload).cast("B")
    hdr = pb.FrameHeader()
    hdr.CopyFrom(header)
    hdr.payload_bytes = len(view)
    yield message_type(header=hdr)
    for piece in chunks(view, chunk_bytes):
        yield message_type(chunk=piece)


def raw_frame_messages(
    clip_id: str,
    frame: int,
    pixels: np.ndarray,
    channels: list[str],
    message_type,
    *,
    mask_channels: dict[str, str] | None = None,
    output_encoding: pb.PixelEncoding = pb.PIXEL_ENCODING_UNSPECIFIED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    seconds: float = 0.0,
):
    """Messages for a raw (H, W, C) float16/float32 frame with the given channel names."""
    if pixels.ndim != 3 or pixels.shape[2] != len(channels):
        raise WireError(f"pixels of shape {tuple(pixels.shape)} do not match {len(channels)} channel names", "channels")
    header = pb.FrameHeader(
        clip_id=clip_id,
        frame=int(frame),
        encoding=encoding_for_dtype(pixels.dtype),
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        channels=list(channels),
        mask_channels=dict(mask_channels or {}),
        output_encoding=output_encoding,
        seconds=seconds,
    )
    return frame_messages(header, raw_bytes(pixels), message_type, chunk_bytes)


def assemble_frames(
    messages: Iterable, *, max_payload_bytes: int | None = None, check_header=None, take=None
) -> Iterator[Frame]:
    """Group a stream of header/chunk messages into complete :class:`Frame` objects.

    Raises WireError on a chunk before any header, a header before the previous payload is complete,
    more bytes than announced, a payload over ``max_payload_bytes``, or a stream ending mid-frame.
    ``check_header(header)`` is called when a header arrives (it may raise). Memory follows the
    bytes received, not the size a header announces: the payload grows chunk by chunk, and
    ``take(n)`` (e.g. a memory budget; it may raise) is called before each chunk of ``n`` bytes
    is kept. A partly received payload is dropped when the stream ends or fails.
    """
    state: dict = {}
    try:
        yield from _assemble(messages, max_payload_bytes, check_header, take, state)
    finally:
        state.clear()  # a partial payload must not outlive the stream (e.g. held by a traceback)


def _assemble(messages, max_payload_bytes, check_header, take, state: dict) -> Iterator[Frame]:
    header = None
    frame: Frame | None = None
    filled = 0
    for msg in messages:
        part = msg.WhichOneof("part")
        if part == "header":
            if header is not None:
                raise WireError(
                    f"frame {header.frame}: a new header arrived after {filled} of "
                    f"{header.payload_bytes} payload bytes",
                    "payload_bytes",
                )
            header = msg.header
            size = int(header.payload_bytes)
            if size < 0:
                raise WireError(f"payload_bytes must not be negative, got {size}", "payload_bytes")
            if max_payload_bytes is not None and size > max_payload_bytes:
                raise WireError(
                    f"frame {header.frame}: payload of {size} bytes exceeds the limit of {max_payload_bytes}",
                    "payload_bytes",
                )
            if check_header is not None:
                check_header(header)
            state["buf"] = bytearray()
            filled = 0
            if size == 0:
                frame, header = Frame(header, state.pop("buf")), None
                yield frame
                frame = None
        elif part == "chunk":
            if header is None:
                raise WireError("a chunk arrived before any frame header", "header")
            piece = msg.chunk
            size = int(header.payload_bytes)
            end = filled + len(piece)
            if end > size:
                raise WireError(f"frame {header.frame}: more payload than the {size} bytes announced", "payload_bytes")
            if take is not None:
                take(len(piece))
            state["buf"] += piece
            filled = end
            if filled == size:
                frame, header = Frame(header, state.pop("buf")), None
                yield frame
                frame = None
        else:
            raise WireError("an empty message arrived (neither header nor chunk)", "part")
    if header is not None:
        raise WireError(
            f"frame {header.frame}: the stream ended after {filled} of {header.payload_bytes} payload bytes",
            "payload_bytes",
        )
