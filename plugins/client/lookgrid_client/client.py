"""A small synchronous client for ``lookgrid serve`` (host-independent: grpc, protobuf, numpy).

Typical use from a host plugin or a script::

    from lookgrid_client import LookGridClient, FrameIn

    with LookGridClient("127.0.0.1:50051") as client:
        key = client.upload_style("refs/sunset.jpg")          # deduplicated by content hash
        clip = client.open_clip({"regions": [{"name": "car", "styles": [{"style": key}]},
                                             {"name": "background", "styles": [{"style": key2}]}]})
        for out in client.render_frames(clip.clip_id, [FrameIn(1001, rgba, ["R","G","B","A"],
                                                                masks={"car": matte})]):
            use(out.frame, out.pixels)                          # (H, W, C) in the input's dtype
        client.close_clip(clip.clip_id)

Every call has a deadline (``timeout`` seconds; streaming calls get ``stream_timeout``). Server
errors arrive as :class:`ServerError` carrying the gRPC status code name and the server's message.
Nothing here blocks on a host's UI thread by itself; run calls from a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import json_format

from lookgrid_client import wire
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"


class ServerError(Exception):
    """A call failed on the server or on the way. ``code`` is the grpc.StatusCode, ``details`` its text."""

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        super().__init__(f"{method + ': ' if method else ''}{code.name}: {details}")


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


def spec_message(spec) -> pb.ClipSpec:
    """A ClipSpec message from a message, a dict in protobuf's JSON form, or an object with to_dict()."""
    if isinstance(spec, pb.ClipSpec):
        return spec
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    if isinstance(spec, dict):
        return json_format.ParseDict(spec, pb.ClipSpec())
    raise TypeError(f"spec must be a ClipSpec message, a dict or have to_dict(), got {type(spec).__name__}")


def spec_dict(spec: pb.ClipSpec) -> dict:
    """A ClipSpec message in its JSON form (lowerCamelCase keys, defaults omitted)."""
    return json_format.MessageToDict(spec)


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class LookGridClient:
    """Connection to one LookGrid server.

    ``token``: sent as ``authorization: Bearer <token>`` metadata. ``root_certificates``: PEM bytes or
    a path; when given (or ``tls=True``) the channel uses TLS. ``timeout``: deadline in seconds of
    unary calls; ``stream_timeout``: of streaming calls (None = no deadline).
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, token: str | None = None, tls: bool = False,
                 root_certificates: bytes | str | os.PathLike | None = None, timeout: float = 60.0,
                 stream_timeout: float | None = 3600.0, chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES,
                 max_message_bytes: int = 8 * 1024 * 1024) -> None:
        self.address = address
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.chunk_bytes = chunk_bytes
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if root_certificates is not None or tls:
            if root_certificates is not None and not isinstance(root_certificates, bytes):
                root_certificates = _read_bytes(root_certificates)
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._stub = pb_grpc.LookGridStub(self._channel)

    # -- plumbing ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "LookGridClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, name: str, request, timeout: float | None = None):
        try:
            return getattr(self._stub, name)(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise ServerError(err.code(), err.details() or "", name) from None

    def _stream(self, name: str, request, timeout: float | None):
        try:
            yield from getattr(self._stub, name)(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise ServerError(err.code(), err.details() or "", name) from None

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel connects (ServerError UNAVAILABLE after ``timeout`` seconds)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ServerError(grpc.StatusCode.UNAVAILABLE, f"no LookGrid server answered at {self.address} "
                              f"within {timeout:g} s", "connect") from None

    # -- info and styles ---------------------------------------------------------------------------
    def server_info(self) -> pb.ServerInfo:
        return self._call("GetServerInfo", pb.GetServerInfoRequest())

    def has_style(self, key: str) -> bool:
        """True when the server already stores the style with this ``sha256:`` key."""
        try:
            self._call("GetStyle", pb.GetStyleRequest(style=key))
            return True
        except ServerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return False
            raise

    def upload_style(self, source, *, colorspace: str = "", filename: str = "") -> str:
        """Upload a reference image unless the server has it; return its ``sha256:`` key.

        ``source``: a path to an image file (PNG, JPEG, EXR, TIFF), the bytes of one, or an
        (H, W, 3|4) float16/float32 array in ``colorspace`` (default "sRGB - Texture").
        """
        if isinstance(source, np.ndarray):
            if source.ndim != 3 or source.shape[2] not in (3, 4):
                raise ValueError(f"a style array must be (H, W, 3|4), got shape {source.shape}")
            encoding = wire.encoding_for_dtype(source.dtype)
            payload = wire.raw_bytes(source)
            key = wire.style_hash(payload, encoding=encoding, shape=source.shape, colorspace=colorspace)
            header = pb.StyleHeader(sha256=key, encoding=encoding, payload_bytes=len(payload),
                                    height=source.shape[0], width=source.shape[1], channels=source.shape[2],
                                    colorspace=colorspace, filename=filename)
        else:
            if isinstance(source, (bytes, bytearray, memoryview)):
                payload = bytes(source)
            else:
                filename = filename or Path(source).name
                payload = _read_bytes(source)
            key = wire.style_hash(payload)
            header = pb.StyleHeader(sha256=key, encoding=pb.ENCODED, payload_bytes=len(payload),
                                    colorspace=colorspace, filename=filename)
        if self.has_style(key):
            return key

        def messages():
            yield pb.UploadStyleRequest(header=header)
            for piece in wire.chunks(payload, self.chunk_bytes):
                yield pb.UploadStyleRequest(chunk=piece)

        info = self._call("UploadStyle", messages(), timeout=self.stream_timeout)
        return info.style

    # -- clips -------------------------------------------------------------------------------------
    def open_clip(self, spec, label: str = "") -> pb.ClipInfo:
        """Open a clip from a ClipSpec (message, JSON-form dict, or engine spec); returns ClipInfo."""
        return self._call("OpenClip", pb.OpenClipRequest(spec=spec_message(spec), label=label))

    def update_clip(self, clip_id: str, spec) -> pb.ClipInfo:
        return self._call("UpdateClip", pb.UpdateClipRequest(clip_id=clip_id, spec=spec_message(spec)))

    def close_clip(self, clip_id: str) -> None:
        self._call("CloseClip", pb.CloseClipRequest(clip_id=clip_id))

    def analyze(self, clip_id: str, frames: Iterable[int] | None = None,
                progress: Callable[[pb.Progress], None] | None = None) -> list[pb.Progress]:
        out = []
        for p in self._stream("Analyze", pb.AnalyzeRequest(clip_id=clip_id, frames=list(frames or [])),
                              self.stream_timeout):
            out.append(p)
            if progress:
                progress(p)
        return out

    def render_by_path(self, spec=None, *, clip_id: str = "", frames: Iterable[int] | None = None,
                       progress: Callable[[pb.Progress], None] | None = None) -> list[pb.Progress]:
        """Render frames on the server's storage, for an open clip or a one-off spec."""
        req = pb.RenderByPathRequest(clip_id=clip_id, frames=list(frames or []))
        if spec is not None:
            req.spec.CopyFrom(spec_message(spec))
        out = []
        for p in self._stream("RenderByPath", req, self.stream_timeout):
            out.append(p)
            if progress:
                progress(p)
        return out

    def export_look(self, output_dir: str, spec=None, *, clip_id: str = "", frames: Iterable[int] | None = None,
                    lut_size: int = 0, formats: Iterable[str] = (), regions: Iterable[str] = (),
                    progress: Callable[[pb.Progress], None] | None = None) -> pb.ExportLookResult:
        """Export each region's look (CLF, .cube, CDL, OCIO config, mattes) into ``output_dir`` on the
        server's storage, for an open clip or a one-off spec ("Export look..." in a host)."""
        req = pb.ExportLookRequest(clip_id=clip_id, frames=list(frames or []), output_dir=output_dir,
                                   lut_size=lut_size, formats=list(formats), regions=list(regions))
        if spec is not None:
            req.spec.CopyFrom(spec_message(spec))
        result = None
        for msg in self._stream("ExportLook", req, self.stream_timeout):
            if msg.HasField("result"):
                result = msg.result
            elif progress:
                progress(msg.progress)
        return result

    # -- inline frames -----------------------------------------------------------------------------
    def _frame_messages(self, clip_id: str, item: FrameIn, output_encoding: int):
        if item.exr is not None:
            header = pb.FrameHeader(clip_id=clip_id, frame=int(item.frame), encoding=pb.ENCODED,
                                    output_encoding=output_encoding)
            return wire.frame_messages(header, item.exr, pb.RenderFramesRequest, self.chunk_bytes)
        if item.pixels is None:
            raise ValueError(f"frame {item.frame}: give pixels or exr bytes")
        pixels, channels = item.pixels, list(item.channels)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.dtype not in (np.float16, np.float32):
            pixels = pixels.astype(np.float32)
        mask_channels = {}
        if item.masks:
            extra = []
            for name, mask in item.masks.items():
                mask = np.asarray(mask)
                if mask.shape != pixels.shape[:2]:
                    raise ValueError(f"frame {item.frame}: mask {name!r} has shape {mask.shape}, "
                                     f"the frame is {pixels.shape[:2]}")
                extra.append(mask.astype(pixels.dtype)[:, :, None])
                mask_channels[name] = name
                channels.append(name)
            pixels = np.concatenate([pixels] + extra, axis=2)
        return wire.raw_frame_messages(clip_id, item.frame, pixels, channels, pb.RenderFramesRequest,
                                       mask_channels=mask_channels, output_encoding=output_encoding,
                                       chunk_bytes=self.chunk_bytes)

    def render_frames(self, clip_id: str, frames: Iterable[FrameIn], *, output_encoding: int = 0,
                      timeout: float | None = None) -> Iterator[FrameOut]:
        """Stream frames to the server and yield the rendered ones, in order.

        Frames are sent as fast as gRPC's flow control allows, so the server works on one while the
        next is on the wire. Closing the generator early cancels the call (the server frees its state).
        """
        def requests():
            for item in frames:
                yield from self._frame_messages(clip_id, item, output_encoding)

        try:
            call = self._stub.RenderFrames(requests(), timeout=timeout or self.stream_timeout,
                                           metadata=self._metadata)
        except grpc.RpcError as err:  # pragma: no cover - raised lazily in practice
            raise ServerError(err.code(), err.details() or "", "RenderFrames") from None
        try:
            for fr in wire.assemble_frames(call):
                h = fr.header
                if h.encoding == pb.ENCODED:
                    yield FrameOut(h.frame, list(h.channels), None, bytes(fr.payload), h.seconds)
                else:
                    yield FrameOut(h.frame, list(h.channels), fr.pixels(), None, h.seconds)
        except grpc.RpcError as err:
            raise ServerError(err.code(), err.details() or "", "RenderFrames") from None
        finally:
            call.cancel()

    def render_frame(self, clip_id: str, frame: int, pixels: np.ndarray, channels=("R", "G", "B"),
                     masks: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Render one raw frame; returns the (H, W, C) result (colour + alpha channels)."""
        item = FrameIn(frame, pixels, list(channels), dict(masks or {}))
        outs = list(self.render_frames(clip_id, [item]))
        return outs[0].pixels
