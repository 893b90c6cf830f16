"""A stand-in for Nuke's ``nuke`` module: exactly the calls the LookGrid plugin makes.

Every public name here is checked against the ``types-nuke`` stubs (tests/hosts/test_conformance.py):
it must exist there, on the same class, with the same parameters. Names starting with ``_`` are the
stand-in's own machinery and the tests' controls (they are not host API).

Behaviour that matters, as in Nuke:
- a node graph that really evaluates: ``Read`` reads EXR files through OpenImageIO, ``Copy`` copies a
  channel from input 1 into input 0's stream (into a layer that must exist, ``Layer``), ``Write``
  (run by ``execute``) writes the upstream image to EXR through OpenImageIO, Groups route their Input
  and Output nodes; channel names follow Nuke (``rgba.red``, ``person.a``) and EXR files carry
  Nuke's names for them (``R``, ``person.a``, ``lookgrid_mask1.A``);
- ``####`` in file names is 4 digits;
- knobs animate: ``setValueAt`` keys with a smooth (ease in/out) curve between keys, or an
  expression of ``frame``; ``valueAt`` evaluates them, ``value`` reads them at the current frame;
- the node graph, knobs and dialogs may only be touched on the main thread (anything else raises,
  where Nuke would crash or corrupt the script); ``executeInMainThread`` queues a call for the main
  thread, which the tests run with ``_process_main_thread``; ``ProgressTask`` works from any thread;
- a script is saved (``scriptSaveAs``) as its nodes, knobs (keys, expressions, menu items) and
  connections, and ``scriptOpen`` in a fresh session (``_reset``) rebuilds it; ``root().name()`` is
  the script's path ("Root" until saved); a Read's file may start with the TCL idiom
  ``[file dirname [value root.name]]`` (the script's folder);
- ``knobChanged`` callbacks run when a knob of a node changes, and with the knob ``inputChange``
  when an input is connected; ``updateUI`` callbacks run when the tests call ``_update_ui`` (Nuke:
  when it refreshes the UI); ``onScriptLoad`` ones after ``scriptOpen``;
- ``opHashes`` hashes a node's class, knobs and its inputs' hashes (upstream changes change it);
- in proxy mode (``root().setProxy(True)``) ``execute`` writes images at half size;
- ``toNode("preferences")`` is the preferences node, which takes added knobs and outlives a
  session (``_reset(keep_preferences=True)``), as Nuke keeps it in the user's preferences file.

Assumptions about Nuke that no document quoted here confirms are listed in README ("How the host
plugins are tested").
"""

from __future__ import annotations

import queue
import re
import sys
import threading
import time

import numpy as np

# -- the stand-in's state ------------------------------------------------------------------------

class _State:
    def __init__(self) -> None:
        self.root = None
        self.context: list = []           # group stack (``with group:``)
        self.frame = 1
        self.messages: list[str] = []
        self.main_queue: queue.Queue = queue.Queue()
        self.main_calls: list[tuple[str, str]] = []   # (function name, thread name that queued it)
        self.progress_tasks: list = []
        self.layers: dict[str, list[str]] = {"rgba": ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"]}
        self.plugin_paths: list[str] = []
        self.menus: dict[str, "Menu"] = {}
        self.this_node = None
        self.executed: list[tuple[str, int, int]] = []
        self.cancel_at_progress: int | None = None    # tests: ProgressTask is cancelled at this percentage
        self.callbacks: dict[str, list] = {}             # "knobChanged" | "onScriptLoad" | "updateUI" -> [(call, cls)]
        self.this_knob = None
        self.proxy = False
        self.preferences = None    # the "preferences" node (outside the script)


_state = _State()


def _reset(first: int = 1, last: int = 100, keep_preferences: bool = False) -> None:
    """A new Nuke session with an empty, unsaved script of the given frame range (the user's
    preferences kept, as Nuke reads them from its preferences file, when ``keep_preferences``)."""
    global _state
    prefs = _state.preferences if keep_preferences else None
    _state = _State()
    _state.preferences = prefs or Node("Preferences", name="preferences")
    _state.root = Root("root")
    _state.root._first, _state.root._last = first, last
    _state.frame = first


def _main_only(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"nuke stand-in: {what} called off the main thread")


def _process_main_thread(until, timeout: float = 120.0) -> None:
    """Run queued main-thread calls until ``until()`` is true and the queue is empty."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            func, args, kwargs = _state.main_queue.get(timeout=0.05)
        except queue.Empty:
            if until():
                return
            if time.monotonic() > deadline:
                raise TimeoutError("nuke stand-in: the job did not finish in time")
            continue
        func(*args, **(kwargs or {}))


# -- frame numbers and channel names ----------------------------------------------------------------

def _frame_file(pattern: str, frame: int) -> str:
    return re.sub(r"#+", lambda m: f"{frame:0{len(m.group())}d}", pattern)


_SHORT = {"red": "R", "green": "G", "blue": "B", "alpha": "A"}
_LONG = {v: k for k, v in _SHORT.items()}


def _to_exr(channel: str) -> str:
    layer, _, chan = channel.rpartition(".")
    short = _SHORT.get(chan, chan)
    return short if layer == "rgba" else f"{layer}.{short}"


def _from_exr(name: str) -> str:
    layer, _, chan = name.rpartition(".")
    if not layer:
        return f"rgba.{_LONG[chan]}" if chan in _LONG else f"other.{chan}"
    return f"{layer}.{_LONG.get(chan, chan)}"


# -- knobs -----------------------------------------------------------------------------------------

def _fire(event: str, node, knob=None) -> None:
    """Run the ``event`` callbacks registered for ``node``'s class, with thisNode/thisKnob set."""
    if node is None:
        return
    for call, cls in list(_state.callbacks.get(event, [])):
        if cls in ("*", node._class):
            before = (_state.this_node, _state.this_knob)
            _state.this_node, _state.this_knob = node, knob
            try:
                call()
            finally:
                _state.this_node, _state.this_knob = before


def _changed(knob) -> None:
    _fire("knobChanged", knob._node, knob)


class Knob:
    def __init__(self, name: str, label: str = "", *args) -> None:
        self._name = name
        self._label = label
        self._value = self._default()
        self._keys: dict[float, float] = {}
        self._expression: str | None = None
        self._node = None
        self._visible = True

    def name(self) -> str:
        return self._name

    def setVisible(self, visible: bool) -> None:
        _main_only("Knob.setVisible")
        self._visible = bool(visible)

    def _default(self):
        return ""

    def _current(self, frame: float):
        if self._expression is not None:
            return float(eval(self._expression, {"__builtins__": {}}, {"frame": frame, "t": frame}))
        if self._keys:
            times = sorted(self._keys)
            if frame <= times[0]:
                return self._keys[times[0]]
            if frame >= times[-1]:
                return self._keys[times[-1]]
            i = int(np.searchsorted(times, frame, side="right"))
            t0, t1 = times[i - 1], times[i]
            s = (frame - t0) / (t1 - t0)
            s = s * s * (3 - 2 * s)
            return self._keys[t0] + (self._keys[t1] - self._keys[t0]) * s
        return self._value

    def value(self, index: int = 0):
        _main_only("Knob.value")
        return self._current(_state.frame)

    def setValue(self, val, chan: int = 0) -> bool:
        _main_only("Knob.setValue")
        self._value = val
        _changed(self)
        return True

    def isAnimated(self, channel: int = 0) -> bool:
        _main_only("Knob.isAnimated")
        return bool(self._keys) or self._expression is not None


class Array_Knob(Knob):
    def _default(self):
        return 0.0

    def value(self, *args, **kwargs):
        _main_only("Knob.value")
        return float(self._current(_state.frame))

    def valueAt(self, *args, **kwargs):
        _main_only("Knob.valueAt")
        return float(self._current(float(args[0] if args else kwargs["time"])))

    def setValue(self, *args, **kwargs):
        _main_only("Knob.setValue")
        self._value = float(args[0])
        _changed(self)
        return True

    def setValueAt(self, *args, **kwargs):
        _main_only("Knob.setValueAt")
        val, time_ = args[0], args[1]
        self._keys[float(time_)] = float(val)
        _changed(self)
        return True

    def setExpression(self, expression, channel=-1, view="default") -> bool:
        _main_only("Knob.setExpression")
        self._expression = expression
        _changed(self)
        return True

    def isAnimated(self, *args, **kwargs):
        return Knob.isAnimated(self)


class Double_Knob(Array_Knob):
    pass


class Int_Knob(Array_Knob):
    def _default(self):
        return 0

    def value(self) -> int:
        _main_only("Knob.value")
        return int(round(self._current(_state.frame)))

    def setValue(self, val) -> bool:
        _main_only("Knob.setValue")
        self._value = int(val)
        _changed(self)
        return True


class Unsigned_Knob(Array_Knob):
    def value(self):
        _main_only("Knob.value")
        return self._value

    def setValue(self, val) -> bool:
        _main_only("Knob.setValue")
        self._value = val
        _changed(self)
        return True


class Enumeration_Knob(Unsigned_Knob):
    def __init__(self, name: str, label: str = "", items=()) -> None:
        super().__init__(name, label)
        self._items = list(items)
        self._value = self._items[0] if self._items else ""

    def value(self):
        _main_only("Knob.value")
        return self._value

    def setValue(self, *args, **kwargs):
        _main_only("Knob.setValue")
        val = args[0]
        if isinstance(val, int):
            val = self._items[val]
        if val not in self._items:
            raise ValueError(f"{self._name}: {val!r} is not one of {self._items}")
        self._value = val
        _changed(self)
        return True

    def setValues(self, *args, **kwargs):
        """Replace the menu's items (the current value stays when it is still one of them)."""
        _main_only("Knob.setValues")
        self._items = [str(v) for v in args[0]]
        if self._value not in self._items:
            self._value = self._items[0] if self._items else ""
        return True

    def values(self):
        _main_only("Knob.values")
        return list(self._items)


class String_Knob(Knob):
    def value(self, oc=None) -> str:
        _main_only("Knob.value")
        return str(self._value)

    def setValue(self, val, view="default") -> None:
        _main_only("Knob.setValue")
        self._value = str(val)
        _changed(self)


class EvalString_Knob(String_Knob):
    pass


class File_Knob(EvalString_Knob):
    def value(self, *args, **kwargs):
        return String_Knob.value(self)

    def setValue(self, *args, **kwargs):
        String_Knob.setValue(self, args[0])


class Script_Knob(String_Knob):
    def __init__(self, name: str, label: str = "", command: str = "") -> None:
        super().__init__(name, label)
        self._command = command

    def value(self) -> str:
        _main_only("Knob.value")
        return self._command

    def setValue(self, cmd) -> None:
        _main_only("Knob.setValue")
        self._command = cmd

    def _press(self):
        """The artist clicks the button: Nuke runs its command with thisNode() = the knob's node."""
        _state.this_node = self._node
        try:
            namespace: dict = {}
            exec(self._command, namespace)
        finally:
            _state.this_node = None


class PyScript_Knob(Script_Knob):
    pass


class Tab_Knob(Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str = "", text: str = "") -> None:
        super().__init__(name, label)
        self._value = text

    def setValue(self, *args, **kwargs):
        _main_only("Knob.setValue")
        self._value = str(args[0])
        _changed(self)

    def value(self, *args, **kwargs):
        _main_only("Knob.value")
        return self._value


class Layer:
    def __init__(self, *args, **kwargs) -> None:
        _main_only("Layer")
        name, channels = args[0], list(args[1])
        for c in channels:
            if not c.startswith(name + "."):
                raise ValueError(f"Layer {name}: channel {c!r} is not in the layer")
        _state.layers[name] = channels


# -- nodes -----------------------------------------------------------------------------------------

_NODE_KNOBS = {
    "Read": {"file": File_Knob, "first": Int_Knob, "last": Int_Knob},
    "Write": {"file": File_Knob, "file_type": String_Knob, "channels": String_Knob, "datatype": String_Knob,
              "raw": Int_Knob},
    "Copy": {"from0": String_Knob, "to0": String_Knob},
    "Input": {},
    "Output": {},
    "Group": {},
    "Root": {"colorManagement": Enumeration_Knob, "workingSpaceLUT": String_Knob},
    "Preferences": {},
    # the native graph of "Bake to nodes"
    "OCIOColorSpace": {"in_colorspace": String_Knob, "out_colorspace": String_Knob},
    "OCIOFileTransform": {"file": File_Knob, "interpolation": String_Knob},
    "Dissolve": {"which": Double_Knob},
    "Keymix": {},
}

#: No stub package lists node classes or their knobs (types-nuke types ``nuke.nodes`` loosely): each
#: class the plugin creates, and each knob it sets, with the Foundry page that defines them.
#: tests/hosts/test_conformance.py holds _NODE_KNOBS to this table.
_FOUNDRY = "https://learn.foundry.com/nuke/content/reference_guide/"
_NODE_DOCS = {
    "Read": (_FOUNDRY + "image_nodes/read.html", ("file", "first", "last")),
    "Write": (_FOUNDRY + "image_nodes/write.html", ("file", "file_type", "channels", "datatype", "raw")),
    "Copy": (_FOUNDRY + "channel_nodes/copy.html", ("from0", "to0")),
    "Input": (_FOUNDRY + "other_nodes/input.html", ()),
    "Output": (_FOUNDRY + "other_nodes/output.html", ()),
    "Group": (_FOUNDRY + "other_nodes/group.html", ()),
    "Root": (_FOUNDRY + "../comp_environment/project_settings.html", ("colorManagement", "workingSpaceLUT")),
    "Preferences": ("https://learn.foundry.com/nuke/content/reference_guide/preferences.html", ()),
    "OCIOColorSpace": (_FOUNDRY + "color_nodes/ociocolorspace.html", ("in_colorspace", "out_colorspace")),
    "OCIOFileTransform": (_FOUNDRY + "color_nodes/ociofiletransform.html", ("file", "interpolation")),
    "Dissolve": (_FOUNDRY + "merge_nodes/dissolve.html", ("which",)),
    "Keymix": (_FOUNDRY + "merge_nodes/keymix.html", ()),   # inputs B (0), A (1), mask (2); maskChannel rgba.alpha
}
_ROOT_KNOB_ITEMS = {"colorManagement": ["Nuke", "OCIO"]}


class Node:
    def __init__(self, cls: str, **knobs) -> None:
        self._class = cls
        self._name = knobs.pop("name", None)
        self._knobs: dict[str, Knob] = {}
        self._inputs: dict[int, "Node"] = {}
        self._parent = _state.context[-1] if _state.context else _state.root
        for kname, kcls in _NODE_KNOBS.get(cls, {}).items():
            k = kcls(kname, kname, _ROOT_KNOB_ITEMS[kname]) if kname in _ROOT_KNOB_ITEMS else kcls(kname)
            k._node = self
            self._knobs[kname] = k
        if self._parent is not None:
            if self._name is None:
                n = 1 + sum(1 for c in self._parent._children if c._class == cls)
                self._name = f"{cls}{n}"
            self._parent._children.append(self)
        for kname, value in knobs.items():
            if kname not in self._knobs:
                raise ValueError(f"{cls} has no knob named {kname!r}")
            self._knobs[kname]._value = value

    def Class(self) -> str:
        _main_only("Node.Class")
        return self._class

    def name(self) -> str:
        _main_only("Node.name")
        return self._name

    def setName(self, name: str, uncollide: bool = False, updateExpressions: bool = False) -> None:
        _main_only("Node.setName")
        siblings = {c._name for c in self._parent._children if c is not self} if self._parent else set()
        if name in siblings and uncollide:
            i = 1
            while f"{name}{i}" in siblings:
                i += 1
            name = f"{name}{i}"
        self._name = name

    def addKnob(self, knob: Knob) -> None:
        _main_only("Node.addKnob")
        knob._node = self
        self._knobs[knob._name] = knob

    def __getitem__(self, name: str) -> Knob:
        _main_only("Node.__getitem__")
        return self._knobs[name]

    def knobs(self) -> dict:
        _main_only("Node.knobs")
        return dict(self._knobs)

    def opHashes(self) -> list:
        _main_only("Node.opHashes")
        return [self._hash()]

    def _hash(self) -> int:
        import zlib

        knobs = sorted((n, repr(k._value), repr(sorted(k._keys.items())), repr(k._expression))
                       for n, k in self._knobs.items())
        if self._class == "Input":
            group = self._parent
            number = [c for c in group._children if c._class == "Input"].index(self)
            upstream = [group._inputs[number]._hash()] if number in group._inputs else []
        elif self._class in ("Group", "Root"):
            outs = [c for c in self._children if c._class == "Output"]
            upstream = [outs[0]._hash()] if outs else []
        else:
            upstream = [self._inputs[i]._hash() for i in sorted(self._inputs)]
        return zlib.crc32(repr((self._class, knobs, upstream)).encode())

    def input(self, index: int):
        _main_only("Node.input")
        return self._inputs.get(index)

    def setInput(self, i: int, node) -> bool:
        _main_only("Node.setInput")
        if node is None:
            self._inputs.pop(i, None)
        else:
            self._inputs[i] = node
        _fire("knobChanged", self, _InputChange())
        return True

    def channels(self) -> list[str]:
        _main_only("Node.channels")
        return sorted(self._image(_state.root._first))

    # evaluation
    def _image(self, frame: int) -> dict[str, np.ndarray]:
        cls = self._class
        if cls == "Read":
            return _read_exr(_frame_file(_expand_file(self._knobs["file"]._value), frame))
        if cls == "Input":
            group = self._parent
            number = [c for c in group._children if c._class == "Input"].index(self)
            upstream = group._inputs.get(number)
            if upstream is None:
                raise RuntimeError(f"{group._name}.{self._name}: input not connected")
            return upstream._image(frame)
        if cls == "Output":
            return self._inputs[0]._image(frame)
        if cls == "Copy":
            stream = dict(self._inputs[0]._image(frame))
            src, dst = self._knobs["from0"]._value, self._knobs["to0"]._value
            layer = dst.rpartition(".")[0]
            if dst not in _state.layers.get(layer, []):
                raise RuntimeError(f"{self._name}: channel {dst!r} does not exist (create its Layer first)")
            stream[dst] = self._inputs[1]._image(frame)[src]
            return stream
        if cls in ("OCIOColorSpace", "OCIOFileTransform"):
            return _ocio(self, self._inputs[0]._image(frame))
        if cls == "Dissolve":             # a weighted average of inputs 0 and 1 (which in [0, 1])
            w = float(self._knobs["which"]._current(frame))
            a, b = self._inputs[0]._image(frame), self._inputs[1]._image(frame)
            return {c: (1 - w) * a[c] + w * b[c] if c in b else a[c] for c in a}
        if cls == "Keymix":               # A·m + B·(1 − m), m = the mask input's rgba.alpha
            b, a = self._inputs[0]._image(frame), self._inputs[1]._image(frame)
            m = self._inputs[2]._image(frame)["rgba.alpha"]
            return {c: a[c] * m + b[c] * (1 - m) if c in a else b[c] for c in b}
        raise RuntimeError(f"nuke stand-in: {cls} nodes produce no image")


class Group(Node):
    def __init__(self, cls: str = "Group", **knobs) -> None:
        super().__init__(cls, **knobs)
        self._children: list[Node] = []

    def __enter__(self):
        _main_only("Group.__enter__")
        _state.context.append(self)
        return self

    def __exit__(self, type, value, traceback):
        _state.context.pop()
        return False

    def node(self, s: str):
        _main_only("Group.node")
        for c in self._children:
            if c._name == s:
                return c
        return None

    def nodes(self) -> list:
        _main_only("Group.nodes")
        return list(self._children)

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        outs = [c for c in self._children if c._class == "Output"]
        return outs[0]._image(frame)


class Root(Group):
    def __init__(self, *args, **kwargs) -> None:
        Group.__init__(self, "Root")
        self._name = "Root"     # Nuke: the script's path once saved
        self._first, self._last = 1, 100

    def firstFrame(self) -> int:
        _main_only("Root.firstFrame")
        return self._first

    def proxy(self, *args, **kwargs):
        _main_only("Root.proxy")
        return _state.proxy

    def setProxy(self, *args, **kwargs):
        _main_only("Root.setProxy")
        _state.proxy = bool(args[0])

    def lastFrame(self) -> int:
        _main_only("Root.lastFrame")
        return self._last


class NodeConstructor:
    def __init__(self, *args, **kwargs) -> None:
        self._cls = args[0]

    def __call__(self, *args, **kwargs):
        _main_only(f"nodes.{self._cls}")
        if self._cls == "Group":
            return Group(**kwargs)
        if self._cls not in _NODE_KNOBS:
            raise RuntimeError(f"nuke stand-in: no {self._cls} node")
        return Node(self._cls, **kwargs)


class Nodes:
    def __getattr__(self, item):
        if item.startswith("_"):
            raise AttributeError(item)
        return NodeConstructor(item)


nodes = Nodes()


# -- colour through OpenColorIO ---------------------------------------------------------------------

def _ocio(node, image: dict) -> dict:
    """OCIOColorSpace / OCIOFileTransform on the rgb channels, through PyOpenColorIO with the script's
    config (the stand-in: ``$OCIO``, else the studio config the LookGrid server defaults to). A file
    transform is applied as it is, without colour-space handling (Foundry's page says so; its
    ``working_space`` knob stays at its default)."""
    import os

    import PyOpenColorIO as ocio

    config = ocio.Config.CreateFromFile(os.environ.get("OCIO") or "ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6")
    if node._class == "OCIOColorSpace":
        transform = ocio.ColorSpaceTransform(node._knobs["in_colorspace"]._value, node._knobs["out_colorspace"]._value)
    else:
        interp = {"nearest": ocio.INTERP_NEAREST, "linear": ocio.INTERP_LINEAR,
                  "tetrahedral": ocio.INTERP_TETRAHEDRAL, "best": ocio.INTERP_BEST}[node._knobs["interpolation"]._value
                                                                                    or "linear"]
        transform = ocio.FileTransform(_expand_file(node._knobs["file"]._value), interpolation=interp)
    proc = config.getProcessor(transform).getDefaultCPUProcessor()
    rgb = np.ascontiguousarray(np.stack([image["rgba.red"], image["rgba.green"], image["rgba.blue"]], axis=2),
                               dtype=np.float32)
    flat = np.ascontiguousarray(rgb.reshape(-1, 3))
    proc.applyRGB(flat)
    rgb = flat.reshape(rgb.shape)
    out = dict(image)
    out["rgba.red"], out["rgba.green"], out["rgba.blue"] = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return out


# -- images through OpenImageIO ----------------------------------------------------------------------

def _read_exr(path: str) -> dict[str, np.ndarray]:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise RuntimeError(f"Read: cannot open {path}: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
        if pixels is None or inp.has_error:
            raise RuntimeError(f"Read: cannot read {path}: {inp.geterror()}")
    finally:
        inp.close()
    pixels = np.asarray(pixels).reshape(spec.height, spec.width, spec.nchannels)
    return {_from_exr(name): pixels[:, :, i].copy() for i, name in enumerate(spec.channelnames)}


def _write_exr(path: str, image: dict[str, np.ndarray], datatype: str) -> None:
    import OpenImageIO as oiio

    rgba = [c for c in ("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha") if c in image]
    order = rgba + sorted(c for c in image if c not in rgba)
    stack = np.stack([image[c] for c in order], axis=2).astype(np.float32)
    h, w, n = stack.shape
    fmt = "float" if datatype.startswith("32") else "half"
    spec = oiio.ImageSpec(w, h, n, fmt)
    spec.channelnames = tuple(_to_exr(c) for c in order)
    if "rgba.alpha" in order:
        spec.alpha_channel = order.index("rgba.alpha")
    out = oiio.ImageOutput.create(path)
    if out is None or not out.open(path, spec):
        raise RuntimeError(f"Write: cannot write {path}: {oiio.geterror()}")
    try:
        if not out.write_image(stack):
            raise RuntimeError(f"Write: cannot write {path}: {out.geterror()}")
    finally:
        out.close()


# -- module functions --------------------------------------------------------------------------------

def execute(nameOrNode, start: int, end: int, incr: int = 1, views=None, continueOnError: bool = False) -> None:
    _main_only("execute")
    node = nameOrNode
    if node._class != "Write":
        raise RuntimeError(f"execute: {node._name} is not a Write node")
    if 0 not in node._inputs:
        raise RuntimeError(f"execute: {node._name} has no input")
    pattern = node._knobs["file"]._value
    _state.executed.append((pattern, start, end))
    for f in range(start, end + 1, incr):
        image = node._inputs[0]._image(f)
        if _state.proxy:
            image = {c: v[::2, ::2] for c, v in image.items()}
        _write_exr(_frame_file(pattern, f), image, node._knobs["datatype"]._value)


def delete(n) -> None:
    _main_only("delete")
    n._parent._children.remove(n)
    for c in n._parent._children:
        for i, inp in list(c._inputs.items()):
            if inp is n:
                del c._inputs[i]


def root():
    _main_only("root")
    return _state.root


def thisNode():
    _main_only("thisNode")
    return _state.this_node


def toNode(s: str):
    _main_only("toNode")
    if s == "preferences":
        return _state.preferences
    for c in _state.root._children:
        if c._name == s:
            return c
    return None


def thisKnob():
    _main_only("thisKnob")
    return _state.this_knob


class _InputChange:
    """The knob Nuke passes to knobChanged when an input is (dis)connected."""

    def name(self) -> str:
        return "inputChange"


def _expand_file(path: str) -> str:
    """A file knob's value as Nuke evaluates it: the TCL ``[file dirname [value root.name]]``."""
    import os

    tcl = "[file dirname [value root.name]]"
    if tcl in path:
        path = path.replace(tcl, os.path.dirname(_state.root._name))
    return path


def _register(event: str, call, nodeClass: str) -> None:
    _state.callbacks.setdefault(event, []).append((call, nodeClass))


def addKnobChanged(call, args=(), kwargs={}, nodeClass: str = "*", node=None) -> None:
    _register("knobChanged", call, nodeClass)


def addOnScriptLoad(call, args=(), kwargs={}, nodeClass: str = "Root") -> None:
    _register("onScriptLoad", call, nodeClass)


def addUpdateUI(call, args=(), kwargs={}, nodeClass: str = "*") -> None:
    _register("updateUI", call, nodeClass)


def _update_ui() -> None:
    """Nuke refreshes its UI: the updateUI callbacks run for every node of their class."""
    _main_only("updateUI")

    def walk(group):
        for c in list(group._children):
            _fire("updateUI", c)
            if isinstance(c, Group):
                walk(c)

    walk(_state.root)


# -- saving and opening scripts ------------------------------------------------------------------

def _dump(node) -> dict:
    knobs = {}
    for name, k in node._knobs.items():
        knobs[name] = {"type": type(k).__name__, "label": k._label, "value": k._value,
                       "keys": sorted(k._keys.items()), "expression": k._expression, "visible": k._visible,
                       "items": getattr(k, "_items", None), "command": getattr(k, "_command", None)}
    out = {"class": node._class, "name": node._name, "knobs": knobs,
           "inputs": {i: n._name for i, n in node._inputs.items()}}
    if isinstance(node, Group):
        out["children"] = [_dump(c) for c in node._children]
    return out


def _load_children(group, data: dict) -> None:
    made = []
    _state.context.append(group)
    try:
        for child in data.get("children", []):
            cls = child["class"]
            node = Group(name=child["name"]) if cls == "Group" else Node(cls, name=child["name"])
            _load_knobs(node, child["knobs"])
            if isinstance(node, Group):
                _load_children(node, child)
            made.append((node, child))
    finally:
        _state.context.pop()
    by_name = {n._name: n for n, _ in made}
    for node, child in made:
        node._inputs = {int(i): by_name[name] for i, name in child["inputs"].items()}


def _load_knobs(node, knobs: dict) -> None:
    for name, k in knobs.items():
        knob = node._knobs.get(name)
        if knob is None:
            kcls = globals()[k["type"]]
            knob = kcls(name, k["label"], k["items"]) if k["items"] is not None else kcls(name, k["label"])
            knob._node = node
            node._knobs[name] = knob
        knob._value = k["value"]
        knob._keys = {float(a): b for a, b in k["keys"]}
        knob._expression = k["expression"]
        knob._visible = k["visible"]
        if k["items"] is not None:
            knob._items = list(k["items"])
        if k["command"] is not None:
            knob._command = k["command"]


def scriptSaveAs(filename=None, overwrite=False) -> None:
    import json

    _main_only("scriptSaveAs")
    _state.root._name = str(filename)
    data = _dump(_state.root)
    data["frames"] = [_state.root._first, _state.root._last]
    with open(filename, "w") as fh:
        json.dump(data, fh)


def scriptOpen(filename=None) -> None:
    """Open a saved script into this (fresh, empty) session, then run the onScriptLoad callbacks."""
    import json

    _main_only("scriptOpen")
    if _state.root._children:
        raise RuntimeError("nuke stand-in: scriptOpen into a session that already has a script")
    with open(filename) as fh:
        data = json.load(fh)
    _state.root._name = str(filename)
    _state.root._first, _state.root._last = data["frames"]
    _load_knobs(_state.root, data["knobs"])
    _load_children(_state.root, data)
    _fire("onScriptLoad", _state.root)


def frame(f=None) -> int:
    _main_only("frame")
    if f is not None:
        _state.frame = int(f)
    return _state.frame


def message(prompt: str) -> None:
    _main_only("message")
    _state.messages.append(prompt)


def pluginAddPath(args, addToSysPath: bool = True) -> None:
    _state.plugin_paths.append(args)
    if addToSysPath and args not in sys.path:
        sys.path.insert(0, args)


class Menu:
    def __init__(self, name: str) -> None:
        self._name = name
        self._commands: dict[str, str] = {}

    def addCommand(self, *args, **kwargs):
        _main_only("Menu.addCommand")
        self._commands[args[0]] = args[1]


def menu(name: str):
    _main_only("menu")
    return _state.menus.setdefault(name, Menu(name))


def executeInMainThread(call, args=(), kwargs=None) -> None:
    _state.main_calls.append((getattr(call, "__name__", repr(call)), threading.current_thread().name))
    _state.main_queue.put((call, tuple(args), kwargs))


class ProgressTask:
    def __init__(self, *args, **kwargs) -> None:
        self._title = args[0] if args else ""
        self._progress: list[int] = []
        self._message = ""
        self._messages: list[str] = []
        self._cancelled = False
        _state.progress_tasks.append(self)

    def isCancelled(self, *args, **kwargs):
        return self._cancelled

    def setMessage(self, *args, **kwargs):
        self._message = args[0]
        self._messages.append(args[0])

    def setProgress(self, *args, **kwargs):
        self._progress.append(int(args[0]))
        if _state.cancel_at_progress is not None and args[0] >= _state.cancel_at_progress:
            self._cancelled = True


_reset()
