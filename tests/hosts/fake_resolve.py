"""A stand-in for DaVinci Resolve's scripting module (``DaVinciResolveScript``, alias ``bmd``).

Exactly the calls the LookGrid Resolve script makes. Every public name of the Resolve object graph
(Resolve, ProjectManager, Project, MediaPool, MediaPoolItem, Timeline, TimelineItem) is checked
against ``fusionscript-stubs`` (tests/hosts/test_conformance.py): same class, same parameters.
Those stubs do not describe the module entry ``scriptapp`` nor Fusion's UI toolkit (their Fusion
class has no members), so those names are listed in ``_UNDESCRIBED`` with that reason and reported
as such; anything else missing from the stubs fails the test. ``_`` names are the stand-in's own.

Behaviour that matters:
- a timeline that starts at record frame 86400 with numbered video tracks; items have absolute
  record frames, a duration and a source start counted from the clip's first file; markers sit at
  frames counted from the timeline's start;
- the media pool imports image sequences only when every file from StartIndex to EndIndex exists
  and opens as an image (OpenImageIO), and records each import; ``AppendToTimeline`` takes a list of
  clip-info dicts and places the clip at ``recordFrame`` on ``trackIndex`` (refusing a track that
  does not exist or a place already taken), and records each placement;
- sequences show their "File Path" as Resolve does: ``/dir/name.[1001-1010].exr``.
"""

from __future__ import annotations

import os
import re

_UNDESCRIBED = {
    "scriptapp": "module entry of DaVinciResolveScript; fusionscript-stubs describes only the objects it returns",
    "UIDispatcher": "bmd.UIDispatcher, Fusion's UI toolkit: fusionscript-stubs declares Fusion without members",
    "Fusion.UIManager": "Fusion's UI toolkit: fusionscript-stubs declares Fusion without members",
}
for _cls, _names in {"UIManager": ("HGroup", "VGroup", "Label", "LineEdit", "Button"),
                     "UIDispatcher": ("AddWindow", "RunLoop", "ExitLoop"),
                     "UIWindow": ("Find", "Show", "Hide", "On"), "UIWidget": ("Text",)}.items():
    _UNDESCRIBED[_cls] = _UNDESCRIBED["Fusion.UIManager"]
    for _n in _names:
        _UNDESCRIBED[f"{_cls}.{_n}"] = _UNDESCRIBED["Fusion.UIManager"]


class _State:
    def __init__(self) -> None:
        self.resolve = Resolve()
        self.imports: list[dict] = []
        self.placements: list[dict] = []
        self.ui_script: list = []        # tests: callables run by UIDispatcher.RunLoop, given the window
        self.windows: list = []


_state: _State


def _reset() -> "Resolve":
    global _state
    _state = _State()
    return _state.resolve


def _sequence_label(pattern: str, first: int, last: int) -> str:
    m = re.search(r"%0(\d+)d", pattern)
    n = int(m.group(1))
    return pattern[:m.start()] + f"[{first:0{n}d}-{last:0{n}d}]" + pattern[m.end():]


def _check_image(path: str) -> bool:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    if inp is None:
        return False
    inp.close()
    return True


def scriptapp(app):
    return _state.resolve if app == "Resolve" else None


# -- the Resolve object graph ------------------------------------------------------------------------

class MediaPoolItem:
    def __init__(self, name: str, file_path: str) -> None:
        self._name, self._file_path = name, file_path

    def GetName(self) -> str:
        return self._name

    def GetClipProperty(self, propertyName):
        props = {"File Path": self._file_path, "Clip Name": self._name}
        return props.get(propertyName, "") if propertyName else props


class TimelineItem:
    def __init__(self, clip: MediaPoolItem, record: int, duration: int, source_start: int, track: int) -> None:
        self._clip, self._record, self._duration, self._source_start, self._track = \
            clip, record, duration, source_start, track

    def GetName(self) -> str:
        return self._clip._name

    def GetStart(self, subframe_precision):
        return self._record

    def GetDuration(self, subframe_precision):
        return self._duration

    def GetSourceStartFrame(self) -> int:
        return self._source_start

    def GetMediaPoolItem(self):
        return self._clip

    def GetTrackTypeAndIndex(self):
        return ["video", self._track]


class Timeline:
    def __init__(self, name: str = "Timeline 1", start: int = 86400) -> None:
        self._name, self._start = name, start
        self._tracks: dict[int, list[TimelineItem]] = {1: []}
        self._playhead = start
        self._markers: dict[float, dict] = {}

    def _add(self, item: TimelineItem) -> bool:
        if item._track not in self._tracks:
            return False
        for other in self._tracks[item._track]:
            if other._record < item._record + item._duration and item._record < other._record + other._duration:
                return False
        self._tracks[item._track].append(item)
        return True

    def GetStartFrame(self) -> int:
        return self._start

    def AddMarker(self, frameId, color, name, note, duration, customData):
        if frameId in self._markers:
            return False
        self._markers[float(frameId)] = {"color": color, "duration": float(duration), "note": note, "name": name,
                                         "customData": customData or ""}
        return True

    def GetMarkers(self):
        return dict(self._markers)

    def GetTrackCount(self, trackType) -> int:
        return len(self._tracks) if trackType == "video" else 0

    def AddTrack(self, trackType, subTrackType) -> bool:
        if trackType != "video":
            return False
        self._tracks[len(self._tracks) + 1] = []
        return True

    def GetItemListInTrack(self, trackType, index):
        return list(self._tracks.get(index, [])) if trackType == "video" else []

    def GetCurrentVideoItem(self):
        for track in sorted(self._tracks, reverse=True):
            for item in self._tracks[track]:
                if item._record <= self._playhead < item._record + item._duration:
                    return item
        return None

    def DeleteClips(self, timelineItems, Bool) -> bool:
        for item in timelineItems:
            self._tracks[item._track].remove(item)
        return True


class MediaPool:
    def __init__(self) -> None:
        self._clips: list[MediaPoolItem] = []
        self._timeline: Timeline | None = None

    def ImportMedia(self, clipInfo):
        out = []
        for info in clipInfo:
            pattern, a, b = info["FilePath"], int(info["StartIndex"]), int(info["EndIndex"])
            if not all(os.path.isfile(pattern % f) and _check_image(pattern % f) for f in range(a, b + 1)):
                return []
            clip = MediaPoolItem(os.path.basename(_sequence_label(pattern, a, b)), _sequence_label(pattern, a, b))
            self._clips.append(clip)
            _state.imports.append({"FilePath": pattern, "StartIndex": a, "EndIndex": b})
            out.append(clip)
        return out

    def AppendToTimeline(self, clipInfo):
        if not isinstance(clipInfo, list):
            raise TypeError("AppendToTimeline: pass a list of clip-info dicts")
        out = []
        for info in clipInfo:
            item = TimelineItem(info["mediaPoolItem"], int(info["recordFrame"]),
                                int(info["endFrame"]) - int(info["startFrame"]) + 1, int(info["startFrame"]),
                                int(info["trackIndex"]))
            if not self._timeline._add(item):
                continue
            _state.placements.append({k: info[k] for k in ("startFrame", "endFrame", "trackIndex", "recordFrame")})
            out.append(item)
        return out

    def DeleteClips(self, clips) -> bool:
        for c in clips:
            self._clips.remove(c)
        return True


class Project:
    def __init__(self) -> None:
        self._pool = MediaPool()
        self._timeline = Timeline()
        self._pool._timeline = self._timeline

    def GetMediaPool(self):
        return self._pool

    def GetCurrentTimeline(self):
        return self._timeline


class ProjectManager:
    def __init__(self) -> None:
        self._project = Project()

    def GetCurrentProject(self):
        return self._project


class Resolve:
    def __init__(self) -> None:
        self._pm = ProjectManager()
        self._fusion = Fusion()

    def GetProjectManager(self):
        return self._pm

    def Fusion(self):
        return self._fusion


# -- Fusion's UI toolkit (not described by fusionscript-stubs; see _UNDESCRIBED) ------------------------

class UIWidget:
    def __init__(self, kind: str, props=None, children=None) -> None:
        self._kind = kind
        props = dict(props or {})
        self._id = props.get("ID", "")
        self._text = props.get("Text", "")
        self._children = list(children or [])

    @property
    def Text(self):
        return self._text

    @Text.setter
    def Text(self, value):
        self._text = value

    def _walk(self):
        yield self
        for c in self._children:
            yield from c._walk()


class UIManager:
    def HGroup(self, items):
        return UIWidget("HGroup", None, items)

    def VGroup(self, items):
        return UIWidget("VGroup", None, items)

    def Label(self, props):
        return UIWidget("Label", props)

    def LineEdit(self, props):
        return UIWidget("LineEdit", props)

    def Button(self, props):
        return UIWidget("Button", props)


class _Handlers:
    """``win.On.<id>.<Event> = function``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_by_id", {})

    def __getattr__(self, widget_id):
        return self._by_id.setdefault(widget_id, type("Events", (), {})())


class UIWindow:
    def __init__(self, props, layout) -> None:
        self._props = dict(props)
        self._widgets = {w._id: w for w in layout._walk() if w._id}
        self._on = _Handlers()
        self._shown = False

    @property
    def On(self):
        return self._on

    def Find(self, id):
        return self._widgets[id]

    def Show(self):
        self._shown = True

    def Hide(self):
        self._shown = False

    def _fire(self, widget_id: str, event: str) -> None:
        getattr(getattr(self._on, widget_id), event)({"who": widget_id})


class Fusion:
    def __init__(self) -> None:
        self._ui = UIManager()

    @property
    def UIManager(self):
        return self._ui


class UIDispatcher:
    def __init__(self, ui) -> None:
        self._ui = ui
        self._running = False

    def AddWindow(self, props, layout):
        win = UIWindow(props, layout)
        _state.windows.append(win)
        return win

    def RunLoop(self):
        self._running = True
        for step in _state.ui_script:
            if not self._running:
                break
            step(_state.windows[-1])
        self._running = False

    def ExitLoop(self):
        self._running = False


_reset()
