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
- sequences show their "File Path" as Resolve does: ``/dir/name.[1001-1010].exr``; a movie shows
  its file (``/dir/plate.mov``) and, for the stand-in only, names an EXR pattern standing for its
  decoded pictures (``_decoded``);
- ``GetCurrentVideoItem`` returns the item on the topmost track under the playhead (an assumption:
  the stubs say only "the current video timeline item"; the plugin does not rely on it);
- project settings and clip properties hold what ``GetSetting``/``GetClipProperty`` return
  (``colorScienceMode``, ``colorSpaceInput``, ``colorSpaceOutput``, "Input Color Space": key names
  the stubs do not list, README names them as unconfirmed); ``SetClipProperty`` of "Input Color
  Space" is accepted only under colour management;
- the render queue renders the timeline's record range MarkIn..MarkOut (the topmost *enabled*
  item at each frame) to ``TargetDir/<CustomName><8-digit record frame>.exr`` when started, and
  reports ``{"JobStatus": "Rendering"|"Complete", "CompletionPercentage": n}``;
- in a dialog session every Resolve and UI call is checked to come from the thread that runs the
  dispatcher's loop (the UI thread); calls from other threads are recorded in ``_state.off_thread``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading

_UNDESCRIBED = {
    "scriptapp": "module entry of DaVinciResolveScript; fusionscript-stubs describes only the objects it returns",
    "UIDispatcher": "bmd.UIDispatcher, Fusion's UI toolkit: fusionscript-stubs declares Fusion without members",
    "Fusion.UIManager": "Fusion's UI toolkit: fusionscript-stubs declares Fusion without members",
}
for _cls, _names in {"UIManager": ("HGroup", "VGroup", "Label", "LineEdit", "Button", "ComboBox", "Timer"),
                     "UIDispatcher": ("AddWindow", "RunLoop", "ExitLoop", "On"),
                     "UIWindow": ("Find", "Show", "Hide", "On"),
                     "UIWidget": ("Text", "CurrentText", "AddItems", "Clear", "Start", "Stop")}.items():
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
        self.dispatchers: list = []
        self.timers: list = []
        self.ui_thread: threading.Thread | None = None   # set while a dispatcher loop runs
        self.off_thread: list[str] = []  # host or UI calls made from another thread meanwhile
        self.render_jobs: dict[str, dict] = {}
        self.render_polls = 1            # status polls a render job answers "Rendering" before "Complete"
        self.node_count = 2              # serial nodes in each clip's colour node graph (tests: fewer, more)
        self.known_luts: set[str] = set()   # LUT files Resolve has discovered (RefreshLUTList)
        self.lut_roots: list[str] = []   # tests: the folders RefreshLUTList scans (Resolve: its LUT folders)


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
    def __init__(self, name: str, file_path: str, colorspace: str = "", decoded: str = "") -> None:
        self._name, self._file_path = name, file_path
        self._props = {"File Path": file_path, "Clip Name": name, "Input Color Space": colorspace}
        self._third_party: dict[str, str] = {}
        self._decoded = decoded            # a movie's pictures, as an EXR pattern (stand-in only)
        self._managed = True

    def GetName(self) -> str:
        return self._name

    def GetClipProperty(self, propertyName):
        return self._props.get(propertyName, "") if propertyName else dict(self._props)

    def SetClipProperty(self, propertyName, propertyValue):
        if propertyName == "Input Color Space" and not self._managed:
            return False
        self._props[propertyName] = str(propertyValue)
        return True

    def GetThirdPartyMetadata(self, metadataType=None):
        return self._third_party.get(metadataType, "") if metadataType else dict(self._third_party)

    def SetThirdPartyMetadata(self, metadataType, metadataValue):
        self._third_party[metadataType] = str(metadataValue)
        return True

    def _frame_file(self, index: int) -> str:
        """The file of the clip's ``index``-th picture (0 = its first)."""
        if self._decoded:
            return self._decoded % index
        m = re.search(r"\[(\d+)-(\d+)\]", self._file_path)
        if m is None:
            return ""
        n = len(m.group(1))
        return self._file_path[:m.start()] + f"{int(m.group(1)) + index:0{n}d}" + self._file_path[m.end():]


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

    # colour: versions, the node graph (nodes exist; the API cannot add them), CDL
    def AddVersion(self, versionName, versionType):
        versions = self.__dict__.setdefault("_versions", [])
        if (versionName, versionType) in versions:
            return False
        versions.append((versionName, versionType))
        return True

    def GetNodeGraph(self, layerIdx):
        if "_graph" not in self.__dict__:
            self._graph = Graph(_state.node_count)
        return self._graph

    def SetCDL(self, cdlMap):
        if not 1 <= int(cdlMap["NodeIndex"]) <= self.GetNodeGraph(1)._count:
            return False
        if set(cdlMap) != {"NodeIndex", "Slope", "Offset", "Power", "Saturation"}:
            return False
        self.GetNodeGraph(1)._cdl[int(cdlMap["NodeIndex"])] = dict(cdlMap)
        return True


class Graph:
    """A clip's colour node graph: ``_count`` serial nodes (the colorist made them; scripts cannot)."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._luts: dict[int, str] = {}
        self._cdl: dict[int, dict] = {}

    def GetNumNodes(self) -> int:
        return self._count

    def SetLUT(self, nodeIndex, lutPath):
        # Resolve takes LUTs it has discovered (Project.RefreshLUTList): the file must exist by then
        if not 1 <= nodeIndex <= self._count or lutPath not in _state.known_luts:
            return False
        self._luts[nodeIndex] = lutPath
        return True


class Timeline:
    def __init__(self, name: str = "Timeline 1", start: int = 86400) -> None:
        self._name, self._start = name, start
        self._tracks: dict[int, list[TimelineItem]] = {1: []}
        self._disabled: set[int] = set()
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

    def GetIsTrackEnabled(self, trackType, trackIndex):
        return trackType == "video" and trackIndex in self._tracks and trackIndex not in self._disabled

    def SetTrackEnable(self, trackType, trackIndex, Bool):
        if trackType != "video" or trackIndex not in self._tracks:
            return False
        (self._disabled.discard if Bool else self._disabled.add)(trackIndex)
        return True

    def _visible_item(self, frame: int):
        for track in sorted(self._tracks, reverse=True):
            if track in self._disabled:
                continue
            for item in self._tracks[track]:
                if item._record <= frame < item._record + item._duration:
                    return item
        return None

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
        self._settings = {"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceInput": "Rec.709 Gamma 2.4",
                          "colorSpaceTimeline": "DaVinci WG/Intermediate", "colorSpaceOutput": "Rec.709 Gamma 2.4"}
        self._render = {"format": "", "codec": "", "mode": 0, "settings": {}}
        self._rendering = False

    def GetSetting(self, settingName):
        return self._settings.get(settingName, "")

    def RefreshLUTList(self):
        for root in _state.lut_roots:
            for dirpath, _, names in os.walk(root):
                _state.known_luts.update(os.path.join(dirpath, n) for n in names if n.endswith(".cube"))
        return True

    def GetRenderFormats(self):
        return {"OpenEXR": "exr", "QuickTime": "mov", "TIFF": "tif"}

    def GetRenderCodecs(self, renderFormat):
        return {"OpenEXR": {"RGB half (ZIP)": "RGBHalfZIP", "RGB float (no compression)": "RGBFloat"},
                "QuickTime": {"Apple ProRes 4444": "ProRes4444"}}.get(renderFormat, {})

    def SetCurrentRenderFormatAndCodec(self, format, codec):
        if codec not in self.GetRenderCodecs(format).values():
            return False
        self._render.update(format=format, codec=codec)
        return True

    def SetCurrentRenderMode(self, renderMode):
        self._render["mode"] = int(renderMode)
        return True

    def SetRenderSettings(self, settings):
        self._render["settings"].update(settings)
        return True

    def AddRenderJob(self):
        job_id = f"job-{len(_state.render_jobs) + 1}"
        _state.render_jobs[job_id] = {"render": {**self._render, "settings": dict(self._render["settings"])},
                                      "status": "Ready", "polls": 0}
        return job_id

    def StartRendering(self, jobIds, isInteractiveMode=False):
        for job_id in jobIds:
            job = _state.render_jobs[job_id]
            r = job["render"]
            if r["format"] != "OpenEXR" or r["mode"] != 1:
                job["status"] = "Failed"
                continue
            st = r["settings"]
            os.makedirs(st["TargetDir"], exist_ok=True)
            job["status"] = "Rendering"
            for frame in range(int(st["MarkIn"]), int(st["MarkOut"]) + 1):
                item = self._timeline._visible_item(frame)
                source = item._clip._frame_file(item._source_start + frame - item._record) if item else None
                if not source or not os.path.isfile(source):   # media offline / undecodable: the job fails
                    job["status"] = "Failed"
                    break
                shutil.copyfile(source, os.path.join(st["TargetDir"], f"{st['CustomName']}{frame:08d}.exr"))
        return True

    def GetRenderJobStatus(self, jobId):
        job = _state.render_jobs[jobId]
        job["polls"] += 1
        if job["status"] == "Rendering" and job["polls"] > _state.render_polls:
            job["status"] = "Complete"
        return {"JobStatus": job["status"], "CompletionPercentage": 100 if job["status"] == "Complete" else 0}

    def IsRenderingInProgress(self):
        return any(j["status"] == "Rendering" for j in _state.render_jobs.values())

    def StopRendering(self):
        for j in _state.render_jobs.values():
            if j["status"] == "Rendering":
                j["status"] = "Cancelled"

    def DeleteRenderJob(self, jobId):
        return _state.render_jobs.pop(jobId, None) is not None

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

    def GetMediaStorage(self):
        return self.__dict__.setdefault("_storage", MediaStorage())

    def Fusion(self):
        return self._fusion


class MediaStorage:
    def AddClipMattesToMediaPool(self, mediaPoolItem, paths, stereoEye):
        """Mattes for a clip (``stereoEye`` None for a mono clip): every file must open as an image."""
        if not paths or stereoEye not in (None, "left", "right") or \
                not all(os.path.isfile(p) and _check_image(p) for p in paths):
            return False
        mediaPoolItem.__dict__.setdefault("_mattes", []).append(list(paths))
        return True


# -- Fusion's UI toolkit (not described by fusionscript-stubs; see _UNDESCRIBED) ------------------------

class UIWidget:
    def __init__(self, kind: str, props=None, children=None) -> None:
        self._kind = kind
        props = dict(props or {})
        self._id = props.get("ID", "")
        self._text = props.get("Text", "")
        self._children = list(children or [])
        self._items: list[str] = []
        self._history: list[str] = []     # every text set (tests read the status line's history)
        self._current = 0
        self._interval = props.get("Interval", 0)
        self._running = False

    @property
    def Text(self):
        return self._text

    @Text.setter
    def Text(self, value):
        self._text = value
        self._history.append(value)

    @property
    def CurrentText(self):
        return self._items[self._current] if self._items else ""

    @CurrentText.setter
    def CurrentText(self, value):
        if value in self._items:
            self._current = self._items.index(value)

    def AddItems(self, items):
        self._items.extend(str(i) for i in items)

    def Clear(self):
        self._items, self._current = [], 0

    def Start(self):
        self._running = True

    def Stop(self):
        self._running = False

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

    def ComboBox(self, props):
        return UIWidget("ComboBox", props)

    def Timer(self, props):
        timer = UIWidget("Timer", props)
        _state.timers.append(timer)
        return timer


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
        self._on = _Handlers()
        _state.dispatchers.append(self)

    @property
    def On(self):
        return self._on

    def AddWindow(self, props, layout):
        win = UIWindow(props, layout)
        _state.windows.append(win)
        return win

    def RunLoop(self):
        self._running = True
        _state.ui_thread = threading.current_thread()
        try:
            for step in _state.ui_script:
                if not self._running:
                    break
                step(_state.windows[-1])
        finally:
            self._running = False
            _state.ui_thread = None

    def ExitLoop(self):
        self._running = False


def _tick(until, timeout: float = 120.0) -> None:
    """Tests, on the UI thread: run the dispatcher's timers (each started timer's Timeout handler,
    every ``Interval`` ms) until ``until()`` is true; AssertionError after ``timeout`` seconds."""
    import time

    deadline = time.time() + timeout
    while not until():
        assert time.time() < deadline, "timed out waiting in the UI loop"
        for timer in list(_state.timers):
            if timer._running:
                for disp in _state.dispatchers:
                    handler = getattr(getattr(disp._on, timer._id), "Timeout", None)
                    if handler:
                        handler({"who": timer._id})
        time.sleep(0.02)


def _on_ui_thread(func, label):
    @functools.wraps(func)
    def checked(*args, **kwargs):
        ui = _state.ui_thread
        if ui is not None and threading.current_thread() is not ui:
            _state.off_thread.append(label)
        return func(*args, **kwargs)

    return checked


for _klass in (Resolve, ProjectManager, Project, MediaPool, MediaPoolItem, Timeline, TimelineItem, UIWidget, UIWindow):
    for _name, _value in list(vars(_klass).items()):
        if _name.startswith("_"):
            continue
        if isinstance(_value, property):
            setattr(_klass, _name, property(_value.fget and _on_ui_thread(_value.fget, f"{_klass.__name__}.{_name}"),
                                            _value.fset and _on_ui_thread(_value.fset, f"{_klass.__name__}.{_name}")))
        elif callable(_value):
            setattr(_klass, _name, _on_ui_thread(_value, f"{_klass.__name__}.{_name}"))

_reset()
