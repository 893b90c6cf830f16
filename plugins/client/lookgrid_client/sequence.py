"""Render a host's frame sequence through the service: :func:`render_sequence`.

What every host needs, decided here once: references given as local files are uploaded once (by
content hash) and replaced by their keys; the clip's ``frames`` are set from the frames to render;
with a grid stride r the analysed frames (every r-th from the first, and the last) are sent before
the frames between them, as the service requires; frames are pipelined (a few in flight, so the
server renders one while the next is read and on the wire); results are handed over in frame order;
progress is reported; a cancel stops the stream and closes the clip; the clip is always closed.

Every callback (``read_frame``, ``write_frame``, ``progress``, ``cancel``) is called on the thread
that called :func:`render_sequence`, never on a gRPC thread, so a host can rely on where its code
runs (see :mod:`lookgrid_client.hostjob` for running the whole thing off the host's UI thread).
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc

from lookgrid_client import wire
from lookgrid_client.errors import InvalidRequestError, LookGridError, RenderCancelledError, ServerError
from lookgrid_client.frames import FrameOut
from lookgrid_client.proto import lookgrid_pb2 as pb

DEFAULT_IN_FLIGHT = 3
"""Frames sent ahead of the last result received (pipelining depth)."""


@dataclass
class RenderResult:
    """What :func:`render_sequence` did: the frames written (in order), wall seconds, the clip's id,
    the spec as sent (styles resolved to keys, ``frames`` filled in; ``smooth`` 0 unless it was set:
    frames sent one by one render causally, and the same job rendered from storage then matches) and
    ``styles``: the local file each uploaded key came from."""

    frames: list[int]
    seconds: float
    clip_id: str
    spec: dict
    styles: dict[str, str] = field(default_factory=dict)


def frames_text(frames: Sequence[int]) -> str:
    """Sorted frame numbers as a ClipSpec ``frames`` string: ``"1001-1024"``, ``"1,3,5-9"``."""
    fs = sorted(frames)
    runs, start = [], None
    for i, f in enumerate(fs):
        if start is None:
            start = f
        if i + 1 == len(fs) or fs[i + 1] != f + 1:
            runs.append(str(start) if start == f else f"{start}-{f}")
            start = None
    return ",".join(runs)


def analysed_frames(clip_frames: Sequence[int], stride: int) -> list[int]:
    """The frames a clip analyses: every ``stride``-th of ``clip_frames`` from the first, and the last."""
    fs = sorted(clip_frames)
    if not fs:
        return []
    out = fs[:: max(int(stride), 1)]
    if out[-1] != fs[-1]:
        out.append(fs[-1])
    return out


def send_order(frames: Sequence[int], anchors: Sequence[int]) -> list[int]:
    """The order to send ``frames`` in: ascending, except that the two analysed frames bracketing a
    frame (``anchors``) go before it."""
    anchors = sorted(anchors)
    order, sent = [], set()

    def add(f):
        if f not in sent:
            sent.add(f)
            order.append(f)

    j = 0
    for f in sorted(frames):
        while j + 1 < len(anchors) and anchors[j + 1] <= f:
            j += 1
        if anchors and anchors[j] <= f:
            add(anchors[j])
            if anchors[j] != f and j + 1 < len(anchors):
                add(anchors[j + 1])
        add(f)
    return order


def _frame_list(frames) -> list[int]:
    try:
        fs = [int(f) for f in frames]
    except (TypeError, ValueError):
        raise InvalidRequestError(f"frames must be integers, got {frames!r}") from None
    if not fs:
        raise InvalidRequestError("no frames to render")
    if len(set(fs)) != len(fs):
        raise InvalidRequestError("a frame is listed twice in the frames to render")
    return sorted(fs)


def resolve_styles(client, spec: dict) -> tuple[dict, dict[str, str]]:
    """A copy of ``spec`` whose styles given as local files are uploaded (once each, by content
    hash) and replaced by their ``sha256:`` keys, and {key: local path}; keys and other paths
    (server-side) are kept."""
    spec = copy.deepcopy(spec)
    keys: dict[str, str] = {}
    for region in spec.get("regions", []):
        for track in region.get("styles", []):
            style = track.get("style", "") if isinstance(track, dict) else ""
            if style and not wire.is_style_key(style) and os.path.isfile(style):
                real = os.path.realpath(style)
                if real not in keys:
                    keys[real] = client.upload_style(real)
                track["style"] = keys[real]
    return spec, {key: path for path, key in keys.items()}


def storage_spec(
    spec: dict, *, input: str, output: str, masks: dict[str, str] | None = None, styles: dict[str, str] | None = None
) -> dict:
    """The same job with its frames on storage: ``input`` and ``output`` patterns set, each
    region's mask pattern from ``masks`` (region name -> pattern) in place of ``"inline"``, and
    uploaded style keys replaced by their files from ``styles`` (key -> path, RenderResult.styles).

    Hosts write this beside their output so that ``lookgrid render --spec`` or the farm reproduces
    exactly what was rendered through the stream."""
    out = copy.deepcopy(spec)
    out["input"], out["output"] = input, output
    for region in out.get("regions", []):
        for track in region.get("styles", []):
            track["style"] = (styles or {}).get(track.get("style", ""), track.get("style", ""))
    masks = dict(masks or {})
    for region in out.get("regions", []):
        name = region.get("name", "")
        if name in masks:
            region["mask"] = masks.pop(name)
            region.pop("maskChannel", None)
        elif region.get("mask") == "inline":
            raise InvalidRequestError(f"region {name!r} has inline masks but no mask pattern was given")
    if masks:
        raise InvalidRequestError(f"masks given for unknown region(s) {', '.join(sorted(masks))}")
    return out


class _Stream:
    """One RenderFrames call whose requests are fed from the caller's thread and whose responses
    are read on a helper thread; the caller waits on :attr:`results`."""

    _END = object()

    def __init__(self, client, timeout: float | None) -> None:
        self.requests: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.started_sending = False
        self._call = client._stub.RenderFrames(self._request_iter(), timeout=timeout, metadata=client._metadata)
        self._reader = threading.Thread(target=self._read, name="lookgrid-render-frames", daemon=True)
        self._reader.start()

    def _request_iter(self):
        while True:
            messages = self.requests.get()
            if messages is self._END:
                return
            for m in messages:
                self.started_sending = True
                yield m

    def _read(self) -> None:
        try:
            for fr in wire.assemble_frames(self._call):
                self.results.put(("frame", fr))
            self.results.put(("end", None))
        except grpc.RpcError as err:
            self.results.put(("rpc", err))
        except wire.WireError as err:
            self.results.put(("error", LookGridError(f"RenderFrames: malformed answer from the server: {err}")))

    def send(self, messages) -> None:
        self.requests.put(messages)

    def finish_sending(self) -> None:
        self.requests.put(self._END)

    def cancel(self) -> None:
        self._call.cancel()
        self.requests.put(self._END)
        self._reader.join(timeout=5.0)


def _frame_out(fr):
    h = fr.header
    if h.encoding == pb.ENCODED:
        return FrameOut(h.frame, list(h.channels), None, bytes(fr.payload), h.seconds)
    return FrameOut(h.frame, list(h.channels), fr.pixels(), None, h.seconds)


FRAME_TIMEOUT = 600.0
"""Seconds a frame sent may take to come back (the first ten times that: it includes the analysis);
a stream has no deadline as a whole, so a long sequence is never cut off for its length."""


def _stream_frames(
    client, clip_id, order, frames, read_frame, write_frame, progress, cancel, output_encoding, in_flight, written
):
    """Send ``order``, write results of ``frames`` in frame order. Returns normally when all are
    written; raises ServerError (with ``.retry_safe`` telling whether nothing had been sent), and
    DEADLINE_EXCEEDED naming the frame that did not come back within :data:`FRAME_TIMEOUT`."""
    stream = _Stream(client, None)
    buffered: dict[int, object] = {}
    to_write = [f for f in frames if f not in written]
    sent = received = 0
    last = time.monotonic()  # when the oldest frame still out was sent, or the last came back
    try:
        while to_write:
            if cancel is not None and cancel():
                raise RenderCancelledError(f"render cancelled after {len(written)} of {len(frames)} frames")
            if sent < len(order) and sent - received < in_flight:
                f = order[sent]
                item = read_frame(f)
                if int(item.frame) != f:
                    raise InvalidRequestError(f"read_frame({f}) returned frame {item.frame}")
                if sent == received:
                    last = time.monotonic()
                stream.send(client._frame_messages(clip_id, item, output_encoding))
                sent += 1
                if sent == len(order):
                    stream.finish_sending()
                continue
            try:
                kind, value = stream.results.get(timeout=0.1)
            except queue.Empty:
                allowed = FRAME_TIMEOUT * (10 if received == 0 else 1)
                if sent > received and time.monotonic() - last > allowed:
                    raise ServerError(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        f"frame {order[received]} did not come "
                        f"back within {allowed:g} s ({len(written)} written before it)",
                        "RenderFrames",
                    ) from None
                continue
            if kind == "rpc":
                err = ServerError(value.code(), value.details() or "", "RenderFrames")
                err.retry_safe = value.code() == grpc.StatusCode.UNAVAILABLE and not stream.started_sending
                raise err
            if kind == "error":
                raise value
            if kind == "end":
                raise ServerError(
                    grpc.StatusCode.INTERNAL,
                    f"the stream ended after {received} of {len(order)} frames",
                    "RenderFrames",
                )
            received += 1
            last = time.monotonic()
            out = _frame_out(value)
            buffered[out.frame] = out
            while to_write and to_write[0] in buffered:
                f = to_write.pop(0)
                write_frame(buffered.pop(f))
                written.append(f)
                if progress is not None:
                    progress(len(written), len(frames))
    finally:
        stream.cancel()


def render_sequence(
    client,
    spec: dict,
    frames: Sequence[int],
    read_frame: Callable,
    write_frame: Callable,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    output_encoding: pb.PixelEncoding = pb.PIXEL_ENCODING_UNSPECIFIED,
    in_flight: int = DEFAULT_IN_FLIGHT,
    label: str = "",
) -> RenderResult:
    """See :meth:`lookgrid_client.client.LookGridClient.render_sequence`."""
    t0 = time.perf_counter()
    if not isinstance(spec, dict):
        raise InvalidRequestError(f"the clip spec must be a dict in ClipSpec JSON form, got {type(spec).__name__}")
    frames = _frame_list(frames)
    sent_spec, styles = resolve_styles(client, spec)
    wanted = frames_text(frames)
    given = sent_spec.get("frames")
    sent_spec["frames"] = given or wanted
    if progress is not None:
        progress(0, len(frames))
    info = client.open_clip(sent_spec, label=label)
    clip_id = info.clip_id
    try:
        if sorted(info.frames) != frames:
            raise InvalidRequestError(f"the spec's frames {given!r} are not the frames to render ({wanted})")
        order = send_order(frames, analysed_frames(frames, int(sent_spec.get("stride", 0) or 0)))
        written: list[int] = []
        for attempt in range(3):
            try:
                _stream_frames(
                    client,
                    clip_id,
                    order,
                    frames,
                    read_frame,
                    write_frame,
                    progress,
                    cancel,
                    output_encoding,
                    max(int(in_flight), 1),
                    written,
                )
                break
            except ServerError as err:
                if getattr(err, "retry_safe", False) and attempt < 2:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise
    finally:
        try:
            client.close_clip(clip_id)
        except LookGridError:
            pass  # the clip may already be gone (evicted, server stopped); the original error matters
    sent_spec.setdefault("smooth", 0.0)  # what the server did with a stream (ClipSpec.smooth)
    return RenderResult(list(written), time.perf_counter() - t0, clip_id, sent_spec, styles)


__all__ = [
    "DEFAULT_IN_FLIGHT",
    "FRAME_TIMEOUT",
    "RenderResult",
    "analysed_frames",
    "frames_text",
    "render_sequence",
    "resolve_styles",
    "send_order",
    "storage_spec",
]
