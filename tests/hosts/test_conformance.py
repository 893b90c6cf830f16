"""The stand-ins may not invent host API: every public name of fake_nuke / fake_resolve must be
described by the third-party stub packages (types-nuke, fusionscript-stubs) with the same parameters.
A name only a stand-in has is a failure; the few Resolve names the stubs do not describe at all
(fake_resolve._UNDESCRIBED) are reported with their reason and must really be absent from the stubs."""

from __future__ import annotations

import types

import pytest

import fake_nuke
import fake_resolve
from stub_api import check_fake, stub_index

CASES = {"nuke": (fake_nuke, {}), "resolve": (fake_resolve, fake_resolve._UNDESCRIBED)}


@pytest.mark.parametrize("host", sorted(CASES))
def test_every_stand_in_name_is_in_the_stubs_with_its_parameters(host):
    module, undescribed = CASES[host]
    rows = check_fake(stub_index(host), module, host, undescribed)
    assert len(rows) > 20
    problems = [f"{r.fake}: {r.problem}" for r in rows if r.problem]
    assert not problems, "\n".join(problems)
    described = [r for r in rows if r.stub]
    assert all(":" in r.stub for r in described)


def test_the_check_catches_an_invented_call_and_a_changed_signature():
    """The check itself can fail: a made-up method and a wrong parameter list are both reported."""
    fake = types.ModuleType("fake")

    class Knob:
        def valueAt(self, frame):             # stub: Array_Knob has it, Knob has not
            return 0.0

        def value(self, channel=0):           # stub: value(self, index=...)
            return 0.0

    class Node:
        def knobByMagic(self, name):          # no such call in Nuke
            return None

    def execute(node, first, last):          # stub: execute(nameOrNode, start, end, incr=..., ...)
        pass

    for obj in (Knob, Node, execute):
        obj.__module__ = "fake"
        setattr(fake, obj.__name__, obj)
    rows = {r.fake: r for r in check_fake(stub_index("nuke"), fake, "nuke")}
    assert rows["nuke.Knob.valueAt"].problem == "not in the stub package"
    assert "matches no stub signature" in rows["nuke.Knob.value"].problem
    assert rows["nuke.Node.knobByMagic"].problem == "not in the stub package"
    assert "matches no stub signature" in rows["nuke.execute"].problem


def test_resolve_stub_signatures_are_read_with_their_overloads():
    index = stub_index("resolve")
    import_media = index.member("MediaPool", "ImportMedia")
    assert len(import_media) == 2 and {d.signatures[0][1].name for d in import_media} == {"items", "clipInfo"}
    assert index.member("TimelineItem", "GetStart")[0].signatures[0][1].name == "subframe_precision"
    assert "ImportClipInfo" in index.classes and "MediaPoolClipInfo" in index.classes
    assert not index.member("Fusion", "UIManager")


def test_clip_info_dicts_the_plugin_sends_use_the_stub_typeddict_keys(resolve):
    """ImportMedia / AppendToTimeline dict keys are exactly those of the stubs' TypedDicts."""
    import ast
    import inspect

    from lookgrid_resolve import job

    index = stub_index("resolve")
    tree = ast.parse(inspect.getsource(job))
    typed = {name: set(index.classes[name].members) for name in ("ImportClipInfo", "MediaPoolClipInfo")}
    sent = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("ImportMedia", "AppendToTimeline"):
            (arg,) = node.args
            sent[node.func.attr] = {k.value for k in arg.elts[0].keys}
    assert sent["ImportMedia"] == typed["ImportClipInfo"]
    assert sent["AppendToTimeline"] <= typed["MediaPoolClipInfo"]
    assert typed["MediaPoolClipInfo"] - sent["AppendToTimeline"] == {"mediaType"}   # NotRequired there


@pytest.mark.parametrize("host", sorted(CASES))
def test_stand_ins_offer_nothing_the_plugin_or_the_artist_does_not_use(host):
    """Each public stand-in name is used by the plugin's code, or by the tests acting as the artist
    (building the script, keying knobs, reading the timeline back): no spare invented surface."""
    import ast
    from pathlib import Path

    here = Path(__file__).parent
    plugin = here.parents[1] / "plugins" / host
    sources = list(plugin.rglob("*.py")) + [here / f"test_{host}_plugin.py"]
    used = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Subscript) or isinstance(node, ast.With):
                used.update({"__getitem__", "__enter__", "__exit__"})
    used.update({"__call__", "__getattr__"})       # nuke.nodes.<Class>(...)
    module, _ = CASES[host]
    rows = check_fake(stub_index(host), module, host, CASES[host][1])
    unused = sorted(r.fake for r in rows if r.fake.rsplit(".", 1)[1] not in used)
    # the classes a plugin only meets as return values (never names) are not "unused"
    unused = [u for u in unused if u.count(".") > 1 or not u.rsplit(".", 1)[1][0].isupper()]
    assert not unused, unused


def test_node_classes_and_knobs_no_stub_lists_name_their_foundry_page():
    """types-nuke does not list node classes or their knobs: every class the stand-in makes (and so
    every class the plugin can create, ``nuke.nodes.<Class>`` and the bake's plan) and every knob it
    knows are listed with the Foundry reference page that defines them."""
    import ast
    from pathlib import Path

    docs = fake_nuke._NODE_DOCS
    assert set(fake_nuke._NODE_KNOBS) == set(docs)
    for cls, knobs in fake_nuke._NODE_KNOBS.items():
        url, documented = docs[cls]
        assert url.startswith("https://learn.foundry.com/nuke/"), cls
        assert set(knobs) == set(documented), cls
    repo = Path(__file__).resolve().parents[2]
    created = set()
    for path in list((repo / "plugins" / "nuke").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "nodes":
                created.add(node.attr)
    plan = ast.parse((repo / "plugins" / "client" / "lookgrid_client" / "hostbake.py").read_text())
    for node in ast.walk(plan):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PlanNode" and len(node.args) > 1:
            created.add(node.args[1].value)
            if len(node.args) > 2 and isinstance(node.args[2], ast.Dict):
                knobs = {k.value for k in node.args[2].keys}
                assert knobs <= set(docs[node.args[1].value][1]), (node.args[1].value, knobs)
    assert {"OCIOColorSpace", "OCIOFileTransform", "Dissolve", "Keymix", "Read"} <= created
    assert created <= set(docs), created - set(docs)
