"""lookgrid farm on a real Ray: chunked renders equal one sequential ``lookgrid render`` bit for bit,
a worker killed with -9 mid-chunk is retried with no partial file left, an interrupted job resumes,
a stale analysis is refused, bad specs get one line."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from farm_clips import outputs
from lookgrid.cli import main as lookgrid
from lookgrid.farm.job import ATTEMPTS, load_spec
from lookgrid.farm.ray_runner import run_job
from lookgrid.farm.analysis import FOLDER
from lookgrid.fsutil import is_temp_name

FRAMES = list(range(1001, 1013))


def killed_writer(path: Path) -> None:
    """What a writer killed mid-frame leaves: its temp file beside ``path`` (a real process that
    starts an atomic write and dies with SIGKILL)."""
    import subprocess
    import sys

    code = ("import os, sys\nfrom lookgrid.fsutil import atomic_write\n"
            "with atomic_write(sys.argv[1]) as tmp:\n"
            "    open(tmp, 'wb').write(b'half a frame')\n    os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)])
    assert proc.returncode == -signal.SIGKILL
    assert [n for n in os.listdir(path.parent) if is_temp_name(n)]


def assert_same_as_reference(folder: Path, reference: Path, frames=FRAMES):
    got, want = outputs(folder, frames), outputs(reference, frames)
    for f in frames:
        np.testing.assert_array_equal(got[f], want[f], err_msg=f"frame {f}")
    assert not [n for n in os.listdir(folder) if is_temp_name(n) or n.startswith(".o.")]
    assert not (folder / FOLDER / ATTEMPTS).exists() or not os.listdir(folder / FOLDER / ATTEMPTS)


@pytest.mark.parametrize("chunk,workers,order,fresh", [
    (3, 2, "forward", True),  # analysed on a Ray worker too
    (1, 2, "shuffled", False), (3, 2, "reverse", False), (7, 1, "forward", False),
    (None, 2, "forward", False)])
def test_chunks_give_the_pixels_of_one_sequential_render(ray_session, reference, job_spec,
                                                         chunk, workers, order, fresh):
    spec = load_spec(job_spec(f"c{chunk}-w{workers}-{order}", with_analysis=not fresh))
    seen = []
    summary = run_job(spec, chunk=chunk, workers=workers, order=order,
                      progress=lambda done, total: seen.append((done, total)))
    # a fresh job analyses its 5 analysed frames (stride 3); a copied analysis fits and is reused
    assert summary.analysed == (5 if fresh else 0)
    assert summary.rendered == 12 and summary.skipped == 0 and summary.retries == 0
    assert summary.chunks == {1: 12, 3: 4, 7: 2, None: 1}[chunk]
    assert seen[-1] == (12, 12) and all(d <= 12 for d, _ in seen)
    assert_same_as_reference(Path(spec.output).parent, reference)


def test_a_worker_killed_mid_chunk_is_retried_and_leaves_no_partial_file(ray_session, reference,
                                                                         job_spec):
    spec = load_spec(job_spec("killed"))
    out = Path(spec.output).parent
    result: dict = {}

    def run():
        try:
            result["summary"] = run_job(spec, chunk=None, workers=1)
        except BaseException as err:  # noqa: BLE001 — reported by the assertion below
            result["error"] = err

    t = threading.Thread(target=run)
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        marks = os.listdir(out / FOLDER / ATTEMPTS) if (out / FOLDER / ATTEMPTS).is_dir() else []
        # the chunk has started writing its frames (staged beside their outputs until the chunk ends)
        if marks and any(n.startswith(".o.1001.exr.lgtmp-") for n in os.listdir(out)):
            killed = int(marks[0].split(".")[-2])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.005)
    t.join(240)
    assert killed is not None, "the chunk never started"
    assert "error" not in result, result.get("error")
    summary = result["summary"]
    assert summary.retries == 1 and summary.rendered == 12
    assert_same_as_reference(out, reference)


def test_an_interrupted_job_resumes_with_only_the_missing_frames(ray_session, reference, job_spec):
    spec = load_spec(job_spec("resumed"))
    out = Path(spec.output).parent
    first = run_job(spec, chunk=4, workers=2)
    assert first.rendered == 12
    # what an interruption leaves: frames never written, one cut short, a killed writer's temp
    (out / "o.1005.exr").unlink()
    (out / "o.1012.exr").unlink()
    (out / "o.1008.exr").write_bytes(b"")
    killed_writer(out / "o.1009.exr")
    kept = {f: os.stat(out / f"o.{f}.exr").st_mtime_ns for f in (1001, 1006, 1011)}
    again = run_job(spec, chunk=4, workers=2)
    assert (again.rendered, again.skipped, again.analysed) == (3, 9, 0)
    assert again.chunks == 3  # 1005, 1008 and 1012 are separate runs of the clip
    assert {f: os.stat(out / f"o.{f}.exr").st_mtime_ns for f in kept} == kept
    assert_same_as_reference(out, reference)
    # an input frame newer than its output is rendered again (as make would)
    os.utime(Path(spec.input.replace("####", "1002")))
    touched = run_job(spec, chunk=4, workers=2)
    assert (touched.rendered, touched.skipped) == (1, 11)
    # a changed job (another look) owns the folder anew: nothing of the old one counts as done
    spec.regions[1].strength = spec.regions[1].strength.constant(0.5)
    other = run_job(spec, chunk=0, workers=2)
    assert (other.rendered, other.skipped, other.analysed) == (12, 0, 0)  # same grids: analysis kept


def test_a_spec_changed_after_analysis_is_refused(job_spec, capsys, clip):
    path = job_spec("changed")
    assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1002-1003"]) == 0
    spec = load_spec(path)
    spec.stride = 2
    spec.save(path)
    capsys.readouterr()
    assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1004-1006"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made from other inputs: the spec's 'stride' changed" in err[0]
    assert not (path.parent / "changed" / "o.1004.exr").exists()


def test_changed_input_content_is_refused_but_a_touched_file_is_not(job_spec, capsys, clip):
    from lookgrid.imaging import read_image, write_image

    path = job_spec("content")
    mask = clip.parent / "mask" / "m.1004.png"  # an analysed frame (stride 3 from 1001)
    data, st = mask.read_bytes(), mask.stat()
    try:
        os.utime(mask)  # touched, same bytes: the analysis still fits
        capsys.readouterr()
        assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1004"]) == 0
        write_image(mask, 1.0 - read_image(mask).pixels, dtype="uint8")
        capsys.readouterr()
        assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1005"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "the content of" in err[0] and "m.1004.png" in err[0], err
        assert not (path.parent / "content" / "o.1005.exr").exists()
    finally:  # the session's clip as it was
        mask.write_bytes(data)
        os.utime(mask, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("case,args,message", [
    ("missing", ["farm", "render", "--spec", "{tmp}/nope.json"], "cannot read clip spec"),
    ("json", ["farm", "render", "--spec", "{tmp}/bad.json"], "not valid JSON"),
    ("hash", ["farm", "render", "--spec", "{tmp}/hash.json"], "is an uploaded image"),
    ("style", ["farm", "export", "--spec", "{tmp}/style.json", "--out", "{tmp}/b"], "does not exist"),
    ("workers", ["farm", "render", "--spec", "{good}", "--workers", "0"], "--workers must be >= 1"),
    ("chunk", ["farm", "export", "--spec", "{good}", "--out", "{tmp}/b", "--chunk", "0"],
     "--chunk must be >= 1"),
    ("range", ["farm", "task", "render", "--spec", "{good}", "--frames", "9-x"], "bad frame chunk"),
    ("outside", ["farm", "task", "render", "--spec", "{good}", "--frames", "1-5"], "holds none"),
    ("noanalysis", ["farm", "task", "render", "--spec", "{good}", "--frames", "1001"], "no analysis"),
])
def test_bad_input_gets_one_clear_line(case, args, message, tmp_path, clip, capsys):
    from lookgrid.engine.spec import ClipSpec

    (tmp_path / "bad.json").write_text("{not json")
    spec = ClipSpec.load(clip)
    spec.output = str(tmp_path / "o" / "o.####.exr")
    spec.save(tmp_path / "good.json")
    spec.regions[0].styles[0].style = "sha256:" + "0" * 64
    spec.save(tmp_path / "hash.json")
    spec.regions[0].styles[0].style = str(tmp_path / "nowhere.png")
    spec.save(tmp_path / "style.json")
    argv = [a.format(tmp=tmp_path, good=tmp_path / "good.json") for a in args]
    assert lookgrid(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lookgrid farm: error:") and message in err[0], err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("o.*"))


def test_the_command_joins_a_cluster_by_address_and_resumes_after_an_interrupt(
        ray_session, reference, job_spec):
    """``lookgrid farm render --address`` (a second driver on the session's cluster), stopped with
    SIGINT once it has written frames, then run again: it renders only what is missing."""
    import subprocess
    import sys

    path = job_spec("cli")
    out = path.parent / "cli"
    address = ray_session.get_runtime_context().gcs_address
    cmd = [str(Path(sys.executable).parent / "lookgrid"), "farm", "render", "--spec", str(path),
           "--address", address, "--chunk", "2", "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None and not (out / "o.1003.exr").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr[:1500] + stderr[-1500:]
    done = len([f for f in FRAMES if (out / f"o.{f}.exr").exists()])
    assert 2 <= done < 12
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{12 - done} frames rendered, {done} already done" in again.stdout, again.stdout
    assert "analysis reused" in again.stdout
    assert_same_as_reference(out, reference)


def test_a_worker_that_resolves_another_colour_config_refuses(job_spec, capsys, tmp_path, monkeypatch):
    """The track records the config the analysis used (pinned) and the OpenColorIO build; a worker
    whose $OCIO names another config refuses with one line instead of rendering other pixels."""
    import PyOpenColorIO as ocio

    from lookgrid.imaging import DEFAULT_CONFIG

    path = job_spec("ocio")
    manifest = (path.parent / "ocio" / FOLDER / "track.json").read_text()
    assert DEFAULT_CONFIG in manifest and ocio.__version__ in manifest
    other = tmp_path / "studio.ocio"
    other.write_text(ocio.Config.CreateFromFile(DEFAULT_CONFIG).serialize())
    monkeypatch.setenv("OCIO", str(other))
    capsys.readouterr()
    assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the spec's 'config' changed" in err[0], err
    assert not (path.parent / "ocio" / "o.1001.exr").exists()
