"""Issue 14, items 5 and 8 through ``lookgrid render``: the NaN/Inf policy covers alpha and is
counted; a render is all or nothing per job; holes in a sequence are errors unless allowed; killed
runs leave nothing a rerun keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lookgrid.cli import main
from lookgrid.fsutil import is_temp_name
from lookgrid.imaging import read_image, write_image

H, W = 24, 32


def make_clip(d, frames=range(4), alpha_bad=False):
    (d / "frames").mkdir(parents=True, exist_ok=True)
    (d / "masks").mkdir(exist_ok=True)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    for f in frames:
        rgba = np.stack([x / W, y / H, 0.5 + 0.2 * np.sin(x / 5 + f), np.full_like(x, 0.75)], -1)
        if alpha_bad:
            rgba[0, 0, 3], rgba[0, 1, 3], rgba[0, 2, 3] = np.nan, np.inf, -np.inf
        write_image(d / "frames" / f"f.{f:04d}.exr", rgba, channel_names=list("RGBA"))
        m = np.zeros((H, W), np.float32)
        m[6:18, 8 + f:20 + f] = 1
        write_image(d / "masks" / f"m.{f:04d}.png", m, dtype="uint8")
    rng = np.random.default_rng(0)
    write_image(d / "ref_a.png", np.clip(rng.normal((0.8, 0.4, 0.2), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    write_image(d / "ref_b.png", np.clip(rng.normal((0.2, 0.3, 0.7), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    return d


def args_for(d, method="reinhard"):
    return ["render", "--input", str(d / "frames" / "f.####.exr"), "--output", str(d / "out" / "o.####.exr"),
            "--mask", f"fg={d / 'masks' / 'm.####.png'}", "--style", f"fg={d / 'ref_a.png'}",
            "--style", f"background={d / 'ref_b.png'}", "--method", method, "--no-progress", "--device", "cpu"]


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- item 5 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["reinhard", "lookgrid"])
def test_render_replaces_and_counts_non_finite_alpha(tmp_path, capsys, method):
    d = make_clip(tmp_path, range(2), alpha_bad=True)
    assert main(args_for(d, method)) == 0
    out = capsys.readouterr().out
    assert "replaced 6 non-finite values" in out, out  # 3 per frame, in alpha
    for f in range(2):
        img = read_image(d / "out" / f"o.{f:04d}.exr")
        a = img.pixels[..., img.channel_names.index("A")]
        assert np.isfinite(img.pixels).all()
        assert list(a[0, :3]) == [0.0, 65504.0, -65504.0] and np.all(a[1:] == 0.75)


# --- item 8: all or nothing, holes, debris -------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated_mask", "wrong_aspect_mask", "damaged_plate"])
def test_error_mid_sequence_leaves_no_outputs_and_no_debris(tmp_path, capsys, damage):
    d = make_clip(tmp_path)
    if damage == "truncated_mask":
        p = d / "masks" / "m.0002.png"
        p.write_bytes(p.read_bytes()[:60])
    elif damage == "wrong_aspect_mask":
        write_image(d / "masks" / "m.0002.png", np.ones((H, W * 3), np.float32), dtype="uint8")
    else:
        p = d / "frames" / "f.0002.exr"
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    # an earlier good render of frame 0 must survive the failed job unchanged
    (d / "out").mkdir()
    write_image(d / "out" / "o.0000.exr", np.zeros((H, W, 4), np.float32), channel_names=list("RGBA"))
    before = (d / "out" / "o.0000.exr").read_bytes()
    assert main(args_for(d)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err, err
    assert listing(d / "out") == ["o.0000.exr"]
    assert (d / "out" / "o.0000.exr").read_bytes() == before


def test_hole_in_sequence_is_an_error_unless_allowed(tmp_path, capsys):
    d = make_clip(tmp_path, [0, 1, 3, 4])
    assert main(args_for(d)) == 2
    err = capsys.readouterr().err
    assert "2" in err and "missing" in err and "--allow-missing" in err, err
    assert listing(d / "out") == []
    assert main(args_for(d) + ["--allow-missing"]) == 0
    captured = capsys.readouterr()
    assert "missing" in captured.err and "warning" in captured.err
    assert listing(d / "out") == [f"o.{f:04d}.exr" for f in (0, 1, 3, 4)]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_render_leaves_nothing_a_rerun_keeps(tmp_path, sig):
    d = make_clip(tmp_path, range(40))
    cmd = [sys.executable, "-m", "lookgrid.cli"] + args_for(d)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if any(is_temp_name(n) for n in listing(d / "out")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stdout.read()
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    names = listing(d / "out")
    assert not [n for n in names if not is_temp_name(n)], names  # no output of the killed job
    if sig == signal.SIGTERM:
        assert names == [], names  # it cleaned up on the way out
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert listing(d / "out") == [f"o.{f:04d}.exr" for f in range(40)]
