"""What a host's "apply" does, in one place: build the ClipSpec from what the host read, render the
sequence, write the results as EXR files atomically and the job's spec beside them.

A host adapter reads its scene (frames, masks, reference paths, curves sampled at every frame) into
:class:`RegionLook` values and a ``read_frame`` callback, then calls :func:`build_spec` and
:func:`render_to_files`. Results are the EXR bytes the server encodes (scene-linear, in the input's
colour space), staged and committed together (:class:`~lookgrid_client.output.StagedOutput`): a
failed or cancelled render leaves no output behind. When the frames also exist as files
(``storage_input``/``storage_masks``), the same job is written as storage-form ClipSpec JSON beside
the output, which ``lookgrid render --spec`` and the farm run as is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lookgrid_client.errors import InvalidRequestError
from lookgrid_client.output import StagedOutput, frame_path, write_atomic
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.sequence import RenderResult, resolve_styles, storage_spec
from lookgrid_client.tracks import track_from_samples


@dataclass
class RegionLook:
    """One region as a host sees it. ``mask``: ``"inline"`` (the host sends a matte with every
    frame) or ``""`` (the background: whatever the other regions leave). ``styles``: (reference
    file, weight samples frame -> value or None for 1 everywhere). ``strength``: samples or None."""

    name: str
    mask: str = "inline"
    styles: list[tuple[str, Mapping[float, float] | None]] = field(default_factory=list)
    strength: Mapping[float, float] | None = None


def build_spec(regions: Sequence[RegionLook], *, input_colorspace: str, method: str = "", stride: int = 0) -> dict:
    """The inline ClipSpec JSON dict of a host's job."""
    if not regions:
        raise InvalidRequestError("add at least one region (and give it a reference image)")
    out = []
    for r in regions:
        if not r.name:
            raise InvalidRequestError("a region has no name")
        if not r.styles:
            raise InvalidRequestError(f"region {r.name!r} has no reference image")
        styles = []
        for path, weight in r.styles:
            if not path:
                raise InvalidRequestError(f"region {r.name!r} has an empty reference image path")
            if not os.path.isfile(path):
                raise InvalidRequestError(f"region {r.name!r}: reference image {path} does not exist")
            styles.append({"style": path} if weight is None else {"style": path, "weight": track_from_samples(weight)})
        region = {"name": r.name, "styles": styles}
        if r.mask:
            region["mask"] = r.mask
        if r.strength is not None:
            region["strength"] = track_from_samples(r.strength)
        out.append(region)
    spec = {"inputColorspace": input_colorspace, "regions": out}
    if method:
        spec["method"] = method
    if int(stride) > 1:
        spec["stride"] = int(stride)
    return spec


def render_to_files(client, spec: dict, frames: Sequence[int], read_frame: Callable, output: str, *,
                    storage_input: str | None = None, storage_masks: Mapping[str, str] | None = None,
                    spec_path: str | None = None, progress: Callable[[int, int], None] | None = None,
                    cancel: Callable[[], bool] | None = None, label: str = "") -> tuple[RenderResult, list[str], str | None]:
    """Render ``frames`` and write them to the ``output`` pattern (EXR) all together or not at all.

    Returns (result, output paths in frame order, path of the storage spec written or None).
    ``spec_path`` defaults to ``lookgrid_spec.json`` in the output folder; it is written only when
    ``storage_input`` is given (and ``storage_masks`` for every inline region).
    """
    if storage_input:  # check before anything is sent or written
        storage_spec(spec, input=storage_input, output=output, masks=dict(storage_masks or {}))
    with StagedOutput(output) as staged:
        result = client.render_sequence(spec, frames, read_frame, lambda out: staged.write(out.frame, out.exr),
                                        progress, cancel, output_encoding=pb.ENCODED, label=label)
        paths = staged.commit()
    written = None
    if storage_input:
        job = storage_spec(result.spec, input=storage_input, output=os.path.abspath(output),
                           masks=dict(storage_masks or {}), styles=result.styles)
        if not job.get("config"):  # record the config the server used, by a name that holds
            job["config"] = client.server_info().config
        written = spec_path or os.path.join(os.path.dirname(os.path.abspath(output)), "lookgrid_spec.json")
        write_atomic(written, json.dumps(job, indent=2) + "\n")
    return result, paths, written


def render_by_path_to_files(client, spec: dict, frames: Sequence[int], output: str, *,
                            progress: Callable[[int, int], None] | None = None,
                            cancel: Callable[[], bool] | None = None,
                            path_map=None) -> tuple[RenderResult, list[str]]:
    """Render a storage-form ``spec`` on the server (RenderByPath: it reads ``spec["input"]`` and
    writes ``spec["output"]`` under its roots) and move the frames it wrote to the ``output``
    pattern all together or not at all. Local references are uploaded first; ``cancel()`` is
    asked after every frame. The server's own output files are removed in every case (after a
    cancel, once the frame it was finishing has landed). ``path_map``: a
    :class:`~lookgrid_client.pathmap.PathMap` when the server sees the storage under other paths
    (``spec`` is then in the server's form; the files it writes are read at their host form).
    Returns (result, output paths)."""
    server_output = spec.get("output", "")
    if not server_output:
        raise InvalidRequestError("a by-path render needs the spec's output pattern (on the server's storage)")
    t0 = time.perf_counter()
    sent, styles = resolve_styles(client, spec)
    frames = [int(f) for f in frames]
    if path_map:
        server_output = path_map.to_host(server_output)
    try:
        with StagedOutput(output) as staged:
            client.render_by_path(sent, frames=frames, cancel=cancel,
                                  progress=(lambda p: progress(p.done, p.total)) if progress else None)
            for f in frames:
                with open(frame_path(server_output, f), "rb") as fh:
                    staged.write(f, fh.read())
            paths = staged.commit()
    finally:
        for f in frames:
            try:
                os.remove(frame_path(server_output, f))
            except OSError:
                pass
    return RenderResult(frames, time.perf_counter() - t0, "", sent, styles), paths


__all__ = ["RegionLook", "build_spec", "render_by_path_to_files", "render_to_files"]
