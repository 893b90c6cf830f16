"""Engine.render_clip on small generated sequences: colour handling, masks, chunks, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
from lookgrid.errors import InvalidInputError, MissingFramesError, ShapeMismatchError
from lookgrid.imaging import read_image, write_image

from engine_clips import STYLE_A, STYLE_B, make_frame

H, W = 48, 64


def write_clip(folder, frames, *, exr=True, mask_scale=1, alpha=True):
    """RGBA half EXR (ACEScg-ish linear values, some above 1) or 8-bit PNG frames, 8-bit masks."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    for f in frames:
        img, m = make_frame(f, H, W)
        if exr:
            lin = (img ** 2.2) * 1.6  # linear-light values, highlights above 1
            a = np.linspace(0.2, 1.0, W, dtype=np.float32)[None, :, None].repeat(H, 0)
            px = np.concatenate([lin, a], axis=-1) if alpha else lin
            write_image(folder / "in" / f"f.{f:04d}.exr", px,
                        channel_names=["R", "G", "B", "A"][:px.shape[-1]], dtype="half")
        else:
            write_image(folder / "in" / f"f.{f:04d}.png", np.clip(img, 0, 1), dtype="uint8")
        write_image(folder / "mask" / f"m.{f:04d}.png", m[0, ::mask_scale, ::mask_scale], dtype="uint8")
    ext = "exr" if exr else "png"
    return str(folder / "in" / f"f.####.{ext}"), str(folder / "mask" / "m.####.png")


def spec_for(inp, mask, out, **kw):
    return ClipSpec(input=inp, output=out,
                    regions=[RegionSpec("fg", mask, [StyleTrack(STYLE_A)]),
                             RegionSpec("background", None, [StyleTrack(STYLE_B)])], **kw)


def test_exr_in_exr_out_keeps_alpha_and_linear(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 5))
    out = str(tmp_path / "out" / "o.####.exr")
    calls = []
    summary = engine.render_clip(spec_for(inp, mask, out), progress=lambda *a: calls.append(a))
    assert summary.frames == 4 and summary.fps > 0 and len(calls) == 4
    assert [c[:3] for c in calls] == [(1, 4, 1), (2, 4, 2), (3, 4, 3), (4, 4, 4)]
    src = read_image(tmp_path / "in" / "f.0002.exr")
    res = read_image(tmp_path / "out" / "o.0002.exr")
    assert res.channel_names == src.channel_names == ("R", "G", "B", "A")
    np.testing.assert_array_equal(res.pixels[..., 3], src.pixels[..., 3])  # alpha carried exactly
    rgb_in, rgb_out = src.pixels[..., :3], res.pixels[..., :3]
    assert np.isfinite(rgb_out).all()
    assert rgb_out.max() > 1.0  # stays scene-linear (not clipped to display range)
    assert 0.005 < np.abs(rgb_out - rgb_in).mean() < 1.0
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left behind


def test_chunks_equal_one_run_and_match_in_memory_render(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 7), mask_scale=2)  # half-resolution masks
    full = engine.render_clip(spec_for(inp, mask, str(tmp_path / "a" / "o.####.exr"), stride=2))
    assert full.analysed == 4  # anchors 1, 3, 5 and the last frame 6
    engine.render_clip(spec_for(inp, mask, str(tmp_path / "b" / "o.####.exr"), stride=2), frames=[4, 5])
    for f in (4, 5):
        a = read_image(tmp_path / "a" / f"o.{f:04d}.exr").pixels
        b = read_image(tmp_path / "b" / f"o.{f:04d}.exr").pixels
        np.testing.assert_array_equal(a, b)


def test_png_in_png_out(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(0, 3), exr=False)
    out = str(tmp_path / "out" / "%04d.png")
    engine.render_clip(spec_for(inp, mask, out, method="reinhard"))
    res = read_image(tmp_path / "out" / "0001.png")
    src = read_image(tmp_path / "in" / "f.0001.png")
    assert res.pixels.shape == src.pixels.shape
    assert res.spec_info.channel_formats[0] == "uint8"
    assert np.abs(res.pixels - src.pixels).mean() > 0.01


def test_png_identity_round_trip_with_zero_strength(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(0, 2), exr=False)
    spec = spec_for(inp, mask, str(tmp_path / "out" / "%04d.png"))
    for r in spec.regions:
        r.strength = r.strength.constant(0.0)
    engine.render_clip(spec)
    res = read_image(tmp_path / "out" / "0001.png").pixels
    src = read_image(tmp_path / "in" / "f.0001.png").pixels
    assert np.abs(res - src).max() <= 1.5 / 255  # sRGB → working → sRGB within 8-bit rounding


def test_missing_frames_are_named(engine, tmp_path):
    inp, mask = write_clip(tmp_path, [1, 2, 3, 5, 6])
    with pytest.raises(MissingFramesError, match="4"):
        engine.render_clip(spec_for(inp, mask, str(tmp_path / "o.####.exr"), frames="1-6"))
    (tmp_path / "mask" / "m.0003.png").unlink()
    with pytest.raises(MissingFramesError, match=r"m\.####\.png.*3"):
        engine.render_clip(spec_for(inp, mask, str(tmp_path / "o.####.exr"), frames="1-3"))


def test_mask_with_wrong_aspect_is_rejected_and_lowres_accepted(engine, tmp_path):
    inp, mask = write_clip(tmp_path, [1])
    write_image(tmp_path / "mask" / "m.0001.png", np.zeros((48, 20), np.float32), dtype="uint8")
    with pytest.raises(ShapeMismatchError, match="20x48 but the frame is 64x48"):
        engine.render_clip(spec_for(inp, mask, str(tmp_path / "o.####.exr")))
    write_image(tmp_path / "mask" / "m.0001.png", np.ones((12, 16), np.float32), dtype="uint8")
    engine.render_clip(spec_for(inp, mask, str(tmp_path / "o.####.exr")))


def test_output_may_not_overwrite_input(engine, tmp_path):
    inp, mask = write_clip(tmp_path, [1])
    with pytest.raises(InvalidInputError, match="overwrite"):
        engine.render_clip(spec_for(inp, mask, inp))


def test_analyse_once_then_render_chunks_from_the_track(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 8))
    spec = spec_for(inp, mask, str(tmp_path / "a" / "o.####.exr"), stride=3)
    engine.render_clip(spec)  # reference: one sequential run
    analysis = tmp_path / "grids" / "clip.analysis"
    assert engine.analyze_clip(spec, analysis) == 3  # anchors 1, 4, 7 (7 is also the last frame)
    spec_b = spec_for(inp, mask, str(tmp_path / "b" / "o.####.exr"), stride=3)
    summary = engine.render_clip(spec_b, frames=[5, 6], analysis=analysis)
    assert summary.analysed == 0  # nothing analysed again
    for f in (5, 6):
        np.testing.assert_array_equal(read_image(tmp_path / "a" / f"o.{f:04d}.exr").pixels,
                                      read_image(tmp_path / "b" / f"o.{f:04d}.exr").pixels)
    # an analysis of other inputs is refused
    other = spec_for(inp, mask, str(tmp_path / "c" / "o.####.exr"), stride=2)
    with pytest.raises(InvalidInputError, match="other inputs"):
        engine.render_clip(other, frames=[5], analysis=analysis)
    with pytest.raises(InvalidInputError, match="does not exist"):
        engine.render_clip(spec_b, frames=[5], analysis=tmp_path / "nope.analysis")


def test_leftovers_of_a_killed_run_are_removed_and_none_are_made(engine, tmp_path):
    import subprocess
    import sys

    from lookgrid import fsutil

    inp, mask = write_clip(tmp_path, range(1, 3))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # a temporary as atomic_write names it, written by a process that is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with fsutil.atomic_write(out_dir / "o.0001.exr") as tmp:
        stale = out_dir / os.path.basename(tmp).replace(f"-{os.getpid()}-", f"-{dead}-")
        open(tmp, "wb").close()
    stale.write_bytes(b"half a frame")
    assert fsutil.is_temp_name(stale.name)
    engine.render_clip(spec_for(inp, mask, str(out_dir / "o.####.exr")))
    assert sorted(p.name for p in out_dir.iterdir()) == ["o.0001.exr", "o.0002.exr"]
