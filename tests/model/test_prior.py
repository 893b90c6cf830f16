"""The closed-form colour prior (lookgrid.model.prior) and how the network uses it."""

import numpy as np
import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model import prior as P
from lookgrid.model.colormath import LUMA_WEIGHTS
from lookgrid.model.network import LookGridNet
from lookgrid.model.state import StyleFeatures, TemporalState


def _spd(gen, b=4, scale=0.02):
    a = torch.randn(b, 3, 3, generator=gen, dtype=torch.float64) * scale ** 0.5
    return a @ a.transpose(1, 2) + 1e-3 * torch.eye(3, dtype=torch.float64)


def test_colour_stats_are_true_weighted_statistics(gen):
    x = torch.rand(2, 3, 9, 7, generator=gen, dtype=torch.float64)
    w = torch.rand(2, 1, 9, 7, generator=gen, dtype=torch.float64)
    mean, cov, fb = P.colour_stats(x, w)
    for b in range(2):
        px = x[b].reshape(3, -1).numpy()
        pw = w[b].reshape(-1).numpy()
        assert np.allclose(mean[b].numpy(), (px * pw).sum(1) / pw.sum())
        assert np.allclose(cov[b].numpy(), np.cov(px, aweights=pw, bias=True))
    assert not fb.any()
    # an empty mask falls back to the whole image instead of dividing by zero
    mean0, cov0, fb0 = P.colour_stats(x, torch.zeros_like(w))
    full_mean, full_cov, _ = P.colour_stats(x)
    assert fb0.all() and torch.allclose(mean0, full_mean) and torch.allclose(cov0, full_cov)


def test_mkl_maps_covariance_exactly_and_equal_statistics_to_identity(gen):
    cc, cs = _spd(gen), _spd(gen)
    t = P.mkl_matrix(cc, cs, max_gain=1e9, eps=0.0)
    assert torch.allclose(t, t.transpose(1, 2), atol=1e-12)
    assert torch.allclose(t @ cc @ t, cs, atol=1e-9)
    assert torch.allclose(P.mkl_matrix(cc, cc, eps=0.0), torch.eye(3, dtype=torch.float64).expand(4, 3, 3), atol=1e-9)


def test_gain_cap_bounds_the_eigenvalues(gen):
    cc = 1e-4 * torch.eye(3, dtype=torch.float64).expand(2, 3, 3)  # nearly flat content
    cs = 0.05 * torch.eye(3, dtype=torch.float64).expand(2, 3, 3)  # contrasty reference
    t = P.mkl_matrix(cc, cs, max_gain=2.0, eps=0.0)
    assert torch.allclose(torch.linalg.eigvalsh(t), torch.full((2, 3), 2.0, dtype=torch.float64))
    uncapped = P.mkl_matrix(cc, cs, max_gain=1e9, eps=0.0)
    assert torch.linalg.eigvalsh(uncapped).min() > 20


def test_prior_affine_moves_samples_to_the_reference_gaussian(gen):
    n = 200_000
    mc, ms = torch.tensor([[0.3, 0.4, 0.2]], dtype=torch.float64), torch.tensor([[0.5, 0.35, 0.45]], dtype=torch.float64)
    cc, cs = _spd(gen, 1, 0.01), _spd(gen, 1, 0.01)
    x = mc.T + torch.linalg.cholesky(cc[0]) @ torch.randn(3, n, generator=gen, dtype=torch.float64)
    a = P.prior_affine(mc, cc, ms, cs, max_gain=1e9, eps=0.0)[0]
    y = a[:, :3] @ x + a[:, 3:]
    assert torch.allclose(y.mean(1), ms[0], atol=2e-3)
    assert torch.allclose(torch.cov(y), cs[0], atol=3e-4)


def test_affine_grid_layout():
    aff = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    g = P.affine_grid(aff, 8, 16, 16)
    assert g.shape == (2, 12, 8, 16, 16)
    assert torch.equal(g[1, :, 3, 5, 7], aff[1].reshape(12))  # coefficient k = 4*row + col
    with pytest.raises(ShapeMismatchError, match=r"\(B,3,4\)"):
        P.affine_grid(torch.zeros(2, 12), 8, 16, 16)


def _scene(gen):
    content = torch.rand(1, 3, 256, 256, generator=gen) * 0.3 + 0.2
    masks = torch.zeros(1, 2, 256, 256)
    masks[:, 0, 64:192, 64:192] = 1.0
    masks[:, 1] = 1.0 - masks[:, 0]
    styles = torch.stack([torch.rand(3, 256, 256, generator=gen) * 0.2 + torch.tensor([0.6, 0.2, 0.1]).view(3, 1, 1),
                          torch.rand(3, 256, 256, generator=gen) * 0.1 + torch.tensor([0.1, 0.2, 0.5]).view(3, 1, 1)])
    return content, masks, styles


def test_untrained_network_renders_the_prior(gen):
    torch.manual_seed(0)
    net = LookGridNet({"prior_curve": 0.0}).eval()  # the affine alone (the curve: below)
    content, masks, styles = _scene(gen)
    with torch.no_grad():
        feats = net.encode_style(styles)
        grids, state = net.predict_grids(content, masks, feats)
    mean, cov, _ = P.colour_stats(content.expand(2, -1, -1, -1), masks.view(2, 1, 256, 256))
    want = P.affine_grid(P.prior_affine(mean, cov, feats.colour_mean, feats.colour_cov), 8, 16, 16)
    assert torch.allclose(grids, want, atol=1e-6)
    assert torch.allclose(state.colour_mean, mean) and torch.allclose(state.colour_cov, cov)
    # each region's pixels land on its own reference's mean
    for k in range(2):
        a = grids[k, :, 0, 0, 0].view(3, 4)
        sel = masks[0, k] > 0.5
        px = content[0][:, sel]
        out = a[:, :3] @ px + a[:, 3:]
        assert torch.allclose(out.mean(1), feats.colour_mean[k], atol=2e-3)


def test_temporal_state_blends_the_colour_statistics(gen):
    torch.manual_seed(0)
    net = LookGridNet({"alpha": 0.5}).eval()
    content, masks, styles = _scene(gen)
    with torch.no_grad():
        feats = net.encode_style(styles)
        _, s0 = net.predict_grids(content, masks, feats)
        brighter = (content + 0.2).clamp(max=1.0)
        _, s1 = net.predict_grids(brighter, masks, feats, s0)
        _, fresh = net.predict_grids(brighter, masks, feats)
    assert torch.allclose(s1.colour_mean, 0.5 * s0.colour_mean + 0.5 * fresh.colour_mean, atol=1e-6)
    assert torch.allclose(s1.colour_cov, 0.5 * s0.colour_cov + 0.5 * fresh.colour_cov, atol=1e-7)
    bad = TemporalState(s0.means, s0.stds, (), s0.colour_mean[:1], s0.colour_cov[:1])
    with pytest.raises(ShapeMismatchError, match="colour statistics"):
        net.predict_grids(content, masks, feats, bad)


def test_styles_without_colour_statistics_are_refused(gen):
    net = LookGridNet().eval()
    content, masks, styles = _scene(gen)
    with torch.no_grad():
        feats = net.encode_style(styles)
    with pytest.raises(InvalidInputError, match="colour statistics"):
        net.predict_grids(content, masks, StyleFeatures(feats.means, feats.stds))


def test_style_features_carry_colour_statistics_through_stack_select_lerp(gen):
    net = LookGridNet().eval()
    _, _, styles = _scene(gen)
    with torch.no_grad():
        a, b = net.encode_style(styles[:1]), net.encode_style(styles[1:])
    both = StyleFeatures.stack([a, b])
    assert both.colour_mean.shape == (2, 3) and both.colour_cov.shape == (2, 3, 3)
    assert torch.equal(both.select([1]).colour_mean, b.colour_mean)
    assert torch.allclose(a.lerp(b, 0.25).colour_mean, 0.75 * a.colour_mean + 0.25 * b.colour_mean)
    assert both.tones.shape == (2, P.TONE_BINS, 4)
    assert torch.equal(both.select([1]).tones, b.tones)
    assert torch.allclose(a.lerp(b, 0.25).tones, 0.75 * a.tones + 0.25 * b.tones)


def test_bad_prior_config():
    with pytest.raises(InvalidInputError, match="prior"):
        LookGridNet({"prior": "reinhard"})
    with pytest.raises(InvalidInputError, match="prior_max_gain"):
        LookGridNet({"prior_max_gain": 0})
    with pytest.raises(InvalidInputError, match="blend"):
        LookGridNet({"blend": "both"})
    with pytest.raises(InvalidInputError, match="prior_curve"):
        LookGridNet({"prior_curve": 1.5})
    with pytest.raises(InvalidInputError, match="prior_max_slope"):
        LookGridNet({"prior_max_slope": 0.5})


# ------------------------------------------------------------------------------------------------
# tone curve
def test_tone_table_quantiles_and_bin_colours(gen):
    img = torch.rand(2, 3, 8, 10, generator=gen, dtype=torch.float64)
    t = P.tone_table(img, None, 16)
    assert t.shape == (2, 16, 4)
    y = (img * torch.tensor(LUMA_WEIGHTS, dtype=torch.float64).view(1, 3, 1, 1)).sum(1).reshape(2, -1)
    levels = (np.arange(16) + 0.5) / 16
    for b in range(2):  # equal weights: mid-point ("hazen") luma quantiles; 80 pixels = 5 per bin
        assert np.allclose(t[b, :, 0].numpy(), np.quantile(y[b].numpy(), levels, method="hazen"), atol=1e-12)
        order = torch.argsort(y[b])
        px = img[b].reshape(3, -1)[:, order]
        assert torch.allclose(t[b, :, 1:], px.reshape(3, 16, 5).mean(-1).T, atol=1e-12)
    # every bin holds 1/q of the mass: the bins' mean colours average to the (weighted) mean colour
    w = torch.rand(2, 1, 8, 10, generator=gen, dtype=torch.float64) * 0.9 + 0.1
    tw = P.tone_table(img, w, 16)
    mean, _, _ = P.colour_stats(img, w)
    assert torch.allclose(tw[..., 1:].mean(1), mean, atol=1e-12)
    assert torch.allclose(tw, P.tone_table(img, 7.0 * w, 16), atol=1e-12)  # only relative weights count
    assert torch.all(torch.diff(tw[..., 0], dim=1) >= 0)


def test_tone_curve_identity_slope_cap_and_monotone(gen):
    x = torch.sort(torch.rand(3, 32, generator=gen, dtype=torch.float64), dim=1).values
    assert torch.allclose(P.tone_curve(x, x), x, atol=1e-12)
    steep = P.tone_curve(x, 10 * x, max_slope=2.0)
    slopes = torch.diff(steep, dim=1) / torch.diff(x, dim=1)
    assert torch.all(slopes <= 2.0 + 1e-9) and torch.all(slopes >= 0.5 - 1e-9)
    mid = x.shape[1] // 2
    assert torch.allclose(steep[:, mid], 10 * x[:, mid])  # the median keeps its target
    wild = torch.sort(torch.rand(3, 32, generator=gen, dtype=torch.float64), dim=1).values
    assert torch.all(torch.diff(P.tone_curve(x, wild), dim=1) >= 0)


def _luma(img):
    return (img * torch.tensor(LUMA_WEIGHTS, dtype=img.dtype).view(1, 3, 1, 1)).sum(1)


def _ident(b=1):
    return torch.cat([torch.eye(3, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)], 1)[None].expand(b, 3, 4)


def _apply(content, guide, offsets, d=8):
    from lookgrid.model.slicing import slice_apply_reference
    grids = P.add_depth_offsets(P.affine_grid(_ident(content.shape[0]), d, 4, 4), offsets)
    return slice_apply_reference(grids, guide, content)


def test_tone_curve_offsets_move_a_skewed_region_onto_the_reference():
    """A flat-histogram grey region and a low-key reference with the same mean and spread: the affine
    alone (identity here) leaves the tonal shape; the offsets, sliced along a luma guide, bring the
    output's luma quantiles much closer to the reference's, and a matching reference needs none."""
    gen = torch.Generator().manual_seed(7)
    h = w = 64
    grey = torch.rand(1, 1, h, w, generator=gen, dtype=torch.float64) * 0.6 + 0.2
    content = grey.expand(1, 3, h, w).clone()
    e = torch.distributions.Exponential(1.0).sample((1, 1, h, w)).to(torch.float64)
    e = (e - e.mean()) / e.std() * grey.std() + grey.mean()
    ref = e.expand(1, 3, h, w)
    rt = P.tone_table(ref)
    mask = torch.ones(1, 1, h, w, dtype=torch.float64)
    guide = _luma(content)  # guide in [0.2, 0.8]: spans the middle depth bins
    off = P.tone_curve_offsets(content, mask, guide, _ident(), rt, 8)
    assert off.shape == (1, 8, 3)
    assert torch.allclose(off[..., 0], off[..., 1]) and torch.allclose(off[..., 0], off[..., 2])  # grey only
    out = _apply(content, guide, off)
    before = (P.tone_table(content)[..., 0] - rt[..., 0]).abs().mean()
    after = (P.tone_table(out)[..., 0] - rt[..., 0]).abs().mean()
    assert after < 0.4 * before, (float(before), float(after))
    same = P.tone_curve_offsets(content, mask, guide, _ident(), P.tone_table(content), 8)
    assert same.abs().max() < 1e-3


def test_tone_curve_offsets_split_tone_shadows_and_highlights():
    """A neutral region and a reference of the same tones with cool shadows and warm highlights: the
    offsets add blue to the shadows' depth bins and red to the highlights', leaving luma alone."""
    gen = torch.Generator().manual_seed(3)
    h = w = 64
    grey = torch.rand(1, 1, h, w, generator=gen, dtype=torch.float64) * 0.6 + 0.2
    content = grey.expand(1, 3, h, w).clone()
    tint = (grey - 0.5) * 0.2  # +red/-blue in the highlights, the reverse in the shadows
    ref = torch.cat([grey + tint, grey, grey - tint], dim=1)
    mask = torch.ones(1, 1, h, w, dtype=torch.float64)
    guide = _luma(content)
    off = P.tone_curve_offsets(content, mask, guide, _ident(), P.tone_table(ref), 8)
    out = _apply(content, guide, off)
    dark, bright = grey[0, 0] < 0.3, grey[0, 0] > 0.7
    rb = out[0, 0] - out[0, 2]
    assert float(rb[bright].mean()) > 0.03 and float(rb[dark].mean()) < -0.03
    assert float((_luma(out) - _luma(content)).abs().mean()) < 0.01


def test_network_adds_the_tone_curve_to_the_affine_prior(gen):
    content, masks, styles = _scene(gen)
    torch.manual_seed(0)
    plain = LookGridNet({"prior_curve": 0.0}).eval()
    torch.manual_seed(0)
    curved = LookGridNet().eval()  # the default: prior_curve = 1
    assert curved.config["prior_curve"] == 1.0
    with torch.no_grad():
        feats = plain.encode_style(styles)
        g0, _ = plain.predict_grids(content, masks, feats)
        g1, _ = curved.predict_grids(content, masks, feats)
        pool = P.curve_pixels  # fitted on a subsample of the frame, with those pixels' guide
        guide = curved.guide(pool(content), pool(masks))
    m = masks.view(2, 1, 256, 256)
    mean, cov, _ = P.colour_stats(content.expand(2, -1, -1, -1), m)
    aff = P.prior_affine(mean, cov, feats.colour_mean, feats.colour_cov)
    off = P.tone_curve_offsets(pool(content).expand(2, -1, -1, -1), pool(m), guide.expand(2, -1, -1), aff,
                               feats.tones, 8)
    assert torch.allclose(g1, P.add_depth_offsets(g0, off), atol=1e-6)
    assert off.abs().max() > 1e-3  # uniform content vs uniform styles of other widths: a real curve
    with pytest.raises(InvalidInputError, match="tones"):
        curved.predict_grids(content, masks, StyleFeatures(feats.means, feats.stds, feats.colour_mean, feats.colour_cov))
