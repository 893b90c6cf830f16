"""Grade pumping, small-region style and the classical per-region transfers, on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.eval import classical, harness
from lookgrid.eval import metrics as M
from lookgrid.eval.synthetic import shift_clip, smooth_image
from lookgrid.model.colormath import display_to_working as W
from lookgrid.model.colormath import lab_to_working, working_to_lab


# --- grade pumping -------------------------------------------------------------------------------
def test_a_held_or_linearly_drifting_grade_pumps_zero():
    held = np.tile([3.0, -2.0, 5.0], (8, 1))
    assert M.grade_pumping(held) == pytest.approx(0.0)
    drift = held + np.arange(8)[:, None] * np.array([0.5, 0.1, -0.2])
    assert M.grade_pumping(drift) == pytest.approx(0.0, abs=1e-12)


def test_an_alternating_grade_pumps_four_times_its_swing():
    d = np.array([0.3, -0.4, 1.2])  # |d| = 1.3
    g = np.array([[1.0, 2.0, 3.0] + (-1) ** t * d for t in range(9)])
    assert M.grade_pumping(g) == pytest.approx(4 * 1.3)


def test_pumping_skips_missing_frames_and_short_clips():
    g = np.zeros((6, 3))
    g[3] = np.nan
    assert M.grade_pumping(g) == pytest.approx(0.0)  # only t=1 is left (t=2,3,4 touch the NaN)
    assert M.grade_pumping(np.zeros((2, 3))) is None
    assert M.grade_pumping(np.full((5, 3), np.nan)) is None


def test_region_grade_offsets_measure_the_lab_mean_shift_inside_the_region():
    img = W(smooth_image(24, 32, seed=1))
    mask = np.zeros((24, 32), np.float32)
    mask[4:20, 6:26] = 1.0
    lab = working_to_lab(img.astype(np.float64))
    shift = np.array([4.0, -3.0, 2.0])
    moved = lab_to_working(lab + shift).astype(np.float32)
    out = np.where(mask[..., None] > 0, moved, img)
    offs = M.region_grade_offsets([img, img], [out, img], [mask, mask])
    np.testing.assert_allclose(offs[0], shift, atol=1e-3)
    np.testing.assert_allclose(offs[1], 0.0, atol=1e-9)
    empty = np.zeros_like(mask)
    assert np.isnan(M.region_grade_offsets([img], [out], [empty])).all()


def test_a_held_look_pumps_zero_and_a_flickering_one_pumps_in_measure():
    images, masks = shift_clip(6, 48, 64, shift=(1, 1))
    warm = W(np.clip(smooth_image(30, 30, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    cool = W(np.clip(smooth_image(30, 30, seed=8) * [0.3, 0.6, 1.2], 0, 1))
    clip = harness.EvalClip("syn", images, {"fg": masks}, {"fg": warm, "background": cool},
                            {"fg": "a", "background": "b"}, list(range(6))).validate()
    settings = harness.MetricSettings(style_pixels=1000, swd_projections=8)
    ctx = harness.prepare(clip, settings)
    lab = [working_to_lab(f.astype(np.float64)) for f in images]
    held = [lab_to_working(x + [5.0, 2.0, -3.0]).astype(np.float32) for x in lab]
    pump = [lab_to_working(x + [5.0 + (-1) ** t, 2.0, -3.0]).astype(np.float32) for t, x in enumerate(lab)]
    r_held = harness.measure(clip, held, ctx, settings)
    r_pump = harness.measure(clip, pump, ctx, settings)
    assert r_held["pumping"] == pytest.approx(0.0, abs=0.02)
    assert r_pump["pumping"] == pytest.approx(4.0, abs=0.05)  # L* alternates by ±1
    assert set(r_pump["pumping_per_region"]) == {"fg", "background"}
    # the disc covers ~15 % of the frame: no small region
    assert r_held["swd_small"] is None and r_held["coverage"]["fg"] > 0.02


def test_small_regions_get_their_own_style_column():
    images, _ = shift_clip(3, 48, 64)
    tiny = [np.zeros((48, 64), np.float32) for _ in images]
    for m in tiny:
        m[20:25, 30:35] = 1.0  # 25 px of 3072: 0.8 %
    warm = W(np.clip(smooth_image(30, 30, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    clip = harness.EvalClip("syn", images, {"car": tiny}, {"car": warm, "background": warm},
                            {"car": "a", "background": "b"}, [0, 1, 2]).validate()
    settings = harness.MetricSettings(style_pixels=1000, swd_projections=8)
    ctx = harness.prepare(clip, settings)
    row = harness.measure(clip, images, ctx, settings)
    assert row["coverage"]["car"] < M.SMALL_REGION
    assert row["swd_small"] == pytest.approx(row["style"]["car"]["swd"])


# --- classical transfers -------------------------------------------------------------------------
def _gaussian(n, mean, cov, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_mkl_maps_a_gaussian_cloud_onto_the_references_mean_and_covariance():
    src = _gaussian(20000, [0.4, 0.5, 0.3], [[0.010, 0.004, 0.0], [0.004, 0.02, 0.003], [0.0, 0.003, 0.005]], 0)
    ref_px = _gaussian(30000, [0.6, 0.3, 0.45], [[0.02, -0.006, 0.002], [-0.006, 0.01, 0.0], [0.002, 0.0, 0.015]], 1)
    ref = classical.Reference.of_pixels(ref_px)
    out = classical.region_transfer(src, np.ones(len(src)), ref, "mkl")
    mean, cov = classical.weighted_mean_cov(out, None)
    np.testing.assert_allclose(mean, ref.mean, atol=1e-9)
    np.testing.assert_allclose(cov, ref.cov, atol=1e-8)
    # the map is the colour prior's (one concept, one place), uncapped
    from lookgrid.model.prior import prior_affine
    import torch

    mc, cc = classical.weighted_mean_cov(src, None)
    t = lambda a: torch.from_numpy(np.asarray(a))[None]  # noqa: E731
    aff = prior_affine(t(mc), t(cc), t(ref.mean), t(ref.cov), max_gain=float("inf"), eps=classical.MKL_EPS)[0].numpy()
    np.testing.assert_allclose(out, classical.apply_affine(src, aff), atol=1e-12)


def test_histogram_matching_matches_each_marginal():
    rng = np.random.default_rng(2)
    src = np.stack([rng.uniform(0, 1, 5000), rng.normal(0.5, 0.1, 5000), rng.exponential(0.2, 5000)], axis=1)
    ref_px = np.stack([rng.beta(2, 5, 8000), rng.uniform(0.2, 0.9, 8000), rng.normal(0.3, 0.05, 8000)], axis=1)
    ref = classical.Reference.of_pixels(ref_px)
    out = classical.match_marginals(src, None, ref)
    levels = np.linspace(0.02, 0.98, 25)
    for c in range(3):
        np.testing.assert_allclose(np.quantile(out[:, c], levels), np.quantile(ref_px[:, c], levels), atol=0.01)
        # monotone per channel: the order of the values is kept
        order = np.argsort(src[:, c])
        assert np.all(np.diff(out[order, c]) >= -1e-12)


def test_histogram_matching_maps_equal_values_to_equal_values_and_uses_weights():
    src = np.array([[0.1] * 3, [0.1] * 3, [0.5] * 3, [0.9] * 3])
    ref = classical.Reference.of_pixels(np.linspace(0, 1, 300).repeat(3).reshape(-1, 3))
    out = classical.match_marginals(src, None, ref)
    np.testing.assert_array_equal(out[0], out[1])
    # a zero-weight pixel does not move the others' levels
    w = np.array([1.0, 1.0, 1.0, 0.0])
    out_w = classical.match_marginals(src, w, ref)
    assert out_w[2, 0] > out[2, 0]  # 0.5 is now the top of the weighted mass


def test_hm_mkl_hm_matches_marginals_and_transfer_is_per_region():
    images, masks = shift_clip(2, 48, 64)
    warm = W(np.clip(smooth_image(30, 30, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    cool = W(np.clip(smooth_image(30, 50, seed=8) * [0.3, 0.6, 1.2], 0, 1))
    refs = [classical.reference(warm), classical.reference(cool)]
    m = np.stack([masks[0], 1 - masks[0]])
    for kind in classical.TRANSFERS:
        out = classical.transfer(images[0], m, refs, kind)
        assert out.shape == images[0].shape and out.dtype == np.float32 and np.isfinite(out).all()
        disp = classical.to_display(out)
        fg = disp[masks[0] > 0.5]
        assert np.linalg.norm(fg.mean(0) - refs[0].mean) < 0.02
        bg = disp[masks[0] < 0.5]
        assert np.linalg.norm(bg.mean(0) - refs[1].mean) < 0.02
    hm = classical.to_display(classical.transfer(images[0], m, refs, "hm-mkl-hm"))[masks[0] > 0.5]
    levels = np.linspace(0.05, 0.95, 10)
    for c in range(3):
        np.testing.assert_allclose(np.quantile(hm[:, c], levels), np.quantile(refs[0].pixels[:, c], levels), atol=0.03)
    # a region with no pixels is left alone
    empty = np.stack([np.zeros_like(masks[0]), np.ones_like(masks[0])])
    out = classical.transfer(images[0], empty, refs, "mkl")
    assert np.isfinite(out).all()
    with pytest.raises(Exception, match="unknown classical"):
        classical.region_transfer(np.zeros((4, 3)), np.ones(4), refs[0], "nope")


def test_classical_rows_render_in_the_harness():
    images, masks = shift_clip(3, 32, 48)
    warm = W(np.clip(smooth_image(30, 30, seed=7) * [1.2, 0.7, 0.3], 0, 1))
    cool = W(np.clip(smooth_image(30, 50, seed=8) * [0.3, 0.6, 1.2], 0, 1))
    clip = harness.EvalClip("syn", images, {"fg": masks}, {"fg": warm, "background": cool},
                            {"fg": "a", "background": "b"}, [0, 1, 2]).validate()
    run = harness.render_method(None, clip, "mkl")
    assert len(run.outputs) == 3 and run.ms_per_frame > 0
    refs = [classical.reference(warm), classical.reference(cool)]
    np.testing.assert_allclose(run.outputs[1], classical.transfer(images[1], clip.all_masks(1), refs, "mkl"))
    assert set(classical.TRANSFERS) <= set(harness.ROWS)
