"""Preview frame and Render range of a LookGrid node.

On Nuke's main thread: read the knobs (every animated value at every frame), then write the Source
(with each region's matte copied into a layer of its own) to EXR through a temporary Write node and
``nuke.execute``. On a worker thread: connect (or start a server), render through the client, report
progress in a ``nuke.ProgressTask`` (cancel stops the job), and hand the result back to the main
thread with ``nuke.executeInMainThread``, which points the node's internal Read at the graded frames
and makes it the node's output.

Exchange files live in ``<exchange folder>/<node name>/``: ``run-<id>/`` holds one render's source
frames (and, by path, what the server wrote) and is removed when the render ends, whatever the
outcome (any left by an earlier crash goes before the next render starts). Results are written
through the client's StagedOutput and appear as ``<node>.<id>.####.exr`` only when every frame has
arrived, so a cancelled or failed render leaves nothing behind and the node keeps its previous
output; the previous result's files go once the new one is shown.

Frame numbers: ``####`` is 4 digits (Nuke's reading), the same as the server's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from lookgrid_nuke.node import (RESULT_READ, SOURCE_INPUT, NodeJob, NodeSetupError, exr_channel, mask_layer,
                                read_node)

PADDING = "####"
CONNECT_TIMEOUT = 10.0
_active: dict[str, object] = {}     # node name -> its running HostJob (one render per node at a time)


def _is_under(path: str, roots) -> bool:
    p = Path(path).resolve()
    return any(p == Path(r).resolve() or Path(r).resolve() in p.parents for r in roots)


class Exchange:
    """The files of one render of one node (see the module docstring)."""

    def __init__(self, storage: str, node_name: str) -> None:
        self.node_name = node_name
        self.base = Path(storage or os.path.join(tempfile.gettempdir(), "lookgrid_nuke")) / node_name
        self.base.mkdir(parents=True, exist_ok=True)
        for stale in self.base.glob("run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.id = uuid.uuid4().hex[:12]
        self.run = self.base / f"run-{self.id}"
        self.run.mkdir()
        self.source = str(self.run / f"source.{PADDING}.exr")
        self.by_path_output = str(self.run / "out" / f"graded.{PADDING}.exr")
        self.result = str(self.base / f"{node_name}.{self.id}.{PADDING}.exr")

    def drop_other_results(self) -> None:
        keep = Path(self.result).name.split(PADDING)[0]
        for old in self.base.glob(f"{self.node_name}.*.exr"):
            if not old.name.startswith(keep):
                old.unlink()

    def remove_run(self) -> None:
        """Remove the run folder (the client has already waited for a cancelled by-path render's
        last frame), and the node's folder when nothing else is in it."""
        shutil.rmtree(self.run, ignore_errors=True)
        if not any(self.base.iterdir()):
            self.base.rmdir()


def build_spec(job: NodeJob, exchange: Exchange, by_path: bool) -> dict:
    """The ClipSpec JSON of the node's job (the client's hostrender.build_spec over what the node
    read; reference paths stay paths, the client uploads them). By path, the mattes are channels
    of the exchange files; inline, channels of each frame sent."""
    from lookgrid_client.hostrender import RegionLook
    from lookgrid_client.hostrender import build_spec as client_spec
    from lookgrid_client.sequence import storage_spec

    looks = [RegionLook(r.name, "" if r.mode == "background" else "inline",
                        [(ref.path, dict(ref.weight)) for ref in r.references], dict(r.strength))
             for r in job.regions]
    spec = client_spec(looks, input_colorspace=job.colorspace, method=job.method, stride=job.stride)
    spec["frames"] = f"{job.first}-{job.last}"
    if by_path:
        spec = storage_spec(spec, input=exchange.source, output=exchange.by_path_output,
                            masks={r.name: exchange.source for r in job.regions if r.mode != "background"})
    channels = {r.name: exr_channel(r.channel) for r in job.regions if r.mode != "background"}
    for region in spec["regions"]:
        if region["name"] in channels:
            region["maskChannel"] = channels[region["name"]]
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


def _show_result(group, exchange: Exchange, first: int, last: int, message: str) -> None:
    """Main thread: the internal Read shows the graded frames and becomes the node's output."""
    read = group.node(RESULT_READ)
    read["file"].setValue(exchange.result)
    read["first"].setValue(first)
    read["last"].setValue(last)
    for n in group.nodes():
        if n.Class() == "Output":
            n.setInput(0, read)
    group["status"].setValue(message)
    exchange.drop_other_results()


def _report(group, message: str, alert: bool) -> None:
    """Main thread: the status line, and a message box for errors."""
    import nuke

    group["status"].setValue(message)
    if alert:
        nuke.message(message)


def _render(job, group_name: str, node_job: NodeJob, exchange: Exchange, preview: bool):
    """The worker: connect, render, stage the results; returns the spec as sent."""
    import nuke

    from lookgrid_client import FrameIn, connect
    from lookgrid_client.launch import describe_server
    from lookgrid_client.hostrender import render_by_path_to_files, render_to_files
    from lookgrid_client.output import frame_path

    task = nuke.ProgressTask(f"LookGrid {group_name}")
    frames = node_job.frames

    def progress(done: int, total: int) -> None:
        job.set_progress(done, total)
        task.setProgress(int(100 * done / max(total, 1)))
        task.setMessage(job.status_line())

    def phase(text: str) -> None:
        job.set_phase(text)
        task.setMessage(job.status_line())

    def cancel() -> bool:
        return task.isCancelled() or job.cancelled()

    try:
        with connect(node_job.server or None, launch=node_job.launch or None, timeout=CONNECT_TIMEOUT,
                     token=node_job.token or None, root_certificates=node_job.tls_cert or None) as client:
            job.set_server(describe_server(client))
            phase(f"rendering on {job.server}")
            by_path = not preview and _is_under(str(exchange.run), client.server_info().roots)
            spec = build_spec(node_job, exchange, by_path)
            if by_path:
                result, _ = render_by_path_to_files(client, spec, frames, exchange.result, progress=progress,
                                                    cancel=cancel, phase=phase)
                return result.spec

            def read_frame(frame: int) -> FrameIn:
                with open(frame_path(exchange.source, frame), "rb") as fh:
                    return FrameIn(frame, exr=fh.read())

            result, _, _ = render_to_files(client, spec, frames, read_frame, exchange.result, progress=progress,
                                           cancel=cancel, label=f"nuke {group_name}", phase=phase)
            return result.spec
    finally:
        exchange.remove_run()
        del task


def _start(group, first: int | None, last: int | None, preview: bool):
    """Main thread: read the node, write the exchange frames, start the worker (None on a setup
    error, reported). Returns the client's HostJob; its result is the spec as sent."""
    import nuke

    from lookgrid_client.hostjob import HostJob

    if group is None:
        group = nuke.thisNode()
    name = group.name()
    if name in _active and not _active[name].done:
        nuke.message(f"LookGrid: {name} is already rendering")
        return None
    exchange = None
    try:
        node_job = read_node(group, first, last)
        exchange = Exchange(node_job.storage, name)
        write_exchange(group, node_job, exchange)
    except (NodeSetupError, OSError, RuntimeError) as err:
        if exchange is not None:
            exchange.remove_run()
        _report(group, f"LookGrid: {err}", True)
        return None
    what = f"frame {node_job.first}" if preview else f"{node_job.first}-{node_job.last}"

    def work(job):
        try:
            return _render(job, name, node_job, exchange, preview)
        finally:
            nuke.executeInMainThread(_finish, args=(group, job, exchange, node_job, what))

    job = HostJob(work, name=f"lookgrid-{name}")
    _active[name] = job
    group["status"].setValue("rendering…")
    return job.start()


def _finish(group, job, exchange: Exchange, node_job: NodeJob, what: str) -> None:
    """Main thread, once the worker is done: show the result, or say why there is none."""
    from lookgrid_client import RenderCancelledError

    job.wait(10.0)   # the worker has queued this as its last act; it ends right after
    if job.error is None:
        _show_result(group, exchange, node_job.first, node_job.last, f"rendered {what} on {job.server}")
    elif isinstance(job.error, RenderCancelledError):
        _report(group, "render cancelled", False)
    else:
        _report(group, f"LookGrid: {job.error_line()}", True)


def render_range(group=None):
    """The "Render range" button: the node's first..last frames, by path when the server shares the
    exchange folder (it lies under one of the server's roots), inline otherwise."""
    return _start(group, None, None, preview=False)


def preview_frame(group=None):
    """The "Preview frame" button: the current frame, sent inline (RenderFrames)."""
    import nuke

    frame = nuke.frame()
    return _start(group, frame, frame, preview=True)
