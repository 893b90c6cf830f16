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
from typing import Any

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
    """The inline ClipSpec JSON dict of a host's job. It asks for no whole-shot smoothing
    (``smooth`` 0): a host's interactive render may stream its frames inline, which render causally,
    and the same job rendered by path or on the farm must give the same pixels."""
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
        region: dict[str, Any] = {"name": r.name, "styles": styles}
        if r.mask:
            region["mask"] = r.mask
        if r.strength is not None:
            region["strength"] = track_from_samples(r.strength)
        out.append(region)
    spec: dict[str, Any] = {"inputColorspace": input_colorspace, "regions": out, "smooth": 0.0}
    if method:
        spec["method"] = method
    if int(stride) > 1:
        spec["stride"] = int(stride)
    return spec


def render_to_files(
    client,
    spec: dict,
    frames: Sequence[int],
    read_frame: Callable,
    output: str,
    *,
    storage_input: str | None = None,
    storage_masks: Mapping[str, str] | None = None,
    spec_path: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    label: str = "",
    phase: Callable[[str], None] | None = None,
) -> tuple[RenderResult, list[str], str | None]:
    """Render ``frames`` and write them to the ``output`` pattern (EXR) all together or not at all.

    Returns (result, output paths in frame order, path of the storage spec written or None).
    ``spec_path`` defaults to ``lookgrid_spec.json`` in the output folder; it is written only when
    ``storage_input`` is given (and ``storage_masks`` for every inline region). ``phase(text)``:
    what is happening (upload and analysis, rendering, writing), for a host's status line.
    """
    from lookgrid_client import progress as phases

    tell = phase or (lambda text: None)
    if storage_input:  # check before anything is sent or written
        storage_spec(spec, input=storage_input, output=output, masks=dict(storage_masks or {}))
    tell(f"{phases.UPLOAD}, {phases.ANALYSIS}")

    def report(done: int, total: int) -> None:
        tell(phases.RENDER)
        if progress:
            progress(done, total)

    with StagedOutput(output) as staged:
        result = client.render_sequence(
            spec,
            frames,
            read_frame,
            lambda out: staged.write(out.frame, out.exr),
            report,
            cancel,
            output_encoding=pb.ENCODED,
            label=label,
        )
        tell(phases.WRITE)
        paths = staged.commit()
    written = None
    if storage_input:
        job = storage_spec(
            result.spec,
            input=storage_input,
            output=os.path.abspath(output),
            masks=dict(storage_masks or {}),
            styles=result.styles,
        )
        if not job.get("config"):  # record the config the server used, by a name that holds
            job["config"] = client.server_info().config
        written = spec_path or os.path.join(os.path.dirname(os.path.abspath(output)), "lookgrid_spec.json")
        write_atomic(written, json.dumps(job, indent=2) + "\n")
    return result, paths, written


FRAME_TIMEOUT = 600.0
"""Seconds one frame of a by-path render may take (the first of each call ten times that: it
includes the analysis); there is no deadline for a whole sequence."""
CHUNK = 8
"""Frames per RenderByPath call: the server commits a call's frames together, so a cancel, a
deadline or a crash loses at most one chunk; finished chunks are kept for a rerun."""
_DONE = "lookgrid_done.json"
_EXR_MAGIC = b"\x76\x2f\x31\x01"


def job_key(spec: dict) -> str:
    """A short hash of a by-path job: the spec (its output excepted) and, for local reference files,
    their size and modification time. Name the server's output folder after it so that a rerun of
    the same job finds the frames a cancelled or failed run finished (:func:`render_by_path_to_files`)."""
    import hashlib

    job = {k: v for k, v in spec.items() if k != "output"}
    refs = []
    for region in spec.get("regions", []):
        for style in region.get("styles", []):
            path = style.get("style", "")
            if path and os.path.isfile(path):
                st = os.stat(path)
                refs.append([path, st.st_size, st.st_mtime_ns])
    text = json.dumps([job, refs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _verified(path: str, record) -> bool:
    """A finished frame still as it was written: same size and time, non-empty, an EXR."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return False
    return st.st_size > 0 and [st.st_size, st.st_mtime_ns] == list(record) and magic == _EXR_MAGIC


def _load_done(folder: str, key: str, pattern: str) -> dict[int, list]:
    try:
        with open(os.path.join(folder, _DONE)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    if state.get("job") != key:
        return {}
    return {int(f): r for f, r in state.get("frames", {}).items() if _verified(frame_path(pattern, int(f)), r)}


def _save_done(folder: str, key: str, done: dict[int, list]) -> None:
    write_atomic(os.path.join(folder, _DONE), json.dumps({"job": key, "frames": {str(f): r for f, r in done.items()}}))


def render_by_path_to_files(
    client,
    spec: dict,
    frames: Sequence[int],
    output: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    path_map=None,
    phase: Callable[[str], None] | None = None,
    frame_timeout: float = FRAME_TIMEOUT,
    chunk: int = CHUNK,
    resume: bool = True,
) -> tuple[RenderResult, list[str]]:
    """Render a storage-form ``spec`` on the server (RenderByPath: it reads ``spec["input"]`` and
    writes ``spec["output"]`` under its roots) and move the frames it wrote to the ``output``
    pattern all together or not at all. Local references are uploaded first; ``cancel()`` is
    asked after every frame. ``path_map``: a :class:`~lookgrid_client.pathmap.PathMap` when the
    server sees the storage under other paths (``spec`` is then in the server's form; the files it
    writes are read at their host form).

    Long renders: the frames go in calls of ``chunk`` frames, each frame with its own deadline
    (``frame_timeout``; no deadline for the whole sequence). Finished calls' frames are recorded
    (``lookgrid_done.json`` beside the server's output, with each file's size and time); with
    ``resume``, a rerun of the same job (:func:`job_key`) into the same server output skips the
    frames recorded and still verified there. A cancel is acknowledged by the server before this
    returns. The server's output files are removed once moved into place; after a failure or a
    cancel the finished ones stay for a rerun (the caller removes the folder to give them up).
    ``phase(text)``: what is happening, for a host's status line (:mod:`lookgrid_client.progress`).
    Returns (result, output paths)."""
    from lookgrid_client import progress as phases

    server_output = spec.get("output", "")
    if not server_output:
        raise InvalidRequestError("a by-path render needs the spec's output pattern (on the server's storage)")
    tell = phase or (lambda text: None)
    t0 = time.perf_counter()
    key = job_key(spec)
    tell(phases.UPLOAD)
    sent, styles = resolve_styles(client, spec)
    frames = [int(f) for f in frames]
    if path_map:
        server_output = path_map.to_host(server_output)
    folder = os.path.dirname(os.path.abspath(frame_path(server_output, 0)))
    os.makedirs(folder, exist_ok=True)
    done = _load_done(folder, key, server_output) if resume else {}
    done = {f: r for f, r in done.items() if f in frames}
    todo = [f for f in frames if f not in done]
    if done:
        tell(f"resuming: {len(done)} of {len(frames)} frames were finished before")
    for i in range(0, len(todo), max(int(chunk), 1)):
        part = todo[i : i + max(int(chunk), 1)]
        base = len(frames) - len(todo) + i
        tell(phases.ANALYSIS + " and " + phases.RENDER)

        def report(p, base=base):
            tell(phases.RENDER)
            if progress:
                progress(base + p.done, len(frames))

        try:
            client.render_by_path(sent, frames=part, cancel=cancel, progress=report, frame_timeout=frame_timeout)
        except BaseException:
            for f in part:  # what the server may have committed of an unfinished call is not trusted
                try:
                    os.remove(frame_path(server_output, f))
                except OSError:
                    pass
            raise
        for f in part:
            st = os.stat(frame_path(server_output, f))
            done[f] = [st.st_size, st.st_mtime_ns]
        _save_done(folder, key, done)
    tell(phases.WRITE)
    with StagedOutput(output) as staged:
        for f in frames:
            with open(frame_path(server_output, f), "rb") as fh:
                staged.write(f, fh.read())
        paths = staged.commit()
    for f in frames:
        try:
            os.remove(frame_path(server_output, f))
        except OSError:
            pass
    try:
        os.remove(os.path.join(folder, _DONE))
    except OSError:
        pass
    return RenderResult(frames, time.perf_counter() - t0, "", sent, styles), paths


__all__ = [
    "CHUNK",
    "FRAME_TIMEOUT",
    "RegionLook",
    "build_spec",
    "job_key",
    "render_by_path_to_files",
    "render_to_files",
]
