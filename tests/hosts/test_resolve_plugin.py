"""The Resolve script end to end: stand-in DaVinciResolveScript, real ``lookgrid serve``, real files.

The colorist's timeline starts at 86400; the plate sequence (files 1001-1006) sits on video track 1
at record frame 86410, trimmed to start at its second file (so files 1002-1006). The graded sequence
must come back into the media pool and onto track 2 at record frame 86410.
"""

from __future__ import annotations

import runpy
from pathlib import Path
import time

import numpy as np
import pytest

import fake_resolve
from hostkit import FIRST, LAST, RESOLVE_PLUGIN, files_under, one_line, read_exr

RECORD = 86410


def _timeline(app, shot, *, file_path=None):
    timeline = app.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    label = file_path or shot.printf(shot.plate).replace("%04d", f"[{FIRST:04d}-{LAST:04d}]")
    clip = fake_resolve.MediaPoolItem("plate", label, "ACEScg")
    timeline._add(fake_resolve.TimelineItem(clip, RECORD, LAST - FIRST, 1, 1))
    timeline._playhead = RECORD + 2
    return timeline


def _form(shot, server, output, **changes):
    from lookgrid_resolve import Form, RegionForm

    regions = [RegionForm("subject", shot.printf(shot.matte), shot.refs[:2], 0.9, f"{RECORD}:0, {RECORD + 4}:1:smooth"),
               RegionForm("background", "", shot.refs[2:])]
    form = Form(regions, server=server, output=str(output))
    for k, v in changes.items():
        setattr(form, k, v)
    return form


def test_render_imports_and_places_the_graded_sequence_at_the_record_frame(resolve, shot, lookgrid_server):
    from lookgrid_resolve import render

    timeline = _timeline(resolve, shot)
    out = lookgrid_server.root / "resolve-out-1"
    seen = []
    placed = render(resolve, _form(shot, lookgrid_server.address, out), progress=lambda d, t: seen.append((d, t)))
    files = list(range(FIRST + 1, LAST + 1))
    assert seen[-1] == (len(files), len(files))
    assert fake_resolve._state.imports == [{"FilePath": placed.pattern, "StartIndex": files[0], "EndIndex": files[-1]}]
    assert fake_resolve._state.placements == [{"startFrame": 0, "endFrame": len(files) - 1, "trackIndex": 2,
                                               "recordFrame": RECORD}]
    (item,) = timeline.GetItemListInTrack("video", 2)
    assert item.GetStart(False) == RECORD and item.GetDuration(False) == len(files)
    assert item.GetMediaPoolItem().GetClipProperty("File Path").endswith(f"[{files[0]:04d}-{files[-1]:04d}].exr")
    assert files_under(out) == sorted(p.split("/")[-1] for p in (placed.pattern % f for f in files))
    graded = read_exr(placed.pattern % files[0])[0][..., :3]
    source = read_exr(shot.plate.replace("####", f"{files[0]:04d}"))[0][..., :3]
    assert graded.shape == source.shape and np.abs(graded - source).mean() > 1e-3


def test_the_mix_can_be_keyed_by_timeline_markers(resolve, shot, lookgrid_server):
    from lookgrid_resolve import render
    from lookgrid_resolve.job import marker_mix

    timeline = _timeline(resolve, shot)
    for offset, note in ((10, "0"), (14, "1:smooth"), (30, "0.5")):      # 30 is another region's
        timeline.AddMarker(offset, "Blue", "LookGrid subject" if offset < 30 else "LookGrid sky", note, 1, "")
    form = _form(shot, lookgrid_server.address, lookgrid_server.root / "resolve-out-m")
    form.regions[0].mix = "markers"
    seen = {}
    placed = render(resolve, form, progress=lambda d, t: seen.setdefault("t", t))
    assert placed.record_frame == RECORD and seen["t"] == LAST - FIRST
    assert marker_mix(timeline, "subject") == f"{RECORD}:0, {RECORD + 4}:1:smooth"
    assert form.regions[0].mix == "markers"         # the caller's form is left as it was
    form.regions[0].name = "car"
    with pytest.raises(Exception, match="no timeline marker is named 'LookGrid car'"):
        render(resolve, form)


def test_the_utility_script_dialog_renders_and_reports(resolve, shot, lookgrid_server):
    """LookGrid.py as Resolve runs it (resolve, fusion, bmd given), driven through its dialog."""
    _timeline(resolve, shot)
    out = lookgrid_server.root / "resolve-out-2"
    values = {"server": lookgrid_server.address, "output": str(out), "r1_name": "subject",
              "r1_mask": shot.printf(shot.matte), "r1_refs": ", ".join(shot.refs[:2]), "r1_strength": "0.8",
              "r1_mix": f"{RECORD}:0,{RECORD + 4}:1", "r2_name": "", "r3_name": "background", "r3_refs": shot.refs[2]}

    def fill(win):
        for k, v in values.items():
            win.Find(k).Text = v

    def wait(win):
        fake_resolve._tick(lambda: win.Find("status").Text.startswith(("placed", "LookGrid", "render cancelled")))

    def pick_colour_space(win):   # item 3: the choices are the server's colour spaces
        win._fire("list_spaces", "Clicked")
        fake_resolve._tick(lambda: win.Find("status").Text.endswith("colour spaces from the server"))
        box = win.Find("colorspace")
        assert "ACEScg" in box._items and "Linear Rec.2020" in box._items and len(box._items) > 20
        box.CurrentText = "ACEScg"

    fake_resolve._state.ui_script = [fill, pick_colour_space, lambda w: w._fire("render", "Clicked"), wait,
                                     lambda w: w._fire("LookGrid", "Close")]
    runpy.run_path(str(RESOLVE_PLUGIN / "LookGrid.py"),
                   init_globals={"resolve": resolve, "fusion": resolve.Fusion(), "bmd": fake_resolve})
    status = fake_resolve._state.windows[-1].Find("status").Text
    assert status.startswith(f"placed {FIRST + 1}-{LAST} on video track 2 at record frame {RECORD} (ACEScg); "
                             f"rendered on the LookGrid server at {lookgrid_server.address}"), status
    assert fake_resolve._state.off_thread == []           # item 5: Resolve and the UI on the UI thread only
    shown = fake_resolve._state.windows[-1].Find("status")._history
    assert any(t.startswith("rendering: frame") for t in shown), shown        # item 11: phases
    assert len(fake_resolve._state.placements) == 1


def test_cancel_leaves_nothing_behind(resolve, shot, lookgrid_server):
    from lookgrid_client import RenderCancelledError
    from lookgrid_resolve import render

    _timeline(resolve, shot)
    out = lookgrid_server.root / "resolve-out-3"
    done = []
    with pytest.raises(RenderCancelledError):
        render(resolve, _form(shot, lookgrid_server.address, out), progress=lambda d, t: done.append(d),
               cancel=lambda: len(done) >= 1)
    time.sleep(1.0)   # nothing may appear later either (the server's frame in flight)
    assert files_under(out) == [] and fake_resolve._state.imports == []


@pytest.mark.parametrize("case", ["server down", "missing masks", "unknown colour space", "not a sequence",
                                  "bad mix key", "place taken"])
def test_errors_are_one_clear_line_and_leave_nothing(resolve, shot, lookgrid_server, case, monkeypatch):
    from lookgrid_client import LookGridError
    from lookgrid_resolve import FormError, ShotError, job, render

    monkeypatch.setattr(job, "CONNECT_TIMEOUT", 1.0)   # the script waits 10 s for a server to answer

    timeline = _timeline(resolve, shot, file_path="/media/plate.mov" if case == "not a sequence" else None)
    out = lookgrid_server.root / f"resolve-out-{case.replace(' ', '-')}"
    form = _form(shot, lookgrid_server.address, out)
    if case == "server down":
        form.server = "127.0.0.1:9"
    elif case == "missing masks":
        form.regions[0].mask = str(shot.folder / "no_such_matte.%04d.exr")
    elif case == "unknown colour space":
        form.colorspace = "No Such Space"
    elif case == "bad mix key":
        form.regions[0].mix = "86410:zero"
    elif case == "place taken":
        timeline.AddTrack("video", "mono")
        timeline._add(fake_resolve.TimelineItem(fake_resolve.MediaPoolItem("x", "/x.[1-9].exr"), RECORD + 3, 2, 0, 2))
    with pytest.raises((LookGridError, ShotError, FormError)) as info:
        render(resolve, form)
    message = str(info.value)
    expect = {"server down": "127.0.0.1:9", "missing masks": "no_such_matte", "unknown colour space": "No Such Space",
              "not a sequence": "to EXR failed", "bad mix key": "86410:zero", "place taken": "removed again"}[case]
    assert one_line(message) and expect in message, message
    assert not out.exists() or files_under(out) == []
    assert fake_resolve._state.placements == []
    if case == "place taken":     # the import was undone too
        assert resolve.GetProjectManager().GetCurrentProject().GetMediaPool()._clips == []


def test_run_outside_resolve_uses_the_scripting_module(resolve, shot):
    """Without Resolve's globals the script asks DaVinciResolveScript for the app and for bmd."""
    _timeline(resolve, shot)
    fake_resolve._state.ui_script = [lambda w: w._fire("LookGrid", "Close")]
    runpy.run_path(str(RESOLVE_PLUGIN / "LookGrid.py"), run_name="__main__")
    (win,) = fake_resolve._state.windows
    assert not win._shown and win.Find("server").Text == "127.0.0.1:50051"


def test_sequence_paths_and_typed_keys_map_record_frames_to_file_frames(resolve):
    from lookgrid_resolve.job import FormError, parse_keys
    from lookgrid_resolve.shot import Shot, ShotError, sequence_pattern

    # Resolve's own renders number frames with 8 digits
    assert sequence_pattern("/r/A001.[00086400-00086523].exr") == ("/r/A001.%08d.exr", 8, 86400, 86523)
    assert sequence_pattern("/r/plate_[1001-1100]_v2.exr") == ("/r/plate_%04d_v2.exr", 4, 1001, 1100)
    with pytest.raises(ShotError):
        sequence_pattern("/r/clip.mov")
    shot = Shot("p", "/p.%04d.exr", 4, 1002, 1006, 86410, 86414, 1)
    assert parse_keys("86410:0, 86414:1:smooth", shot, "mix") == [
        {"frame": 1002, "value": 0.0, "interpolation": "LINEAR"},
        {"frame": 1006, "value": 1.0, "interpolation": "SMOOTH"}]
    for bad in ("86409:0", "86410:1:bouncy", "86410"):
        with pytest.raises(FormError):
            parse_keys(bad, shot, "mix")


@pytest.mark.parametrize("cdl_only", [False, True], ids=["lut", "cdl"])
def test_apply_as_grade_adds_a_version_sets_the_looks_and_the_mattes_and_names_what_is_left(
        resolve, shot, lookgrid_server, cdl_only):
    """Issue 26: a new local version named after the look; per region the .cube on its node (or the
    CDL), the matte sequence added to the clip; one line says what the API cannot do."""
    from lookgrid_resolve import apply_grade

    timeline = _timeline(resolve, shot)
    out = lookgrid_server.root / f"resolve-grade-{int(cdl_only)}"
    fake_resolve._state.lut_roots = [str(out)]
    graded = apply_grade(resolve, _form(shot, lookgrid_server.address, out), cdl_only=cdl_only)
    item = timeline.GetCurrentVideoItem()
    assert item._versions == [(graded.version, 0)] and graded.version == "LookGrid plate"
    graph = item.GetNodeGraph(1)
    if cdl_only:
        assert set(graph._cdl) == {1, 2} and graph._luts == {}
        assert all(len(c["Slope"].split()) == 3 for c in graph._cdl.values())
    else:
        assert [Path(graph._luts[k]).name for k in (1, 2)] == ["subject.cube", "background.cube"]
        assert "ACEScct" in Path(graph._luts[1]).read_text().splitlines()[0]
    mattes = item.GetMediaPoolItem()._mattes
    files = list(range(FIRST + 1, LAST + 1))
    assert [Path(m[0]).name for m in mattes] == [f"subject.matte.{files[0]:04d}.exr", f"background.matte.{files[0]:04d}.exr"]
    assert all(len(m) == len(files) for m in mattes)
    message = graded.message
    assert one_line(message) and "cannot create nodes, wire a matte into a key input or keyframe" in message
    assert "node 1 ← subject.matte" in message and "node 2 ← background.matte" in message and "ACEScct" in message
    assert fake_resolve._state.imports == [] and fake_resolve._state.placements == []     # no new media


def test_apply_as_grade_with_too_few_nodes_names_the_nodes_to_add(resolve, shot, lookgrid_server):
    from lookgrid_resolve import apply_grade

    _timeline(resolve, shot)
    fake_resolve._state.node_count = 1
    out = lookgrid_server.root / "resolve-grade-1node"
    fake_resolve._state.lut_roots = [str(out)]
    graded = apply_grade(resolve, _form(shot, lookgrid_server.address, out))
    assert graded.applied == [1]
    assert "only 1 node(s): add serial node(s) 2 for background (background.cube)" in graded.message
