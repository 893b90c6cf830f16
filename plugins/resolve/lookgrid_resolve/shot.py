"""Reading the shot to grade from DaVinci Resolve's timeline (Resolve has no pixel API: files only).

Every function here calls Resolve and runs on the UI thread (:mod:`lookgrid_resolve.job` hands them
to it); what they return is plain data.

**Which item.** ``Timeline.GetCurrentVideoItem`` gives "the current video timeline item"
(fusionscript-stubs, ``Timeline.GetCurrentVideoItem``); which track it takes when several items lie
under the playhead is not documented, so the script does not rely on it: when the item it gets is
one of LookGrid's own results (marked at import with third-party metadata,
``MediaPoolItem.SetThirdPartyMetadata``), the shot is the item under it on the tracks below, found
with ``GetTrackCount`` / ``GetItemListInTrack``. A second run therefore grades the source again,
never the graded clip.

**Which files.** A media-pool clip of an image sequence shows its "File Path" as
``/path/plate.[1001-1100].exr`` (the digits' count is the padding) -- a form the stubs do not
document (README lists it among what only a real Resolve can confirm). Anything else (a movie,
camera RAW, a single image) has no file per frame the server could read: the job renders the item's
range to an EXR sequence through Resolve's render queue first (:mod:`lookgrid_resolve.intermediate`).

**Frames.** ``GetStart`` is an absolute record frame on the timeline (timelines often start at
86400) and ``GetDuration`` the item's length; ``GetSourceStartFrame`` counts frames into the clip from
its first file, so the file number of a record frame is ``first file + source start + (record - start)``
(an unretimed item is assumed).

**Colour.** The clip's "Input Color Space" clip property and the project's colour-management
settings (``colorScienceMode``, ``colorSpaceInput``, ``colorSpaceOutput``) are read with
``GetClipProperty`` / ``Project.GetSetting``, whose documentation ("Looking up Project and Clip
properties") says keys follow the names in the Clip Attributes and Project Settings dialogs; the
exact key names are listed in README as unconfirmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SEQUENCE = re.compile(r"^(?P<head>.*)\[(?P<first>\d+)-(?P<last>\d+)\](?P<tail>[^\[\]]*)$")
RESULT_KEY = "LookGrid Result"      # third-party metadata on every clip LookGrid imports
SOURCE_KEY = "LookGrid Source"      # ... naming the "File Path" of the shot it grades
COLORSPACE_KEY = "LookGrid Colour Space"
PROJECT_SETTINGS = ("colorScienceMode", "colorSpaceInput", "colorSpaceTimeline", "colorSpaceOutput")


class ShotError(Exception):
    """The timeline does not offer a shot LookGrid can grade (one readable line)."""


@dataclass
class Shot:
    name: str
    pattern: str            # printf pattern of the source files, e.g. /shots/plate.%08d.exr ("" for a movie)
    padding: int
    first_file: int         # file number of the item's first frame on the timeline
    last_file: int
    record_start: int       # absolute timeline frame of the item's first frame
    record_end: int         # absolute timeline frame of its last frame (inclusive)
    track: int              # video track index (1 = bottom)
    file_path: str = ""     # the clip's "File Path" as Resolve shows it
    movie: bool = False     # no file per frame: render an intermediate sequence first
    clip_colorspace: str = ""                      # the clip's "Input Color Space" (Resolve's name)
    project: dict = field(default_factory=dict)    # the project's colour-management settings

    def file_frame(self, record_frame: float) -> float:
        return self.first_file + (record_frame - self.record_start)

    @property
    def frames(self) -> list[int]:
        return list(range(self.first_file, self.last_file + 1))


def sequence_pattern(file_path: str) -> tuple[str, int, int, int]:
    """(printf pattern, padding, first file number, last) of Resolve's "File Path" of a sequence."""
    m = SEQUENCE.match(file_path)
    if not m:
        raise ShotError(f"{file_path!r} is not an image sequence")
    padding = len(m["first"])
    return f"{m['head']}%0{padding}d{m['tail']}", padding, int(m["first"]), int(m["last"])


def timeline_objects(resolve):
    """(project, media pool, current timeline) or a ShotError."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise ShotError("no project is open")
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise ShotError("the project has no current timeline")
    return project, project.GetMediaPool(), timeline


def is_result(item) -> bool:
    """True for a timeline item whose clip LookGrid imported (its own result)."""
    clip = item.GetMediaPoolItem() if item else None
    return bool(clip and clip.GetThirdPartyMetadata(RESULT_KEY))


def _covers(item, frame: int) -> bool:
    start = int(item.GetStart(False))
    return start <= frame < start + int(item.GetDuration(False))


def source_under(timeline, result) -> object:
    """The item a LookGrid result grades: the topmost item below it that covers its first frame and
    is not itself a result."""
    frame = int(result.GetStart(False))
    _, track = result.GetTrackTypeAndIndex()
    for t in range(int(track) - 1, 0, -1):
        for item in timeline.GetItemListInTrack("video", t):
            if _covers(item, frame) and not is_result(item):
                return item
    raise ShotError(f"{result.GetName()!r} is a LookGrid result and no source shot lies under it")


def results_over(timeline, shot: Shot, track: int) -> tuple[list, list]:
    """(LookGrid results of this shot, other items) on ``track`` overlapping the shot's range."""
    mine, others = [], []
    if track > timeline.GetTrackCount("video"):
        return mine, others
    for item in timeline.GetItemListInTrack("video", track):
        start = int(item.GetStart(False))
        if start > shot.record_end or start + int(item.GetDuration(False)) <= shot.record_start:
            continue
        clip = item.GetMediaPoolItem()
        if is_result(item) and clip.GetThirdPartyMetadata(SOURCE_KEY) == shot.file_path:
            mine.append(item)
        else:
            others.append(item)
    return mine, others


def read_shot(project, timeline) -> Shot:
    """The shot under the playhead (the source under a LookGrid result), with its colour settings."""
    item = timeline.GetCurrentVideoItem()
    if not item:
        raise ShotError("no video clip under the playhead")
    if is_result(item):
        item = source_under(timeline, item)
    clip = item.GetMediaPoolItem()
    if not clip:
        raise ShotError(f"{item.GetName()!r} has no media-pool clip (a generator or title?)")
    file_path = str(clip.GetClipProperty("File Path") or "")
    if not file_path:
        raise ShotError(f"{item.GetName()!r} has no file on disk (a generator, title or compound clip?)")
    _, track = item.GetTrackTypeAndIndex()
    start, duration = int(item.GetStart(False)), int(item.GetDuration(False))
    colour = dict(clip_colorspace=str(clip.GetClipProperty("Input Color Space") or ""),
                  project={k: str(project.GetSetting(k) or "") for k in PROJECT_SETTINGS})
    if not SEQUENCE.match(file_path):
        return Shot(item.GetName(), "", 8, start, start + duration - 1, start, start + duration - 1, int(track),
                    file_path, movie=True, **colour)
    pattern, padding, seq_first, seq_last = sequence_pattern(file_path)
    first = seq_first + int(item.GetSourceStartFrame())
    last = first + duration - 1
    if first < seq_first or last > seq_last:
        raise ShotError(f"{item.GetName()!r} uses frames {first}-{last} outside its files {seq_first}-{seq_last} "
                        "(retimed or extended clips are not supported)")
    return Shot(item.GetName(), pattern, padding, first, last, start, start + duration - 1, int(track),
                file_path, **colour)
