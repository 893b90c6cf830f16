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
errors arrive as :class:`~lookgrid_client.errors.ServerError` carrying the gRPC status code name and
the server's message; every error the client raises is a
:class:`~lookgrid_client.errors.LookGridError` whose text is one line. Calls that are safe to repeat
(info, style look-ups and content-addressed uploads, opening, updating and closing clips) are retried
a few times when the server is UNAVAILABLE; frame streams are retried only by
:meth:`LookGridClient.render_sequence`, and only before any frame went out. Nothing here blocks on a
host's UI thread by itself; run calls from a worker thread (:mod:`lookgrid_client.hostjob`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import grpc
import numpy as np
from google.protobuf import json_format

from lookgrid_client import sequence, wire
from lookgrid_client.api import DEFAULT_ADDRESS, check_api_version
from lookgrid_client.errors import (
    InvalidRequestError,
    LookGridError,
    RenderCancelledError,
    ServerError,
    ServerUnavailableError,
)
from lookgrid_client.frames import FrameIn, FrameOut
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc


class _OwnedProcess(Protocol):
    """What a client needs of a server process it owns (:class:`lookgrid_client.launch.ServerProcess`)."""

    def stop(self) -> None: ...


RETRY_DELAYS = (0.2, 0.5, 1.0)
"""Seconds to wait before each retry of a call that is safe to repeat, when the server is UNAVAILABLE."""


def spec_message(spec) -> pb.ClipSpec:
    """A ClipSpec message from a message, a dict in protobuf's JSON form, or an object with to_dict()."""
    if isinstance(spec, pb.ClipSpec):
        return spec
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    if isinstance(spec, dict):
        try:
            return json_format.ParseDict(spec, pb.ClipSpec())
        except json_format.ParseError as err:
            raise InvalidRequestError(f"the clip spec is malformed: {err}") from None
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

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | os.PathLike | None = None,
        timeout: float = 60.0,
        stream_timeout: float | None = 3600.0,
        chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES,
        max_message_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.chunk_bytes = chunk_bytes
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if root_certificates is not None or tls:
            if root_certificates is not None and not isinstance(root_certificates, bytes):
                root_certificates = _read_bytes(root_certificates)
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._stub = pb_grpc.LookGridStub(self._channel)
        self.owned_process: _OwnedProcess | None = None  # a ServerProcess that connect() launched for this client
        self.asked_address = ""  # with owned_process: the configured address nothing answered at

    # -- plumbing ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the channel; stop the server process when :func:`connect` launched it."""
        self._channel.close()
        if self.owned_process is not None:
            self.owned_process.stop()
            self.owned_process = None

    def __enter__(self) -> "LookGridClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, name: str, request, timeout: float | None = None, *, idempotent: bool = False):
        """One unary (or client-streaming) call. ``idempotent``: retried on UNAVAILABLE; ``request``
        may then be a zero-argument function making the request (a fresh stream per try)."""
        method = getattr(self._stub, name)
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                req = request() if callable(request) else request
                return method(req, timeout=timeout or self.timeout, metadata=self._metadata)
            except grpc.RpcError as err:
                if idempotent and err.code() == grpc.StatusCode.UNAVAILABLE and attempt < len(RETRY_DELAYS):
                    time.sleep(RETRY_DELAYS[attempt])
                    continue
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
            raise ServerUnavailableError(
                f"no LookGrid server answered at {self.address} within {timeout:g} s"
            ) from None

    # -- info and styles ---------------------------------------------------------------------------
    def server_info(self) -> pb.ServerInfo:
        return self._call("GetServerInfo", pb.GetServerInfoRequest(), idempotent=True)

    def check_version(self) -> pb.ServerInfo:
        """The server's info; IncompatibleServerError unless it speaks this client's API_VERSION."""
        info = self.server_info()
        check_api_version(info.api_version, self.address)
        return info

    def has_style(self, key: str) -> bool:
        """True when the server already stores the style with this ``sha256:`` key."""
        try:
            self._call("GetStyle", pb.GetStyleRequest(style=key), idempotent=True)
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
                raise InvalidRequestError(f"a style array must be (H, W, 3|4), got shape {source.shape}")
            encoding = wire.encoding_for_dtype(source.dtype)
            payload: bytes | memoryview = wire.raw_bytes(source)
            key = wire.style_hash(payload, encoding=encoding, shape=source.shape, colorspace=colorspace)
            header = pb.StyleHeader(
                sha256=key,
                encoding=encoding,
                payload_bytes=len(payload),
                height=source.shape[0],
                width=source.shape[1],
                channels=source.shape[2],
                colorspace=colorspace,
                filename=filename,
            )
        else:
            if isinstance(source, (bytes, bytearray, memoryview)):
                payload = bytes(source)
            else:
                filename = filename or Path(source).name
                try:
                    payload = _read_bytes(source)
                except OSError as err:
                    raise InvalidRequestError(
                        f"cannot read the reference image {source}: {err.strerror or err}"
                    ) from None
            key = wire.style_hash(payload)
            header = pb.StyleHeader(
                sha256=key, encoding=pb.ENCODED, payload_bytes=len(payload), colorspace=colorspace, filename=filename
            )
        if self.has_style(key):
            return key

        def messages():
            yield pb.UploadStyleRequest(header=header)
            for piece in wire.chunks(payload, self.chunk_bytes):
                yield pb.UploadStyleRequest(chunk=piece)

        info = self._call("UploadStyle", messages, timeout=self.stream_timeout, idempotent=True)
        return info.style

    # -- clips -------------------------------------------------------------------------------------
    def open_clip(self, spec, label: str = "") -> pb.ClipInfo:
        """Open a clip from a ClipSpec (message, JSON-form dict, or engine spec); returns ClipInfo."""
        # A retried open may leave an orphan clip on the server if the first try did arrive; the
        # server's idle TTL evicts it.
        return self._call("OpenClip", pb.OpenClipRequest(spec=spec_message(spec), label=label), idempotent=True)

    def update_clip(self, clip_id: str, spec) -> pb.ClipInfo:
        return self._call("UpdateClip", pb.UpdateClipRequest(clip_id=clip_id, spec=spec_message(spec)), idempotent=True)

    def close_clip(self, clip_id: str) -> None:
        self._call("CloseClip", pb.CloseClipRequest(clip_id=clip_id), idempotent=True)

    def analyze(
        self, clip_id: str, frames: Iterable[int] | None = None, progress: Callable[[pb.Progress], None] | None = None
    ) -> list[pb.Progress]:
        out = []
        for p in self._stream(
            "Analyze", pb.AnalyzeRequest(clip_id=clip_id, frames=list(frames or [])), self.stream_timeout
        ):
            out.append(p)
            if progress:
                progress(p)
        return out

    def render_by_path(
        self,
        spec=None,
        *,
        clip_id: str = "",
        frames: Iterable[int] | None = None,
        progress: Callable[[pb.Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        frame_timeout: float | None = None,
        first_frame_timeout: float | None = None,
        ack_timeout: float = 30.0,
    ) -> list[pb.Progress]:
        """Render frames on the server's storage, for an open clip or a one-off spec.

        A spec given as a JSON dict has its local reference files uploaded first (by content hash:
        the server reads only its roots).

        Deadlines: with ``frame_timeout`` each frame must finish within that many seconds of the
        one before (the first within ``first_frame_timeout``, default 10 × ``frame_timeout``: it
        includes the analysis), and the call has no overall deadline, so a long sequence is never
        cut off as a whole; without it the whole call has ``stream_timeout``. A frame past its
        deadline cancels the call and raises ServerError DEADLINE_EXCEEDED naming the frame.

        Cancel is acknowledged: ``cancel()`` is asked after every finished frame; when it says True
        the call is cancelled and the client waits (at most ``ack_timeout`` s) until the server has
        closed the clip the call opened, i.e. has stopped working and writing, before raising
        RenderCancelledError (whose text says whether the server confirmed).
        """
        req = pb.RenderByPathRequest(clip_id=clip_id, frames=list(frames or []))
        if spec is not None:
            if isinstance(spec, dict):
                spec, _ = sequence.resolve_styles(self, spec)
            req.spec.CopyFrom(spec_message(spec))
        out = []
        baseline = self.server_info().open_clips if cancel is not None else 0
        call = self._stub.RenderByPath(
            req, timeout=None if frame_timeout else self.stream_timeout, metadata=self._metadata
        )
        watch: dict[str, float] = {
            "last": time.monotonic(),
            "allowed": first_frame_timeout or 10.0 * (frame_timeout or 0),
        }
        stop, expired = threading.Event(), threading.Event()

        def watchdog() -> None:
            while not stop.wait(0.1):
                if time.monotonic() - watch["last"] > watch["allowed"]:
                    expired.set()
                    call.cancel()
                    return

        if frame_timeout:
            threading.Thread(target=watchdog, name="lookgrid-frame-deadline", daemon=True).start()
        try:
            for p in call:
                out.append(p)
                watch["last"], watch["allowed"] = time.monotonic(), frame_timeout or 0
                if progress:
                    progress(p)
                if cancel is not None and cancel():
                    call.cancel()
                    confirmed = self._wait_stopped(baseline, ack_timeout)
                    raise RenderCancelledError(
                        f"render cancelled after {p.done} of {p.total} frames"
                        + ("" if confirmed else f"; the server did not confirm the stop within {ack_timeout:g} s")
                    )
        except grpc.RpcError as err:
            if expired.is_set():
                n = len(out)
                raise ServerError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"frame {n + 1} of the call did not finish within {watch['allowed']:g} s ({n} finished before it)",
                    "RenderByPath",
                ) from None
            raise ServerError(err.code(), err.details() or "", "RenderByPath") from None
        finally:
            stop.set()
        return out

    def _wait_stopped(self, baseline: int, timeout: float) -> bool:
        """After cancelling a by-path render: True once the server has closed the clip it opened
        (its open clips are back to ``baseline``), False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.server_info().open_clips <= baseline:
                    return True
            except ServerError:
                return False
            time.sleep(0.05)
        return False

    def export_look(
        self,
        output_dir: str,
        spec=None,
        *,
        clip_id: str = "",
        frames: Iterable[int] | None = None,
        lut_size: int = 0,
        formats: Iterable[str] = (),
        regions: Iterable[str] = (),
        progress: Callable[[pb.Progress], None] | None = None,
        bake: bool = False,
        cancel: Callable[[], bool] | None = None,
    ) -> pb.ExportLookResult:
        """Export each region's look (CLF, .cube, CDL, OCIO config, mattes) into ``output_dir`` on the
        server's storage, for an open clip or a one-off spec ("Export look..." in a host). ``bake``:
        also what a native-node bake needs (per-reference LUTs, key mattes, the curves). A spec given
        as a JSON dict has its local reference files uploaded first. ``cancel()`` is asked after
        every frame; True drops the call (the server then writes nothing) and raises
        RenderCancelledError."""
        req = pb.ExportLookRequest(
            clip_id=clip_id,
            frames=list(frames or []),
            output_dir=output_dir,
            lut_size=lut_size,
            formats=list(formats),
            regions=list(regions),
            bake=bake,
        )
        if spec is not None:
            if isinstance(spec, dict):
                spec, _ = sequence.resolve_styles(self, spec)
            req.spec.CopyFrom(spec_message(spec))
        result = None
        call = self._stub.ExportLook(req, timeout=self.stream_timeout, metadata=self._metadata)
        try:
            for msg in call:
                if msg.HasField("result"):
                    result = msg.result
                    continue
                if progress:
                    progress(msg.progress)
                if cancel is not None and cancel():
                    call.cancel()
                    raise RenderCancelledError(
                        f"look export cancelled after {msg.progress.done} of {msg.progress.total} frames"
                    )
        except grpc.RpcError as err:
            raise ServerError(err.code(), err.details() or "", "ExportLook") from None
        if result is None:
            raise LookGridError("ExportLook: the server's answer ended without a result")
        return result

    # -- inline frames -----------------------------------------------------------------------------
    def _frame_messages(self, clip_id: str, item: FrameIn, output_encoding: pb.PixelEncoding):
        if item.exr is not None:
            header = pb.FrameHeader(
                clip_id=clip_id, frame=int(item.frame), encoding=pb.ENCODED, output_encoding=output_encoding
            )
            return wire.frame_messages(header, item.exr, pb.RenderFramesRequest, self.chunk_bytes)
        if item.pixels is None:
            raise InvalidRequestError(f"frame {item.frame}: give pixels or exr bytes")
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
                    raise InvalidRequestError(
                        f"frame {item.frame}: mask {name!r} has shape {mask.shape}, the frame is {pixels.shape[:2]}"
                    )
                extra.append(mask.astype(pixels.dtype)[:, :, None])
                mask_channels[name] = name
                channels.append(name)
            pixels = np.concatenate([pixels] + extra, axis=2)
        return wire.raw_frame_messages(
            clip_id,
            item.frame,
            pixels,
            channels,
            pb.RenderFramesRequest,
            mask_channels=mask_channels,
            output_encoding=output_encoding,
            chunk_bytes=self.chunk_bytes,
        )

    def render_frames(
        self,
        clip_id: str,
        frames: Iterable[FrameIn],
        *,
        output_encoding: pb.PixelEncoding = pb.PIXEL_ENCODING_UNSPECIFIED,
        timeout: float | None = None,
    ) -> Iterator[FrameOut]:
        """Stream frames to the server and yield the rendered ones, in order.

        Frames are sent as fast as gRPC's flow control allows, so the server works on one while the
        next is on the wire. Closing the generator early cancels the call (the server frees its state).
        """

        def requests():
            for item in frames:
                yield from self._frame_messages(clip_id, item, output_encoding)

        try:
            call = self._stub.RenderFrames(requests(), timeout=timeout or self.stream_timeout, metadata=self._metadata)
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

    def render_sequence(
        self,
        spec: dict,
        frames: Sequence[int],
        read_frame: Callable[[int], FrameIn],
        write_frame: Callable[[FrameOut], None],
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        *,
        output_encoding: pb.PixelEncoding = pb.PIXEL_ENCODING_UNSPECIFIED,
        in_flight: int | None = None,
        label: str = "",
    ):
        """Render ``frames`` of a host's sequence; returns a :class:`~lookgrid_client.sequence.RenderResult`.

        ``spec``: ClipSpec JSON dict (inline masks as ``"mask": "inline"``); styles given as local
        file paths are uploaded once (by content hash) and replaced by their keys; ``frames`` fills
        the spec's ``frames`` when it has none (otherwise they must agree). ``read_frame(f)`` gives
        the :class:`FrameIn` of frame ``f``; ``write_frame(out)`` receives each :class:`FrameOut` in
        frame order as results come; ``progress(done, total)``; ``cancel()`` returning True stops
        cleanly (RenderCancelledError, nothing more written). ``output_encoding``: ``pb.ENCODED``
        for EXR bytes, 0 = raw like the input. The clip is always closed. All callbacks run on the
        calling thread (details: :mod:`lookgrid_client.sequence`).
        """
        return sequence.render_sequence(
            self,
            spec,
            frames,
            read_frame,
            write_frame,
            progress,
            cancel,
            output_encoding=output_encoding,
            in_flight=in_flight or sequence.DEFAULT_IN_FLIGHT,
            label=label,
        )

    def render_frame(
        self,
        clip_id: str,
        frame: int,
        pixels: np.ndarray,
        channels=("R", "G", "B"),
        masks: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Render one raw frame; returns the (H, W, C) result (colour + alpha channels)."""
        item = FrameIn(frame, pixels, list(channels), dict(masks or {}))
        outs = list(self.render_frames(clip_id, [item]))
        if outs[0].pixels is None:
            raise LookGridError("RenderFrames: a raw frame came back without pixels")
        return outs[0].pixels
