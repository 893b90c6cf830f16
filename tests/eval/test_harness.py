"""The harness on small generated clips: masks, measuring, rendering through the engine, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookgrid.eval import harness, report
from lookgrid.model.reinhard import reinhard_transfer
from lookgrid.model.colormath import display_to_working as W
from lookgrid.eval.synthetic import shift_clip, smooth_image


def _clip(frames=4, h=64, w=96):
    images, masks = shift_clip(frames, h, w, shift=(2, 1))
    warm = W(np.clip(smooth_image(40, 40, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    cool = W(np.clip(smooth_image(30, 50, seed=8) * [0.3, 0.6, 1.2], 0, 1))
    return harness.EvalClip("synthetic", images, {"fg": masks}, {"fg": warm, "background": cool},
                            {"fg": "test:warm", "background": "test:cool"}, list(range(10, 10 + frames))).validate()


def test_all_masks_adds_the_background():
    clip = _clip()
    m = clip.all_masks(1)
    assert m.shape == (2, 64, 96)
    np.testing.assert_array_equal(m[1], np.clip(1 - clip.masks["fg"][1], 0, 1))
    assert clip.region_names == ["fg", "background"]


def test_validate_names_the_problem():
    from lookgrid.errors import InvalidInputError

    clip = _clip()
    clip.styles.pop("background")
    with pytest.raises(InvalidInputError, match="background"):
        clip.validate()


def test_measure_known_rows():
    clip = _clip()
    settings = harness.MetricSettings(style_pixels=2000, swd_projections=16)
    ctx = harness.prepare(clip, settings)
    same = harness.measure(clip, clip.frames, ctx, settings)
    assert same["warping_ratio"] == pytest.approx(1.0)
    assert same["structure"] == pytest.approx(1.0, abs=1e-6)
    assert same["halo"] == pytest.approx(1.0, abs=1e-6)
    assert same["ms_per_frame"] is None
    assert set(same["style"]) == {"fg", "background"}
    assert len(same["warping_error_per_frame"]) == 3
    flicker = [f + 0.04 * (t % 2) for t, f in enumerate(clip.frames)]
    fl = harness.measure(clip, flicker, ctx, settings, seconds=[0.01] * 4)
    assert fl["warping_ratio"] > 10
    assert fl["ms_per_frame"] == pytest.approx(10.0)
    # a transfer toward the references lowers both style distances
    moved = [reinhard_transfer(f, clip.all_masks(t), [clip.styles["fg"], clip.styles["background"]])
             for t, f in enumerate(clip.frames)]
    mv = harness.measure(clip, moved, ctx, settings)
    for region in ("fg", "background"):
        assert mv["style"][region]["lab_moments"] < 0.5 * same["style"][region]["lab_moments"]
        assert mv["style"][region]["swd"] < same["style"][region]["swd"]


def test_render_method_goes_through_the_engine():
    from lookgrid.engine import Engine

    clip = _clip(frames=3)
    engine = Engine(device="cpu")
    run = harness.render_method(engine, clip, "reinhard")
    assert len(run.outputs) == 3 and len(run.seconds) == 3 and run.ms_per_frame > 0
    want = reinhard_transfer(clip.frames[2], clip.all_masks(2), [clip.styles["fg"], clip.styles["background"]])
    np.testing.assert_allclose(run.outputs[2], want, atol=1e-5)
    assert engine.clip_ids() == []  # the harness closes what it opens
    with pytest.raises(Exception, match="unknown method"):
        harness.render_method(engine, clip, "nonsense")


def test_evaluate_and_reports(tmp_path):
    from lookgrid.engine import Engine

    clip = _clip(frames=3)
    settings = harness.MetricSettings(style_pixels=2000, swd_projections=16)
    res = harness.evaluate_clip(Engine(device="cpu"), clip, ["lookgrid", "reinhard"], settings=settings)
    assert list(res.rows) == ["input", "lookgrid", "reinhard"]
    d = res.to_dict()
    assert d["resolution"] == [96, 64] and d["frames"] == [10, 11, 12]
    json.dumps(d, allow_nan=False)
    sheet = report.contact_sheet(res, frames=[0, 2], tile_width=96)
    # header row + 2 frames; input, regions, 2 methods
    assert sheet.shape == (3 * 64, 4 * 96, 3) and sheet.dtype == np.uint8
    table = report.format_table([d])
    assert "reinhard" in table and "lookgrid" in table and "synthetic" in table
    summary = harness.summarize([res])
    assert summary["input"]["warping_ratio"] == pytest.approx(1.0)
    assert "reinhard" in report.format_summary(summary)
    report.write_png(str(tmp_path / "sheet.png"), sheet)
    report.warping_plot(str(tmp_path / "plot.png"), [d])
    import cv2

    assert cv2.imread(str(tmp_path / "sheet.png")).shape == sheet.shape
    assert cv2.imread(str(tmp_path / "plot.png")) is not None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_pick_frames():
    assert report.pick_frames(2, 3) == [0, 1]
    assert report.pick_frames(30, 3) == [0, 14, 29] or report.pick_frames(30, 3) == [0, 15, 29]


def test_stride_renders_every_frame():
    from lookgrid.engine import Engine

    clip = _clip(frames=5, h=32, w=48)
    run = harness.render_method(Engine(device="cpu"), clip, "lookgrid", stride=2)
    assert len(run.outputs) == 5
    assert all(o.shape == (32, 48, 3) and np.isfinite(o).all() for o in run.outputs)


def test_frozen_diagnostic_applies_the_first_frames_grids_to_every_frame(tmp_path):
    """'frozen' = lookgrid's first-frame look held fixed: frame 0 equals lookgrid's; later frames
    are the first frame's grids applied to the new frame (a prior model's look does change with
    the content, so lookgrid's later frames differ)."""
    import torch

    from lookgrid.engine import Engine
    from lookgrid.engine.spec import ClipSpec, RegionSpec, StyleTrack
    from lookgrid.model.load import save_model
    from lookgrid.model.network import LookGridNet
    from lookgrid.model.render import render_frame

    torch.manual_seed(0)
    path = save_model(LookGridNet(), tmp_path / "prior.pt")  # untrained: the colour prior alone
    engine = Engine(model_path=str(path), device="cpu")
    clip = _clip(frames=4, h=48, w=64)
    clip.frames[3] = np.clip(clip.frames[3] * 0.7 + 0.05, 0, None).astype(np.float32)  # a light change
    live = harness.render_method(engine, clip, "lookgrid")
    frozen = harness.render_method(engine, clip, "frozen")
    np.testing.assert_allclose(frozen.outputs[0], live.outputs[0], atol=1e-6)
    assert np.abs(frozen.outputs[3] - live.outputs[3]).max() > 1e-3
    # what frozen should be: frame 0's grids (the engine's analysis) applied to frame 3
    spec = ClipSpec(input="x.%05d.exr", output="y.%05d.exr", method="lookgrid",
                    regions=[RegionSpec("fg", "fg.%05d.png", [StyleTrack("test:warm")]),
                             RegionSpec("background", None, [StyleTrack("test:cool")])])
    ec = engine.open_clip(spec, frames=clip.frame_numbers)
    try:
        ec.render(10, clip.frames[0], {"fg": clip.masks["fg"][0]})
        grids = ec.grids_at(10)
    finally:
        engine.close_clip(ec.id)
    img = torch.from_numpy(clip.frames[3]).permute(2, 0, 1)[None].contiguous()
    masks = torch.from_numpy(clip.all_masks(3))[None].contiguous()
    want = render_frame(engine.model, img, masks, grids, torch.ones(2))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(frozen.outputs[3], want, atol=1e-5)
