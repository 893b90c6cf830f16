"""The Blender extension end to end with real Blender (bpy 5.0.1 in its own venv) against a real
`lookgrid serve`: install the built zip headless, build a scene (EXR plate strip, mask strip, two
references with keyframed weights crossing over, a background region), run "Apply LookGrid" in
background mode, and check the new strip and its pixels against `lookgrid render --spec` of the
spec the extension wrote. Bad input (no active strip, a missing mask frame, server down, a broken
reference) gives one clear line and leaves no output behind; a configured backend command is
launched when no server answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from blender_env import LOOKGRID, run_blender

HERE = Path(__file__).resolve().parent
FIRST, COUNT = 1001, 6

pytestmark = pytest.mark.slow


def _write_shot(folder: Path) -> dict:
    from lookgrid.imaging import write_image

    folder.mkdir(parents=True, exist_ok=True)
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    plates, masks = [], []
    for i in range(COUNT):
        f = FIRST + i
        blob = np.exp(-(((x - 20 - 2 * i) / 10) ** 2 + ((y - 24) / 10) ** 2))
        rgb = np.stack([0.05 + 0.6 * x / w + 0.3 * blob, 0.1 + 0.4 * y / h, 0.4 - 0.3 * x / w + 0.2 * blob], -1)
        rgba = np.concatenate([rgb, np.full((h, w, 1), 1.0)], -1).astype(np.float32)
        rgba[0, 0, :3] = (4.0, -0.1, 0.5)  # scene-linear: above 1 and negative values travel too
        plates.append(str(write_image(folder / f"plate.{f:04d}.exr", rgba, channel_names=list("RGBA"))))
        masks.append(str(write_image(folder / f"matte.{f:04d}.exr", (blob > 0.35).astype(np.float32)[..., None],
                                     channel_names=["Y"])))
    refs = {}
    for name, tint, seed in (("warm", (0.6, 0.3, 0.1), 1), ("cool", (0.1, 0.3, 0.65), 2), ("bg", (0.3, 0.5, 0.2), 3)):
        rng = np.random.default_rng(seed)
        img = np.clip(np.stack([x, y, (x + y) / 2], -1) / 96 + np.asarray(tint) + 0.06 * rng.standard_normal((h, w, 3)), 0, 1)
        refs[name] = str(write_image(folder / f"{name}.png", img.astype(np.float32), dtype="uint8"))
    return {"plate_files": plates, "mask_files": masks, **refs}


def _read(path):
    from lookgrid.imaging import read_image

    return np.asarray(read_image(path).pixels, dtype=np.float32)


@pytest.fixture(scope="module")
def session(bpy_python, extension_zip, backend, tmp_path_factory):
    """Run every case in one Blender process; returns {case name: result dict} and the job."""
    tmp = tmp_path_factory.mktemp("blender")
    shot = _write_shot(tmp / "shot")
    gappy = tmp / "gappy"
    gappy.mkdir()
    for p in shot["mask_files"]:
        if not p.endswith(f"{FIRST + 3}.exr"):
            shutil.copy(p, gappy)
    broken = tmp / "broken.png"
    broken.write_bytes(b"this is not a PNG file")
    down = f"127.0.0.1:{_free_port()}"
    cases = [
        {"name": "apply", "output_dir": str(tmp / "out"), "stride": 2},
        {"name": "no_active", "output_dir": str(tmp / "out_no_active"), "no_active": True},
        {"name": "missing_mask", "output_dir": str(tmp / "out_missing"), "mask_pattern": str(gappy / "matte.####.exr")},
        {"name": "server_down", "output_dir": str(tmp / "out_down"), "server": down, "timeout": 1.0},
        {"name": "bad_reference", "output_dir": str(tmp / "out_broken"), "cool": str(broken)},
        {"name": "scene_launch", "output_dir": str(tmp / "out_scene_launch"), "server": down,
         "scene_launch": LOOKGRID, "timeout": 1.0},
        {"name": "launch", "output_dir": str(tmp / "out_launch"), "server": down, "launch": LOOKGRID, "timeout": 1.0},
        {"name": "worker", "output_dir": str(tmp / "out_worker"), "stride": 2, "worker": True},
        {"name": "worker_bpy_reads", "output_dir": str(tmp / "out_worker_bpy"), "stride": 2, "worker": True,
         "bpy_reads": True},
    ]
    job = {"zip": str(extension_zip), "server": backend, "first": FIRST, "count": COUNT, "colorspace": "ACEScg",
           "cases": cases, **shot}
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job))
    proc = run_blender(bpy_python, HERE / "blender_session.py", job_file, tmp / "user-resources")
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("LOOKGRID-CASE "):
            r = json.loads(line[len("LOOKGRID-CASE "):])
            results[r["case"]] = r
        elif line.startswith("LOOKGRID-UI "):
            results["ui"] = json.loads(line[len("LOOKGRID-UI "):])
    assert proc.returncode == 0 and len(results) == len(cases) + 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results, job, tmp, down


def _free_port():
    from lookgrid_client.launch import free_port

    return free_port()


def test_runs_in_the_blender_it_was_asked_for(session, blender_version):
    r = session[0]["apply"]
    assert r["blender"].startswith(blender_version), r["blender"]


def test_the_zip_bundles_wheels_for_every_supported_python(extension_zip):
    """One zip for Blender 4.2-5.2: grpcio for CPython 3.11 and 3.13 (Blender installs the wheels
    that match its Python), and the manifest states the supported range."""
    import tomllib
    import zipfile

    with zipfile.ZipFile(extension_zip) as z:
        names = z.namelist()
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    grpcio = sorted(os.path.basename(n) for n in names if os.path.basename(n).startswith("grpcio-"))
    assert [w.split("-")[2] for w in grpcio] == ["cp311", "cp313"], grpcio
    assert manifest["blender_version_min"] == "4.2.0" and manifest["blender_version_max"] == "5.3.0"
    assert sorted(os.path.basename(w) for w in manifest["wheels"]) == sorted(
        os.path.basename(n) for n in names if n.endswith(".whl"))


def test_installed_from_the_zip_with_working_region_operators(session):
    ui = session[0]["ui"]
    assert ui["module"].startswith("bl_ext.user_default.lookgrid"), "the installed extension, not the source tree"
    assert ui["after_add"] == [1, 2] and ui["after_remove"] == ["region1"] and ui["panel"]


def test_apply_adds_a_strip_over_the_same_frames(session):
    results, job, tmp, _ = session
    r = results["apply"]
    assert r["ok"], r["error"]
    strips = {s["name"]: s for s in r["strips"]}
    new = strips["plate.lookgrid"]
    assert new["start"] == FIRST and new["end"] == FIRST + COUNT
    assert new["channel"] > strips["plate"]["channel"] and new["channel"] != strips["matte"]["channel"]
    assert new["colorspace"] == "ACEScg"
    assert [os.path.basename(p) for p in new["files"]] == [f"plate.{FIRST + i:04d}.exr" for i in range(COUNT)]
    assert all(os.path.isfile(p) for p in new["files"])
    assert sorted(os.listdir(Path(new["files"][0]).parent)) == sorted(
        [os.path.basename(p) for p in new["files"]] + ["lookgrid_spec.json"]), "no staging or temp files left"


def test_pixels_equal_lookgrid_render_of_the_spec_it_wrote(session):
    results, job, tmp, _ = session
    r = results["apply"]
    spec = json.loads(Path(r["last_spec"]).read_text())
    assert spec["input"] == str(Path(job["plate_files"][0]).parent / "plate.####.exr")
    assert spec["inputColorspace"] == "ACEScg" and spec["frames"] == f"{FIRST}-{FIRST + COUNT - 1}"
    assert spec["stride"] == 2, "grids every 2nd frame: analysed frames are sent before those between"
    fg = spec["regions"][0]
    assert fg["mask"].endswith("matte.####.exr") and [s["style"] for s in fg["styles"]] == [job["warm"], job["cool"]]
    weights = [[k["value"] for k in s["weight"]["keys"]] for s in fg["styles"]]
    assert weights[0][0] == 1.0 and weights[0][-1] == 0.0 and weights[1][0] == 0.0 and weights[1][-1] == 1.0
    assert len(fg["styles"][0]["weight"]["keys"]) == COUNT, "Bezier keys: sampled at every frame"

    spec["output"] = str(tmp / "ref" / "ref.####.exr")
    ref_spec = tmp / "ref_spec.json"
    ref_spec.write_text(json.dumps(spec))
    done = subprocess.run([LOOKGRID, "render", "--spec", str(ref_spec)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    new = {s["name"]: s for s in r["strips"]}["plate.lookgrid"]
    for i, path in enumerate(new["files"]):
        got, want = _read(path), _read(str(tmp / "ref" / f"ref.{FIRST + i:04d}.exr"))
        assert got.shape == want.shape == (48, 64, 4)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)  # half-float precision
        plate = _read(job["plate_files"][i])
        assert np.abs(got[..., :3] - plate[..., :3]).mean() > 1e-3, "the look changed the picture"
        assert np.array_equal(got[..., 3], plate[..., 3]), "alpha passes through"


@pytest.mark.parametrize("case, words", [
    ("no_active", "no active strip: select an image-sequence strip"),
    ("missing_mask", "region 'fg': mask frame 1004 is missing"),
    ("server_down", "no LookGrid server answered at"),
    ("bad_reference", "UploadStyle: INVALID_ARGUMENT"),
])
def test_bad_input_reports_one_line_and_leaves_nothing(session, case, words):
    results, job, tmp, _ = session
    r = results[case]
    assert not r["ok"] and words in r["error"], r["error"]
    assert "\n" not in r["error"].strip() and "Traceback" not in r["error"]
    assert "plate.lookgrid" not in {s["name"] for s in r["strips"]}
    out = tmp / f"out_{ {'no_active': 'no_active', 'missing_mask': 'missing', 'server_down': 'down', 'bad_reference': 'broken'}[case] }"
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


def test_a_configured_backend_is_launched_when_none_answers(session):
    results, job, tmp, down = session
    r = results["launch"]
    assert r["ok"], r["error"]
    assert len({s["name"]: s for s in r["strips"]}["plate.lookgrid"]["files"]) == COUNT
    assert results["apply"]["launched"] == [], "a server that answers is used, not launched"
    ((address, pid),) = r["launched"]
    assert address != down and address.startswith("127.0.0.1:")
    from lookgrid_client import ServerUnavailableError, connect

    with pytest.raises(ServerUnavailableError):  # Blender exited: the server it launched is gone too
        connect(address, timeout=0.5)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


# -- first real use (issue 25) ----------------------------------------------------------------------

def test_settings_that_start_programs_are_preferences_not_scene_data(session):
    """A .blend carrying a backend command (as scene data) cannot make Apply start it: server,
    launch command and timeout are the add-on's preferences."""
    results = session[0]
    r = results["scene_launch"]
    assert not {"server", "backend_command", "timeout"} & set(r["scene_props"])
    assert not r["ok"] and "no LookGrid server answered" in r["error"], r["error"]
    assert r["launched"] == []
    assert results["launch"]["ok"] and results["launch"]["launched"], "the preference does launch"


def test_frames_are_read_off_the_ui_thread(session):
    """Apply as the interactive operator runs it: the worker reads every frame and matte itself
    (Blender's bundled OpenImageIO), so nothing waits on the UI thread; the pixels are the same."""
    results = session[0]
    r = results["worker"]
    assert r["ok"], r["error"]
    assert r["main_calls"] == 0
    ref = {s["name"]: s for s in results["apply"]["strips"]}["plate.lookgrid"]["files"]
    fallback = results["worker_bpy_reads"]   # a Blender without OpenImageIO: bpy reads, one call per frame
    assert fallback["ok"], fallback["error"]
    assert fallback["main_calls"] == COUNT
    for case in (r, fallback):
        mine = {s["name"]: s for s in case["strips"]}["plate.lookgrid"]["files"]
        assert len(mine) == COUNT
        for a, b in zip(mine, ref):
            np.testing.assert_array_equal(_read(a), _read(b))


def test_a_studio_ocio_config_maps_through_its_own_names(bpy_python, extension_zip, backend, tmp_path):
    """Blender started with $OCIO = a studio config (ACES studio config v2.1, which Blender's
    OpenColorIO 2.4 reads): the plate in "Linear P3-D65" (no entry of the fixed table for Blender's
    bundled config) is sent as that space of the server's config, and the result is tagged with it."""
    import PyOpenColorIO as ocio

    config = tmp_path / "studio.ocio"
    ocio.Config.CreateFromBuiltinConfig("studio-config-v2.1.0_aces-v1.3_ocio-v2.3").serialize(str(config))
    shot = _write_shot(tmp_path / "shot")
    job = {"zip": str(extension_zip), "server": backend, "first": FIRST, "count": COUNT, "colorspace": "Linear P3-D65",
           "cases": [{"name": "studio", "output_dir": str(tmp_path / "out")}], **shot}
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = run_blender(bpy_python, HERE / "blender_session.py", tmp_path / "job.json", tmp_path / "user-resources",
                       env={"OCIO": str(config)})
    lines = [json.loads(ln.split(" ", 1)[1]) for ln in proc.stdout.splitlines() if ln.startswith("LOOKGRID-CASE ")]
    assert proc.returncode == 0 and len(lines) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    (r,) = lines
    assert r["ok"], r["error"]
    spec = json.loads(Path(r["last_spec"]).read_text())
    assert spec["inputColorspace"] == "Linear P3-D65"
    assert {s["name"]: s for s in r["strips"]}["plate.lookgrid"]["colorspace"] == "Linear P3-D65"
