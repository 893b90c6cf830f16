"""The closed-form colour prior (lookgrid.model.prior) and how the network uses it."""

import numpy as np
import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model import prior as P
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
    net = LookGridNet().eval()
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


def test_bad_prior_config():
    with pytest.raises(InvalidInputError, match="prior"):
        LookGridNet({"prior": "reinhard"})
    with pytest.raises(InvalidInputError, match="prior_max_gain"):
        LookGridNet({"prior_max_gain": 0})
    with pytest.raises(InvalidInputError, match="blend"):
        LookGridNet({"blend": "both"})
