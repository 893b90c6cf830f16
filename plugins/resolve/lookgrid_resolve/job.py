"""Grade the shot under the playhead and put the result on the track above it.

1. Read the shot (:mod:`lookgrid_resolve.shot`) and the form (regions: mask sequence, references,
   strength, and typed ``record frame:value[:interpolation]`` keys of the mix from the first reference
   to the second).
2. Render by path: the server reads the source and mask files and writes the graded EXR sequence
   into a staging folder under the output folder; only when every frame is there are they moved
   into ``<output folder>/<shot>_lookgrid_<id>/`` (a cancelled or failed render leaves nothing).
3. Import the sequence (``MediaPool.ImportMedia`` with StartIndex/EndIndex) and append it to the
   video track above the shot at the shot's record frame (``AppendToTimeline`` with a list of
   clip-info dicts), then read the new item's record frame and track back; a placement that does
   not match is undone and reported.

The graded files keep the source's padding (Resolve's own renders use 8 digits).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
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
    mix: str = ""                  # "86400:0, 86424:1:smooth": from the first reference (0) to the second (1)


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


def build_spec(shot: Shot, form: Form, output_pattern: str) -> dict:
    """The ClipSpec JSON of the job (references stay local paths until uploaded)."""
    if not form.regions:
        raise FormError("add at least one region")
    spec = {"input": shot.pattern, "frames": f"{shot.first_file}-{shot.last_file}", "output": output_pattern,
            "stride": form.stride, "regions": []}
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


class _Output:
    """Staging and final folders of one render."""

    def __init__(self, shot: Shot, folder: str) -> None:
        base = Path(folder or os.path.join(os.path.dirname(shot.pattern), "lookgrid"))
        self.id = uuid.uuid4().hex[:8]
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in shot.name) or "shot"
        self.stem = f"{name}_lookgrid"
        base.mkdir(parents=True, exist_ok=True)
        for stale in base.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.staging = base / f".staging-{self.id}"
        self.final = base / f"{self.stem}_{self.id}"
        self.staging.mkdir()
        fmt = f"%0{shot.padding}d"
        self.staged_pattern = str(self.staging / f"{self.stem}.{fmt}.exr")
        self.final_pattern = str(self.final / f"{self.stem}.{fmt}.exr")

    def publish(self, frames: list[int]) -> None:
        missing = [f for f in frames if not os.path.exists(self.staged_pattern % f)]
        if missing:
            raise OSError(f"the server did not write frame {missing[0]} ({len(missing)} missing)")
        self.staging.rename(self.final)

    def discard(self, settle_s: float) -> None:
        """Remove the staging folder; once more after ``settle_s`` (a frame the server was still
        finishing when the render was cancelled lands within about one frame's time)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        if settle_s > 0:
            time.sleep(settle_s)
            shutil.rmtree(self.staging, ignore_errors=True)


def render(resolve, form: Form, *, progress: Callable[[int, int], None] | None = None,
           cancel: Callable[[], bool] | None = None) -> Placement:
    """Grade the shot under the playhead and place it above; raises a one-line error on failure."""
    from lookgrid_client import LookGridError, connect

    _, media_pool, timeline = timeline_objects(resolve)
    shot = read_shot(timeline)
    out = _Output(shot, form.output)
    frame_seconds = [0.0]

    def on_progress(p) -> None:
        frame_seconds[0] = max(frame_seconds[0], p.seconds)
        if progress:
            progress(p.done, p.total)

    try:
        spec = build_spec(shot, form, out.staged_pattern)
        with connect(form.server or None, launch=form.launch or None, timeout=CONNECT_TIMEOUT) as client:
            client.render_by_path(spec, progress=on_progress, cancel=cancel)
        out.publish(shot.frames)
    except BaseException as err:
        out.discard(1.5 * frame_seconds[0] + 0.2 if isinstance(err, LookGridError) else 0.0)
        raise
    return place(media_pool, timeline, shot, out.final_pattern)


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
        raise ShotError(f"Resolve placed the graded clip at {got} (record frame, length, track) instead of "
                        f"{want}; it was removed again")
    return Placement(pattern, shot.first_file, shot.last_file, shot.record_start, track, clip, item)
