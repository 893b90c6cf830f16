"""A movie or camera-RAW shot as an EXR sequence, rendered by Resolve's own render queue.

The server reads one file per frame; a movie (or a RAW clip, or anything whose "File Path" is not a
sequence) has none. So the item's record range is rendered through the render queue, in Single
clip mode, to an EXR sequence in a fresh folder under the output folder (which the server can read),
and the job continues from that sequence; the folder is removed at the end whatever happens.

Calls (all in fusionscript-stubs 21.0.0, ``Project``): ``GetRenderFormats`` ("format -> file
extension"), ``GetRenderCodecs`` ("codec description -> codec name"),
``SetCurrentRenderFormatAndCodec``, ``SetCurrentRenderMode`` (1 = Single clip), ``SetRenderSettings``
with ``SelectAllFrames``/``MarkIn``/``MarkOut``/``TargetDir``/``CustomName``/``ExportVideo``/
``ExportAudio`` (section "Looking up Render Settings"), ``AddRenderJob`` (a job id),
``StartRendering([jobId])``, ``GetRenderJobStatus(jobId)`` ("a dict with job status and completion
percentage"), ``StopRendering``, ``DeleteRenderJob``; and on the timeline ``GetIsTrackEnabled`` /
``SetTrackEnable``: the video tracks above the shot are switched off while it renders (so an
earlier LookGrid result on top is not what gets rendered) and switched back on after.

Not documented there, so README lists them as unconfirmed: that MarkIn/MarkOut are absolute record
frames, the status dict's keys ``JobStatus`` (``Complete``, ``Failed``, ``Cancelled``) and
``CompletionPercentage``, and how Resolve numbers the files (the script does not assume it: it
reads back whatever numbered EXR sequence appears in the folder, which must hold exactly one frame
per frame of the shot, and renumbers it by record frame: a movie's mask files are numbered by the
record frames of the shot, as the timeline shows them).

``start``/``poll``/``finish`` call Resolve (UI thread); :func:`read_back` reads the folder (any thread).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from lookgrid_resolve.shot import Shot, ShotError

DONE, FAILED = "complete", ("failed", "cancelled", "canceled")
_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<digits>\d+)(?P<tail>\.exr)$", re.IGNORECASE)


@dataclass
class Render:
    job_id: str
    folder: str
    disabled: list[int] = field(default_factory=list)   # video tracks switched off while it renders


def _exr_codec(codecs: dict) -> str:
    names = {str(desc): str(name) for desc, name in (codecs or {}).items()}
    for want in ("half", "float"):
        for desc, name in names.items():
            if want in desc.lower() or want in name.lower():
                return name
    if names:
        return next(iter(names.values()))
    raise ShotError("Resolve offers no codec for EXR renders")


def start(project, timeline, shot: Shot, folder: str) -> Render:
    """Queue and start the render of the shot's record range to EXR files in ``folder``."""
    formats = project.GetRenderFormats() or {}
    fmt = next((f for f, ext in formats.items() if str(ext).lower().lstrip(".") == "exr"), None)
    if fmt is None:
        raise ShotError(f"{shot.file_path!r} is not an image sequence and this Resolve offers no EXR render "
                        "format to make one")
    if not project.SetCurrentRenderFormatAndCodec(fmt, _exr_codec(project.GetRenderCodecs(fmt))):
        raise ShotError("Resolve refused the EXR render format")
    project.SetCurrentRenderMode(1)
    disabled = []
    for t in range(shot.track + 1, int(timeline.GetTrackCount("video")) + 1):
        if timeline.GetIsTrackEnabled("video", t):
            timeline.SetTrackEnable("video", t, False)
            disabled.append(t)
    render = Render("", folder, disabled)
    try:
        ok = project.SetRenderSettings({"SelectAllFrames": False, "MarkIn": shot.record_start,
                                        "MarkOut": shot.record_end, "TargetDir": folder, "CustomName": "source",
                                        "ExportVideo": True, "ExportAudio": False})
        if not ok:
            raise ShotError("Resolve refused the render settings for the intermediate EXR sequence")
        render.job_id = str(project.AddRenderJob() or "")
        if not render.job_id:
            raise ShotError("Resolve did not add the render job for the intermediate EXR sequence")
        if not project.StartRendering([render.job_id], False):
            raise ShotError("Resolve did not start rendering the intermediate EXR sequence")
    except BaseException:
        finish(project, timeline, render, stop=True)
        raise
    return render


def poll(project, render: Render) -> tuple[str, float]:
    """(status in lower case, percent complete) of the render job."""
    status = project.GetRenderJobStatus(render.job_id) or {}
    return str(status.get("JobStatus", "")).lower(), float(status.get("CompletionPercentage", 0) or 0)


def finish(project, timeline, render: Render, *, stop: bool = False) -> None:
    """Stop (when asked and still running), delete the job, switch the tracks back on."""
    try:
        if stop and project.IsRenderingInProgress():
            project.StopRendering()
        if render.job_id:
            project.DeleteRenderJob(render.job_id)
    finally:
        for t in render.disabled:
            timeline.SetTrackEnable("video", t, True)
        render.disabled = []


def read_back(folder: str, shot: Shot) -> Shot:
    """The shot as the rendered EXR sequence in ``folder`` (exactly one file per frame)."""
    groups: dict[tuple[str, str, int], list[int]] = {}
    for name in os.listdir(folder):
        m = _NUMBERED.match(name)
        if m:
            groups.setdefault((m["head"], m["tail"], len(m["digits"])), []).append(int(m["digits"]))
    want = shot.record_end - shot.record_start + 1
    for (head, tail, digits), numbers in groups.items():
        numbers.sort()
        if len(numbers) == want and numbers[-1] - numbers[0] + 1 == want:
            # renumbered by record frame, whatever Resolve's numbering: a movie's masks are numbered so
            pattern = os.path.join(folder, "source.%08d.exr")
            found = os.path.join(folder, f"{head}%0{digits}d{tail}")
            for i, n in enumerate(numbers):
                os.replace(found % n, pattern % (shot.record_start + i))
            return Shot(shot.name, pattern, 8, shot.record_start, shot.record_end, shot.record_start, shot.record_end,
                        shot.track, shot.file_path, movie=True, clip_colorspace=shot.clip_colorspace,
                        project=shot.project)
    found = ", ".join(f"{h}[{min(n)}-{max(n)}]{t} ({len(n)} files)" for (h, t, _), n in groups.items()) or "no EXR files"
    raise ShotError(f"Resolve's render of {shot.name!r} gave {found} in {folder}, not {want} numbered frames")
