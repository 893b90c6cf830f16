"""A region's look as a LUT (lookgrid.model.look): the fast sums agree with the brute-force per-pixel
average, identity stays exactly identity, a constant affine grid gives back its affine map, and the
CDL fit recovers a known CDL."""

from __future__ import annotations

import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.grid import apply_strength, identity_grid
from lookgrid.model.guide import GuideNet, region_code_map
from lookgrid.model.look import (LookStats, cdl_apply, fit_cdl, global_lut, guide_of, look_apply, look_lut,
                                 look_stats, lut_apply_reference, lut_lattice, region_lut_reference)
from lookgrid.model.blend import pixel_blend_weights as blend_weights
from lookgrid.model.slicing import slice_blend_apply_reference


def _guide(seed=0) -> GuideNet:
    """A guide whose output depends clearly on colour and on the region code."""
    torch.manual_seed(seed)
    g = GuideNet()
    with torch.no_grad():
        g.w1.normal_(0.0, 1.0)
        g.w2.normal_(0.0, 2.0)
    return g


def _masks(h=13, w=17, soft=True, n=3):
    """(1, n, H, W) masks: two rectangles (one with a soft edge row) and the rest as background."""
    m = torch.zeros(1, n, h, w)
    m[0, 0, 3:9, 4:12] = 1.0
    if soft:
        m[0, 0, 2, 4:12] = 0.4
        m[0, 0, 9, 4:12] = 0.75
    if n > 2:
        m[0, 1, 9:13, 0:5] = 1.0
    m[0, -1] = (1.0 - m[0, :-1].sum(0)).clamp(0, 1)
    return m


def _grids(n, seed=1, d=8, hg=4, wg=5, scale=0.1):
    torch.manual_seed(seed)
    return identity_grid(n, d, hg, wg) + scale * torch.randn(n, 12, d, hg, wg)


@pytest.mark.parametrize("soft", [False, True])
def test_fast_lut_equals_brute_force_average_over_frames(soft):
    guide_net = _guide()
    masks = _masks(soft=soft)
    weights = blend_weights(masks)[0]
    code = region_code_map(masks)[0, 0]
    frames = [_grids(3, seed=s) for s in (1, 2)]
    rgb = torch.rand(40, 3, generator=torch.Generator().manual_seed(5))
    for k in range(3):
        stats = look_stats(frames[0][k], code, weights[k]) + look_stats(frames[1][k], code, weights[k])
        fast = look_apply(stats, guide_of(guide_net), rgb)
        ref = region_lut_reference([(g[k], code, weights[k]) for g in frames], guide_net, rgb)
        # float32 guide in the fast path vs float64 in the reference; codes are exact per bin here
        assert (fast - ref).abs().max() < 1e-6
        assert (ref - rgb.double()).abs().max() > 0.02  # a real look, not the identity


def test_soft_codes_within_one_bin_are_a_small_documented_error():
    guide_net = _guide()
    h, w = 12, 16
    masks = torch.zeros(1, 2, h, w)
    masks[0, 0] = torch.linspace(0.0, 1.0, w).expand(h, w)  # every column a different code
    masks[0, 1] = 1.0 - masks[0, 0]
    weights, code = blend_weights(masks)[0], region_code_map(masks)[0, 0]
    g = _grids(2)
    rgb = torch.rand(30, 3, generator=torch.Generator().manual_seed(2))
    fast = look_apply(look_stats(g[0], code, weights[0]), guide_of(guide_net), rgb)
    ref = region_lut_reference([(g[0], code, weights[0])], guide_net, rgb)
    err = (fast - ref).abs().max()
    assert 0 < err < 2e-3


def test_identity_is_exact():
    guide_net = _guide()
    masks = _masks()
    code, weights = region_code_map(masks)[0, 0], blend_weights(masks)[0]
    lattice = lut_lattice(9)
    ident = identity_grid(1, 8, 4, 5)[0]
    assert torch.equal(look_lut(look_stats(ident, code, weights[0]), guide_of(guide_net), 9), lattice)
    zero_strength = apply_strength(_grids(3), torch.zeros(3))
    stats = look_stats(zero_strength[1], code, weights[1])
    assert stats.is_identity
    assert torch.equal(look_lut(stats, guide_of(guide_net), 9), lattice)


def test_constant_affine_grid_reproduces_its_affine():
    a = torch.tensor([[0.9, 0.05, 0.0, 0.02], [0.02, 1.1, 0.0, -0.01], [0.0, 0.1, 0.8, 0.05]],
                     dtype=torch.float64)
    grid = a.reshape(12, 1, 1, 1).expand(12, 8, 4, 5).float()
    masks = _masks()
    code, weights = region_code_map(masks)[0, 0], blend_weights(masks)[0]
    lut = look_lut(look_stats(grid, code, weights[0]), guide_of(_guide()), 17)
    lattice = lut_lattice(17)
    want = lattice @ a[:, :3].T + a[:, 3]
    assert (lut - want).abs().max() < 1e-4


def test_global_lut_is_the_average_of_the_blended_transform():
    guide_net = _guide()
    masks = _masks()
    masks[0, -1] *= 0.5  # part of the frame keeps the input (uncovered)
    weights, code = blend_weights(masks)[0], region_code_map(masks)[0, 0]
    g = _grids(3)
    size = 3
    lattice = lut_lattice(size).reshape(-1, 3)
    stats = [look_stats(g[k], code, weights[k]) for k in range(3)]
    luts = torch.stack([look_lut(s, guide_of(guide_net), size) for s in stats])
    h, w = code.shape
    glob = global_lut(luts, torch.tensor([s.total for s in stats]), float(h * w)).reshape(-1, 3)
    # brute force: render every lattice colour as a flat image through the pixel blend, then average
    gn = {k: getattr(guide_net, k).detach().double() for k in ("w1", "b1", "w2", "b2")}
    from lookgrid.model.guide import pointwise_guide

    img = lattice.view(-1, 3, 1, 1).expand(-1, 3, h, w)
    z = pointwise_guide(img, code.double().view(1, 1, h, w).expand(len(lattice), 1, h, w), *gn.values())
    out = slice_blend_apply_reference(g.double().unsqueeze(0).expand(len(lattice), -1, -1, -1, -1, -1), z, img,
                                      weights.double().unsqueeze(0).expand(len(lattice), -1, -1, -1))
    assert (glob - out.mean(dim=(2, 3))).abs().max() < 1e-6


def test_lut_apply_reference_interpolates_a_linear_lut_exactly():
    lattice = lut_lattice(5)
    lut = lattice * 0.5 + 0.1
    x = torch.rand(100, 3, dtype=torch.float64)
    assert (lut_apply_reference(lut, x) - (x * 0.5 + 0.1)).abs().max() < 1e-12


def test_fit_cdl_recovers_a_known_cdl():
    x = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    slope, offset, power = torch.tensor([1.1, 0.95, 0.9]), torch.tensor([0.01, 0.0, -0.02]), torch.tensor([1.2, 1.0, 0.85])
    y = cdl_apply(x, slope.double(), offset.double(), power.double(), torch.tensor(0.9, dtype=torch.float64))
    fit = fit_cdl(x, y)
    assert fit.rms < 2e-3
    assert abs(fit.sat - 0.9) < 0.02
    assert max(abs(a - b) for a, b in zip(fit.slope, slope.tolist())) < 0.03


def test_bad_input():
    code = torch.zeros(4, 5)
    with pytest.raises(ShapeMismatchError, match=r"\(12,D,Hg,Wg\)"):
        look_stats(torch.zeros(11, 8, 4, 5), code, code)
    with pytest.raises(ShapeMismatchError, match="weight"):
        look_stats(identity_grid(1, 8, 4, 5)[0], code, torch.zeros(3, 5))
    with pytest.raises(InvalidInputError, match="matte"):
        look_stats(identity_grid(1, 8, 4, 5)[0], code, -torch.ones(4, 5))
    with pytest.raises(InvalidInputError, match="LUT size"):
        lut_lattice(1)
    s = look_stats(identity_grid(1, 8, 4, 5)[0], code, torch.ones(4, 5))
    with pytest.raises(ShapeMismatchError):
        s + LookStats(torch.zeros(3, 12, 8), torch.zeros(3), torch.zeros(3))
