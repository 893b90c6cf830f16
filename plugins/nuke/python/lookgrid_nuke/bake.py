"""Bake to nodes: the node's look as a native Nuke graph that renders without a LookGrid server.

On Nuke's main thread: read the node, write the Source (with its input mattes) to EXR under
``bake-<id>/`` in the node's results folder (the server reads it there: that folder must lie under
one of the server's ``--root`` folders). On a worker thread: ``ExportLook`` with ``bake`` for the
node's range into ``bake-<id>/look/`` (per reference and frame range an ACEScct CLF, the key
mattes, the curves and the fidelity figures), with progress and cancel. Back on the main thread: the
graph the client plans (:func:`lookgrid_client.hostbake.nuke_plan`) is built in a Group beside the
node, fed by the node's Source, and the node's status line shows the bake's fidelity (ΔE2000 mean /
p95 inside each matte). The exchange frames are removed; the look files stay (the graph reads them).
"""

from __future__ import annotations

from lookgrid_nuke.node import NodeSetupError, read_node
from lookgrid_nuke.render import (CONNECT_TIMEOUT, Exchange, _PrintedProgress, _report, build_spec, report_failure,
                                  setup_failed, write_exchange)

_active: dict[str, object] = {}      # node id -> its running bake (one per node at a time)
BAKED_SUFFIX = "_baked"


def _export(job, group_name: str, node_job, exchange: Exchange, batch: bool):
    import nuke

    from lookgrid_client import connect
    from lookgrid_client.hostbake import check_shared

    task = _PrintedProgress(f"LookGrid bake {group_name}") if batch else nuke.ProgressTask(f"LookGrid bake {group_name}")

    def progress(p) -> None:
        job.set_progress(p.done, p.total)
        task.setProgress(int(100 * p.done / max(p.total, 1)))
        task.setMessage(f"frame {p.done} of {p.total}")

    def cancel() -> bool:
        return task.isCancelled() or job.cancelled()

    try:
        with connect(node_job.server or None, launch=node_job.launch or None, timeout=CONNECT_TIMEOUT) as client:
            check_shared(str(exchange.run), client.server_info().roots)
            spec = build_spec(node_job, exchange, by_path=True)
            return client.export_look(str(exchange.run / "look"), spec, frames=node_job.frames, formats=["clf"],
                                      bake=True, progress=progress, cancel=cancel)
    finally:
        for f in exchange.run.glob("source.*.exr"):
            f.unlink()
        del task


def _build(group, result, colorspace: str):
    """Main thread: the planned graph in a new Group beside the node, fed by the node's Source."""
    import nuke

    from lookgrid_client.hostbake import PLATE, nuke_plan

    plan = nuke_plan(result, colorspace)
    baked = nuke.nodes.Group()
    baked.setName(group.name() + BAKED_SUFFIX, True, False)
    baked.setInput(0, group.input(0))
    made = {}
    with baked:
        made[PLATE] = nuke.nodes.Input(name="Source")
        for p in plan.nodes:
            node = getattr(nuke.nodes, p.cls)(name=p.name, **p.knobs)
            for knob, keys in p.keys.items():
                for frame, value in keys:
                    node[knob].setValueAt(value, frame)
            made[p.name] = node
        for p in plan.nodes:
            for i, src in p.inputs.items():
                made[p.name].setInput(i, made[src])
        out = nuke.nodes.Output()
        out.setInput(0, made[plan.output])
    return baked, plan


def _done(group, job, exchange: Exchange, node_job, batch: bool = False):
    job.wait(10.0)
    if job.error is None:
        baked, plan = _build(group, job.result(), node_job.colorspace)
        _report(group, f"baked {node_job.first}-{node_job.last} into {baked.name()}: {plan.status}", False)
        return baked
    exchange.remove_run()     # a failed or cancelled export wrote nothing: the folder is this bake's alone
    report_failure(group, job, "bake", batch)
    return None


def bake_to_nodes(group=None, batch: bool = False):
    """The "Bake to nodes" button. Returns the client's HostJob (None after a setup error, reported);
    ``batch``: in this thread (``nuke -t``), errors raise."""
    import nuke

    from lookgrid_client.hostjob import HostJob

    if group is None:
        group = nuke.thisNode()
    name = group.name()
    node_id = group["node_id"].value()
    if node_id in _active and not _active[node_id].done:
        nuke.message(f"LookGrid: {name} is already baking")
        return None
    exchange = None
    try:
        node_job = read_node(group)
        if node_job.method not in ("lookgrid", "per-frame"):
            raise NodeSetupError(f"method {node_job.method!r} has no per-region grids to bake (use lookgrid "
                                 "or per-frame)")
        exchange = Exchange(node_job.storage, nuke.root().name(), node_id, "render", "bake")
        write_exchange(group, node_job, exchange)
    except (NodeSetupError, OSError, RuntimeError) as err:
        setup_failed(group, exchange, err, batch)
        return None

    if batch:
        job = HostJob(lambda j: _export(j, name, node_job, exchange, True), name=f"lookgrid-bake-{name}")
        try:
            job.run_here()
        except BaseException:
            pass    # job.error, below
        _done(group, job, exchange, node_job, batch=True)
        return job

    def work(job):
        try:
            return _export(job, name, node_job, exchange, False)
        finally:
            nuke.executeInMainThread(_done, args=(group, job, exchange, node_job))

    job = HostJob(work, name=f"lookgrid-bake-{name}")
    _active[node_id] = job
    group["status"].setValue("baking…")
    return job.start()

