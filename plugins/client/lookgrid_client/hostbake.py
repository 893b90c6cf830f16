"""The look as native nodes (issue 26): what a host builds from an ``ExportLook`` reply with ``bake``.

Every decision is here, host-independent; the host plugins only create what a plan names.

**Nuke** (:func:`nuke_plan`): per frame the graph computes exactly what the export measured as the
bake's fidelity (``RegionBake.fidelity``): the plate to ACEScct (``OCIOColorSpace``); per region and
reference an ``OCIOFileTransform`` of the reference's ACEScct CLF; the references dissolved with the
weight curves (``Dissolve``, ``which`` keyed at every frame: reference j's share of the first j);
strength as a mix toward the input (``Dissolve`` between the plate and the mix, ``which`` = strength ·
Σ weights); a ``Keymix`` chain in region order, each masked by a ``Read`` of the region's key matte
(``R.key.####.exr``: the render's blend weights made into chain masks, so soft and overlapping
mattes come out as the render blends them); back to the shot's colour space. A region's LUT is
linear in its grid, the render blends the references' grids linearly with the weight curves and the
guide does not depend on the style, so dissolving the references' LUTs with the same curves gives
the LUT of the blended grid: keyed transitions and strength curves add no error of their own.

**Resolve** (:func:`resolve_plan`): its scripting API cannot create nodes, wire a matte into a key
input or keyframe; the plan says which LUT goes on which existing node and what is left to wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lookgrid_client.errors import InvalidRequestError

WORKING = "ACEScct"  # the space every exported LUT takes and gives
PLATE = ""  # the plan's name for the graph's input (the plate)


@dataclass
class PlanNode:
    """One node: ``cls`` (the host's class), static ``knobs``, ``inputs`` (input index -> the name
    of another plan node, :data:`PLATE` for the plate) and ``keys`` (knob -> a (frame, value) key
    per frame)."""

    name: str
    cls: str
    knobs: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)


@dataclass
class NukePlan:
    nodes: list[PlanNode]
    output: str  # the node whose output is the graded plate
    status: str  # one line: how close the bake comes to LookGrid's render


def check_shared(folder: str, roots) -> None:
    """A bake exports on the server's storage: ``folder`` (where the plate is written and the look
    files land) must lie under one of the server's roots, else one line saying so."""
    p = Path(folder).resolve()
    if not any(p == Path(r).resolve() or Path(r).resolve() in p.parents for r in roots):
        raise InvalidRequestError(
            f"Bake to nodes needs the results folder under one of the server's --root "
            f"folders ({', '.join(roots) or 'it has none'}): the export reads the plate "
            "and writes the look files there"
        )


def frame_pattern(printf: str, padding: str = "####") -> str:
    """``/looks/fg.key.%04d.exr`` -> ``/looks/fg.key.####.exr`` (Nuke's reading of 4 digits)."""
    return printf.replace("%04d", padding)


def _animated(values: list[tuple[int, float]]):
    """A static value when every frame has the same one, else the keys."""
    if len({round(v, 12) for _, v in values}) <= 1:
        return values[0][1] if values else 0.0, None
    return None, values


def fidelity_line(result) -> str:
    """``baked: ΔE2000 mean/p95 inside each matte — fg 0.42/1.10, background 0.31/0.80`` (the bake's
    own figures from the reply, measured by the export)."""
    parts = []
    for r in result.regions:
        f = r.bake.fidelity if r.HasField("bake") else r.fidelity
        parts.append(f"{r.name} {f.mean_delta_e:.2f}/{f.p95_delta_e:.2f}" if f.pixels else f"{r.name} n/a")
    return "ΔE2000 mean/p95 vs LookGrid's render inside each matte: " + ", ".join(parts)


def nuke_plan(result, shot_space: str) -> NukePlan:
    """The Nuke graph of an ``ExportLookResult`` made with ``bake`` (every region, in region order)."""
    missing = [r.name for r in result.regions if not r.HasField("bake")]
    if missing:
        raise ValueError(f"the export has no bake for region(s) {', '.join(missing)} (ExportLook with bake)")
    nodes = [
        PlanNode("to_acescct", "OCIOColorSpace", {"in_colorspace": shot_space, "out_colorspace": WORKING}, {0: PLATE})
    ]
    previous = "to_acescct"
    for r in result.regions:
        b = r.bake
        frames = [m.frame for m in b.mix]
        refs = []
        for i, path in enumerate(b.reference_clf_paths):
            name = f"{r.name}_ref{i + 1}"
            nodes.append(
                PlanNode(name, "OCIOFileTransform", {"file": path, "interpolation": "tetrahedral"}, {0: "to_acescct"})
            )
            refs.append(name)
        look = "to_acescct"
        if refs:
            mixed = refs[0]
            for j in range(1, len(refs)):
                share = []
                for m in b.mix:
                    upto = sum(m.weights[: j + 1])
                    share.append((m.frame, m.weights[j] / upto if upto > 0 else 0.0))
                node = PlanNode(f"{r.name}_mix{j + 1}", "Dissolve", inputs={0: mixed, 1: refs[j]})
                _set(node, "which", share)
                nodes.append(node)
                mixed = node.name
            strength = PlanNode(f"{r.name}_strength", "Dissolve", inputs={0: "to_acescct", 1: mixed})
            _set(strength, "which", [(m.frame, m.strength * sum(m.weights)) for m in b.mix])
            nodes.append(strength)
            look = strength.name
        key = PlanNode(
            f"{r.name}_key", "Read", {"file": frame_pattern(b.key_pattern), "first": frames[0], "last": frames[-1]}
        )
        nodes.append(key)
        nodes.append(PlanNode(f"{r.name}_keymix", "Keymix", inputs={0: previous, 1: look, 2: key.name}))
        previous = f"{r.name}_keymix"
    nodes.append(
        PlanNode("to_shot", "OCIOColorSpace", {"in_colorspace": WORKING, "out_colorspace": shot_space}, {0: previous})
    )
    return NukePlan(nodes, "to_shot", fidelity_line(result))


def _set(node: PlanNode, knob: str, values: list[tuple[int, float]]) -> None:
    static, keys = _animated(values)
    if keys is None:
        node.knobs[knob] = static
    else:
        node.keys[knob] = keys


# -- Resolve -----------------------------------------------------------------------------------------


@dataclass
class ResolveNodeLook:
    node: int  # 1-based index in the clip's node graph
    region: str
    lut: str  # the region's shot look as a .cube (ACEScct in and out)
    cdl: dict  # the CDL map for TimelineItem.SetCDL (NodeIndex, Slope, Offset, Power, Saturation)
    mattes: list[str]  # the region's matte frames, in the shot's order


@dataclass
class ResolvePlan:
    version: str  # the new local colour version's name
    nodes: list[ResolveNodeLook]
    ranges: list[str]  # per-range looks when the look changes within the shot ("" otherwise)


def read_cdl(path: str) -> dict:
    """Slope, Offset, Power (three numbers each, as text) and Saturation of an ASC CDL ``.cc``."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    values = {}
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("Slope", "Offset", "Power", "Saturation") and el.text:
            values[tag] = " ".join(el.text.split())
    missing = {"Slope", "Offset", "Power", "Saturation"} - set(values)
    if missing:
        raise InvalidRequestError(f"{path}: the CDL has no {', '.join(sorted(missing))}")
    return values


def resolve_plan(result, look_name: str, frames: list[int]) -> ResolvePlan:
    """Which look goes on which node of the clip's graph (region order: node 1 is the first region)."""
    nodes = []
    for k, r in enumerate(result.regions, 1):
        if not r.cube_path or not r.cdl_path:
            raise InvalidRequestError(f"region {r.name}: the export has no .cube or .cc (formats cube and cdl)")
        cdl = dict(read_cdl(r.cdl_path), NodeIndex=k)
        nodes.append(ResolveNodeLook(k, r.name, r.cube_path, cdl, [r.matte_pattern % f for f in frames]))
    ranges = []
    for r in result.regions:
        segs = r.bake.segments if r.HasField("bake") else []
        if len(segs) > 1:
            ranges.append(f"{r.name}: " + ", ".join(f"{s.first}-{s.last} {Path(s.cube_path).name}" for s in segs))
    return ResolvePlan(f"LookGrid {look_name}", nodes, ranges)


def resolve_message(plan: ResolvePlan, node_count: int, applied: list[int], cdl_only: bool) -> str:
    """One line: what was applied, and what Resolve's API cannot do that the colorist must."""
    what = "CDLs" if cdl_only else "LUTs"
    done = ", ".join(f"{n.node} ({n.region})" for n in plan.nodes if n.node in applied)
    missing = [n for n in plan.nodes if n.node not in applied]
    parts = [f"version '{plan.version}': {what} on nodes {done or 'none'}, mattes in the media pool"]
    if missing:
        parts.append(
            f"only {node_count} node(s): add serial node(s) "
            + ", ".join(f"{n.node} for {n.region} ({Path(n.lut).name})" for n in missing)
        )
    parts.append(
        "by hand (the API cannot create nodes, wire a matte into a key input or keyframe): nodes in "
        "ACEScct, external mattes " + ", ".join(f"node {n.node} ← {n.region}.matte" for n in plan.nodes)
    )
    if plan.ranges:
        parts.append("keyframe per range: " + "; ".join(plan.ranges))
    return "; ".join(parts)
