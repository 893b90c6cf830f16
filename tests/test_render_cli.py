"""`lookgrid render`: the issue-4 interface, --write-spec / --spec, progress and summary, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lookgrid.cli import main
from lookgrid.engine.spec import ClipSpec
from lookgrid.imaging import read_image, write_image


@pytest.fixture()
def clip(tmp_path):
    """3 PNG frames 40×56 with a square moving mask, and two reference images."""
    (tmp_path / "frames").mkdir()
    (tmp_path / "masks").mkdir()
    y, x = np.mgrid[0:40, 0:56].astype(np.float32)
    for f in range(3):
        img = np.stack([x / 56, y / 40, 0.5 + 0.2 * np.sin(x / 9 + f)], -1)
        write_image(tmp_path / "frames" / f"{f:05d}.png", img, dtype="uint8")
        m = np.zeros((20, 28), np.float32)  # masks at half resolution
        m[5:15, 4 + f:14 + f] = 1.0
        write_image(tmp_path / "masks" / f"{f:05d}.png", m, dtype="uint8")
    rng = np.random.default_rng(0)
    write_image(tmp_path / "ref_a.png", np.clip(rng.normal((0.8, 0.4, 0.2), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    write_image(tmp_path / "ref_b.png", np.clip(rng.normal((0.2, 0.3, 0.7), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    return tmp_path


def base_args(d):
    return ["render", "--input", str(d / "frames" / "%05d.png"), "--output", str(d / "out" / "%05d.png"),
            "--mask", f"fg={d / 'masks' / '%05d.png'}", "--style", f"fg={d / 'ref_a.png'}",
            "--style", f"background={d / 'ref_b.png'}"]


def test_render_reinhard_writes_frames_and_summary(clip, capsys):
    rc = main(base_args(clip) + ["--method", "reinhard", "--frames", "0-2", "--strength", "fg=0.8",
                                 "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "3 frames in" in out and "frames/s" in out
    for f in range(3):
        res = read_image(clip / "out" / f"{f:05d}.png")
        src = read_image(clip / "frames" / f"{f:05d}.png")
        assert res.pixels.shape == src.pixels.shape
    res = read_image(clip / "out" / "00001.png").pixels
    src = read_image(clip / "frames" / "00001.png").pixels
    # foreground pulled toward the warm reference, background toward the cool one
    fg = (slice(12, 28), slice(14, 24))
    assert (res[fg][..., 0] - src[fg][..., 0]).mean() > 0.02
    assert (res[:4, :][..., 2] - src[:4, :][..., 2]).mean() > 0.02


def test_write_spec_then_render_from_spec(clip, capsys, tmp_path):
    spec_path = clip / "job" / "clip.json"
    rc = main(base_args(clip) + ["--stride", "2", "--strength", "fg=0:0:smooth,2:1",
                                 "--write-spec", str(spec_path)])
    assert rc == 0
    assert not (clip / "out").exists()  # --write-spec does not render
    data = json.loads(spec_path.read_text())
    assert data["stride"] == 2 and data["method"] == "lookgrid"
    assert data["regions"][0]["name"] == "fg"
    assert data["regions"][0]["strength"]["keys"][0] == {"interpolation": "SMOOTH"}
    assert data["regions"][1] == {"name": "background", "styles": [{"style": str(clip / "ref_b.png")}]}
    spec = ClipSpec.load(spec_path)
    assert spec.input == str(clip / "frames" / "%05d.png")
    rc = main(["render", "--spec", str(spec_path), "--method", "reinhard", "--no-progress"])
    assert rc == 0
    assert sorted(p.name for p in (clip / "out").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    # at frame 0 fg's strength is 0: inside its mask the output equals the input (8-bit rounding);
    # the background (strength 1) changes
    res = read_image(clip / "out" / "00000.png").pixels
    src = read_image(clip / "frames" / "00000.png").pixels
    assert np.abs(res[12:28, 10:26] - src[12:28, 10:26]).max() <= 1.5 / 255
    assert np.abs(res[:6] - src[:6]).mean() > 0.02


def test_render_lookgrid_method_exr_output(clip, capsys):
    args = base_args(clip)
    args[4] = str(clip / "out" / "o.####.exr")
    assert main(args + ["--frames", "0-1", "--device", "cpu", "--no-progress"]) == 0
    res = read_image(clip / "out" / "o.0001.exr")
    assert res.spec_info.is_float and np.isfinite(res.pixels).all()


@pytest.mark.parametrize("extra, message", [
    (["--style", "car=x.png"], "no region 'car'"),
    (["--mask", "sky=m.png"], "sky have a --mask but no --style"),
    (["--strength", "nope=0.5"], "--strength nope=...: no region 'nope'"),
    (["--strength", "fg=1:x"], "frame and value must be numbers"),
    (["--frames", "0-5"], "missing: 3-5"),
    (["--method", "reinhard", "--input-colorspace", "Not A Space"], "unknown colour space"),
])
def test_user_errors_print_one_line_and_exit_2(clip, capsys, extra, message):
    rc = main(base_args(clip) + extra + ["--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("lookgrid render: error:")


def test_console_script_help_lists_the_interface():
    exe = subprocess.run([sys.executable, "-m", "lookgrid.cli", "render", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert exe.returncode == 0
    for flag in ("--input", "--output", "--mask", "--style", "--frames", "--stride", "--strength",
                 "--method", "--input-colorspace", "--output-colorspace", "--device", "--model",
                 "--spec", "--write-spec"):
        assert flag in exe.stdout


@pytest.mark.shared_data
def test_render_real_davis_frames(shared_data, tmp_path, capsys):
    """JPEG frames (sRGB) and 0/255 PNG masks of a real clip, classical method (fast)."""
    d = shared_data / "davis" / "blackswan"
    refs = shared_data / "styles" / "deep-photo" / "style"
    if not (d / "frames" / "00000.jpg").exists() or not (refs / "tar1.png").exists():
        pytest.skip("DAVIS blackswan or deep-photo styles not in shared data")
    rc = main(["render", "--input", str(d / "frames" / "%05d.jpg"), "--output", str(tmp_path / "%05d.png"),
               "--mask", f"fg={d / 'masks' / '%05d.png'}", "--style", f"fg={refs / 'tar1.png'}",
               "--style", f"background={refs / 'tar2.png'}", "--frames", "0-1", "--method", "reinhard",
               "--no-progress"])
    assert rc == 0
    res = read_image(tmp_path / "00001.png").pixels
    src = read_image(d / "frames" / "00001.jpg").pixels
    assert res.shape == src.shape == (480, 854, 3)
    assert np.abs(res - src).mean() > 0.02


def test_write_spec_records_the_pinned_config_and_a_render_keeps_to_it(clip, capsys, monkeypatch):
    from lookgrid.imaging import DEFAULT_CONFIG

    monkeypatch.delenv("OCIO", raising=False)
    spec_path = clip / "pinned.json"
    assert main(base_args(clip) + ["--write-spec", str(spec_path)]) == 0
    assert json.loads(spec_path.read_text())["config"] == DEFAULT_CONFIG
    capsys.readouterr()
    rc = main(["render", "--spec", str(spec_path), "--config", "ocio://default", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "made with OpenColorIO config" in err[0], err
    assert not (clip / "out").exists()


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in: a read-only one, or (root ignores permission
    bits) a kernel folder that refuses new files."""
    import os

    if os.geteuid() != 0:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    for candidate in ("/sys", "/proc"):
        try:
            open(os.path.join(candidate, "lookgrid-probe"), "w").close()
        except OSError:
            return __import__("pathlib").Path(candidate)
    pytest.skip("no unwritable folder on this machine")


@pytest.mark.parametrize("case", ["read-only folder", "not a folder", "unknown extension", "one file, many frames",
                                  "too few digits"])
def test_output_problems_are_one_line_before_any_work(clip, capsys, tmp_path, monkeypatch, case):
    """Issue 24 item 12: the output is checked before the engine (model, analysis) is even built,
    and the one line names the user's own path, not a temporary name."""
    from lookgrid.commands import render as render_command

    def no_engine(*a, **k):
        raise AssertionError("the engine was built before the output was checked")

    monkeypatch.setattr(render_command, "Engine", no_engine)
    output = {"read-only folder": lambda: _unwritable_folder(tmp_path) / "out" / "%05d.exr",
              "not a folder": lambda: clip / "ref_a.png" / "%05d.exr",
              "unknown extension": lambda: clip / "out" / "%05d.xyz",
              "one file, many frames": lambda: clip / "out" / "graded.exr",
              "too few digits": lambda: clip / "out" / "g.#.exr"}[case]()
    args = base_args(clip)
    args[4] = str(output)
    if case == "too few digits":          # a frame 10 in the input
        import shutil

        shutil.copyfile(clip / "frames" / "00002.png", clip / "frames" / "00010.png")
        shutil.copyfile(clip / "masks" / "00002.png", clip / "masks" / "00010.png")
    rc = main(args + ["--frames", "0-2" if case != "too few digits" else "0-2,10", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("lookgrid render: error:"), err
    assert str(output) in err and "lgtmp" not in err and "/proc/self/fd" not in err, err
    expect = {"read-only folder": "not writable", "not a folder": "is not a folder",
              "unknown extension": "no writer for '.xyz'", "one file, many frames": "single file",
              "too few digits": "needs 2 digits, the pattern has 1 (use ##)"}[case]
    assert expect in err, err
    assert not (clip / "out").exists()


def test_farm_render_checks_the_output_before_ray_starts(clip, capsys, monkeypatch):
    from lookgrid.commands import farm as farm_command

    monkeypatch.setattr(farm_command, "run_job", lambda *a, **k: pytest.fail("Ray started before the check"))
    spec_path = clip / "job.json"
    args = base_args(clip)
    args[4] = str(clip / "out" / "%05d.xyz")
    assert main(args + ["--frames", "0-2", "--write-spec", str(spec_path)]) == 0
    capsys.readouterr()
    assert main(["farm", "render", "--spec", str(spec_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no writer for '.xyz'" in err and str(clip / "out" / "%05d.xyz") in err, err
