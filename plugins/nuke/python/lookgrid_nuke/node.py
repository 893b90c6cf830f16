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


def create_node():
    """Build a LookGrid Group in the current script (the Nodes toolbar command)."""
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
    add(nuke.String_Knob("server", "server"), "127.0.0.1:50051")
    add(nuke.File_Knob("launch", "start server"))       # a `lookgrid` executable, used when none answers
    add(nuke.String_Knob("token", "token"))               # empty: $LOOKGRID_TOKEN (a started server shares it)
    add(nuke.File_Knob("tls_cert", "TLS certificate"))   # the server's PEM certificate: connect with TLS
    add(nuke.Enumeration_Knob("method", "method", METHODS))
    add(nuke.Int_Knob("stride", "grid stride"), 1)
    add(nuke.String_Knob("colorspace", "colour space"), "ACEScg")
    add(nuke.Int_Knob("first", "first frame"), root.firstFrame())
    add(nuke.Int_Knob("last", "last frame"), root.lastFrame())
    add(nuke.File_Knob("storage", "exchange folder"))   # empty: a folder under the system temp dir
    add(nuke.PyScript_Knob("preview", "Preview frame", "import lookgrid_nuke; lookgrid_nuke.preview_frame()"))
    add(nuke.PyScript_Knob("render", "Render range", "import lookgrid_nuke; lookgrid_nuke.render_range()"))
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
    job = NodeJob(server=group["server"].value().strip(), launch=group["launch"].value().strip(),
                  method=group["method"].value(), stride=int(group["stride"].value()),
                  colorspace=group["colorspace"].value().strip(), first=first, last=last,
                  storage=group["storage"].value().strip(), token=group["token"].value().strip(),
                  tls_cert=group["tls_cert"].value().strip())
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
