"""The LookGrid node: a Group built by script, and reading it into a ClipSpec.

Inputs: 0 ``Source`` (the plate), 1..3 ``mask1``..``mask3`` (a matte per region, read from its alpha).
A region's matte is either such an input or a channel of the Source stream ("rgba.alpha",
"person.a" from a Roto's output layer), or the region is the background (the rest of the frame).
Every value that can be animated (strength, each reference's weight) is read at every frame of the
range with ``valueAt``, so keys, curves and expressions are exact at each rendered frame.

The host module is imported inside functions only; nothing here talks to the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_REGIONS = 3
DEFAULT_COLORSPACE = "ACEScg"
REFERENCES_PER_REGION = 2
MASK_MODES = ["off", "input", "channel", "background"]
METHODS = ["lookgrid", "per-frame", "pixel-blend", "reinhard"]
RESULT_READ = "LookGridResult"
SOURCE_INPUT = "Source"

# Nuke writes the channels of every layer under their own names except red/green/blue/alpha, which
# become R/G/B/A ("rgba.red" -> "R", "person.alpha" -> "person.A"); other names stay ("person.a").
_EXR_SHORT = {"red": "R", "green": "G", "blue": "B", "alpha": "A"}


class NodeSetupError(Exception):
    """The node's knobs or inputs do not describe a job (one readable line)."""


def exr_channel(nuke_channel: str) -> str:
    """The name an EXR written by Nuke's Write gives a Nuke channel."""
    layer, _, chan = nuke_channel.rpartition(".")
    short = _EXR_SHORT.get(chan, chan)
    return short if layer in ("", "rgba") else f"{layer}.{short}"


def mask_layer(index: int) -> str:
    """The layer a region's mask input is copied into before the exchange file is written."""
    return f"lookgrid_mask{index}"


def working_space() -> str:
    """The script's working colour space (Project Settings ▸ Color: ``workingSpaceLUT`` when colour
    management is OCIO), or "" when Nuke's own colour management is on."""
    import nuke

    root = nuke.root()
    try:
        if root["colorManagement"].value() == "OCIO":
            return str(root["workingSpaceLUT"].value())
    except (KeyError, NameError):
        pass
    return ""


def create_node():
    """Build a LookGrid Group in the current script (the Nodes toolbar command). Its colour-space
    menu starts with the script's working space and is filled with the server's colour spaces
    from a worker thread (:func:`lookgrid_nuke.render.fetch_colorspaces`)."""
    import uuid

    import nuke

    group = nuke.nodes.Group()
    group.setName("LookGrid", True, False)
    root = nuke.root()

    def add(knob, value=None):
        group.addKnob(knob)
        if value is not None:
            knob.setValue(value)
        return knob

    add(nuke.Tab_Knob("lookgrid", "LookGrid"))
    # the node's identity: its results' folder (names change; two scripts may both have a LookGrid1)
    add(nuke.String_Knob("node_id", "node id"), uuid.uuid4().hex[:16]).setVisible(False)
    add(nuke.String_Knob("result_hash", "result hash"), "").setVisible(False)
    add(nuke.String_Knob("server", "server"), "127.0.0.1:50051")
    add(nuke.Enumeration_Knob("method", "method", METHODS))
    add(nuke.Int_Knob("stride", "grid stride"), 1)
    working = working_space() or DEFAULT_COLORSPACE
    add(nuke.Enumeration_Knob("colorspace", "colour space", [working]))
    add(nuke.Int_Knob("first", "first frame"), root.firstFrame())
    add(nuke.Int_Knob("last", "last frame"), root.lastFrame())
    add(nuke.File_Knob("storage", "results folder"))   # empty: lookgrid/ beside the script
    add(nuke.PyScript_Knob("preview", "Preview frame", "import lookgrid_nuke; lookgrid_nuke.preview_frame()"))
    add(nuke.PyScript_Knob("render", "Render range", "import lookgrid_nuke; lookgrid_nuke.render_range()"))
    add(nuke.PyScript_Knob("bake", "Bake to nodes", "import lookgrid_nuke; lookgrid_nuke.bake_to_nodes()"))
    add(nuke.Int_Knob("chunk", "farm chunk"), 10)
    add(nuke.PyScript_Knob("farm", "Render on farm", "import lookgrid_nuke; lookgrid_nuke.render_on_farm()"))
    add(nuke.Text_Knob("status", "", ""))
    for i in range(1, MAX_REGIONS + 1):
        add(nuke.Tab_Knob(f"region{i}", f"Region {i}"))
        add(nuke.String_Knob(f"r{i}_name", "name"), {1: "subject", MAX_REGIONS: "background"}.get(i, ""))
        mode = add(nuke.Enumeration_Knob(f"r{i}_mask", "mask", MASK_MODES))
        mode.setValue({1: "input", MAX_REGIONS: "background"}.get(i, "off"))
        add(nuke.String_Knob(f"r{i}_channel", "mask channel"), "rgba.alpha")
        for j in range(1, REFERENCES_PER_REGION + 1):
            add(nuke.File_Knob(f"r{i}_ref{j}", f"reference {j}"))
            add(nuke.Double_Knob(f"r{i}_w{j}", f"weight {j}"), 1.0 if j == 1 else 0.0)
        add(nuke.Double_Knob(f"r{i}_strength", "strength"), 1.0)

    with group:
        source = nuke.nodes.Input(name=SOURCE_INPUT)
        for i in range(1, MAX_REGIONS + 1):
            nuke.nodes.Input(name=f"mask{i}")
        nuke.nodes.Read(name=RESULT_READ)
        out = nuke.nodes.Output()
        out.setInput(0, source)
    from lookgrid_nuke.render import fetch_colorspaces

    fetch_colorspaces(group, working)
    return group


# -- reading the node ----------------------------------------------------------------------------

@dataclass
class Reference:
    path: str
    weight: list[tuple[int, float]]          # (frame, value) at every frame, or one sample if not animated


@dataclass
class Region:
    index: int
    name: str
    mode: str                                 # "input" | "channel" | "background"
    channel: str                              # Nuke channel holding the matte in the exchange file
    references: list[Reference]
    strength: list[tuple[int, float]]


@dataclass
class NodeJob:
    """What the node describes, read on the main thread (host values only, no decisions)."""

    node_id: str
    server: str
    launch: str
    method: str
    stride: int
    colorspace: str
    first: int
    last: int
    storage: str
    regions: list[Region] = field(default_factory=list)
    token: str = ""
    tls_cert: str = ""

    @property
    def frames(self) -> list[int]:
        return list(range(self.first, self.last + 1))


def _samples(knob, frames: list[int]) -> list[tuple[int, float]]:
    if knob.isAnimated():
        return [(f, float(knob.valueAt(f))) for f in frames]
    return [(frames[0], float(knob.value()))]


def read_node(group, first: int | None = None, last: int | None = None) -> NodeJob:
    """The node's job for frames ``first``..``last`` (default: its own range knobs)."""
    first = int(group["first"].value()) if first is None else first
    last = int(group["last"].value()) if last is None else last
    if last < first:
        raise NodeSetupError(f"{group.name()}: the last frame ({last}) is before the first ({first})")
    from lookgrid_nuke.prefs import executable, tls_cert, token

    job = NodeJob(node_id=group["node_id"].value().strip(), server=group["server"].value().strip(), launch=executable(),
                  method=group["method"].value(), stride=int(group["stride"].value()),
                  colorspace=group["colorspace"].value().strip(), first=first, last=last,
                  storage=group["storage"].value().strip(), token=token(), tls_cert=tls_cert())
    frames = job.frames
    source = group.input(0)
    if source is None:
        raise NodeSetupError(f"{group.name()}: connect the Source input")
    for i in range(1, MAX_REGIONS + 1):
        mode = group[f"r{i}_mask"].value()
        if mode == "off":
            continue
        name = group[f"r{i}_name"].value().strip()
        if not name:
            raise NodeSetupError(f"{group.name()}: region {i} has no name")
        channel = ""
        if mode == "input":
            if group.input(i) is None:
                raise NodeSetupError(f"{group.name()}: region {name!r} takes its matte from input mask{i}, "
                                     "which is not connected")
            channel = f"{mask_layer(i)}.alpha"
        elif mode == "channel":
            channel = group[f"r{i}_channel"].value().strip()
            if channel not in source.channels():
                raise NodeSetupError(f"{group.name()}: region {name!r}: the Source has no channel {channel!r}")
        refs = []
        for j in range(1, REFERENCES_PER_REGION + 1):
            path = group[f"r{i}_ref{j}"].value().strip()
            if path:
                refs.append(Reference(path, _samples(group[f"r{i}_w{j}"], frames)))
        if not refs:
            raise NodeSetupError(f"{group.name()}: region {name!r} has no reference image")
        job.regions.append(Region(i, name, mode, channel, refs, _samples(group[f"r{i}_strength"], frames)))
    if not job.regions:
        raise NodeSetupError(f"{group.name()}: no region is switched on")
    return job


def node_state(group, first: int, last: int) -> dict:
    """What a render of ``first``..``last`` depends on (main thread): the knobs that change pixels,
    every animated value at every frame, the reference files (size, time) and the inputs' op
    hashes (as Nuke's Write "check file matches input" compares). Its fingerprint says whether a
    result is stale."""
    import os
    from dataclasses import asdict

    job = read_node(group, first, last)
    data = asdict(job)
    for key in ("node_id", "server", "launch", "storage"):
        data.pop(key)
    refs = []
    for region in job.regions:
        for ref in region.references:
            try:
                st = os.stat(ref.path)
                refs.append([ref.path, st.st_size, st.st_mtime_ns])
            except OSError:
                refs.append([ref.path, None, None])
    inputs = []
    for i in range(1 + MAX_REGIONS):
        node = group.input(i)
        inputs.append(None if node is None else list(node.opHashes()))
    return {"job": data, "references": refs, "inputs": inputs}
