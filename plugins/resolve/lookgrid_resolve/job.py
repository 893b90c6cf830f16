"""Grade the shot under the playhead and put the result on the track above it.

1. Read the shot (:mod:`lookgrid_resolve.shot`) and the form (regions: mask sequence, references,
   strength, and the mix from the first reference to the second: typed
   ``record frame:value[:interpolation]`` keys, or keys from timeline markers).
2. Render by path: the server reads the source and mask files and writes the graded EXR sequence
   into a run folder under the output folder; only when every frame is there are they moved to
   ``<output folder>/<shot>_lookgrid.<id>.<frame>.exr`` (a cancelled or failed render leaves nothing).
3. Import the sequence (``MediaPool.ImportMedia`` with StartIndex/EndIndex) and append it to the
   video track above the shot at the shot's record frame (``AppendToTimeline`` with a list of
   clip-info dicts), then read the new item's record frame and track back; a placement that does
   not match is undone and reported.

The graded files keep the source's padding (Resolve's own renders use 8 digits).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lookgrid_resolve.shot import Shot, ShotError, read_shot, timeline_objects

INTERPOLATIONS = {"constant": "CONSTANT", "linear": "LINEAR", "smooth": "SMOOTH", "cubic": "CUBIC"}
CONNECT_TIMEOUT = 10.0


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
    colorspace: str = "ACEScg"
    output: str = ""               # output folder; empty: "lookgrid" beside the source files


@dataclass
class Placement:
    pattern: str                   # printf pattern of the graded files
    first: int
    last: int
    record_frame: int
    track: int
    media_pool_item: object
    timeline_item: object


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


def build_spec(shot: Shot, form: Form) -> dict:
    """The ClipSpec JSON of the job without its output (references stay local paths until uploaded)."""
    if not form.regions:
        raise FormError("add at least one region")
    spec = {"input": shot.pattern, "frames": f"{shot.first_file}-{shot.last_file}", "stride": form.stride,
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
            region["mask"] = r.mask
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
    """The files of one render: the server writes into ``.run-<id>/`` under the output folder
    (removed at the end whatever happens; any left by a crash goes before the next render), and the
    client's StagedOutput moves the complete set to ``<shot>_lookgrid.<id>.<frame>.exr``."""

    def __init__(self, shot: Shot, folder: str) -> None:
        self.base = Path(folder or os.path.join(os.path.dirname(shot.pattern), "lookgrid"))
        self.base.mkdir(parents=True, exist_ok=True)
        for stale in self.base.glob(".run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.id = uuid.uuid4().hex[:8]
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in shot.name) or "shot"
        fmt = f"%0{shot.padding}d"
        self.run = self.base / f".run-{self.id}"
        self.server_pattern = str(self.run / f"graded.{fmt}.exr")
        self.final_pattern = str(self.base / f"{stem}_lookgrid.{self.id}.{fmt}.exr")

    def remove(self) -> None:
        """Remove the run folder (the client has already waited for a cancelled render's last frame)."""
        shutil.rmtree(self.run, ignore_errors=True)


def render(resolve, form: Form, *, progress: Callable[[int, int], None] | None = None,
           cancel: Callable[[], bool] | None = None) -> Placement:
    """Grade the shot under the playhead and place it above; raises a one-line error on failure."""
    from lookgrid_client import connect
    from lookgrid_client.hostrender import render_by_path_to_files

    _, media_pool, timeline = timeline_objects(resolve)
    shot = read_shot(timeline)
    form = replace(form, regions=[replace(r, mix=marker_mix(timeline, r.name)) if r.mix.strip().lower() == "markers"
                                  else r for r in form.regions])
    spec = build_spec(shot, form)
    run = _Run(shot, form.output)
    spec["output"] = run.server_pattern
    try:
        with connect(form.server or None, launch=form.launch or None, timeout=CONNECT_TIMEOUT) as client:
            render_by_path_to_files(client, spec, shot.frames, run.final_pattern, progress=progress, cancel=cancel)
    finally:
        run.remove()
    try:
        return place(media_pool, timeline, shot, run.final_pattern)
    except BaseException:
        for f in shot.frames:   # not on the timeline: the graded files go too
            if os.path.exists(run.final_pattern % f):
                os.remove(run.final_pattern % f)
        raise


def place(media_pool, timeline, shot: Shot, pattern: str) -> Placement:
    """Import the graded sequence and put it on the track above the shot at its record frame."""
    items = media_pool.ImportMedia([{"FilePath": pattern, "StartIndex": shot.first_file, "EndIndex": shot.last_file}])
    if not items:
        raise ShotError(f"Resolve did not import {pattern} ({shot.first_file}-{shot.last_file})")
    clip = items[0]
    track = shot.track + 1
    if timeline.GetTrackCount("video") < track:
        timeline.AddTrack("video", "mono")   # the sub-type only matters for audio tracks
    placed = media_pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0,
                                           "endFrame": shot.last_file - shot.first_file,
                                           "trackIndex": track, "recordFrame": shot.record_start}])
    item = placed[0] if placed else None
    got = (int(item.GetStart(False)), int(item.GetDuration(False)), item.GetTrackTypeAndIndex()[1]) if item else None
    want = (shot.record_start, shot.last_file - shot.first_file + 1, track)
    if got != want:
        if item:
            timeline.DeleteClips([item], False)
        media_pool.DeleteClips([clip])
        where = "did not place it" if got is None else \
            f"placed it at record frame {got[0]}, {got[1]} frames, video track {got[2]}"
        raise ShotError(f"Resolve {where} instead of record frame {want[0]}, {want[1]} frames, video track "
                        f"{want[2]} (is that place taken?); the graded clip was removed again")
    return Placement(pattern, shot.first_file, shot.last_file, shot.record_start, track, clip, item)
