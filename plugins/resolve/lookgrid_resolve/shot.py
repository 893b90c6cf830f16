"""Reading the shot to grade from DaVinci Resolve's timeline (Resolve has no pixel API: files only).

The shot is the current timeline's video item under the playhead on the topmost track
(``Timeline.GetCurrentVideoItem``). Its media-pool clip must be an image sequence: Resolve shows
those as ``/path/plate.[1001-1100].exr`` in the "File Path" property (the digits' count is the
padding); other media are refused with a message saying to render the range to EXR first.

Frame numbers: ``GetStart`` is an absolute record frame on the timeline (timelines often start at
86400) and ``GetDuration`` the item's length; ``GetSourceStartFrame`` counts frames into the clip from
its first file, so the file number of a record frame is ``first file + source start + (record - start)``
(an unretimed item is assumed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEQUENCE = re.compile(r"^(?P<head>.*)\[(?P<first>\d+)-(?P<last>\d+)\](?P<tail>[^\[\]]*)$")


class ShotError(Exception):
    """The timeline does not offer a shot LookGrid can grade (one readable line)."""


@dataclass
class Shot:
    name: str
    pattern: str            # printf pattern of the source files, e.g. /shots/plate.%08d.exr
    padding: int
    first_file: int         # file number of the item's first frame on the timeline
    last_file: int
    record_start: int       # absolute timeline frame of the item's first frame
    record_end: int         # absolute timeline frame of its last frame (inclusive)
    track: int              # video track index (1 = bottom)

    def file_frame(self, record_frame: float) -> float:
        return self.first_file + (record_frame - self.record_start)

    @property
    def frames(self) -> list[int]:
        return list(range(self.first_file, self.last_file + 1))


def sequence_pattern(file_path: str) -> tuple[str, int, int, int]:
    """(printf pattern, padding, first file number, last) of Resolve's "File Path" of a sequence."""
    m = SEQUENCE.match(file_path)
    if not m:
        raise ShotError(f"{file_path!r} is not an image sequence: render the range to EXR first "
                        "(Deliver page) and put that sequence on the timeline")
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


def read_shot(timeline) -> Shot:
    """The shot under the playhead on the topmost video track."""
    item = timeline.GetCurrentVideoItem()
    if not item:
        raise ShotError("no video clip under the playhead")
    clip = item.GetMediaPoolItem()
    if not clip:
        raise ShotError(f"{item.GetName()!r} has no media-pool clip (a generator or title?)")
    pattern, padding, seq_first, seq_last = sequence_pattern(clip.GetClipProperty("File Path"))
    track_type, track = item.GetTrackTypeAndIndex()
    start, duration = int(item.GetStart(False)), int(item.GetDuration(False))
    first = seq_first + int(item.GetSourceStartFrame())
    last = first + duration - 1
    if first < seq_first or last > seq_last:
        raise ShotError(f"{item.GetName()!r} uses frames {first}-{last} outside its files {seq_first}-{seq_last} "
                        "(retimed or extended clips are not supported)")
    return Shot(item.GetName(), pattern, padding, first, last, start, start + duration - 1, int(track))
