"""The gRPC servicer: validate, translate, call the engine, map errors. Nothing else.

* Clip state, caches, eviction and styles live in :class:`lookgrid.engine.Engine` (one per server,
  one shared model). The servicer turns messages into engine calls and engine results into
  messages; :mod:`lookgrid.service.errors` turns exceptions into status codes.
* Paths a client names are confined to the configured roots (:mod:`lookgrid.service.paths`).
* Long calls watch their context: a client that cancels or disconnects stops the work at the next
  frame (``cancel`` callbacks into the engine), and what the call held is freed — its frame buffers,
  its reader thread, and a one-off clip of RenderByPath.
* A background thread calls :meth:`Engine.evict` every ``sweep_seconds`` (TTL and memory bound).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import tempfile
import threading
import time
from contextlib import contextmanager

import grpc
import numpy as np
from google.protobuf import json_format

from lookgrid import __version__
from lookgrid.errors import (CancelledError, ClipStateError, DeadlineError, InvalidInputError, LookGridError,
                             ResourceLimitError, UnknownStyleError)
from lookgrid.service import frames as framing
from lookgrid.service.errors import abort_with
from lookgrid.service.paths import PathPolicy
from lookgrid_client import wire
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc

log = logging.getLogger("lookgrid.service")

_EXT_BY_MAGIC = [(b"\x76\x2f\x31\x01", ".exr"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"),
                 (b"II*\x00", ".tif"), (b"MM\x00*", ".tif")]


# --- ClipSpec: message <-> engine dataclass --------------------------------------------------------
def spec_from_message(msg: pb.ClipSpec):
    """The engine's ClipSpec from a ClipSpec message (through the shared JSON form)."""
    from lookgrid.engine.spec import ClipSpec

    return ClipSpec.from_dict(json_format.MessageToDict(msg))


def spec_to_message(spec) -> pb.ClipSpec:
    return json_format.ParseDict(spec.to_dict(), pb.ClipSpec())


# --- error handling --------------------------------------------------------------------------------
def _fail(context, err: BaseException):
    if context.code() is not None and context.code() != grpc.StatusCode.OK:
        raise err  # already aborted by us: let gRPC finish it
    if not context.is_active():
        log.info("call ended by the client: %s", err)
        context.abort(grpc.StatusCode.CANCELLED, "the client cancelled the call")
    if not isinstance(err, (LookGridError, wire.WireError, MemoryError)):
        log.exception("unexpected error")
    abort_with(context, err)


def unary(method):
    """Run a unary handler; any exception leaves as a mapped status (never UNKNOWN)."""
    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Exception as err:  # noqa: BLE001 - mapped, never swallowed
            _fail(context, err)
    return wrapper


def streaming(method):
    """Like :func:`unary` for handlers that are generators (server streaming)."""
    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            yield from method(self, request, context)
        except Exception as err:  # noqa: BLE001
            _fail(context, err)
    return wrapper


def _checker(context):
    """``cancel()`` for engine loops: true when the client went away; raises past the deadline."""
    def cancel() -> bool:
        if not context.is_active():
            return True
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineError("the call's deadline passed before the work finished")
        return False
    return cancel


def _pump(work, name: str):
    """Run ``work(emit)`` on a thread and yield what it emits, in order; re-raise what it raises.
    (gRPC's streaming handler must yield while the engine works.)"""
    events: queue.Queue = queue.Queue()
    done = object()

    def run():
        try:
            work(events.put)
            events.put(done)
        except BaseException as err:  # noqa: BLE001 - forwarded to the RPC thread
            events.put(err)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    while True:
        item = events.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    worker.join()


def _look_result(res, seconds: float) -> pb.ExportLookResult:
    """An :class:`lookgrid.engine.look.LookExport` as its message."""
    from lookgrid.engine.look import matte_pattern

    files = set(res.files)
    path = lambda p: p if p in files else ""  # noqa: E731
    regions = []
    for look in res.collection.regions:
        if look.name not in res.exported:
            continue
        j = lambda ext: os.path.join(res.out, look.name + ext)  # noqa: E731
        regions.append(pb.RegionLookInfo(
            name=look.name, look_name=f"lookgrid-{look.name}" if path(j(".acescct.clf")) else "",
            clf_path=path(j(".clf")), cube_path=path(j(".cube")), cdl_path=path(j(".cc")),
            cdl_rms_error=look.cdl.rms if look.cdl is not None else 0.0,
            matte_pattern=matte_pattern(res.out, look.name),
            matte_area=look.total().total))
    return pb.ExportLookResult(files=res.files, regions=regions, lut_size=res.size,
                               shot_colorspace=res.collection.shot_space,
                               config_path=path(os.path.join(res.out, "config.ocio")), seconds=seconds)


class LookGridServicer(pb_grpc.LookGridServicer):
    """Implements ``lookgrid.v1.LookGrid`` over one :class:`lookgrid.engine.Engine`.

    Args:
        engine: the shared engine.
        roots: storage roots for paths in specs (none: inline frames and uploaded styles only).
        max_frame_pixels: width*height limit of one inline frame.
        max_frame_bytes: payload limit of one inline frame.
        max_style_bytes: payload limit of one style upload.
        max_regions, max_styles_per_region: spec limits (RESOURCE_EXHAUSTED beyond).
        sweep_seconds: how often the background thread calls ``engine.evict()``.
        chunk_bytes: chunk size of frames the server sends.
    """

    def __init__(self, engine, *, roots=(), max_frame_pixels: int = 8192 * 8192,
                 max_frame_bytes: int = 2 << 30, max_style_bytes: int = 256 << 20,
                 max_regions: int = 16, max_styles_per_region: int = 8, sweep_seconds: float = 5.0,
                 chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES, max_message_bytes: int = 8 << 20,
                 clip_ttl: float | None = None, max_state_bytes: int | None = None) -> None:
        self.engine = engine
        if clip_ttl is not None:
            engine.ttl_s = float(clip_ttl)
        if max_state_bytes is not None:
            engine.max_cache_bytes = int(max_state_bytes)
        self.paths = PathPolicy(roots)
        self.max_frame_pixels = int(max_frame_pixels)
        self.max_frame_bytes = int(max_frame_bytes)
        self.max_style_bytes = int(max_style_bytes)
        self.max_regions = int(max_regions)
        self.max_styles_per_region = int(max_styles_per_region)
        self.sweep_seconds = float(sweep_seconds)
        self.chunk_bytes = int(chunk_bytes)
        self.max_message_bytes = int(max_message_bytes)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._lock = threading.Lock()
        self.active_streams = 0       # RenderFrames calls in progress (tests watch it drop to 0)
        self.stream_bytes = 0         # payload bytes held by those calls right now
        # Eviction runs only while no engine work is in progress, so it never drops a clip in the
        # middle of a call (a clip that is rendering is by definition not idle).
        self._gate = threading.Condition()
        self._working_calls = 0
        self._evicting = False

    # -- life cycle ---------------------------------------------------------------------------------
    def start_background(self) -> None:
        if self._sweeper is None and self.sweep_seconds > 0:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="lookgrid-evict", daemon=True)
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_seconds):
            try:
                self.evict_if_idle()
            except Exception:  # pragma: no cover - keep sweeping
                log.exception("eviction failed")

    @contextmanager
    def working(self):
        """Mark engine work in progress (eviction waits until none is)."""
        with self._gate:
            while self._evicting:
                self._gate.wait()
            self._working_calls += 1
        try:
            yield
        finally:
            with self._gate:
                self._working_calls -= 1
                last = self._working_calls == 0
            if last:
                self.evict_if_idle()

    def evict_if_idle(self) -> list[str]:
        """``engine.evict()`` (TTL, memory bound) unless engine work is in progress."""
        with self._gate:
            if self._working_calls or self._evicting:
                return []
            self._evicting = True
        try:
            return self.engine.evict()
        finally:
            with self._gate:
                self._evicting = False
                self._gate.notify_all()

    def shutdown(self) -> None:
        self._stop.set()
        for cid in self.engine.clip_ids():
            try:
                self.engine.close_clip(cid, "closed because the server shut down")
            except LookGridError:
                pass

    def _held(self, delta: int) -> None:
        with self._lock:
            self.stream_bytes += delta

    # -- helpers ------------------------------------------------------------------------------------
    def _spec(self, msg: pb.ClipSpec):
        spec = spec_from_message(msg)
        if len(spec.regions) > self.max_regions:
            raise ResourceLimitError(f"spec.regions: {len(spec.regions)} regions, this server allows "
                                     f"{self.max_regions}")
        for r in spec.regions:
            if len(r.styles) > self.max_styles_per_region:
                raise ResourceLimitError(f"region {r.name!r}: {len(r.styles)} styles, this server allows "
                                         f"{self.max_styles_per_region} per region")
        spec.validate(need_paths=False)
        if spec.model:
            self._check_model(spec.model)
        return self.paths.check_spec(spec)

    def _request_spec(self, request):
        """The spec of a request naming an open clip (``clip_id``) or carrying a ``spec``."""
        if request.clip_id:
            return self.engine.get_clip(request.clip_id).spec
        if request.HasField("spec"):
            return self._spec(request.spec)
        raise InvalidInputError("give clip_id or spec")

    def _check_model(self, model: str) -> None:
        names = {m.name for m in self._models()} | {m.path for m in self._models() if m.path}
        if model not in names:
            raise InvalidInputError(f"spec.model: {model!r} is not a model of this server "
                                    f"(available: {', '.join(sorted(n for n in names if n))})")

    def _open(self, spec, clip_id: str | None = None):
        """Open an engine clip for a confined spec: storage input gets its frames and loader."""
        frames, loader = None, None
        if spec.input:
            from lookgrid.engine.io import SequenceIO

            if not spec.output:
                raise InvalidInputError("spec.output: a clip whose input is on storage needs an output "
                                        "pattern too")
            inline = [r.name for r in spec.regions if r.mask == framing.INLINE]
            if inline:
                raise InvalidInputError(f"region {inline[0]!r}: mask 'inline' needs frames sent inline "
                                        "(RenderFrames), but spec.input names frames on storage")
            io = SequenceIO(spec)
            frames, loader = io.frames, io.load
        elif spec.frames:
            from lookgrid.imaging import parse_frame_range

            frames = parse_frame_range(spec.frames)
        return self.engine.open_clip(spec, frames=frames, loader=loader, clip_id=clip_id), frames

    def _clip_info(self, clip, invalidated: int = 0) -> pb.ClipInfo:
        return pb.ClipInfo(clip_id=clip.id, spec=spec_to_message(clip.spec), frames=list(clip.frames or []),
                           invalidated_frames=int(invalidated), ttl_seconds=float(self.engine.ttl_s))

    def _models(self) -> list[pb.ModelInfo]:
        import torch

        model = self.engine.model
        identity = getattr(model, "is_identity", None)
        if identity is None:  # an untrained LookGridNet: zero weights into the grid => identity grids
            head = getattr(model, "to_grid", None)
            identity = head is not None and int(torch.count_nonzero(head.weight)) == 0
        path = getattr(self.engine, "model_path", None)
        if path is None and not hasattr(model, "meta"):
            path = None
        elif path is None:
            from lookgrid.model.load import shipped_model_path

            path = shipped_model_path()
        path = str(path or "")
        name = str(getattr(model, "name", "") or (os.path.splitext(os.path.basename(path))[0] if path
                                                  else "lookgrid-untrained"))
        return [pb.ModelInfo(name=name, path=path, loaded=True, identity=bool(identity),
                             description=str(getattr(model, "description", "") or type(model).__name__))]

    # -- info ---------------------------------------------------------------------------------------
    @unary
    def GetServerInfo(self, request, context):
        import torch

        from lookgrid.engine.spec import METHODS
        from lookgrid.imaging import WORKING_SPACE

        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        limits = pb.Limits(max_message_bytes=self.max_message_bytes, chunk_bytes=self.chunk_bytes,
                           max_frame_pixels=self.max_frame_pixels, max_regions=self.max_regions,
                           max_styles_per_region=self.max_styles_per_region,
                           max_style_bytes=self.max_style_bytes, max_open_clips=0,
                           clip_ttl_seconds=float(self.engine.ttl_s),
                           max_state_bytes=int(self.engine.max_cache_bytes))
        return pb.ServerInfo(version=__version__, api_version="lookgrid.v1", models=self._models(),
                             devices=devices, device=str(self.engine.device), limits=limits,
                             methods=list(METHODS), working_space=WORKING_SPACE, roots=self.paths.roots,
                             open_clips=len(self.engine.clip_ids()),
                             stored_styles=len(getattr(self.engine, "_styles", {})))

    # -- styles -------------------------------------------------------------------------------------
    def _style_info(self, key: str, dedup: bool = False) -> pb.StyleInfo:
        img = self.engine.style_image(key)
        return pb.StyleInfo(style=key, height=int(img.shape[0]), width=int(img.shape[1]), deduplicated=dedup)

    @unary
    def GetStyle(self, request, context):
        if not wire.is_style_key(request.style):
            raise InvalidInputError(f"style: {request.style!r} is not 'sha256:' and 64 lowercase hex digits")
        return self._style_info(request.style)

    @unary
    def UploadStyle(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidInputError("UploadStyle: the first message must carry the header")
        h = first.header
        if not wire.is_style_key(h.sha256):
            raise InvalidInputError(f"header.sha256: {h.sha256!r} is not 'sha256:' and 64 lowercase hex digits")
        if h.payload_bytes <= 0:
            raise InvalidInputError("header.payload_bytes must be positive")
        if h.payload_bytes > self.max_style_bytes:
            raise ResourceLimitError(f"header.payload_bytes: {h.payload_bytes} bytes exceeds the style limit "
                                     f"of {self.max_style_bytes}")
        if h.encoding in (pb.RAW_HALF, pb.RAW_FLOAT):
            need = h.width * h.height * h.channels * wire.dtype_for_encoding(h.encoding).itemsize
            if h.channels not in (3, 4) or h.width <= 0 or h.height <= 0 or need != h.payload_bytes:
                raise InvalidInputError(f"header: a raw style of {h.width}x{h.height}x{h.channels} does not match "
                                        f"payload_bytes {h.payload_bytes} (channels must be 3 or 4)")
        elif h.encoding != pb.ENCODED:
            raise InvalidInputError("header.encoding must be ENCODED, RAW_HALF or RAW_FLOAT")
        buf = bytearray()
        for msg in request_iterator:
            if msg.WhichOneof("part") != "chunk":
                raise InvalidInputError("UploadStyle: only chunks may follow the header")
            buf += msg.chunk
            if len(buf) > h.payload_bytes:
                raise InvalidInputError(f"header.payload_bytes: more than the {h.payload_bytes} bytes announced")
        if len(buf) != h.payload_bytes:
            raise InvalidInputError(f"header.payload_bytes: the upload ended after {len(buf)} of "
                                    f"{h.payload_bytes} bytes")
        shape = (h.height, h.width, h.channels)
        key = wire.style_hash(buf, encoding=h.encoding, shape=shape, colorspace=h.colorspace)
        if key != h.sha256:
            raise InvalidInputError(f"header.sha256: the payload hashes to {key}, not {h.sha256}")
        try:
            return self._style_info(key, dedup=True)
        except UnknownStyleError:
            pass
        self.engine.register_style(key, self._decode_style(h, bytes(buf)))
        log.info("stored style %s (%s)", key, h.filename or pb.PixelEncoding.Name(h.encoding))
        return self._style_info(key)

    @staticmethod
    def _decode_style(h: pb.StyleHeader, data: bytes) -> np.ndarray:
        from lookgrid.imaging import SRGB_TEXTURE, get_pipeline, read_image, read_style_image

        if h.encoding != pb.ENCODED:
            arr = np.frombuffer(data, dtype=wire.dtype_for_encoding(h.encoding)).reshape(h.height, h.width, h.channels)
            rgb = np.ascontiguousarray(arr[..., :3], dtype=np.float32)
            return get_pipeline(None, h.colorspace or SRGB_TEXTURE).to_working(rgb)
        ext = os.path.splitext(h.filename)[1].lower()
        sniffed = next((e for magic, e in _EXT_BY_MAGIC if data.startswith(magic)), None)
        if sniffed is None:
            raise InvalidInputError(f"style {h.filename or '(upload)'}: not a PNG, JPEG, EXR or TIFF file")
        ext = sniffed if ext not in (".jpeg", sniffed) else ext
        fd, path = tempfile.mkstemp(suffix=ext, prefix="lookgrid-style-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            # Untrusted bytes: decode in a child process so a crashing decoder cannot take the server down.
            img = read_image(path, isolated=True)
            return read_style_image(img, colorspace=h.colorspace or None)
        finally:
            os.unlink(path)

    # -- clips --------------------------------------------------------------------------------------
    @unary
    def OpenClip(self, request, context):
        spec = self._spec(request.spec)
        clip, _ = self._open(spec)
        log.info("opened clip %s %s", clip.id, request.label)
        return self._clip_info(clip)

    @unary
    def UpdateClip(self, request, context):
        spec = self._spec(request.spec)
        with self.working():
            return self._update(request, spec)

    def _update(self, request, spec):
        clip = self.engine.get_clip(request.clip_id)
        if (spec.input, spec.output, spec.frames) != (clip.spec.input, clip.spec.output, clip.spec.frames):
            # New frames on storage: the clip needs a new loader; reopen it under the same id.
            old_cached = len(clip.cached_frames()["analysed"])
            self.engine.close_clip(clip.id, "replaced by UpdateClip")
            new, _ = self._open(spec, clip_id=request.clip_id)
            return self._clip_info(new, old_cached)
        invalidated = clip.update(spec)
        return self._clip_info(clip, invalidated)

    @unary
    def CloseClip(self, request, context):
        self.engine.close_clip(request.clip_id)
        return pb.CloseClipResponse()

    # -- work ---------------------------------------------------------------------------------------
    @streaming
    def Analyze(self, request, context):
        clip = self.engine.get_clip(request.clip_id)
        if clip.loader is None:
            missing = [f for f in request.frames if f not in clip.cached_frames()["analysed"]]
            if missing or not request.frames:
                raise ClipStateError(f"clip {clip.id} takes its frames inline: Analyze can only work on "
                                     "frames on storage (set spec.input), render the frames with "
                                     "RenderFrames instead")
        todo = list(request.frames) or list(clip.frames or [])
        if not todo:
            raise InvalidInputError("frames: the clip has no frame range; list the frames to analyse")
        cancel = _checker(context)
        for n, frame in enumerate(todo, 1):
            if cancel():
                raise CancelledError("analysis cancelled by the client")
            t0 = time.perf_counter()
            with self.working():
                self.engine.get_clip(request.clip_id)  # still open (not evicted meanwhile)
                clip.analyze(int(frame), cancel=cancel)
            yield pb.Progress(frame=int(frame), done=n, total=len(todo), seconds=time.perf_counter() - t0)

    @streaming
    def RenderByPath(self, request, context):
        spec = self._request_spec(request)
        if not spec.input or not spec.output:
            raise InvalidInputError("spec.input and spec.output must both be set to render by path")
        cancel = _checker(context)

        def work(emit):
            def progress(n, total, frame, path, seconds):
                emit(pb.Progress(frame=int(frame), done=int(n), total=int(total), output_path=str(path),
                                 seconds=float(seconds)))

            # A one-off engine clip, closed by render_clip itself when it ends or fails.
            with self.working():
                self.engine.render_clip(spec, progress, frames=list(request.frames) or None, cancel=cancel)

        yield from _pump(work, "lookgrid-render")

    @streaming
    def ExportLook(self, request, context):
        """Per-region look files on storage (:func:`lookgrid.engine.look.export_look`)."""
        from lookgrid.engine.look import export_look

        spec = self._request_spec(request)
        if not spec.input:
            raise InvalidInputError("spec.input must be set: the export reads the clip's frames from storage")
        if not request.output_dir:
            raise InvalidInputError("output_dir is empty")
        out = self.paths.check_file(request.output_dir, "output_dir")
        cancel = _checker(context)
        t0 = time.perf_counter()

        def work(emit):
            last = [t0]

            def progress(n, total, frame):
                now = time.perf_counter()
                emit(pb.ExportLookResponse(progress=pb.Progress(
                    frame=int(frame), done=int(n), total=int(total), seconds=now - last[0])))
                last[0] = now

            with self.working():
                res = export_look(self.engine, spec, out, list(request.frames) or None,
                                  size=request.lut_size or 33, formats=list(request.formats) or None,
                                  regions=list(request.regions) or None, progress=progress, cancel=cancel)
            emit(pb.ExportLookResponse(result=_look_result(res, time.perf_counter() - t0)))

        yield from _pump(work, "lookgrid-look")

    @streaming
    def RenderFrames(self, request_iterator, context):
        """Frames in, frames out. A reader thread assembles the next frame while this one renders."""
        inbox: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        context.add_callback(stop.set)
        end = object()

        def check_header(h: pb.FrameHeader) -> None:
            if h.width * h.height > self.max_frame_pixels:
                raise ResourceLimitError(f"frame {h.frame}: {h.width}x{h.height} exceeds the server's limit of "
                                         f"{self.max_frame_pixels} pixels")
            if h.encoding in (pb.RAW_HALF, pb.RAW_FLOAT):
                need = h.width * h.height * len(h.channels) * wire.dtype_for_encoding(h.encoding).itemsize
                if need != h.payload_bytes:
                    raise InvalidInputError(f"frame {h.frame}: header.payload_bytes is {h.payload_bytes} but "
                                            f"{h.width}x{h.height}x{len(h.channels)} "
                                            f"{pb.PixelEncoding.Name(h.encoding)} needs {need}")
            self.engine.get_clip(h.clip_id)  # fail early on an unknown clip

        def reader():
            try:
                for fr in wire.assemble_frames(request_iterator, max_payload_bytes=self.max_frame_bytes,
                                               check_header=check_header):
                    self._held(len(fr.payload))
                    while not stop.is_set():
                        try:
                            inbox.put(fr, timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    else:
                        self._held(-len(fr.payload))
                        return
                inbox.put(end)
            except BaseException as err:  # noqa: BLE001 - forwarded
                if stop.is_set():
                    return
                inbox.put(err)

        with self._lock:
            self.active_streams += 1
        thread = threading.Thread(target=reader, name="lookgrid-frames-in", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = inbox.get(timeout=0.5)
                except queue.Empty:
                    if stop.is_set() or not context.is_active():
                        raise CancelledError("the client went away")
                    continue
                if item is end:
                    break
                if isinstance(item, BaseException):
                    raise item
                size = len(item.payload)
                try:
                    with self.working():
                        header, payload = self._render_one(item)
                    yield from wire.frame_messages(header, payload, pb.RenderFramesResponse, self.chunk_bytes)
                finally:
                    self._held(-size)
                    item.payload = b""
        finally:
            stop.set()
            while True:  # free frames the reader assembled but nobody rendered
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, wire.Frame):
                    self._held(-len(item.payload))
            with self._lock:
                self.active_streams -= 1

    def _render_one(self, fr: wire.Frame) -> tuple[pb.FrameHeader, object]:
        """Decode, render and encode one frame: (response header, payload bytes)."""
        t0 = time.perf_counter()
        h = fr.header
        clip = self.engine.get_clip(h.clip_id)
        dec = framing.decode(fr, clip)
        out, names = framing.render(clip, dec)
        out_encoding = h.output_encoding or h.encoding
        header = pb.FrameHeader(clip_id=h.clip_id, frame=h.frame, encoding=out_encoding, width=out.shape[1],
                                height=out.shape[0], channels=names)
        if out_encoding == pb.ENCODED:
            payload = framing.encode_exr(out, names, like=dec.image)
        else:
            dtype = wire.dtype_for_encoding(out_encoding)
            payload = wire.raw_bytes(out if out.dtype == dtype else out.astype(dtype))
        header.seconds = time.perf_counter() - t0
        return header, payload
