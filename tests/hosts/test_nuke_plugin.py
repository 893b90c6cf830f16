"""The Nuke plugin end to end: stand-in nuke, real ``lookgrid serve``, real EXR files.

The artist's side (building the script, keying knobs, pressing buttons) uses only calls the stubs
describe; the test then runs Nuke's main-thread queue until the worker has finished.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hostkit import FIRST, LAST, files_under, one_line, read_exr


def _script(nuke, shot, server_address, storage, *, mask_mode="input"):
    """Read (plate) and Read (matte) into a LookGrid node from the toolbar, with a keyed transition
    from the warm to the cool reference on the subject and the green one on the background.
    ``storage`` None: the default results folder (beside the saved script)."""
    from lookgrid_nuke import render

    plate = nuke.nodes.Read(file=shot.plate)
    matte = nuke.nodes.Read(file=shot.matte)
    exec(nuke.menu("Nodes")._commands["LookGrid/LookGrid"], {})
    lg = [n for n in nuke.root().nodes() if n.Class() == "Group"][-1]
    lg.setInput(0, plate)
    lg.setInput(1, matte)
    lg["server"].setValue(server_address)       # knobChanged: the colour-space menu is fetched again
    fetch = getattr(render, "_colorspace_jobs", {}).get(lg.knobs()["node_id"].value() if "node_id" in lg.knobs() else "")
    if fetch is not None:
        nuke._process_main_thread(until=lambda: fetch.done and nuke._state.main_queue.empty(), timeout=60)
    if storage is not None:
        lg["storage"].setValue(str(storage))
    lg["r1_mask"].setValue(mask_mode)
    lg["r1_channel"].setValue("person.a")
    lg["r1_ref1"].setValue(shot.refs[0])
    lg["r1_ref2"].setValue(shot.refs[1])
    lg["r1_w1"].setValueAt(1.0, FIRST)
    lg["r1_w1"].setValueAt(0.0, LAST)
    lg["r1_w2"].setExpression(f"(frame - {FIRST}) / {LAST - FIRST}")   # expression-driven: exact per frame
    lg["r1_strength"].setValue(0.9)
    lg["r3_ref1"].setValue(shot.refs[2])
    return lg


def _run(nuke, job):
    """Run Nuke's main thread until the render's HostJob is done and its last UI call has run."""
    assert job is not None, nuke._state.messages
    nuke._process_main_thread(until=lambda: job.done, timeout=300)
    return job


_CLI_RUNS: dict[str, str] = {}


def _cli_render(spec_sent, shot, out_folder):
    """``lookgrid render --spec`` of the spec the node sent, reading the same plate, matte and photos
    (run once per distinct job: the inline and by-path renders send the same one)."""
    spec = json.loads(json.dumps(spec_sent))
    spec.pop("input", None)
    spec.pop("output", None)
    for region in spec["regions"]:
        region.pop("mask", None)
    key = json.dumps(spec, sort_keys=True)
    if key in _CLI_RUNS:
        return _CLI_RUNS[key]
    spec["input"] = shot.plate
    spec["output"] = str(out_folder / "cli.####.exr")
    spec["regions"][0]["mask"] = shot.matte
    spec["regions"][0]["maskChannel"] = "A"
    refs = {0: shot.refs[:2], 1: shot.refs[2:]}
    for i, region in enumerate(spec["regions"]):
        for style, path in zip(region["styles"], refs[i]):
            style["style"] = path
    path = out_folder / "spec.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, "-m", "lookgrid.cli", "render", "--spec", str(path), "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _CLI_RUNS[key] = str(out_folder / "cli.{:04d}.exr")
    return _CLI_RUNS[key]


def _node_output(nuke, lg, frame):
    img = lg._image(frame)
    return np.stack([img["rgba.red"], img["rgba.green"], img["rgba.blue"]], axis=2)


@pytest.mark.parametrize("by_path", [False, True], ids=["inline", "by-path"])
def test_render_range_equals_lookgrid_render_of_the_same_spec(nuke, shot, lookgrid_server, tmp_path, by_path):
    import lookgrid_nuke

    storage = (lookgrid_server.root if by_path else tmp_path) / f"exchange-{tmp_path.name}"
    lg = _script(nuke, shot, lookgrid_server.address, storage)
    job = _run(nuke, lookgrid_nuke.render_range(lg))
    assert job.error is None, job.error_line()
    sent = job.result()
    assert ("input" in sent) == by_path
    weights = [s["weight"]["keys"] for s in sent["regions"][0]["styles"]]
    # the smooth keyed curve is sampled at every frame; the linear expression needs only its ends
    assert [k["frame"] for k in weights[0]] == list(range(FIRST, LAST + 1))
    assert weights[0][2]["value"] == pytest.approx(1 - (3 * 0.4 ** 2 - 2 * 0.4 ** 3))
    assert [(k["frame"], k["value"]) for k in weights[1]] == [(FIRST, 0.0), (LAST, 1.0)]
    assert [k["value"] for k in sent["regions"][0]["strength"]["keys"]] == [pytest.approx(0.9)]   # not animated
    # the node's output is the graded plate, read back through its internal Read
    read = lg.node("LookGridResult")
    assert [n for n in lg.nodes() if n.Class() == "Output"][0].input(0) is read
    cli = _cli_render(sent, shot, tmp_path)
    plate0 = read_exr(shot.plate.replace("####", f"{FIRST:04d}"))[0][..., :3]
    for f in range(FIRST, LAST + 1):
        ours = _node_output(nuke, lg, f)
        theirs = read_exr(cli.format(f))[0][..., :3]
        np.testing.assert_allclose(ours, theirs, rtol=2 ** -10, atol=2 ** -12)
    assert np.abs(_node_output(nuke, lg, FIRST) - plate0).mean() > 1e-3                # it did grade
    first, last = _node_output(nuke, lg, FIRST), _node_output(nuke, lg, LAST)
    assert np.abs(first - last).mean() > 1e-3                                          # the transition shows
    # UI changes came through executeInMainThread from the worker, never from the main thread
    assert nuke._state.main_calls and all(t.startswith("lookgrid-") for _, t in nuke._state.main_calls)
    folder = f"untitled/{lg['node_id'].value()}"      # the script is not saved; a results folder was chosen
    assert files_under(storage) == [f"{folder}/{Path(read['file'].value()).name.replace('####', f'{f:04d}')}"
                                    for f in range(FIRST, LAST + 1)]
    assert Path(read["file"].value()).name.startswith("render.")


def test_channel_mask_and_preview_frame(nuke, shot, lookgrid_server, tmp_path):
    """A matte taken from a layer of the Source stream; Preview renders just the current frame."""
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x", mask_mode="channel")
    nuke.frame(1003)
    job = _run(nuke, lookgrid_nuke.preview_frame(lg))
    assert job.error is None, job.error_line()
    assert job.result()["frames"] == "1003-1003"
    assert job.result()["regions"][0]["maskChannel"] == "person.a"
    read = lg.node("LookGridResult")
    assert read["first"].value() == read["last"].value() == 1003
    assert np.isfinite(_node_output(nuke, lg, 1003)).all()


@pytest.mark.parametrize("by_path", [False, True], ids=["inline", "by-path"])
def test_cancel_leaves_nothing_behind_and_keeps_the_previous_output(nuke, shot, lookgrid_server, tmp_path, by_path):
    import lookgrid_nuke

    storage = (lookgrid_server.root / f"cancel-{tmp_path.name}") if by_path else tmp_path / "x"
    lg = _script(nuke, shot, lookgrid_server.address, storage)
    out = [n for n in lg.nodes() if n.Class() == "Output"][0]
    before = out.input(0)
    nuke._state.cancel_at_progress = 1
    job = _run(nuke, lookgrid_nuke.render_range(lg))
    assert type(job.error).__name__ == "RenderCancelledError"
    time.sleep(1.0)   # nothing may appear later either (a frame the server still had in flight)
    assert not storage.exists() or files_under(storage) == []
    assert out.input(0) is before and lg["status"].value() == "render cancelled"
    assert nuke._state.messages == []


@pytest.mark.parametrize("case", ["server down", "missing mask", "unknown colour space", "launch fails",
                                  "missing reference"])
def test_errors_are_one_readable_line(nuke, shot, lookgrid_server, tmp_path, case, monkeypatch):
    import lookgrid_nuke
    from lookgrid_nuke import render

    monkeypatch.setattr(render, "CONNECT_TIMEOUT", 1.0)   # the plugin waits 10 s for a server to answer

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    if case == "server down":
        lg["server"].setValue("127.0.0.1:9")
    elif case == "missing mask":
        lg.setInput(1, None)
    elif case == "unknown colour space":     # a menu saved with another server's colour spaces
        lg["colorspace"].setValues(["No Such Space"])
        lg["colorspace"].setValue("No Such Space")
    elif case == "launch fails":
        lg["server"].setValue("127.0.0.1:9")
        nuke.toNode("preferences")["lookgrid_executable"].setValue(str(tmp_path / "no-such-lookgrid"))
    else:
        lg["r1_ref2"].setValue(str(tmp_path / "no-such-photo.jpg"))
    job = lookgrid_nuke.render_range(lg)
    if job is not None:
        _run(nuke, job)
    (message,) = nuke._state.messages
    assert message.startswith("LookGrid: ") and one_line(message), message
    expect = {"server down": "127.0.0.1:9", "missing mask": "mask1", "unknown colour space": "No Such Space",
              "launch fails": "no-such-lookgrid", "missing reference": "no-such-photo.jpg does not exist"}[case]
    assert expect in message
    assert files_under(tmp_path / "x") == []
    assert lg.node("LookGridResult")["file"].value() == ""


def test_launches_a_server_when_none_answers(nuke, shot, lookgrid_server, tmp_path):
    """With a `lookgrid` executable in the preferences, the node starts one (and the client stops
    it). A script cannot name a program to start: the node has no such knob."""
    import lookgrid_nuke

    lg = _script(nuke, shot, "127.0.0.1:9", tmp_path / "x")
    assert not {"launch", "lookgrid_executable"} & set(lg.knobs())
    nuke.toNode("preferences")["lookgrid_executable"].setValue(lookgrid_server.launch)
    lg["last"].setValue(FIRST + 1)
    job = _run(nuke, lookgrid_nuke.render_range(lg))
    assert job.error is None, job.error_line()
    assert job.result()["frames"] == f"{FIRST}-{FIRST + 1}"


def test_the_render_button_runs_on_this_node(nuke, shot, lookgrid_server, tmp_path):
    """Pressing "Render range" runs the knob's command with nuke.thisNode() = the LookGrid node."""
    from lookgrid_nuke import render

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    lg["last"].setValue(FIRST)
    lg["render"]._press()
    job = _run(nuke, render._active[lg["node_id"].value()])
    assert job.error is None, job.error_line()
    # issue 24 items 8 and 11: which server rendered, and the phases on the progress bar
    assert lg["status"].value() == f"rendered {FIRST}-{FIRST} on the LookGrid server at {lookgrid_server.address}"
    messages = nuke._state.progress_tasks[-1]._messages
    assert any(m.startswith("uploading references") for m in messages), messages
    assert f"rendering: frame 1 of 1" in messages, messages
    assert lg.node("LookGridResult")["file"].value().endswith(".####.exr")


def test_exr_channel_names_follow_nukes_writer(nuke):
    from lookgrid_nuke.node import exr_channel

    assert [exr_channel(c) for c in ("rgba.red", "rgba.alpha", "person.a", "lookgrid_mask1.alpha", "depth.Z")] == \
        ["R", "A", "person.a", "lookgrid_mask1.A", "depth.Z"]


def test_a_token_in_the_environment_with_a_started_server(nuke, shot, lookgrid_server, tmp_path, monkeypatch):
    """Issue 24 items 7 and 8: LOOKGRID_TOKEN set and no server at the node's address: the server the
    node starts shares the client's token, and the status line says it rendered there. A token the
    server does not know, set in the preferences, is refused in one line."""
    from lookgrid_client.launch import free_port
    from lookgrid_nuke import render

    monkeypatch.setenv("LOOKGRID_TOKEN", "nuke-token")
    asked = f"127.0.0.1:{free_port()}"
    lg = _script(nuke, shot, asked, tmp_path / "x")
    nuke.toNode("preferences")["lookgrid_executable"].setValue(lookgrid_server.launch)
    lg["last"].setValue(FIRST)
    job = _run(nuke, render.render_range(lg))
    assert job.error is None, job.error_line()
    assert lg["status"].value().startswith(f"rendered {FIRST}-{FIRST} on a LookGrid server started on this machine")
    assert f"nothing answered at {asked}" in lg["status"].value()
    nuke.toNode("preferences")["lookgrid_token"].setValue("not-the-token")
    lg["server"].setValue(lookgrid_server.address)          # a server without a token takes any (loopback)
    job = _run(nuke, render.render_range(lg))
    assert job.error is None, job.error_line()


# -- first real use (issue 25): results beside the script, keyed by the node's id --------------------

def _new_session(nuke):
    """Quit Nuke and start it again (a fresh session, the plugin installed by init.py and menu.py)."""
    import runpy

    from hostkit import NUKE_PLUGIN

    nuke._reset(FIRST, LAST, keep_preferences=True)
    runpy.run_path(str(NUKE_PLUGIN / "init.py"))
    runpy.run_path(str(NUKE_PLUGIN / "menu.py"))


def _lookgrid_nodes(nuke):
    return [n for n in nuke.root().nodes() if n.Class() == "Group" and n.node("LookGridResult") is not None]


def test_a_preview_after_a_render_keeps_the_render(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    lg["last"].setValue(FIRST + 2)
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    rendered = files_under(tmp_path / "x")
    assert len(rendered) == 3 and all("/render." in f for f in rendered)
    nuke.frame(FIRST + 1)
    assert _run(nuke, lookgrid_nuke.preview_frame(lg)).error is None
    after = files_under(tmp_path / "x")
    assert [f for f in after if "/render." in f] == rendered, "a preview must never delete a render"
    assert len([f for f in after if "/preview." in f]) == 1
    nuke.frame(FIRST + 2)
    assert _run(nuke, lookgrid_nuke.preview_frame(lg)).error is None   # a new preview replaces the old one
    after = files_under(tmp_path / "x")
    assert [f for f in after if "/render." in f] == rendered and len([f for f in after if "/preview." in f]) == 1
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None    # a new render replaces both
    assert len(files_under(tmp_path / "x")) == 3 and files_under(tmp_path / "x") != rendered


def test_results_live_beside_the_script_and_survive_save_reopen_and_a_move(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    project = tmp_path / "project"
    project.mkdir()
    nuke.scriptSaveAs(str(project / "shot010.nk"))
    lg = _script(nuke, shot, lookgrid_server.address, None)
    lg["last"].setValue(FIRST + 1)
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    node_id = lg["node_id"].value()
    assert files_under(project / "lookgrid") == [f"shot010/{node_id}/{Path(lg.node('LookGridResult')['file'].value()).name.replace('####', f'{f:04d}')}"
                                                 for f in (FIRST, FIRST + 1)]
    assert lg.node("LookGridResult")["file"].value().startswith("[file dirname [value root.name]]/lookgrid/shot010/")
    before = _node_output(nuke, lg, FIRST + 1)
    nuke.scriptSaveAs(str(project / "shot010.nk"))
    moved = tmp_path / "elsewhere"
    (project).rename(moved)                      # the project folder moves (another mount, another machine)
    _new_session(nuke)
    nuke.scriptOpen(str(moved / "shot010.nk"))
    (lg,) = _lookgrid_nodes(nuke)
    assert lg["node_id"].value() == node_id
    np.testing.assert_array_equal(_node_output(nuke, lg, FIRST + 1), before)
    assert lg["status"].value().startswith(f"rendered {FIRST}-{FIRST + 1} on the LookGrid server at "), \
        "not stale: nothing changed"


def test_an_unsaved_script_without_a_results_folder_is_refused_in_one_line(nuke, shot, lookgrid_server):
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, None)
    assert lookgrid_nuke.render_range(lg) is None
    (message,) = nuke._state.messages
    assert message.startswith("LookGrid: save the script first") and one_line(message)


def test_two_scripts_with_nodes_of_the_same_name_keep_their_own_results(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    outputs, names = {}, set()
    for script in ("a.nk", "b.nk"):                 # two artists, one folder, nodes of the same name
        _new_session(nuke)
        nuke.scriptSaveAs(str(tmp_path / script))
        lg = _script(nuke, shot, lookgrid_server.address, None)
        names.add(lg.name())
        lg["last"].setValue(FIRST)
        lg["r1_strength"].setValue(1.0 if script == "a.nk" else 0.3)
        assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
        outputs[script] = _node_output(nuke, lg, FIRST)
        nuke.scriptSaveAs(str(tmp_path / script))
    assert len(names) == 1 and np.abs(outputs["a.nk"] - outputs["b.nk"]).mean() > 1e-4
    for script in ("a.nk", "b.nk"):
        _new_session(nuke)
        nuke.scriptOpen(str(tmp_path / script))
        (lg,) = _lookgrid_nodes(nuke)
        np.testing.assert_array_equal(_node_output(nuke, lg, FIRST), outputs[script])


def test_the_node_says_when_its_result_is_stale(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    lg["last"].setValue(FIRST + 1)
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    fresh = lg["status"].value()
    assert fresh == f"rendered {FIRST}-{FIRST + 1} on the LookGrid server at {lookgrid_server.address}"
    lg["r1_strength"].setValue(0.5)                  # a knob (knobChanged)
    assert "stale" in lg["status"].value()
    lg["r1_strength"].setValue(0.9)                  # back as rendered
    assert lg["status"].value() == fresh
    lg["r1_w1"].setValueAt(0.25, FIRST + 1)          # a key inside the rendered range
    assert "stale" in lg["status"].value()
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    assert lg["status"].value() == fresh
    plate = lg.input(0)
    plate["file"].setValue(shot.matte)               # upstream: no knobChanged on our node...
    assert lg["status"].value() == fresh
    nuke._update_ui()                                # ...updateUI catches it
    assert "stale" in lg["status"].value()
    plate["file"].setValue(shot.plate)
    nuke._update_ui()
    assert lg["status"].value() == fresh
    lg.setInput(1, None)                             # an input disconnected (knobChanged "inputChange")
    assert "stale" in lg["status"].value()


def test_colour_space_is_a_menu_of_the_servers_defaulting_to_the_working_space(nuke, shot, lookgrid_server, tmp_path):
    from lookgrid_client import connect

    root = nuke.root()
    root["colorManagement"].setValue("OCIO")
    root["workingSpaceLUT"].setValue("ACEScct")
    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    with connect(lookgrid_server.address, timeout=10) as client:
        spaces = list(client.server_info().colorspaces)
    assert len(spaces) > 20 and "ACEScct" in spaces
    assert lg["colorspace"].values() == spaces
    assert lg["colorspace"].value() == "ACEScct"


def test_proxy_mode_renders_at_full_resolution_and_says_so(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "x")
    lg["last"].setValue(FIRST)
    nuke.root().setProxy(True)
    job = _run(nuke, lookgrid_nuke.render_range(lg))
    assert job.error is None, job.error_line()
    assert _node_output(nuke, lg, FIRST).shape == (48, 64, 3)
    assert "full resolution" in lg["status"].value() and "proxy" in lg["status"].value()
    assert nuke.root().proxy() is True, "proxy mode is restored"


# -- farm and batch ---------------------------------------------------------------------------------

def _saved_script(nuke, shot, lookgrid_server, folder, last=FIRST + 1):
    folder.mkdir(parents=True, exist_ok=True)
    nuke.scriptSaveAs(str(folder / "shot010.nk"))
    lg = _script(nuke, shot, lookgrid_server.address, None)
    lg["last"].setValue(last)
    nuke.toNode("preferences")["lookgrid_executable"].setValue(lookgrid_server.launch)
    return lg


def test_render_on_farm_writes_the_backends_bundle_which_openjd_checks_and_runs(nuke, shot, lookgrid_server,
                                                                                  tmp_path):
    """The farm button writes `lookgrid farm export`'s bundle beside the script; `openjd check`
    accepts it and `openjd run` renders the same pixels as the node's interactive render."""
    import lookgrid_nuke

    lg = _saved_script(nuke, shot, lookgrid_server, tmp_path / "project")
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    interactive = [_node_output(nuke, lg, f) for f in (FIRST, FIRST + 1)]
    lg["chunk"].setValue(1)
    job = _run(nuke, lookgrid_nuke.render_on_farm(lg))
    assert job.error is None, job.error_line()
    bundle = Path(job.result())
    assert bundle.is_relative_to(tmp_path / "project" / "lookgrid" / "shot010" / lg["node_id"].value())
    assert sorted(p.name for p in bundle.iterdir()) == ["clip.json", "parameter_values.yaml", "template.yaml"]
    assert lg["status"].value().startswith("farm job written: ")
    openjd = str(Path(sys.executable).with_name("openjd"))
    check = subprocess.run([openjd, "check", str(bundle / "template.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = json.loads((bundle / "clip.json").read_text())
    run = subprocess.run([openjd, "run", str(bundle / "template.yaml"), "-p", f"Spec={bundle / 'clip.json'}",
                          "-p", f"LookGrid={lookgrid_server.launch}"], capture_output=True, text=True, timeout=600,
                         cwd=bundle)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    for i, f in enumerate((FIRST, FIRST + 1)):
        farm = read_exr(spec["output"].replace("####", f"{f:04d}"))[0][..., :3]
        np.testing.assert_allclose(farm, interactive[i], rtol=2 ** -10, atol=2 ** -12)


def test_render_on_farm_without_the_executable_in_preferences_says_so(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    lg = _saved_script(nuke, shot, lookgrid_server, tmp_path / "project")
    nuke.toNode("preferences")["lookgrid_executable"].setValue("")
    assert lookgrid_nuke.render_on_farm(lg) is None
    (message,) = nuke._state.messages
    assert "LookGrid executable" in message and one_line(message)


def test_batch_render_equals_the_interactive_one(nuke, shot, lookgrid_server, tmp_path):
    """`nuke -t lookgrid_batch.py shot010.nk <node>`: no UI and no main-thread queue; the script
    saved by the batch shows the same pixels as an interactive render of the node."""
    import runpy

    import lookgrid_nuke
    from hostkit import NUKE_PLUGIN

    lg = _saved_script(nuke, shot, lookgrid_server, tmp_path / "project")
    assert _run(nuke, lookgrid_nuke.render_range(lg)).error is None
    interactive = [_node_output(nuke, lg, f) for f in (FIRST, FIRST + 1)]
    name, script = lg.name(), str(tmp_path / "project" / "shot010.nk")
    lg.node("LookGridResult")["file"].setValue("")                  # as if never rendered
    lg["result_hash"].setValue("")
    nuke.scriptSaveAs(script)

    nuke._reset(FIRST, LAST, keep_preferences=True)                  # `nuke -t`: init.py only, no menu.py
    runpy.run_path(str(NUKE_PLUGIN / "init.py"))
    batch = runpy.run_path(str(NUKE_PLUGIN / "lookgrid_batch.py"), run_name="lookgrid_batch")
    assert batch["main"]([script, name]) == 0
    assert nuke._state.main_queue.empty() and nuke._state.messages == []
    _new_session(nuke)
    nuke.scriptOpen(script)
    (lg,) = _lookgrid_nodes(nuke)
    for i, f in enumerate((FIRST, FIRST + 1)):
        np.testing.assert_allclose(_node_output(nuke, lg, f), interactive[i], rtol=2 ** -10, atol=2 ** -12)
    assert lg["status"].value().startswith(f"rendered {FIRST}-{FIRST + 1} on the LookGrid server at ")
    _new_session(nuke)
    assert batch["main"]([script, "NoSuchNode"]) == 1



def _delta_e(a_shot, b_shot, space):
    """ΔE2000 of the display images of two (H, W, 3) images in colour space ``space``, per pixel."""
    from lookgrid.imaging import get_pipeline
    from lookgrid.model.colormath import delta_e2000, display_lab

    pipe = get_pipeline(None, space)
    return delta_e2000(display_lab(pipe.to_working(a_shot)), display_lab(pipe.to_working(b_shot)))


def test_bake_to_nodes_equals_the_render_within_the_exports_own_delta_e(nuke, shot, lookgrid_server):
    """Issue 26: the baked graph (OCIOColorSpace, an OCIOFileTransform per reference, Dissolve for the
    weights and for the strength, a Read of each key matte, Keymix; evaluated by the stand-in through
    OpenColorIO) renders without the server and matches LookGrid's render of the same node within
    the ΔE the export measured, before, inside and after a keyed transition, under a keyed strength."""
    import lookgrid_nuke
    from lookgrid.imaging import get_pipeline
    from lookgrid.imaging.looks import apply_file

    storage = lookgrid_server.root / "bake-nuke"
    lg = _script(nuke, shot, lookgrid_server.address, storage)
    w1, w2 = lg["r1_w1"], lg["r1_w2"]
    w1._keys, w2._expression = {}, None              # re-key: hold, a transition 1002-1004, hold
    for knob, (a, b) in ((w1, (1.0, 0.0)), (w2, (0.0, 1.0))):
        knob.setValueAt(a, 1002)
        knob.setValueAt(b, 1004)
    lg["r1_strength"].setValueAt(1.0, FIRST)
    lg["r1_strength"].setValueAt(0.6, LAST)
    job = _run(nuke, lookgrid_nuke.render_range(lg))
    assert job.error is None, job.error_line()
    job = _run(nuke, lookgrid_nuke.bake_to_nodes(lg))
    assert job.error is None, job.error_line()
    result = job.result()
    baked = nuke.toNode(lg.name() + "_baked")
    assert baked is not None and baked.input(0) is lg.input(0)
    assert {"OCIOColorSpace", "OCIOFileTransform", "Dissolve", "Keymix", "Read"} <= {n.Class() for n in baked.nodes()}
    status = lg["status"].value()
    assert status.startswith(f"baked {FIRST}-{LAST} into {baked.name()}: ΔE2000") and "subject" in status
    subject = next(r for r in result.regions if r.name == "subject")
    assert len(subject.bake.reference_clf_paths) == 2
    # the strength curve changes every frame: for a host without keys the whole shot is one transition
    assert [(s.first, s.last) for s in subject.bake.segments] == [(FIRST, LAST)]
    # no server needed: the plate's exchange frames are gone, the graph reads only the look files
    assert not list(Path(subject.bake.key_pattern).parent.parent.glob("source.*"))
    space = lg["colorspace"].value()
    pipe = get_pipeline(None, space)
    pooled = {"subject": [], "background": []}
    for f in range(FIRST, LAST + 1):
        ours = np.stack([baked._image(f)[c] for c in ("rgba.red", "rgba.green", "rgba.blue")], axis=2)
        # the stand-in's graph is the formula: c + Σ_k w_k·(c + s·Σ_i wᵢ·(Lᵢ(c) − c) − c), in ACEScct
        plate = pipe.to_working(read_exr(shot.plate.replace("####", f"{f:04d}"))[0][..., :3]).astype(np.float64)
        formula = plate.copy()
        for r in result.regions:
            mix = r.bake.mix[[m.frame for m in r.bake.mix].index(f)]
            look = plate.copy()
            for path, w in zip(r.bake.reference_clf_paths, mix.weights):
                look += mix.strength * w * (apply_file(path, plate.astype(np.float32)) - plate)
            formula += read_exr(r.matte_pattern % f)[0][..., 3:4] * (look - plate)
        np.testing.assert_allclose(pipe.to_working(ours), formula, atol=1e-3)
        d = _delta_e(ours, _node_output(nuke, lg, f), space)
        matte = read_exr(shot.matte.replace("####", f"{f:04d}"))[0][..., 3]
        for name, inside in (("subject", matte >= 0.5), ("background", (1 - matte) >= 0.5)):
            pooled[name].append(d[inside])
    for r in result.regions:
        measured = r.bake.fidelity
        allpx = np.concatenate(pooled[r.name])
        # the host's graph against the render gives the export's own figures
        assert abs(allpx.mean() - measured.mean_delta_e) < 0.05, (r.name, allpx.mean(), measured)
        assert abs(np.percentile(allpx, 95) - measured.p95_delta_e) < 0.1, (r.name, measured)
        # and frame by frame stays within them: before (1001), inside (1003) and after (1005) the transition
        for f in (1001, 1003, 1005):
            assert pooled[r.name][f - FIRST].mean() <= measured.p95_delta_e, (r.name, f)


def test_bake_without_the_folder_under_a_server_root_is_one_line(nuke, shot, lookgrid_server, tmp_path):
    import lookgrid_nuke

    lg = _script(nuke, shot, lookgrid_server.address, tmp_path / "not-shared")
    job = _run(nuke, lookgrid_nuke.bake_to_nodes(lg))
    assert job.error is not None
    (message,) = nuke._state.messages
    assert message.startswith("LookGrid: Bake to nodes needs the results folder under one of the server's --root")
    assert one_line(message) and files_under(tmp_path / "not-shared") == []
    assert nuke.toNode(lg.name() + "_baked") is None
