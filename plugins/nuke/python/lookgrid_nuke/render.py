"""Preview frame and Render range of a LookGrid node.

On Nuke's main thread: read the knobs (every animated value at every frame), then write the Source
(with each region's matte copied into a layer of its own) to EXR through a temporary Write node and
``nuke.execute``. On a worker thread: connect (or start a server), render through the client, report
progress in a ``nuke.ProgressTask`` (cancel stops the job), and hand the result back to the main
thread with ``nuke.executeInMainThread``, which points the node's internal Read at the graded frames
and makes it the node's output.

Files live beside the script, keyed by the node's id (``lookgrid_client.hostresults``):
``<script folder>/lookgrid/<script name>/<node id>/`` (or under the node's *results folder*).
``run-<id>/`` holds one render's source frames (and, by path, what the server wrote) and is removed
when the render ends, whatever the outcome (any left by an earlier crash goes before the next
render starts). Results are written through the client's StagedOutput and appear as
``render.<id>.####.exr`` (Render range) or ``preview.<id>.####.exr`` (Preview frame) only when every
frame has arrived, so a cancelled or failed render leaves nothing behind and the node keeps its
previous output. Once shown, a render removes earlier renders and previews; a preview removes
earlier previews only. The internal Read points at the result through ``[file dirname [value
root.name]]``, so a reopened or moved script still shows it, and the node stores the fingerprint of
what the result depends on (``node.node_state``): when knobs or inputs change, its status line says
the result is stale.

Proxy mode: the exchange frames are written at full resolution (proxy mode is switched off around
the temporary Write and restored), so a render is the same in and out of proxy mode; the status line
says so.

Frame numbers: ``####`` is 4 digits (Nuke's reading), the same as the server's.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from lookgrid_nuke.node import (RESULT_READ, SOURCE_INPUT, NodeJob, NodeSetupError, exr_channel, mask_layer,
                                node_state, read_node)

PADDING = "####"
CONNECT_TIMEOUT = 10.0
SCRIPT_DIR = "[file dirname [value root.name]]"     # Nuke's TCL for the open script's folder
_active: dict[str, object] = {}     # node id -> its running HostJob (one render per node at a time)
_colorspace_jobs: dict[str, object] = {}   # node id -> the HostJob fetching the server's colour spaces


def _is_under(path: str, roots) -> bool:
    p = Path(path).resolve()
    return any(p == Path(r).resolve() or Path(r).resolve() in p.parents for r in roots)


class Exchange:
    """The files of one render of one node (see the module docstring)."""

    def __init__(self, storage: str, script: str, node_id: str, kind: str, run_prefix: str = "run") -> None:
        from lookgrid_client import InvalidRequestError
        from lookgrid_client.hostresults import result_location

        try:
            self.location = result_location(node_id, script, storage, script_dir_expression=SCRIPT_DIR)
        except InvalidRequestError as err:
            raise NodeSetupError(str(err)) from None
        self.kind = kind
        self.base = self.location.folder
        self.base.mkdir(parents=True, exist_ok=True)
        for stale in self.base.glob("run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.id = uuid.uuid4().hex[:12]
        self.run = self.base / f"{run_prefix}-{self.id}"     # "farm-<id>" folders stay: the farm reads them
        self.run.mkdir()
        self.source = str(self.run / f"source.{PADDING}.exr")
        self.by_path_output = str(self.run / "out" / f"graded.{PADDING}.exr")
        name = self.location.name(kind, self.id, PADDING)
        self.result = str(self.base / name)
        self.read_file = f"{self.location.host_prefix}/{name}"

    def drop_other_results(self) -> None:
        """Remove what this result replaces (a preview never removes a render)."""
        keep = Path(self.result).name.split(PADDING)[0]
        for old in self.location.replaced_by(self.kind, keep):
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


def write_exchange(group, job: NodeJob, exchange: Exchange) -> bool:
    """Main thread: the Source, with each input matte in its own layer, to ``exchange.source``, at
    full resolution. Returns whether proxy mode was on (switched off for the Write, then back on)."""
    import nuke

    temp = []
    root = nuke.root()
    proxy = bool(root.proxy())
    try:
        if proxy:
            root.setProxy(False)
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
        if proxy:
            root.setProxy(True)
    return proxy


def _show_result(group, exchange: Exchange, first: int, last: int, message: str, state_hash: str) -> None:
    """Main thread: the internal Read shows the graded frames and becomes the node's output."""
    read = group.node(RESULT_READ)
    read["file"].setValue(exchange.read_file)
    read["first"].setValue(first)
    read["last"].setValue(last)
    for n in group.nodes():
        if n.Class() == "Output":
            n.setInput(0, read)
    group["result_hash"].setValue(state_hash)
    group["status"].setValue(message)
    exchange.drop_other_results()
    refresh_status(group)


def _shown(group) -> tuple[int, int, str] | None:
    """(first, last, file) of the result the node shows, or None."""
    read = group.node(RESULT_READ)
    if read is None or not read["file"].value():
        return None
    return int(read["first"].value()), int(read["last"].value()), read["file"].value()


STALE = "stale: knobs or inputs changed since this result; render again"


def refresh_status(group) -> None:
    """Main thread: say on the status line whether the shown result still matches the node's knobs
    and inputs (the fingerprint stored with it)."""
    from lookgrid_client.hostresults import fingerprint

    shown = _shown(group)
    stored = group["result_hash"].value()
    if shown is None or not stored:
        return
    first, last, _ = shown
    try:
        current = fingerprint(node_state(group, first, last))
    except NodeSetupError:
        current = ""
    status = group["status"].value()
    base = status.split(" — ")[0] if status.startswith("rendered") else (
        f"rendered frame {first}" if first == last else f"rendered {first}-{last}")
    want = base if current == stored else f"{base} — {STALE}"
    if status != want:
        group["status"].setValue(want)


def is_lookgrid_node(node) -> bool:
    return node is not None and "node_id" in node.knobs() and "result_hash" in node.knobs()


_OWN_KNOBS = {"status", "result_hash", "node_id", "preview", "render", "farm", "bake"}


def knob_changed() -> None:
    """Nuke's knobChanged callback (menu.py): a LookGrid node's knob or input changed."""
    import nuke

    from lookgrid_nuke.node import working_space

    node, knob = nuke.thisNode(), nuke.thisKnob()
    if not is_lookgrid_node(node) or knob is None or knob.name() in _OWN_KNOBS:
        return
    if knob.name() == "server":
        fetch_colorspaces(node, working_space())
    refresh_status(node)


_seen_inputs: dict[str, list] = {}   # node id -> its inputs' op hashes when updateUI last looked


def update_ui() -> None:
    """Nuke's updateUI callback (menu.py): upstream changes do not reach knobChanged. Cheap when
    nothing upstream changed (only the inputs' op hashes are compared); knob changes are
    knobChanged's."""
    import nuke

    from lookgrid_nuke.node import MAX_REGIONS

    node = nuke.thisNode()
    if not is_lookgrid_node(node):
        return
    hashes = [None if node.input(i) is None else list(node.input(i).opHashes()) for i in range(1 + MAX_REGIONS)]
    key = node["node_id"].value()
    if _seen_inputs.get(key) == hashes:
        return
    _seen_inputs[key] = hashes
    refresh_status(node)


def script_loaded() -> None:
    """Nuke's onScriptLoad callback (menu.py): every LookGrid node says whether its result is stale."""
    import nuke

    def walk(group):
        for n in group.nodes():
            if is_lookgrid_node(n):
                refresh_status(n)
            elif n.Class() == "Group":
                walk(n)

    walk(nuke.root())


def fetch_colorspaces(group, working: str):
    """Fill the node's colour-space menu with the server's colour spaces, off the main thread (a
    server that does not answer within CONNECT_TIMEOUT leaves the menu as it is, and the status line
    says why). The default is the script's working space when the server has it, else the server's
    working space. Returns the HostJob."""
    import nuke

    from lookgrid_client import connect
    from lookgrid_client.hostjob import HostJob

    server = group["server"].value().strip() or None
    node_id = group["node_id"].value()

    def work(job):
        try:
            with connect(server, timeout=CONNECT_TIMEOUT) as client:
                info = client.server_info()
                return list(info.colorspaces), info.working_space
        finally:
            nuke.executeInMainThread(_apply_colorspaces, args=(group, job, working))

    job = HostJob(work, name=f"lookgrid-colorspaces-{node_id}")
    _colorspace_jobs[node_id] = job
    return job.start()


def _apply_colorspaces(group, job, working: str) -> None:
    from lookgrid_client.hostcolor import pick_default

    job.wait(10.0)
    if job.error is not None:
        if not group["status"].value():      # never over a render's status
            group["status"].setValue(f"colour spaces not fetched: {job.error_line()}")
        return
    spaces, server_working = job.result()
    if not spaces:
        return
    knob = group["colorspace"]
    current = knob.value()
    untouched = list(knob.values()) == [working or current]
    knob.setValues(spaces)
    if untouched or current not in spaces:
        knob.setValue(pick_default(working, spaces, server_working))
    elif current in spaces:
        knob.setValue(current)


def setup_failed(group, exchange, err: BaseException, batch: bool) -> None:
    """A job that failed before it started: its exchange run is removed; in batch mode the error is
    raised as one line, otherwise it is reported on the node (status line and message box)."""
    if exchange is not None:
        exchange.remove_run()
    if batch:
        raise NodeSetupError(f"LookGrid: {err}") from None
    _report(group, f"LookGrid: {err}", True)


def _report(group, message: str, alert: bool) -> None:
    """Main thread: the status line, and a message box for errors."""
    import nuke

    group["status"].setValue(message)
    if alert:
        nuke.message(message)


class _PrintedProgress:
    """Progress without Nuke's UI (``nuke -t``): one line per frame on stdout."""

    def __init__(self, title: str) -> None:
        self.title = title

    def setProgress(self, percent: int) -> None:
        pass

    def setMessage(self, message: str) -> None:
        print(f"{self.title}: {message}", flush=True)

    def isCancelled(self) -> bool:
        return False


def _render(job, group_name: str, node_job: NodeJob, exchange: Exchange, preview: bool, batch: bool = False):
    """The worker (or, in batch mode, the calling thread): connect, render, stage the results;
    returns the spec as sent."""
    import nuke

    from lookgrid_client import FrameIn, connect
    from lookgrid_client.launch import describe_server
    from lookgrid_client.hostrender import render_by_path_to_files, render_to_files
    from lookgrid_client.output import frame_path

    task = _PrintedProgress(f"LookGrid {group_name}") if batch else nuke.ProgressTask(f"LookGrid {group_name}")
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


def _start(group, first: int | None, last: int | None, preview: bool, batch: bool = False):
    """Main thread: read the node, write the exchange frames, start the worker (None on a setup
    error, reported). Returns the client's HostJob; its result is the spec as sent. ``batch``
    (``nuke -t``, no UI and no main-thread queue): everything runs here, and errors raise."""
    import nuke

    from lookgrid_client.hostjob import HostJob
    from lookgrid_client.hostresults import fingerprint

    if group is None:
        group = nuke.thisNode()
    name = group.name()
    if not group["node_id"].value().strip():     # a node made before ids: give it one now
        group["node_id"].setValue(uuid.uuid4().hex[:16])
    node_id = group["node_id"].value()
    if node_id in _active and not _active[node_id].done:
        nuke.message(f"LookGrid: {name} is already rendering")
        return None
    exchange = None
    try:
        node_job = read_node(group, first, last)
        state_hash = fingerprint(node_state(group, node_job.first, node_job.last))
        exchange = Exchange(node_job.storage, nuke.root().name(), node_id, "preview" if preview else "render")
        proxy = write_exchange(group, node_job, exchange)
    except (NodeSetupError, OSError, RuntimeError) as err:
        setup_failed(group, exchange, err, batch)
        return None
    what = f"frame {node_job.first}" if preview else f"{node_job.first}-{node_job.last}"
    if proxy:
        what += " (full resolution: proxy mode is on)"

    if batch:
        job = HostJob(lambda j: _render(j, name, node_job, exchange, preview, batch=True), name=f"lookgrid-{name}")
        try:
            job.run_here()
        except BaseException:
            pass    # job.error, below
        _finish(group, job, exchange, node_job, what, state_hash, batch=True)
        return job

    def work(job):
        try:
            return _render(job, name, node_job, exchange, preview)
        finally:
            nuke.executeInMainThread(_finish, args=(group, job, exchange, node_job, what, state_hash))

    job = HostJob(work, name=f"lookgrid-{name}")
    _active[node_id] = job
    group["status"].setValue("rendering…")
    return job.start()


def _finish(group, job, exchange: Exchange, node_job: NodeJob, what: str, state_hash: str,
            batch: bool = False) -> None:
    """Main thread, once the worker is done: show the result, or say why there is none."""
    job.wait(10.0)   # the worker has queued this as its last act; it ends right after
    if job.error is None:
        _show_result(group, exchange, node_job.first, node_job.last,
                     f"rendered {what} on {job.server}" if job.server else f"rendered {what}", state_hash)
    else:
        report_failure(group, job, "render", batch)


def report_failure(group, job, kind: str, batch: bool) -> None:
    """After a ``kind`` ("render", "bake") job that failed or was cancelled: in batch mode raise
    its one line; else say it on the node (an alert for an error, none for a cancel)."""
    from lookgrid_client import LookGridError, RenderCancelledError

    if batch:
        raise LookGridError(f"LookGrid: {job.error_line()}")
    if isinstance(job.error, RenderCancelledError):
        _report(group, f"{kind} cancelled", False)
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


def render_on_farm(group=None):
    """The "Render on farm" button: write the node's job beside the script as the backend's farm
    bundle (``lookgrid farm export``: ClipSpec + Open Job Description template), for ``deadline
    bundle submit`` or ``openjd run``. Main thread: the Source (and input mattes) to EXR under
    ``farm-<id>/`` in the node's results folder (the farm reads them, so they stay); a worker runs the
    ``lookgrid`` executable of the preferences with a deadline. The farm writes
    ``render.<id>.####.exr`` beside the node's other results. Returns the HostJob (its result: the
    bundle folder), or None after a setup error (reported)."""
    import nuke

    from lookgrid_client.hostfarm import export_bundle
    from lookgrid_client.hostjob import HostJob

    if group is None:
        group = nuke.thisNode()
    name = group.name()
    exchange = None
    try:
        node_job = read_node(group)
        if not node_job.launch:
            raise NodeSetupError("set the LookGrid executable in Preferences ▸ LookGrid (the farm job is written "
                                 "by `lookgrid farm export`)")
        exchange = Exchange(node_job.storage, nuke.root().name(), group["node_id"].value(), "render", "farm")
        write_exchange(group, node_job, exchange)
        spec = build_spec(node_job, exchange, by_path=True)
        spec["output"] = exchange.result
        chunk = max(1, int(group["chunk"].value()))
    except (NodeSetupError, OSError, RuntimeError) as err:
        if exchange is not None:
            exchange.remove_run()
        _report(group, f"LookGrid: {err}", True)
        return None

    def work(job):
        try:
            return export_bundle(node_job.launch, spec, exchange.run, chunk=chunk,
                                 name=f"LookGrid {Path(nuke_script_name).stem} {name}")
        finally:
            nuke.executeInMainThread(_farm_written, args=(group, job, exchange))

    nuke_script_name = nuke.root().name()
    job = HostJob(work, name=f"lookgrid-farm-{name}")
    group["status"].setValue("writing the farm job…")
    return job.start()


def _farm_written(group, job, exchange: Exchange) -> None:
    job.wait(10.0)
    if job.error is None:
        _report(group, f"farm job written: {job.result()} (frames to {exchange.result})", False)
    else:
        exchange.remove_run()
        _report(group, f"LookGrid: {job.error_line()}", True)
