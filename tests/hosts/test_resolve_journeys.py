"""Issue 24: the Resolve script as a new user meets it, against the stand-in and a real server
started the way the script starts it.

Host assumptions these journeys rely on, with the documentation that states them (fusionscript-stubs
21.0.0, ``fusionscript.pyi``) or, where none does, README's list of what only a real Resolve can
confirm:
- ``Timeline.GetCurrentVideoItem`` "Returns the current video timeline item" -- which track it takes
  is not stated; the script finds the source under its own results itself (README: unconfirmed);
- ``MediaPoolItem.SetThirdPartyMetadata`` "Sets/Add the given third party metadata" and
  ``GetThirdPartyMetadata`` returns it: how the script recognises its results;
- ``Project.GetRenderFormats`` "Returns a dict (format -> file extension)", ``GetRenderCodecs`` "a dict
  (codec description -> codec name)", ``SetCurrentRenderMode`` "1 for Single clip", the render
  settings keys of "Looking up Render Settings"; ``GetRenderJobStatus`` "a dict with job status and
  completion percentage" (its keys, and MarkIn/MarkOut being record frames: README, unconfirmed);
- "Looking up Project and Clip properties": keys follow the names of the Project Settings and Clip
  Attributes dialogs (the exact keys ``colorScienceMode``, ``colorSpaceOutput``, "Input Color
  Space": README, unconfirmed).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

import fake_resolve
from hostkit import FIRST, LAST, files_under, read_exr
from test_resolve_plugin import RECORD, _form, _timeline

FILES = list(range(FIRST + 1, LAST + 1))


def _free_address() -> str:
    from lookgrid_client.launch import free_port

    return f"127.0.0.1:{free_port()}"


def _lookgrid_processes() -> set[int]:
    """Live `lookgrid serve` processes this test process started (their --parent-pid is ours)."""
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            mine = b"--parent-pid" in argv and argv[argv.index(b"--parent-pid") + 1] == str(os.getpid()).encode()
            if b"serve" in argv and mine and not _gone(int(pid), 0.01):
                out.add(int(pid))
    return out


def test_no_server_running_only_a_launch_path(resolve, shot, lookgrid_server, tmp_path):
    """Item 1: the launched server gets the shot's, the masks' and the output's folders as roots
    (it refused every path before), says where it rendered, and is gone after the job."""
    from lookgrid_resolve import render

    _timeline(resolve, shot)
    before = _lookgrid_processes()  # servers that earlier tests in this process launched and still keep
    form = _form(shot, _free_address(), tmp_path / "out", launch=lookgrid_server.launch)
    placed = render(resolve, form)
    assert placed.record_frame == RECORD and placed.track == 2, placed
    assert placed.server.startswith("a LookGrid server started on this machine") and form.server in placed.server
    assert len(files_under(tmp_path / "out")) == len(FILES)
    deadline = time.time() + 15   # the server this job launched stops with it (SIGTERM, then reaped)
    while _lookgrid_processes() - before and time.time() < deadline:
        time.sleep(0.2)
    assert not _lookgrid_processes() - before


def test_a_token_in_the_environment(resolve, shot, lookgrid_server, tmp_path, monkeypatch):
    """Item 7: with LOOKGRID_TOKEN set, the launched server and the client agree on it."""
    from lookgrid_resolve import render

    monkeypatch.setenv("LOOKGRID_TOKEN", "a-token-from-the-environment")
    _timeline(resolve, shot)
    placed = render(resolve, _form(shot, _free_address(), tmp_path / "out", launch=lookgrid_server.launch))
    assert placed.track == 2 and len(files_under(tmp_path / "out")) == len(FILES)


def test_run_twice_on_the_same_shot(resolve, shot, lookgrid_server, tmp_path):
    """Item 2: the second run grades the source (not the first result, which now lies on top under
    the playhead) and replaces the first result on the track above."""
    from lookgrid_resolve import render
    out, out2 = lookgrid_server.root / tmp_path.name / "out", lookgrid_server.root / tmp_path.name / "out2"

    timeline = _timeline(resolve, shot)
    first = render(resolve, _form(shot, lookgrid_server.address, out))
    top = timeline.GetCurrentVideoItem()
    assert top.GetMediaPoolItem() is first.media_pool_item          # the stand-in's topmost-first choice
    second = render(resolve, _form(shot, lookgrid_server.address, out))
    (item,) = timeline.GetItemListInTrack("video", 2)
    assert item.GetMediaPoolItem() is second.media_pool_item and timeline.GetTrackCount("video") == 2
    assert [p["trackIndex"] for p in fake_resolve._state.placements] == [2, 2]
    assert fake_resolve._state.imports[1]["StartIndex"] == FILES[0]
    for f in FILES:   # same job on the same source: the same pixels (grading the graded clip would differ)
        a, b = read_exr(first.pattern % f)[0], read_exr(second.pattern % f)[0]
        np.testing.assert_array_equal(a, b)
    assert second.media_pool_item.GetThirdPartyMetadata("LookGrid Source") == \
        timeline.GetItemListInTrack("video", 1)[0].GetMediaPoolItem().GetClipProperty("File Path")


def test_cancel_mid_way_then_run_again(resolve, shot, lookgrid_server, tmp_path):
    from lookgrid_client import RenderCancelledError
    from lookgrid_resolve import render
    out, out2 = lookgrid_server.root / tmp_path.name / "out", lookgrid_server.root / tmp_path.name / "out2"

    timeline = _timeline(resolve, shot)
    done = []
    with pytest.raises(RenderCancelledError):
        render(resolve, _form(shot, lookgrid_server.address, out), progress=lambda d, t: done.append(d),
               cancel=lambda: len(done) >= 1)
    assert files_under(out) == []
    placed = render(resolve, _form(shot, lookgrid_server.address, out))
    assert len(timeline.GetItemListInTrack("video", 2)) == 1
    assert files_under(out) == sorted(os.path.basename(placed.pattern % f) for f in FILES)


def test_the_colour_space_comes_from_resolve_and_tags_the_result(resolve, shot, lookgrid_server, tmp_path):
    """Item 3: no typing: the clip's input colour space under colour management, the result tagged
    with it (clip property and LookGrid's metadata); without colour management the artist picks one
    of the server's."""
    from lookgrid_resolve import render
    out, out2 = lookgrid_server.root / tmp_path.name / "out", lookgrid_server.root / tmp_path.name / "out2"

    timeline = _timeline(resolve, shot)
    placed = render(resolve, _form(shot, lookgrid_server.address, out))
    assert placed.colorspace == "ACEScg" and "ACEScg" in placed.colorspaces and "Raw" in placed.colorspaces
    assert placed.media_pool_item.GetClipProperty("Input Color Space") == "ACEScg"
    project = resolve.GetProjectManager().GetCurrentProject()
    project._settings["colorScienceMode"] = "davinciYRGB"
    with pytest.raises(Exception, match="pick the shot's colour space"):
        render(resolve, _form(shot, lookgrid_server.address, out2))
    with pytest.raises(Exception, match="not one of the server's"):
        render(resolve, _form(shot, lookgrid_server.address, out2, colorspace="ACES cg (typo)"))
    placed = render(resolve, _form(shot, lookgrid_server.address, out2, colorspace="ACEScg"))
    assert placed.colorspace == "ACEScg" and len(timeline.GetItemListInTrack("video", 2)) == 1


def test_a_movie_clip_goes_through_resolves_render_queue(resolve, shot, lookgrid_server, tmp_path):
    """Item 4: a movie is rendered to EXR by Resolve's render queue (tracks above switched off
    meanwhile), graded from there, and the intermediate and the render job are gone afterwards."""
    from lookgrid_resolve import render
    out, out2 = lookgrid_server.root / tmp_path.name / "out", lookgrid_server.root / tmp_path.name / "out2"

    decoded = tmp_path / "decoded"      # what the stand-in's "decoder" shows for plate.mov
    decoded.mkdir()
    for i, f in enumerate(range(FIRST, LAST + 1)):
        shutil.copyfile(shot.plate.replace("####", f"{f:04d}"), decoded / f"pic.{i:04d}.exr")
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    clip = fake_resolve.MediaPoolItem("plate.mov", str(shot.folder / "plate.mov"), "", str(decoded / "pic.%04d.exr"))
    timeline._add(fake_resolve.TimelineItem(clip, RECORD, LAST - FIRST, 1, 1))
    timeline._playhead = RECORD + 2
    timeline.AddTrack("video", "mono")
    timeline.AddTrack("video", "mono")      # an empty track 3 over it: switched off and back on
    masks = lookgrid_server.root / tmp_path.name / "masks"     # a movie's masks: numbered by record frame
    masks.mkdir(parents=True)
    for f in FILES:
        shutil.copyfile(shot.matte.replace("####", f"{f:04d}"), masks / f"matte.{RECORD + f - FILES[0]:08d}.exr")
    form = _form(shot, lookgrid_server.address, out)
    form.regions[0].mask = str(masks / "matte.%08d.exr")
    placed = render(resolve, form)
    assert placed.track == 2 and placed.record_frame == RECORD and placed.last - placed.first == len(FILES) - 1
    assert placed.colorspace == "Gamma 2.4 Encoded Rec.709"      # the project's output colour space
    assert placed.media_pool_item.GetClipProperty("Input Color Space") == "Rec.709 Gamma 2.4"
    assert files_under(out) == sorted(os.path.basename(placed.pattern % f) for f in range(placed.first, placed.last + 1))
    assert fake_resolve._state.render_jobs == {} and timeline.GetIsTrackEnabled("video", 3)
    graded = read_exr(placed.pattern % placed.first)[0][..., :3]
    source = read_exr(str(decoded / "pic.0001.exr"))[0][..., :3]
    assert graded.shape == source.shape and np.abs(graded - source).mean() > 1e-3


def test_mapped_paths(resolve, shot, lookgrid_server, tmp_path):
    """Item 6: Resolve sees the storage under one prefix, the server under another. Here the
    workstation's view is a folder outside the server's root (its own copy of the shot; its output
    folder a link into the server's storage); the mapping table sends the server its own paths and
    reads what it wrote back at the workstation's."""
    from lookgrid_resolve import render

    server_view = lookgrid_server.root / "mapped"
    (server_view / "out").mkdir(parents=True)
    local_view = tmp_path / "Volumes" / "shots"
    local_view.mkdir(parents=True)
    for name in os.listdir(shot.folder):
        if name.endswith((".exr",)):
            shutil.copyfile(shot.folder / name, local_view / name)
            shutil.copyfile(shot.folder / name, server_view / name)
    (local_view / "out").symlink_to(server_view / "out")
    timeline = _timeline(resolve, shot, file_path=str(local_view / f"plate.[{FIRST:04d}-{LAST:04d}].exr"))
    form = _form(shot, lookgrid_server.address, local_view / "out")
    form.regions[0].mask = str(local_view / "matte.%04d.exr")
    form.path_map = f"{local_view} = {server_view}"
    placed = render(resolve, form)
    assert placed.pattern.startswith(str(local_view / "out")) and placed.track == 2
    assert fake_resolve._state.imports[0]["FilePath"].startswith(str(local_view))
    assert len(files_under(server_view / "out")) == len(FILES)
    form.path_map = ""
    with pytest.raises(Exception, match="outside the server's roots"):   # what an unmapped path meets
        render(resolve, form)
    assert timeline.GetItemListInTrack("video", 2)[0].GetMediaPoolItem() is placed.media_pool_item


def _gone(pid: int, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):   # a zombie has exited
                    return True
        except OSError:
            return True
        time.sleep(0.2)
    return False


def test_a_crashed_host_leaves_no_server_behind(lookgrid_server, tmp_path):
    """Item 9: a host process that launched a server and then dies (SIGKILL: no atexit) takes the
    server with it: the server watches its parent."""
    import subprocess
    import sys

    script = tmp_path / "host.py"
    script.write_text(
        "import os, signal, sys\n"
        "from lookgrid_client import connect\n"
        f"client = connect({_free_address()!r}, launch={lookgrid_server.launch!r})\n"
        "print(client.owned_process.process.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    host = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    server_pid = int(host.stdout.split()[0])
    assert host.returncode == -9
    assert _gone(server_pid, 30), f"the launched server {server_pid} outlived its host"


def test_a_launched_server_stops_after_an_idle_time(lookgrid_server):
    """Item 9: and one whose host lives on but no longer calls stops after the idle time."""
    from lookgrid_client import connect

    client = connect(_free_address(), launch=lookgrid_server.launch, idle_exit=2.0)
    proc = client.owned_process
    client.server_info()
    assert _gone(proc.process.pid, 30)
    assert "no call for 2 s" in proc.last_output_line()
    client.close()


def test_cancel_while_resolve_renders_a_movie_undoes_the_render_job(resolve, shot, lookgrid_server, tmp_path):
    """Items 4, 5: cancelled from the dialog while Resolve's render queue works on the movie: the
    job is stopped and deleted and the tracks switched back on -- on the UI thread, although the
    worker was cancelled."""
    import runpy

    from hostkit import RESOLVE_PLUGIN

    decoded = tmp_path / "decoded"
    decoded.mkdir()
    for i, f in enumerate(range(FIRST, LAST + 1)):
        shutil.copyfile(shot.plate.replace("####", f"{f:04d}"), decoded / f"pic.{i:04d}.exr")
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    clip = fake_resolve.MediaPoolItem("plate.mov", str(shot.folder / "plate.mov"), "", str(decoded / "pic.%04d.exr"))
    timeline._add(fake_resolve.TimelineItem(clip, RECORD, LAST - FIRST, 1, 1))
    timeline._playhead = RECORD + 2
    timeline.AddTrack("video", "mono")
    fake_resolve._state.render_polls = 10 ** 6          # Resolve keeps rendering
    out = lookgrid_server.root / tmp_path.name / "out"
    values = {"server": lookgrid_server.address, "output": str(out), "r1_name": "", "r3_name": "background",
              "r3_refs": shot.refs[2]}

    def fill(win):
        for k, v in values.items():
            win.Find(k).Text = v

    def cancel_while_rendering(win):
        fake_resolve._tick(lambda: "Resolve renders the source" in win.Find("status").Text)
        assert fake_resolve._state.render_jobs and not timeline.GetIsTrackEnabled("video", 2)
        win._fire("cancel", "Clicked")
        fake_resolve._tick(lambda: win.Find("status").Text == "render cancelled")

    fake_resolve._state.ui_script = [fill, lambda w: w._fire("render", "Clicked"), cancel_while_rendering,
                                     lambda w: w._fire("LookGrid", "Close")]
    runpy.run_path(str(RESOLVE_PLUGIN / "LookGrid.py"),
                   init_globals={"resolve": resolve, "fusion": resolve.Fusion(), "bmd": fake_resolve})
    assert fake_resolve._state.render_jobs == {} and timeline.GetIsTrackEnabled("video", 2)
    assert fake_resolve._state.off_thread == [] and fake_resolve._state.placements == []
    assert not any(p.name.startswith(".source-") for p in out.iterdir())
