"""Apply as grade: the shot's look as a colour version of its own clip, not as new media (issue 26).

:func:`apply_grade` runs on a worker thread and calls Resolve only through ``on_main``, like
:func:`lookgrid_resolve.job.render`:

1. Read the shot under the playhead (an EXR sequence) and the form, as *Render* does.
2. ``ExportLook`` with ``bake`` into ``<output folder>/<shot>_look.<id>/`` on the server's storage:
   per region the shot look as ``.cube`` (ACEScct in and out) and ASC CDL, its matte sequence, and
   a look per frame range where the look changes within the shot.
3. On the UI thread: a new local colour version named after the look (``TimelineItem.AddVersion``),
   ``Project.RefreshLUTList`` so Resolve knows the new LUTs, then per region ``Graph.SetLUT`` on node
   k (region order) of the clip's node graph (``TimelineItem.GetNodeGraph``), or
   ``TimelineItem.SetCDL`` where only a CDL is wanted; the matte sequences are added to the clip
   (``MediaStorage.AddClipMattesToMediaPool``).
4. One line says what was applied and what the API cannot do (create nodes, wire a matte into a
   node's key input, keyframe): which nodes the look needs, in ACEScct, and which matte goes where.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from lookgrid_resolve.job import CONNECT_TIMEOUT, Form, _direct, _read, _roots, _Run, build_spec
from lookgrid_resolve.shot import ShotError, is_result, source_under

LOCAL_VERSION = 0


@dataclass
class Graded:
    version: str
    message: str               # the one line for the status bar
    folder: str                # where the look files are
    applied: list[int]         # the nodes that got their LUT (or CDL)


def _item(resolve, form: Form):
    """UI thread: what :func:`lookgrid_resolve.job._read` reads, plus the timeline item and its clip."""
    project, media_pool, timeline, shot, form = _read(resolve, form)
    item = timeline.GetCurrentVideoItem()
    if is_result(item):
        item = source_under(timeline, item)
    return project, resolve.GetMediaStorage(), shot, form, item, item.GetMediaPoolItem()


def _apply(project, storage, item, clip, plan, cdl_only: bool):
    """UI thread: the version, the LUTs (or CDLs) on the existing nodes, the mattes."""
    if not item.AddVersion(plan.version, LOCAL_VERSION):
        raise ShotError(f"Resolve did not add the colour version {plan.version!r} (is the name taken?)")
    project.RefreshLUTList()
    graph = item.GetNodeGraph(1)    # the first layer of the node stack
    count = int(graph.GetNumNodes())
    applied = []
    for n in plan.nodes:
        if n.node > count:
            continue
        ok = item.SetCDL(n.cdl) if cdl_only else graph.SetLUT(n.node, n.lut)
        if not ok:
            raise ShotError(f"Resolve refused the {'CDL' if cdl_only else 'LUT ' + n.lut} on node {n.node} "
                            f"({n.region})")
        applied.append(n.node)
        if not storage.AddClipMattesToMediaPool(clip, n.mattes, None):    # None: a mono clip
            raise ShotError(f"Resolve did not add the matte of {n.region} ({Path(n.mattes[0]).name}, ...)")
    return count, applied


def apply_grade(resolve, form: Form, *, cdl_only: bool = False, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None, on_main: Callable | None = None,
                status: Callable[[str], None] | None = None) -> Graded:
    """Export the shot's look and apply it as a new local version of the clip (see the module
    docstring); raises a one-line error on failure (then no version is added)."""
    from lookgrid_client import connect
    from lookgrid_client.colorspaces import resolve_shot_colorspace
    from lookgrid_client.hostbake import resolve_message, resolve_plan
    from lookgrid_client.pathmap import PathMap

    on_main = on_main or _direct
    status = status or (lambda text: None)
    path_map = PathMap.parse(form.path_map)
    project, storage, shot, form, item, clip = on_main(_item, resolve, form)
    if shot.movie:
        raise ShotError(f"{shot.name!r} is a movie: Apply as grade needs an EXR sequence (render one with *Render* "
                        "or on the Deliver page)")
    build_spec(shot, form)
    run = _Run(shot, form.output)
    folder = run.base / f"{run.stem}_look.{uuid.uuid4().hex[:8]}"
    status("connecting to the LookGrid server")
    with connect(form.server or None, launch=form.launch or None, timeout=CONNECT_TIMEOUT, token=form.token or None,
                 root_certificates=form.tls_cert or None, roots=_roots(shot, form, run)) as client:
        info = client.server_info()
        if client.owned_process is not None:
            path_map = PathMap()
        colorspace, _ = resolve_shot_colorspace(form.colorspace, clip=shot.clip_colorspace, project=shot.project,
                                                rendered=False, server_spaces=list(info.colorspaces))
        spec = build_spec(shot, replace(form, colorspace=colorspace), path_map.to_server)
        status("exporting the look")
        result = client.export_look(path_map.to_server(str(folder)), spec, frames=shot.frames,
                                    formats=["cube", "cdl", "clf"], bake=True, cancel=cancel,
                                    progress=(lambda p: progress(p.done, p.total)) if progress else None)
    for r in result.regions:      # the files as this host sees them
        r.cube_path, r.cdl_path = path_map.to_host(r.cube_path), path_map.to_host(r.cdl_path)
        r.matte_pattern = path_map.to_host(r.matte_pattern)
        for s in r.bake.segments:
            s.cube_path = path_map.to_host(s.cube_path)
    plan = resolve_plan(result, run.stem, shot.frames)
    count, applied = on_main(_apply, project, storage, item, clip, plan, cdl_only)
    return Graded(plan.version, resolve_message(plan, count, applied, cdl_only), str(folder), applied)
