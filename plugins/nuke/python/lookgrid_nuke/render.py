"""Preview frame and Render range of a LookGrid node.

On Nuke's main thread: read the knobs (every animated value at every frame), then write the Source
(with each region's matte copied into a layer of its own) to EXR through a temporary Write node and
``nuke.execute``. On a worker thread: connect (or start a server), render through the client, report
progress in a ``nuke.ProgressTask`` (cancel stops the job), and hand the result back to the main
thread with ``nuke.executeInMainThread``, which points the node's internal Read at the graded frames
and makes it the node's output.

Exchange files live in ``<exchange folder>/<node name>/``: ``run-<id>/`` holds one render's source
frames and its staged results and is removed when the render ends, whatever the outcome (and any
left by an earlier crash is removed before the next render starts); finished frames are moved
into ``result-<id>/`` only when every frame has arrived, so a cancelled or failed render leaves
nothing behind and the node keeps showing the previous result.

Frame numbers: ``####`` is 4 digits (Nuke's reading), the same as the server's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from lookgrid_nuke.node import (RESULT_READ, SOURCE_INPUT, NodeJob, NodeSetupError, exr_channel, mask_layer,
                                read_node)

PADDING = "####"
CONNECT_TIMEOUT = 10.0
_active: dict[str, "RenderJob"] = {}
_active_lock = threading.Lock()


def _frame_path(pattern: str, frame: int) -> str:
    return pattern.replace(PADDING, f"{frame:04d}")


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.part-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _is_under(path: str, roots) -> bool:
    p = Path(path).resolve()
    for root in roots:
        r = Path(root).resolve()
        if p == r or r in p.parents:
            return True
    return False


class Exchange:
    """The folders of one render of one node (see the module docstring)."""

    def __init__(self, storage: str, node_name: str) -> None:
        self.base = Path(storage or os.path.join(tempfile.gettempdir(), "lookgrid_nuke")) / node_name
        self.base.mkdir(parents=True, exist_ok=True)
        for stale in self.base.glob("run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.id = uuid.uuid4().hex[:12]
        self.run = self.base / f"run-{self.id}"
        (self.run / "out").mkdir(parents=True)
        self.source = str(self.run / f"source.{PADDING}.exr")
        self.staged = str(self.run / "out" / f"graded.{PADDING}.exr")
        self.result = str(self.base / f"result-{self.id}" / f"graded.{PADDING}.exr")

    def publish(self, frames: list[int]) -> str:
        """Move every staged frame into the result folder (all present, or an error); its pattern."""
        missing = [f for f in frames if not os.path.exists(_frame_path(self.staged, f))]
        if missing:
            raise OSError(f"the server did not write frame {missing[0]} ({len(missing)} missing)")
        folder = Path(self.result).parent
        folder.mkdir()
        for f in frames:
            os.replace(_frame_path(self.staged, f), _frame_path(self.result, f))
        return self.result

    def drop_other_results(self, keep: str | None) -> None:
        for old in self.base.glob("result-*"):
            if keep is None or Path(keep).parent != old:
                shutil.rmtree(old, ignore_errors=True)

    def remove_run(self) -> None:
        shutil.rmtree(self.run, ignore_errors=True)


def build_spec(job: NodeJob, exchange: Exchange, by_path: bool) -> dict:
    """The ClipSpec JSON of the node's job; local reference paths stay paths (the client uploads them)."""
    from lookgrid_client import track_from_samples

    spec = {"frames": f"{job.first}-{job.last}", "stride": job.stride, "method": job.method, "regions": []}
    if job.colorspace:
        spec["inputColorspace"] = job.colorspace
    if by_path:
        spec["input"] = exchange.source
        spec["output"] = exchange.staged
    for region in job.regions:
        r = {"name": region.name,
             "styles": [{"style": ref.path, "weight": track_from_samples(ref.weight)} for ref in region.references],
             "strength": track_from_samples(region.strength)}
        if region.mode != "background":
            r["mask"] = exchange.source if by_path else "inline"
            r["maskChannel"] = exr_channel(region.channel)
        spec["regions"].append(r)
    return spec


def write_exchange(group, job: NodeJob, exchange: Exchange) -> None:
    """Main thread: the Source, with each input matte in its own layer, to ``exchange.source``."""
    import nuke

    temp = []
    try:
        with group:
            tail = group.node(SOURCE_INPUT)
            for region in job.regions:
                if region.mode != "input":
                    continue
                layer = mask_layer(region.index)
                nuke.Layer(layer, [f"{layer}.alpha"])
                copy = nuke.nodes.Copy(from0="rgba.alpha", to0=f"{layer}.alpha")
                copy.setInput(0, tail)
                copy.setInput(1, group.node(f"mask{region.index}"))
                temp.append(copy)
                tail = copy
            write = nuke.nodes.Write(file=exchange.source, file_type="exr", channels="all",
                                     datatype="32 bit float", raw=True)
            temp.append(write)
            write.setInput(0, tail)
            nuke.execute(write, job.first, job.last)
    finally:
        for n in reversed(temp):
            nuke.delete(n)


def _show_result(group, pattern: str, first: int, last: int, exchange: Exchange, message: str) -> None:
    """Main thread: the internal Read shows the graded frames and becomes the node's output."""
    read = group.node(RESULT_READ)
    read["file"].setValue(pattern)
    read["first"].setValue(first)
    read["last"].setValue(last)
    for n in group.nodes():
        if n.Class() == "Output":
            n.setInput(0, read)
    group["status"].setValue(message)
    exchange.drop_other_results(pattern)


def _report(group, message: str, alert: bool) -> None:
    """Main thread: the status line, and a message box for errors."""
    import nuke

    group["status"].setValue(message)
    if alert:
        nuke.message(message)


class RenderJob(threading.Thread):
    """The worker-thread half of a render (never touches the node graph itself)."""

    def __init__(self, group, job: NodeJob, exchange: Exchange, preview: bool) -> None:
        super().__init__(name=f"lookgrid-{group.name()}", daemon=True)
        self.group, self.job, self.exchange, self.preview = group, job, exchange, preview
        self.node_name = group.name()
        self.outcome = ""          # "done" | "cancelled" | the error line
        self.result = None         # the client's RenderResult

    def run(self) -> None:
        import nuke

        from lookgrid_client import LookGridError, RenderCancelledError, connect

        task = nuke.ProgressTask(f"LookGrid {self.node_name}")
        try:
            with connect(self.job.server or None, launch=self.job.launch or None, timeout=CONNECT_TIMEOUT) as client:
                self._render(client, task)
            pattern = self.exchange.publish(self.job.frames)
            frames = f"{self.job.first}-{self.job.last}" if not self.preview else f"frame {self.job.first}"
            self.outcome = "done"
            nuke.executeInMainThread(_show_result, args=(self.group, pattern, self.job.first, self.job.last,
                                                         self.exchange, f"rendered {frames}"))
        except RenderCancelledError:
            self.outcome = "cancelled"
            nuke.executeInMainThread(_report, args=(self.group, "render cancelled", False))
        except (LookGridError, NodeSetupError, OSError) as err:
            self.outcome = f"LookGrid: {err}"
            nuke.executeInMainThread(_report, args=(self.group, self.outcome, True))
        except Exception as err:  # a bug still reaches the artist as one line, not a traceback
            self.outcome = f"LookGrid: {type(err).__name__}: {err}"
            nuke.executeInMainThread(_report, args=(self.group, self.outcome, True))
        finally:
            self.exchange.remove_run()
            del task
            with _active_lock:
                _active.pop(self.node_name, None)

    def _render(self, client, task) -> None:
        from lookgrid_client import FrameIn, RenderCancelledError

        def progress(done: int, total: int) -> None:
            task.setProgress(int(100 * done / max(total, 1)))
            task.setMessage(f"frame {done} of {total}")

        by_path = not self.preview and _is_under(str(self.exchange.run), client.server_info().roots)
        spec = build_spec(self.job, self.exchange, by_path)
        frames = self.job.frames
        if by_path:
            self.result = client.render_by_path(spec, frames=frames, progress=lambda p: progress(p.done, p.total),
                                                cancel=task.isCancelled)
            return

        def read_frame(frame: int) -> FrameIn:
            with open(_frame_path(self.exchange.source, frame), "rb") as f:
                return FrameIn(frame, exr=f.read())

        def write_frame(out) -> None:
            _write_atomic(_frame_path(self.exchange.staged, out.frame), out.exr)

        self.result = client.render_sequence(spec, frames, read_frame, write_frame, progress=progress,
                                             cancel=task.isCancelled)
        if task.isCancelled():
            raise RenderCancelledError("render cancelled")


def _start(group, first: int | None, last: int | None, preview: bool) -> RenderJob | None:
    """Main thread: read the node, write the exchange frames, start the worker (None on a setup error)."""
    import nuke

    if group is None:
        group = nuke.thisNode()
    name = group.name()
    with _active_lock:
        if name in _active:
            nuke.message(f"LookGrid: {name} is already rendering")
            return None
    exchange = None
    try:
        job = read_node(group, first, last)
        exchange = Exchange(job.storage, name)
        write_exchange(group, job, exchange)
    except (NodeSetupError, OSError, RuntimeError) as err:
        if exchange is not None:
            exchange.remove_run()
        _report(group, f"LookGrid: {err}", True)
        return None
    worker = RenderJob(group, job, exchange, preview)
    with _active_lock:
        _active[name] = worker
    group["status"].setValue("rendering…")
    worker.start()
    return worker


def render_range(group=None) -> RenderJob | None:
    """The "Render range" button: the node's first..last frames, by path when the server shares the
    exchange folder (it lies under one of the server's roots), inline otherwise."""
    return _start(group, None, None, preview=False)


def preview_frame(group=None) -> RenderJob | None:
    """The "Preview frame" button: the current frame, sent inline (RenderFrames)."""
    import nuke

    frame = nuke.frame()
    return _start(group, frame, frame, preview=True)
