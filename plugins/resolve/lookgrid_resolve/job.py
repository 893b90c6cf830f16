"""Grade the shot under the playhead and put the result on the track above it.

:func:`render` runs on a worker thread and never calls Resolve itself: every Resolve call goes
through ``on_main`` (the dialog runs it on the UI thread; called directly, it runs in place).

1. Read the shot (:mod:`lookgrid_resolve.shot`; under one of LookGrid's own results, the source
   below it) and the form (regions: mask sequence, references, strength, and the mix from the
   first reference to the second: typed ``record frame:value[:interpolation]`` keys, or keys from
   timeline markers).
2. Connect to the server, or launch one with the folders the job reads and writes as its roots and
   the token it shares with this client; say which server renders.
3. A movie or RAW shot is first rendered to an EXR sequence by Resolve's render queue
   (:mod:`lookgrid_resolve.intermediate`), removed at the end.
4. The shot's colour space: the artist's pick among the server's, else Resolve's own
   (:func:`lookgrid_client.colorspaces.resolve_shot_colorspace`).
5. Render by path (paths mapped to the server's form when it sees the storage elsewhere): the
   server reads the source and mask files and writes the graded EXR sequence into a run folder
   under the output folder; only when every frame is there are they moved to
   ``<output folder>/<shot>_lookgrid.<id>.<frame>.exr`` (a cancelled or failed render leaves nothing).
6. Import the sequence (``MediaPool.ImportMedia`` with StartIndex/EndIndex), mark it as LookGrid's
   (third-party metadata) and tag its colour space ("Input Color Space"), and append it to the
   video track above the shot at the shot's record frame (``AppendToTimeline`` with a list of
   clip-info dicts), replacing an earlier LookGrid result of the same shot there; then read the new
   item's record frame and track back; a placement that does not match is undone and reported.

The graded files keep the source's padding (Resolve's own renders use 8 digits).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lookgrid_resolve import intermediate
from lookgrid_resolve.shot import (COLORSPACE_KEY, RESULT_KEY, SOURCE_KEY, Shot, ShotError, read_shot, results_over,
                                   timeline_objects)

INTERPOLATIONS = {"constant": "CONSTANT", "linear": "LINEAR", "smooth": "SMOOTH", "cubic": "CUBIC"}
CONNECT_TIMEOUT = 10.0
INTERMEDIATE_SECONDS = (120.0, 30.0)   # deadline of Resolve's render of a movie: base + per frame


class FormError(Exception):
    """A field of the dialog does not parse (one readable line naming the field)."""


@dataclass
class RegionForm:
    name: str
    mask: str = ""                 # mask file pattern (%0Nd / ####), empty: the background
    references: list[str] = field(default_factory=list)
    strength: float = 1.0
    mix: str = ""                  # "86400:0, 86424:1:smooth": from the first reference (0) to the second (1);
    #                                "markers": from the timeline's markers named "LookGrid <region>" (see marker_mix)


@dataclass
class Form:
    regions: list[RegionForm]
    server: str = ""
    launch: str = ""
    method: str = ""
    stride: int = 1
    colorspace: str = ""           # the server's name; empty: the shot's colour space as Resolve manages it
    output: str = ""               # output folder; empty: "lookgrid" beside the source files
    token: str = ""                # empty: $LOOKGRID_TOKEN (a launched server gets a fresh one)
    tls_cert: str = ""             # PEM file of the server's certificate: connect with TLS
    path_map: str = ""             # "host prefix = server prefix" per line or ';' (a server elsewhere)


@dataclass
class Placement:
    pattern: str                   # printf pattern of the graded files
    first: int
    last: int
    record_frame: int
    track: int
    media_pool_item: object
    timeline_item: object
    colorspace: str = ""           # the server's name of the shot's (and the result's) colour space
    server: str = ""               # which server rendered it, for the status line
    colorspaces: tuple = ()        # the server's colour spaces (the dialog's choices)


def parse_keys(text: str, shot: Shot, what: str) -> list[dict]:
    """Typed ``record:value[:interpolation]`` keys as Track keys at the clip's file frames."""
    keys = []
    for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]:
        bits = part.split(":")
        try:
            if len(bits) not in (2, 3):
                raise ValueError
            record, value = float(bits[0]), float(bits[1])
        except ValueError:
            raise FormError(f"{what}: {part!r} is not record_frame:value[:interpolation]") from None
        interp = bits[2].strip().lower() if len(bits) == 3 else "linear"
        if interp not in INTERPOLATIONS:
            raise FormError(f"{what}: unknown interpolation {interp!r} (use {', '.join(INTERPOLATIONS)})")
        if not shot.record_start <= record <= shot.record_end:
            raise FormError(f"{what}: record frame {record:g} is outside the shot "
                            f"({shot.record_start}-{shot.record_end})")
        keys.append({"frame": shot.file_frame(record), "value": value, "interpolation": INTERPOLATIONS[interp]})
    return keys


MARKER_NAME = "LookGrid"


def marker_mix(timeline, region: str) -> str:
    """Mix keys from timeline markers: a marker named ``LookGrid <region>`` whose note is the value
    (optionally ``value:interpolation``) keys the mix at the marker's record frame (GetMarkers gives
    frames from the timeline's start)."""
    start = int(timeline.GetStartFrame())
    keys = []
    for offset, marker in sorted(timeline.GetMarkers().items()):
        if marker.get("name", "").strip() == f"{MARKER_NAME} {region}":
            keys.append(f"{start + offset:g}:{marker.get('note', '').strip()}")
    if not keys:
        raise FormError(f"region {region}: no timeline marker is named {MARKER_NAME + ' ' + region!r}")
    return ", ".join(keys)


def build_spec(shot: Shot, form: Form, to_server=lambda p: p) -> dict:
    """The ClipSpec JSON of the job without its output (references stay local paths until uploaded;
    file patterns in the server's form, ``to_server``)."""
    if not form.regions:
        raise FormError("add at least one region")
    spec = {"input": to_server(shot.pattern), "frames": f"{shot.first_file}-{shot.last_file}", "stride": form.stride,
            "regions": []}
    if form.method:
        spec["method"] = form.method
    if form.colorspace:
        spec["inputColorspace"] = form.colorspace
    for r in form.regions:
        what = f"region {r.name or '?'}"
        if not r.name:
            raise FormError("a region has no name")
        if not r.references:
            raise FormError(f"{what}: give a reference image")
        region = {"name": r.name, "strength": {"keys": [{"frame": shot.first_file, "value": r.strength}]}}
        if r.mask:
            region["mask"] = to_server(r.mask)
        mix = parse_keys(r.mix, shot, f"{what} mix")
        if mix and len(r.references) != 2:
            raise FormError(f"{what}: a mix needs exactly two references")
        if mix:
            region["styles"] = [
                {"style": r.references[0], "weight": {"keys": [dict(k, value=1.0 - k["value"]) for k in mix]}},
                {"style": r.references[1], "weight": {"keys": mix}}]
        else:
            region["styles"] = [{"style": ref} for ref in r.references]
        spec["regions"].append(region)
    return spec


class _Run:
    """The files of one render. The server writes into ``.run-<job key>/`` under the output folder
    (:func:`lookgrid_client.hostrender.job_key`: the same job gets the same folder, so a rerun after
    a cancel or a failure skips the frames finished there); the client's StagedOutput moves the
    complete set to ``<shot>_lookgrid.<id>.<frame>.exr``, and the folder goes. A movie's intermediate
    EXR sequence goes to ``.source-<id>/``, removed at the end whatever happens. Other jobs' folders
    are removed when a job starts."""

    def __init__(self, shot: Shot, folder: str) -> None:
        beside = os.path.dirname(shot.pattern or shot.file_path)
        self.base = Path(folder or os.path.join(beside, "lookgrid"))
        self.base.mkdir(parents=True, exist_ok=True)
        for stale in self.base.glob(".source-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.id = uuid.uuid4().hex[:8]
        self.stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in shot.name) or "shot"
        self.source = self.base / f".source-{self.id}"
        self.run = self.base / ".run-none"

    def patterns(self, shot: Shot, key: str) -> None:
        for stale in self.base.glob(".run-*"):
            if stale.name != f".run-{key}":
                shutil.rmtree(stale, ignore_errors=True)
        fmt = f"%0{shot.padding}d"
        self.run = self.base / f".run-{key}"
        self.server_pattern = str(self.run / f"graded.{fmt}.exr")
        self.final_pattern = str(self.base / f"{self.stem}_lookgrid.{self.id}.{fmt}.exr")

    def remove(self, *, finished: bool) -> None:
        """Remove the intermediate, and the run folder once its frames are in place (kept after a
        cancel or a failure: a rerun of the same job continues from it)."""
        shutil.rmtree(self.source, ignore_errors=True)
        if finished:
            shutil.rmtree(self.run, ignore_errors=True)


def _direct(fn, *args, cleanup: bool = False):
    return fn(*args)


def _read(resolve, form: Form):
    """UI thread: the Resolve objects, the shot and the form with marker keys read."""
    project, media_pool, timeline = timeline_objects(resolve)
    shot = read_shot(project, timeline)
    form = replace(form, regions=[replace(r, mix=marker_mix(timeline, r.name)) if r.mix.strip().lower() == "markers"
                                  else r for r in form.regions])
    return project, media_pool, timeline, shot, form


def _roots(shot: Shot, form: Form, run: _Run) -> list[str]:
    """The folders a launched server must be able to use: the shot's, the masks', the output's."""
    folders = {str(run.base), os.path.dirname(shot.pattern or shot.file_path)}
    folders.update(os.path.dirname(r.mask) for r in form.regions if r.mask)
    return sorted(f for f in folders if f)


def _intermediate(project, timeline, shot: Shot, run: _Run, on_main, status, cancel) -> Shot:
    """Resolve renders the movie's range to EXR (render queue); returns the shot as that sequence."""
    from lookgrid_client import RenderCancelledError

    run.source.mkdir(parents=True, exist_ok=True)
    job = on_main(intermediate.start, project, timeline, shot, str(run.source))
    frames = shot.record_end - shot.record_start + 1
    allowed = INTERMEDIATE_SECONDS[0] + INTERMEDIATE_SECONDS[1] * frames
    deadline = time.monotonic() + allowed
    try:
        while True:
            if cancel is not None and cancel():
                raise RenderCancelledError("render cancelled while Resolve rendered the source")
            state, percent = on_main(intermediate.poll, project, job)
            status(f"Resolve renders the source to EXR: {percent:.0f}%")
            if state == intermediate.DONE:
                break
            if state in intermediate.FAILED:
                raise ShotError(f"Resolve's render of {shot.name!r} to EXR {state}")
            if time.monotonic() > deadline:
                raise ShotError(f"Resolve's render of {shot.name!r} to EXR did not finish within {allowed:.0f} s")
            time.sleep(0.2)
    except BaseException:
        on_main(lambda: intermediate.finish(project, timeline, job, stop=True), cleanup=True)   # even after a cancel
        raise
    on_main(lambda: intermediate.finish(project, timeline, job), cleanup=True)
    return intermediate.read_back(str(run.source), shot)


def render(resolve, form: Form, *, progress: Callable[[int, int], None] | None = None,
           cancel: Callable[[], bool] | None = None, on_main: Callable | None = None,
           status: Callable[[str], None] | None = None) -> Placement:
    """Grade the shot under the playhead and place it above; raises a one-line error on failure.

    ``on_main(fn, *args)`` runs a Resolve call on the UI thread (default: here); ``status(text)``
    receives the phase for the status line; ``progress(done, total)`` the frames."""
    from lookgrid_client import connect
    from lookgrid_client.launch import describe_server
    from lookgrid_client.colorspaces import resolve_shot_colorspace
    from lookgrid_client.hostrender import job_key, render_by_path_to_files
    from lookgrid_client.pathmap import PathMap

    on_main = on_main or _direct
    status = status or (lambda text: None)
    path_map = PathMap.parse(form.path_map)
    project, media_pool, timeline, shot, form = on_main(_read, resolve, form)
    build_spec(shot, form)   # the form's mistakes before anything starts
    run = _Run(shot, form.output)
    finished = False
    try:
        status("connecting to the LookGrid server")
        with connect(form.server or None, launch=form.launch or None, timeout=CONNECT_TIMEOUT,
                     token=form.token or None, root_certificates=form.tls_cert or None,
                     roots=_roots(shot, form, run)) as client:
            where = describe_server(client)
            status(f"rendering on {where}")
            info = client.server_info()
            if client.owned_process is not None:
                path_map = PathMap()    # a server started here sees the files where this host does
            colorspace, tag = resolve_shot_colorspace(form.colorspace, clip=shot.clip_colorspace, project=shot.project,
                                                      rendered=shot.movie, server_spaces=list(info.colorspaces))
            if shot.movie:
                shot = _intermediate(project, timeline, shot, run, on_main, status, cancel)
            spec = build_spec(shot, replace(form, colorspace=colorspace), path_map.to_server)
            run.patterns(shot, job_key(spec))
            spec["output"] = path_map.to_server(run.server_pattern)
            render_by_path_to_files(client, spec, shot.frames, run.final_pattern, progress=progress, cancel=cancel,
                                    path_map=path_map, phase=status)
            finished = True
    finally:
        run.remove(finished=finished)
    try:
        placed = on_main(place, media_pool, timeline, shot, run.final_pattern, tag)
    except BaseException:
        for f in shot.frames:   # not on the timeline: the graded files go too
            if os.path.exists(run.final_pattern % f):
                os.remove(run.final_pattern % f)
        raise
    placed.colorspace, placed.server, placed.colorspaces = colorspace, where, tuple(info.colorspaces)
    return placed


def _put(media_pool, clip, shot: Shot, first: int, last: int, track: int):
    placed = media_pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": first, "endFrame": last,
                                           "trackIndex": track, "recordFrame": shot.record_start}])
    return placed[0] if placed else None


def place(media_pool, timeline, shot: Shot, pattern: str, colorspace_tag: str = "") -> Placement:
    """Import the graded sequence, mark it as LookGrid's, and put it on the track above the shot at
    its record frame (instead of an earlier LookGrid result of the same shot there)."""
    items = media_pool.ImportMedia([{"FilePath": pattern, "StartIndex": shot.first_file, "EndIndex": shot.last_file}])
    if not items:
        raise ShotError(f"Resolve did not import {pattern} ({shot.first_file}-{shot.last_file})")
    clip = items[0]
    clip.SetThirdPartyMetadata(RESULT_KEY, "1")
    clip.SetThirdPartyMetadata(SOURCE_KEY, shot.file_path)
    if colorspace_tag:
        clip.SetThirdPartyMetadata(COLORSPACE_KEY, colorspace_tag)
        clip.SetClipProperty("Input Color Space", colorspace_tag)   # refused without colour management
    track = shot.track + 1
    if timeline.GetTrackCount("video") < track:
        timeline.AddTrack("video", "mono")   # the sub-type only matters for audio tracks
    earlier, others = results_over(timeline, shot, track)
    kept = [(i.GetMediaPoolItem(), int(i.GetSourceStartFrame()), int(i.GetDuration(False))) for i in earlier]
    item = None
    if not others:
        if earlier:
            timeline.DeleteClips(earlier, False)
        item = _put(media_pool, clip, shot, 0, shot.last_file - shot.first_file, track)
    got = (int(item.GetStart(False)), int(item.GetDuration(False)), item.GetTrackTypeAndIndex()[1]) if item else None
    want = (shot.record_start, shot.last_file - shot.first_file + 1, track)
    if got != want:
        if item:
            timeline.DeleteClips([item], False)
        for old_clip, start, duration in kept:   # put the earlier result back
            _put(media_pool, old_clip, shot, start, start + duration - 1, track)
        media_pool.DeleteClips([clip])
        where = "did not place it" if got is None else \
            f"placed it at record frame {got[0]}, {got[1]} frames, video track {got[2]}"
        raise ShotError(f"Resolve {where} instead of record frame {want[0]}, {want[1]} frames, video track "
                        f"{want[2]} (is that place taken?); the graded clip was removed again")
    return Placement(pattern, shot.first_file, shot.last_file, shot.record_start, track, clip, item)
