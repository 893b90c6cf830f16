"""The gRPC servicer: each handler validates, calls the engine, and leaves errors to one table.

* Clip state, caches, eviction (and its busy gate), styles and model introspection live in
  :class:`lookgrid.engine.Engine`; request checks in :mod:`.checks`; errors → status codes in
  :mod:`.errors`; thread ↔ stream bridges in :mod:`.streams`; inline frames in :mod:`.frames`;
  specs and look results as messages in :mod:`.messages`;
  uploaded pictures are decoded by :mod:`lookgrid.imaging.decode`.
* Paths a client names are confined to the configured roots (:mod:`lookgrid.service.paths`).
* Long calls watch their context: a client that cancels or disconnects stops the work at the next
  frame, and what the call held is freed — its frame buffers, its reader thread, and a one-off clip
  of RenderByPath.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import torch

from lookgrid import __version__
from lookgrid.engine import METHOD_NAMES, ClipSpec
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.look import export_look
from lookgrid.engine.styles import MAX_STYLE_SIDE
from lookgrid.errors import CancelledError, ClipStateError, InvalidInputError, UnknownStyleError
from lookgrid.imaging import WORKING_SPACE, load_config, parse_frame_range, pinned_config
from lookgrid.imaging.decode import decode_style, raw_style_to_working
from lookgrid.service import checks
from lookgrid.service import frames as framing
from lookgrid.service.budget import MemoryBudget
from lookgrid.service.errors import cancel_check, streaming, unary
from lookgrid.service.messages import look_result, spec_from_message, spec_to_message
from lookgrid.service.paths import PathPolicy
from lookgrid.service.streams import emitted_by, read_ahead
from lookgrid_client import wire
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc

log = logging.getLogger("lookgrid.service")


class LookGridServicer(pb_grpc.LookGridServicer):
    """Implements ``lookgrid.v1.LookGrid`` over one :class:`lookgrid.engine.Engine`.

    Args:
        engine: the shared engine.
        roots: storage roots for paths in specs (none: inline frames and uploaded styles only).
        max_frame_pixels, max_frame_bytes, max_style_bytes, max_regions, max_styles_per_region:
            the server's limits (:class:`lookgrid.service.checks.Limits`).
        max_held_bytes: the memory budget for what all calls together hold of what clients sent
            (:class:`lookgrid.service.budget.MemoryBudget`; one call may hold ``max_frame_bytes``).
        sweep_seconds: how often the engine's eviction sweeper runs (0: never).
        chunk_bytes: chunk size of frames the server sends.
        clip_ttl, max_state_bytes: the engine's eviction policy (when given).
    """

    def __init__(
        self,
        engine,
        *,
        roots=(),
        max_frame_pixels: int = 8192 * 8192,
        max_frame_bytes: int = 2 << 30,
        max_style_bytes: int = 256 << 20,
        max_regions: int = 16,
        max_styles_per_region: int = 8,
        sweep_seconds: float = 5.0,
        chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES,
        max_message_bytes: int = 8 << 20,
        clip_ttl: float | None = None,
        max_state_bytes: int | None = None,
        max_held_bytes: int = 4 << 30,
    ) -> None:
        self.engine = engine
        if clip_ttl is not None:
            engine.clips.ttl_s = float(clip_ttl)
        if max_state_bytes is not None:
            engine.clips.max_cache_bytes = int(max_state_bytes)
        self.paths = PathPolicy(roots)
        self.limits = checks.Limits(
            int(max_frame_pixels),
            int(max_frame_bytes),
            int(max_style_bytes),
            int(max_regions),
            int(max_styles_per_region),
        )
        self.sweep_seconds = float(sweep_seconds)
        self.chunk_bytes = int(chunk_bytes)
        self.max_message_bytes = int(max_message_bytes)
        self.budget = MemoryBudget(int(max_held_bytes), max(int(max_frame_bytes), int(max_style_bytes)))
        self._lock = threading.Lock()
        self.active_streams = 0  # RenderFrames calls in progress (tests watch it drop to 0)

    # -- life cycle ---------------------------------------------------------------------------------
    def start_background(self) -> None:
        self.engine.clips.start_sweeper(self.sweep_seconds)

    def shutdown(self) -> None:
        self.engine.clips.stop_sweeper()
        self.engine.clips.close_all("closed because the server shut down")

    @property
    def stream_bytes(self) -> int:
        """Bytes that calls hold of what clients sent, right now (:attr:`budget`)."""
        return self.budget.used

    # -- helpers ------------------------------------------------------------------------------------
    def _spec(self, msg: pb.ClipSpec) -> ClipSpec:
        """A request's spec: limits, validation, model, paths (the one check on its way in)."""
        spec = checks.check_spec(spec_from_message(msg), self.limits)
        if spec.model:
            info = self.engine.model_info()
            names = {info.name} | ({info.path} if info.path else set())
            if spec.model not in names:
                raise InvalidInputError(
                    f"spec.model: {spec.model!r} is not a model of this server "
                    f"(available: {', '.join(sorted(n for n in names if n))})"
                )
        return self.paths.check_spec(spec)

    def _request_spec(self, request) -> ClipSpec:
        """The spec of a request naming an open clip (``clip_id``) or carrying a ``spec``."""
        if request.clip_id:
            return self.engine.get_clip(request.clip_id).spec
        if request.HasField("spec"):
            return self._spec(request.spec)
        raise InvalidInputError("give clip_id or spec")

    def _open(self, spec: ClipSpec, clip_id: str | None = None):
        """Open an engine clip for a checked spec: storage input gets its frames and loader."""
        frames, loader = None, None
        if spec.input:
            if not spec.output:
                raise InvalidInputError("spec.output: a clip whose input is on storage needs an output pattern too")
            inline = [r.name for r in spec.regions if r.mask == framing.INLINE]
            if inline:
                raise InvalidInputError(
                    f"region {inline[0]!r}: mask 'inline' needs frames sent inline "
                    "(RenderFrames), but spec.input names frames on storage"
                )
            io = SequenceIO(spec)
            frames, loader = io.frames, io.load
        elif spec.frames:
            frames = parse_frame_range(spec.frames)
        return self.engine.open_clip(spec, frames=frames, loader=loader, clip_id=clip_id, validated=True)

    def _clip_info(self, clip, invalidated: int = 0) -> pb.ClipInfo:
        return pb.ClipInfo(
            clip_id=clip.id,
            spec=spec_to_message(clip.spec),
            frames=list(clip.frames or []),
            invalidated_frames=int(invalidated),
            ttl_seconds=float(self.engine.clips.ttl_s),
        )

    def _style_info(self, key: str, dedup: bool = False) -> pb.StyleInfo:
        img = self.engine.style_image(key)
        return pb.StyleInfo(style=key, height=int(img.shape[0]), width=int(img.shape[1]), deduplicated=dedup)

    # -- info ---------------------------------------------------------------------------------------
    @unary
    def GetServerInfo(self, request, context):
        m = self.engine.model_info()
        lim = self.limits
        limits = pb.Limits(
            max_message_bytes=self.max_message_bytes,
            chunk_bytes=self.chunk_bytes,
            max_frame_pixels=lim.max_frame_pixels,
            max_regions=lim.max_regions,
            max_styles_per_region=lim.max_styles_per_region,
            max_style_bytes=lim.max_style_bytes,
            max_open_clips=0,
            clip_ttl_seconds=float(self.engine.clips.ttl_s),
            max_state_bytes=int(self.engine.clips.max_cache_bytes),
        )
        model = pb.ModelInfo(
            name=m.name,
            path=m.path,
            loaded=True,
            identity=m.identity,
            description=m.description,
            data_licence=m.data_licence,
        )
        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return pb.ServerInfo(
            version=__version__,
            api_version="lookgrid.v1",
            models=[model],
            devices=devices,
            device=str(self.engine.device),
            limits=limits,
            methods=list(METHOD_NAMES),
            working_space=WORKING_SPACE,
            roots=self.paths.roots,
            open_clips=len(self.engine.clip_ids()),
            stored_styles=len(self.engine.styles),
            config=pinned_config(None),
            colorspaces=[cs.getName() for cs in load_config(None).getColorSpaces()],
        )

    # -- styles -------------------------------------------------------------------------------------
    @unary
    def GetStyle(self, request, context):
        if not wire.is_style_key(request.style):
            raise InvalidInputError(f"style: {request.style!r} is not 'sha256:' and 64 lowercase hex digits")
        return self._style_info(request.style)

    @unary
    def UploadStyle(self, request_iterator, context):
        h = checks.style_header(request_iterator)
        checks.check_style_header(h, self.limits)
        with self.budget.account("UploadStyle") as account:
            return self._store_style(h, checks.collect_payload(h, request_iterator, account.take), account)

    def _store_style(self, h: pb.StyleHeader, data: bytes, account) -> pb.StyleInfo:
        """Check, decode (at most :data:`MAX_STYLE_SIDE` long) and keep an uploaded style."""
        key = wire.style_hash(data, encoding=h.encoding, shape=(h.height, h.width, h.channels), colorspace=h.colorspace)
        if key != h.sha256:
            raise InvalidInputError(f"header.sha256: the payload hashes to {key}, not {h.sha256}")
        try:
            return self._style_info(key, dedup=True)
        except UnknownStyleError:
            pass
        if h.encoding == pb.ENCODED:
            # the child decodes; what comes back is at most MAX_STYLE_SIDE² RGB(A) float32
            account.take(MAX_STYLE_SIDE * MAX_STYLE_SIDE * 4 * 4)
            pixels = decode_style(
                data,
                filename=h.filename,
                colorspace=h.colorspace or None,
                max_pixels=self.limits.max_style_pixels,
                max_side=MAX_STYLE_SIDE,
            )
        else:
            raw = np.frombuffer(data, dtype=wire.dtype_for_encoding(h.encoding))
            pixels = raw_style_to_working(raw.reshape(h.height, h.width, h.channels), h.colorspace or None)
        self.engine.register_style(key, pixels)
        log.info("stored style %s (%s)", key, h.filename or pb.PixelEncoding.Name(h.encoding))
        return self._style_info(key)

    # -- clips --------------------------------------------------------------------------------------
    @unary
    def OpenClip(self, request, context):
        clip = self._open(self._spec(request.spec))
        try:
            info = self._clip_info(clip)
        except BaseException:
            self.engine.close_clip(clip.id, "closed: opening it failed")  # a failed call leaves no state
            raise
        log.info("opened clip %s %s", clip.id, request.label)
        return info

    @unary
    def UpdateClip(self, request, context):
        spec = self._spec(request.spec)
        with self.engine.clips.busy():
            clip = self.engine.get_clip(request.clip_id)
            if (spec.input, spec.output, spec.frames) == (clip.spec.input, clip.spec.output, clip.spec.frames):
                return self._clip_info(clip, clip.update(spec, validated=True))
            # New frames on storage: the clip needs a new loader; reopen it under the same id.
            old_cached = len(clip.cached_frames()["analysed"])
            self.engine.close_clip(clip.id, "replaced by UpdateClip")
            return self._clip_info(self._open(spec, clip_id=request.clip_id), old_cached)

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
                raise ClipStateError(
                    f"clip {clip.id} takes its frames inline: Analyze can only work on "
                    "frames on storage (set spec.input), render the frames with "
                    "RenderFrames instead"
                )
        todo = list(request.frames) or list(clip.frames or [])
        if not todo:
            raise InvalidInputError("frames: the clip has no frame range; list the frames to analyse")
        cancel = cancel_check(context)
        for n, frame in enumerate(todo, 1):
            if cancel():
                raise CancelledError("analysis cancelled by the client")
            t0 = time.perf_counter()
            with self.engine.clips.busy():
                self.engine.get_clip(request.clip_id)  # still open (not evicted meanwhile)
                clip.analyze(int(frame), cancel=cancel)
            yield pb.Progress(frame=int(frame), done=n, total=len(todo), seconds=time.perf_counter() - t0)

    @streaming
    def RenderByPath(self, request, context):
        spec = self._request_spec(request)
        if not spec.input or not spec.output:
            raise InvalidInputError("spec.input and spec.output must both be set to render by path")
        cancel = cancel_check(context)

        def work(emit):
            def progress(n, total, frame, path, seconds):
                emit(
                    pb.Progress(
                        frame=int(frame), done=int(n), total=int(total), output_path=str(path), seconds=float(seconds)
                    )
                )

            with self.engine.clips.busy():  # a one-off clip, closed by render_clip itself
                self.engine.render_clip(
                    spec, progress, frames=list(request.frames) or None, cancel=cancel, validated=True
                )

        yield from emitted_by(work, name="lookgrid-render")

    @streaming
    def ExportLook(self, request, context):
        """Per-region look files on storage (:func:`lookgrid.engine.look.export_look`)."""
        spec = self._request_spec(request)
        if not spec.input:
            raise InvalidInputError("spec.input must be set: the export reads the clip's frames from storage")
        if not request.output_dir:
            raise InvalidInputError("output_dir is empty")
        out = self.paths.check_file(request.output_dir, "output_dir")
        cancel = cancel_check(context)
        t0 = time.perf_counter()

        def work(emit):
            last = [t0]

            def progress(n, total, frame):
                now = time.perf_counter()
                emit(
                    pb.ExportLookResponse(
                        progress=pb.Progress(frame=int(frame), done=int(n), total=int(total), seconds=now - last[0])
                    )
                )
                last[0] = now

            with self.engine.clips.busy():  # a one-off clip, closed by the export itself
                res = export_look(
                    self.engine,
                    spec,
                    out,
                    list(request.frames) or None,
                    size=request.lut_size or 33,
                    formats=list(request.formats) or None,
                    regions=list(request.regions) or None,
                    progress=progress,
                    cancel=cancel,
                    bake=request.bake,
                )
            emit(pb.ExportLookResponse(result=look_result(res, time.perf_counter() - t0)))

        yield from emitted_by(work, name="lookgrid-look")

    @streaming
    def RenderFrames(self, request_iterator, context):
        """Frames in, frames out. A reader thread assembles the next frame while this one renders;
        every byte received is held on the call's budget account until its frame is done."""
        stop = threading.Event()
        context.add_callback(stop.set)
        account = self.budget.account("RenderFrames")

        def check_header(h: pb.FrameHeader) -> None:
            checks.check_frame_header(h, self.limits)
            self.engine.get_clip(h.clip_id)  # fail early on an unknown clip
            account.wait_for_room(int(h.payload_bytes), stop.is_set)  # the frames read ahead go first

        received = wire.assemble_frames(request_iterator, check_header=check_header, take=account.take)
        with self._lock:
            self.active_streams += 1
        frames_in = read_ahead(
            received,
            stop=stop,
            alive=context.is_active,
            name="lookgrid-frames-in",
            on_drop=lambda f: account.give(len(f.payload)),
        )
        try:
            for fr in frames_in:
                size = len(fr.payload)
                try:
                    with self.engine.clips.busy():
                        clip = self.engine.get_clip(fr.header.clip_id)
                        header, payload = framing.render_message(clip, fr, self.limits.max_frame_pixels)
                    yield from wire.frame_messages(header, payload, pb.RenderFramesResponse, self.chunk_bytes)
                finally:
                    fr.payload = b""
                    account.give(size)
        finally:
            frames_in.close()  # stops the reader and frees what it read ahead, now
            account.close()
            with self._lock:
                self.active_streams -= 1
