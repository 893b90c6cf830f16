"""The measures of issue 16: grain stress, low-pass warping ratio, the cut measure."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.eval import harness
from lookgrid.eval import metrics as M
from lookgrid.eval.synthetic import shift_clip, smooth_image
from lookgrid.model.colormath import display_to_working as W
from lookgrid.model.colormath import working_to_display


def _clip(frames=4, h=64, w=96, seed=0, name="synthetic"):
    images, masks = shift_clip(frames, h, w, shift=(2, 1), seed=seed)
    warm = W(np.clip(smooth_image(40, 40, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    cool = W(np.clip(smooth_image(30, 50, seed=8) * [0.3, 0.6, 1.2], 0, 1))
    return harness.EvalClip(name, images, {"fg": masks}, {"fg": warm, "background": cool},
                            {"fg": "test:warm", "background": "test:cool"}, list(range(frames))).validate()


def test_grain_has_the_asked_sigma_split_into_luminance_and_chroma_and_is_fresh_per_frame():
    img = W(np.full((200, 200, 3), 0.5, np.float32))
    a, b = M.grain_frames([img, img], 0.03, seed=1)
    da = working_to_display(a.astype(np.float64)) - 0.5
    db = working_to_display(b.astype(np.float64)) - 0.5
    # luminance part: the channel mean carries N(0, sigma); chroma part has zero channel mean
    assert da.mean(axis=2).std() == pytest.approx(0.03, rel=0.05)
    chroma = da - da.mean(axis=2, keepdims=True)
    assert chroma.std() == pytest.approx(M.GRAIN_CHROMA * 0.03 * np.sqrt(2 / 3), rel=0.05)
    assert abs(da.mean()) < 1e-3
    assert np.corrcoef(da.ravel(), db.ravel())[0, 1] < 0.05          # fresh grain every frame
    again = M.grain_frames([img, img], 0.03, seed=1)
    np.testing.assert_array_equal(again[1], b)                        # seeded


def test_lowpass_ratio_is_blind_to_grain_that_the_plain_ratio_sees():
    clip = _clip(frames=4)
    settings = harness.MetricSettings(style_pixels=1000, swd_projections=8)
    ctx = harness.prepare(clip, settings)
    same = harness.measure(clip, clip.frames, ctx, settings)
    assert same["lowpass_ratio"] == pytest.approx(1.0)
    grainy = harness.measure(clip, M.grain_frames(clip.frames, 0.03, seed=0), ctx, settings)
    assert grainy["warping_ratio"] > 3.0                              # grain dominates the plain error
    assert grainy["lowpass_ratio"] < 1.0 + 0.2 * (grainy["warping_ratio"] - 1.0)
    # a low-frequency flicker (the look's own) shows in both
    flicker = [f + 0.05 * (t % 2) for t, f in enumerate(clip.frames)]
    fl = harness.measure(clip, flicker, ctx, settings)
    assert fl["lowpass_ratio"] > 5.0


def test_lowpass_warping_error_is_the_plain_error_of_blurred_frames():
    clip = _clip(frames=3)
    flows = M.input_flows(clip.frames)
    disp = [M.display(f) for f in clip.frames]
    want = [M.warping_error_display(M.lowpass(a), M.lowpass(b), f) for a, b, f in zip(disp[:-1], disp[1:], flows)]
    np.testing.assert_allclose(M.warping_errors(clip.frames, flows, lowpass_sigma=M.LOWPASS_SIGMA), want)
    const = np.full((20, 30, 3), 0.25, np.float32)
    np.testing.assert_allclose(M.lowpass(const), const, atol=1e-7)


def test_frames_carried_counts_to_the_first_frame_below_the_threshold():
    t = M.CUT_THRESHOLD
    assert M.frames_carried([0.0, 0.0]) == 0
    assert M.frames_carried([10 * t, 0.5 * t, 2 * t]) == 1
    assert M.frames_carried([10 * t, 3 * t, 0.9 * t]) == 2
    assert M.frames_carried([10 * t] * 3) == 3
    a = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    assert M.look_distance(a, a) == 0.0
    assert M.look_distance(W(np.full((4, 4, 3), 0.5)), W(np.full((4, 4, 3), 0.6))) == pytest.approx(0.1, abs=1e-6)


def test_cut_clip_joins_two_shots_with_the_first_shots_references():
    a, b = _clip(frames=4, seed=0, name="a"), _clip(frames=3, h=32, w=48, seed=5, name="b")
    cut, fresh = harness.cut_clip(a, b, 3)
    assert len(cut.frames) == 6 and cut.frame_numbers == list(range(6)) and fresh.frame_numbers == [0, 1, 2]
    assert cut.frames[4].shape == a.frames[0].shape
    np.testing.assert_array_equal(cut.frames[3], fresh.frames[0])
    np.testing.assert_array_equal(cut.masks["fg"][5], fresh.masks["fg"][2])
    assert fresh.style_keys == a.style_keys
    with pytest.raises(Exception, match="needs 4 frames"):
        harness.cut_clip(a, b, 4)


def test_cut_measure_sees_the_temporal_state_and_not_a_stateless_method(tmp_path):
    """TC-AdaIN carries half the old statistics into the new shot (alpha = 0.5), so the look after
    the cut differs from a fresh start for some frames; per-frame and Reinhard reset at once."""
    import torch

    from lookgrid.engine import Engine
    from lookgrid.model.load import save_model
    from lookgrid.model.network import LookGridNet

    torch.manual_seed(0)
    engine = Engine(model_path=str(save_model(LookGridNet(), tmp_path / "prior.pt")), device="cpu", temporal="tc")
    a = _clip(frames=4, seed=0, name="a")
    b = _clip(frames=4, seed=9, name="b")
    b.frames[:] = [np.clip(f * 0.6 + 0.25, 0, None).astype(np.float32) for f in b.frames]  # another shot
    cut, fresh = harness.cut_clip(a, b, 4)
    tc = harness.measure_cut(engine, cut, fresh, "lookgrid")
    assert tc["distance_per_frame"][0] > M.CUT_THRESHOLD and tc["frames_carried"] >= 1
    assert all(x > y for x, y in zip(tc["distance_per_frame"], tc["distance_per_frame"][1:]))  # it settles
    for stateless in ("per-frame", "reinhard"):
        r = harness.measure_cut(engine, cut, fresh, stateless)
        assert r["frames_carried"] == 0 and max(r["distance_per_frame"]) < 1e-6
    # the default, "flow", falls back to the current frame where the flow is not trusted: a cut
    flow = harness.measure_cut(Engine(model_path=engine.model_path, device="cpu"), cut, fresh, "lookgrid")
    assert flow["frames_carried"] == 0
