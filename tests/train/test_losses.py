"""Training losses, colour helpers, gradings and flow: shapes, reference values, behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lookgrid.model import colormath as color
from lookgrid.train import losses
from lookgrid.imaging.flow import warp_reference
from lookgrid.train.flow import flow_visibility, random_smooth_flow, warp
from lookgrid.train.grading import Grading, apply_grading, apply_region_gradings, hue_rotation_matrix, sample_grading


def _img(b=2, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.1 + 0.5 * torch.rand((b, 3, h, w), generator=g)


# --- colour --------------------------------------------------------------------------------------
def test_oklab_reference_values_and_round_trip():
    white = torch.ones(1, 3, 1, 1)
    lab = color.linear709_to_oklab_t(white)
    assert torch.allclose(lab.flatten(), torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # Ottosson's published value for sRGB red
    assert torch.allclose(color.linear709_to_oklab_t(red).flatten(), torch.tensor([0.6279, 0.2249, 0.1258]), atol=2e-3)
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    back = color.oklab_to_linear709_t(color.linear709_to_oklab_t(x))
    assert torch.allclose(back, x, atol=1e-5)


def test_acescct_round_trip_and_break():
    x = torch.tensor([-0.01, 0.0, 0.0078125, 0.18, 1.0, 16.0], dtype=torch.float64)
    y = color.acescct_encode_t(x)
    assert abs(float(y[3]) - 0.4135884) < 1e-5  # mid grey in ACEScct
    assert torch.allclose(color.acescct_decode_t(y), x, rtol=1e-6, atol=1e-9)


def test_working_conversion_matches_opencolorio():
    pytest.importorskip("PyOpenColorIO")
    from lookgrid.imaging.color import ColorPipeline

    rgb = np.random.default_rng(0).uniform(0.05, 0.6, (1, 5, 3)).astype(np.float32)
    ref = ColorPipeline(None, src="ACEScct", working="Linear Rec.709 (sRGB)").to_working(rgb)
    mine = color.working_to_linear709_t(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
    assert np.allclose(mine.numpy(), ref, rtol=1e-4, atol=1e-6)


# --- gradings ------------------------------------------------------------------------------------
def test_identity_grading_is_identity_and_sampled_ones_are_monotone_in_grey():
    x = _img()
    assert torch.allclose(apply_grading(x, Grading.identity()), x, atol=1e-6)
    rng = np.random.default_rng(1)
    grey = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 1, 64)
    for _ in range(20):
        g = sample_grading(rng, 1.0)
        out = apply_grading(grey, g)
        y = color.luma_t(out)[0, 0]
        assert torch.all(torch.diff(y) >= -1e-4), g  # a photoreal grade keeps the tonal order
        assert out.min() >= 0 and out.max() <= 1
    assert sample_grading(np.random.default_rng(3), 0.0) == Grading(
        white_balance=(1.0, 1.0, 1.0), pivot=sample_grading(np.random.default_rng(3), 0.0).pivot
    )


def test_hue_rotation_keeps_grey_and_is_orthogonal():
    m = hue_rotation_matrix(math.radians(30))
    assert np.allclose(m @ np.ones(3), np.ones(3))
    assert np.allclose(m @ m.T, np.eye(3))


def test_region_gradings_composite_by_masks():
    x = _img(1)
    m = torch.zeros(1, 2, 16, 16)
    m[:, 0, :, :8] = 1
    m[:, 1] = 1 - m[:, 0]
    g0 = Grading(white_balance=(1.2, 1.0, 0.8))
    g1 = Grading(saturation=0.2)
    out = apply_region_gradings(x, m, [[g0, g1]])
    assert torch.allclose(out[..., :8], apply_grading(x, g0)[..., :8])
    assert torch.allclose(out[..., 8:], apply_grading(x, g1)[..., 8:])
    with pytest.raises(ValueError):
        apply_region_gradings(x, m, [[g0]])


# --- flow ----------------------------------------------------------------------------------------
def test_warp_matches_numpy_reference_and_integer_shift():
    rng = np.random.default_rng(0)
    img = rng.random((20, 24, 3)).astype(np.float32)
    flow = random_smooth_flow(rng, 20, 24, max_shift=3)
    mine, _ = warp(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(flow)[None])
    ref = warp_reference(img, flow.transpose(1, 2, 0))
    assert np.allclose(mine[0].permute(1, 2, 0).numpy(), ref, atol=1e-5)
    shift = torch.zeros(1, 2, 20, 24)
    shift[:, 0] = 2.0  # pixel p of frame t was at p + (2, 0) in frame t-1
    out, inside = warp(torch.from_numpy(img).permute(2, 0, 1)[None], shift)
    assert torch.allclose(out[0, :, :, :-2], torch.from_numpy(img).permute(2, 0, 1)[:, :, 2:], atol=1e-5)
    assert inside[0, 0, :, -2:].sum() == 0 and inside[0, 0, :, :-2].min() == 1


def test_flow_visibility_flags_inconsistent_pixels():
    f = np.zeros((2, 32, 32), np.float32)
    b = np.zeros((2, 32, 32), np.float32)
    assert flow_visibility(f, b).mean() == 1.0
    b[:, 10:20, 10:20] = 5.0  # backward flow disagrees in a block
    vis = flow_visibility(f, b)
    assert vis[12:18, 12:18].max() == 0 and vis[:5, :5].min() == 1


# --- losses --------------------------------------------------------------------------------------
def test_masked_moments_are_true_masked_statistics():
    x = _img(1, 8, 8)
    m = torch.zeros(1, 1, 8, 8)
    m[..., :3, :] = 1
    mean, std, area = losses.masked_moments(x, m, eps=0.0)
    sel = x[0, :, :3, :].reshape(3, -1)
    assert torch.allclose(mean[0, 0], sel.mean(1), atol=1e-6)
    assert torch.allclose(std[0, 0], sel.std(1, unbiased=False), atol=1e-5)
    assert float(area) == 24


def test_region_stats_loss_zero_for_matching_reference_and_grows_with_cast():
    x = _img(1, 32, 32)
    m = torch.zeros(1, 2, 32, 32)
    m[:, 0, :16] = 1
    m[:, 1] = 1 - m[:, 0]
    refs = torch.stack([x[:, :, :16], x[:, :, 16:]], dim=1)  # each region's own pixels
    assert float(losses.region_stats_loss(x, m, refs, scales=(1,))) < 1e-4
    warm = x * torch.tensor([1.2, 1.0, 0.8]).view(1, 3, 1, 1)
    refs_warm = torch.stack([warm[:, :, :16], x[:, :, 16:]], dim=1)
    a = float(losses.region_stats_loss(x, m, refs_warm))
    graded = m[:, :1] * warm + m[:, 1:] * x  # only region 0 takes the warm look
    b = float(losses.region_stats_loss(graded, m, refs_warm))
    assert a > 10 * b + 1e-3


def _laplacian_loop(g: torch.Tensor) -> float:
    b, c, d, h, w = g.shape
    tot = 0.0
    for axis, n in ((2, d), (3, h), (4, w)):
        if n < 2:
            continue
        acc, cnt = 0.0, 0
        for idx in np.ndindex(b, c, d, h, w):
            j = list(idx)
            j[axis] += 1
            if j[axis] < g.shape[axis]:
                acc += float(g[idx] - g[tuple(j)]) ** 2
                cnt += 1
        tot += acc / cnt
    return tot


def test_grid_laplacian_matches_neighbour_loop_and_is_zero_for_constant():
    g = torch.randn(1, 12, 3, 4, 5, dtype=torch.float64)
    assert abs(float(losses.grid_laplacian_loss(g)) - _laplacian_loop(g)) < 1e-9
    assert float(losses.grid_laplacian_loss(torch.ones(2, 12, 8, 4, 4))) == 0.0
    # a change along depth only is seen (a flattened 2-D Laplacian would miss it)
    z = torch.zeros(1, 12, 8, 4, 4)
    z[:, :, 4:] = 1
    assert float(losses.grid_laplacian_loss(z)) > 0


def test_temporal_losses_zero_for_consistent_outputs_and_luminance_term_forgives_lighting():
    x = _img(1, 24, 24)
    flow = torch.zeros(1, 2, 24, 24)
    flow[:, 0] = 1.0
    vis = torch.ones(1, 1, 24, 24)
    prev = x
    cur, _ = warp(prev, flow)
    assert float(losses.temporal_loss(cur, prev, flow, vis)) < 1e-10
    brighter = cur + 0.1  # the shot's lighting changes; the output follows it
    assert float(losses.temporal_loss(brighter, prev, flow, vis)) > 5e-3
    assert float(losses.luminance_temporal_loss(brighter, prev, brighter, prev, flow, vis)) < 1e-8
    assert float(losses.luminance_temporal_loss(brighter, prev, cur, prev, flow, vis)) > 5e-3


def test_guide_mask_noise_and_l1_losses():
    x = _img(2, 8, 8)
    assert float(losses.guide_loss(color.luma_t(x), x)) < 1e-12
    m = torch.rand(2, 3, 8, 8)
    assert float(losses.mask_loss(m, m)) == 0 and float(losses.mask_loss(m, 1 - m)) > 0
    g = torch.Generator().manual_seed(0)
    noisy = losses.add_training_noise(x, g, impulse_count=10, grain_sigma=0.0)
    changed = (noisy != x).any(1).sum()
    assert 0 < changed <= 20
    assert float(losses.noise_loss(x, noisy)) > 0 and float(losses.noise_loss(x, x)) == 0
    w = torch.zeros(2, 1, 8, 8)
    w[..., :4] = 1
    t = x.clone()
    t[..., 4:] += 1
    assert float(losses.supervised_l1(x, t, w)) == 0 and float(losses.supervised_l1(x, t)) == 0.5
    with pytest.raises(ValueError):
        losses.supervised_l1(x, x[:1])


def test_losses_have_gradients():
    x = _img(1, 16, 16).requires_grad_(True)
    m = torch.ones(1, 1, 16, 16)
    refs = _img(1, 16, 16, seed=3)[:, None]
    losses.region_stats_loss(x, m, refs).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_region_swd_loss_sees_distribution_shape_beyond_moments():
    g = torch.Generator().manual_seed(0)
    h = w = 32
    m = torch.ones(1, 1, h, w)
    base = 0.2 + 0.3 * torch.rand((1, 3, h, w), generator=g)
    same = losses.region_swd_loss(base, m, base[:, None], g)
    assert float(same) < 1e-6
    # a two-level image and a uniform one with equal mean and std: moments agree, SWD does not
    two = torch.where(torch.rand((1, 1, h, w), generator=g) < 0.5, 0.25, 0.45).expand(1, 3, h, w).contiguous()
    mu, sd = two.mean(), two.std(unbiased=False)
    uni = torch.rand((1, 1, h, w), generator=g).expand(1, 3, h, w)
    uni = (uni - uni.mean()) / uni.std(unbiased=False) * sd + mu
    assert float(losses.region_swd_loss(uni, m, two[:, None], g)) > 5e-3
    assert float(losses.region_swd_loss(two, m, two[:, None], g)) < 1e-6
    # gradients reach the output
    x = uni.clone().requires_grad_(True)
    losses.region_swd_loss(x, m, two[:, None], g).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_training_grain_has_eval_form_and_per_image_strength():
    """Grain with a chroma part: per-image std as asked, the chroma part leaves brightness alone
    (channel mean = the luminance part), and a zero std leaves that image untouched."""
    x = torch.full((3, 3, 64, 64), 0.4)
    g = torch.Generator().manual_seed(1)
    sigma = torch.tensor([0.0, 0.02, 0.05])
    noisy = losses.add_training_noise(x, g, impulse_count=0, grain_sigma=sigma, grain_chroma=0.5)
    d = noisy - x
    assert torch.equal(noisy[0], x[0])
    lum = d.mean(1)  # channel mean: the luminance part alone
    for i, s in ((1, 0.02), (2, 0.05)):
        assert abs(float(lum[i].std()) - s) < 0.1 * s
        chroma = d[i] - lum[i]
        assert abs(float(chroma.std()) - 0.5 * s * (2 / 3) ** 0.5) < 0.15 * 0.5 * s
    with pytest.raises(ValueError):
        losses.add_training_noise(x, g, grain_sigma=torch.zeros(2), grain_chroma=0.5)
