"""Pixel-space blending of region grids: torch reference, fused CPU kernel, batched training render."""

import numpy as np
import pytest
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model import _cpu_kernels as k
from lookgrid.model.grid import identity_grid
from lookgrid.model.guide import GuideNet, region_codes
from lookgrid.model.blend import pixel_blend_weights
from lookgrid.model.slicing import slice_apply_reference, slice_blend_apply_reference


def _guide_net(gen):
    """A guide whose output spreads over the depth bins and depends on the region code."""
    g = GuideNet(8)
    with torch.no_grad():
        g.w1.copy_(torch.randn(8, 4, generator=gen))
        g.b1.copy_(torch.randn(8, generator=gen) * 0.3)
        g.w2.copy_(torch.randn(8, generator=gen) * 2)
        g.b2.fill_(0.1)
    return g


def _soft_masks(n, h, w, gen):
    """Soft masks with exact zeros (whole spans where a region is absent), overlaps (Σm > 1 in the
    top rows, where bands overlap) and Σm < 1 elsewhere, and one row no region covers."""
    m = torch.rand(1, n, h, w, generator=gen) * 0.5 + 0.4
    xs = torch.linspace(0, 1, w) * n
    for i in range(n):  # region i lives in its own vertical band, widened to overlap its neighbours
        band = ((xs - i + 0.6) * 3).clamp(0, 1) * ((i + 1.6 - xs) * 3).clamp(0, 1)
        m[0, i] *= band.view(1, w)
    m[m < 0.05] = 0
    m[0, :, : h // 3] *= 1.6
    m[0, :, h // 2, :] = 0
    return m.clamp(0, 1).contiguous()


def test_soft_masks_cover_the_cases(gen):
    m = _soft_masks(3, 37, 53, gen)[0]
    total = m.sum(0)
    assert (total > 1.05).any() and ((total > 0.05) & (total < 0.95)).any() and (total == 0).any()
    assert ((m == 0).sum(0) == 2).any()  # pixels of one region only


def _kernel(grids, image, masks, guide_net):
    """guide_slice_blend_apply_cpu on (N,12,D,Hg,Wg) grids, (1,3,H,W) image, (1,N,H,W) masks."""
    out = np.empty(image.shape[1:], np.float32)
    bad = k.locked(k.guide_slice_blend_apply_cpu, k.grids_to_cells(grids), image[0].numpy(), masks[0].numpy(),
                   region_codes(masks.shape[1]).numpy(), *guide_net.kernel_weights(), out)
    return torch.from_numpy(out)[None], bad


def _reference(grids, image, masks, guide_net):
    with torch.no_grad():
        z = guide_net(image, masks)
        return slice_blend_apply_reference(grids[None], z, image, pixel_blend_weights(masks))


def test_blend_weights_formula():
    m = torch.tensor([[0.2, 0.7, 0.0], [0.3, 0.6, 0.0]]).view(1, 2, 1, 3)
    w = pixel_blend_weights(m)
    # column 0: Σ = 0.5 < 1, kept as is; column 1: Σ = 1.3, normalised; column 2: nothing
    assert torch.allclose(w[0, :, 0], torch.tensor([[0.2, 0.7 / 1.3, 0.0], [0.3, 0.6 / 1.3, 0.0]]))
    with pytest.raises(ShapeMismatchError, match=r"masks must have shape \(B,N,H,W\), got \(2, 1, 3\)"):
        pixel_blend_weights(m[0])


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("h,w", [(37, 53), (8, 300), (129, 17)])
def test_kernel_equals_reference(gen, n, h, w):
    guide_net = _guide_net(gen)
    grids = identity_grid(n) + 0.3 * torch.randn(n, 12, 8, 16, 16, generator=gen)
    image = torch.rand(1, 3, h, w, generator=gen) * 1.4 - 0.2
    masks = _soft_masks(n, h, w, gen)
    fast, bad = _kernel(grids, image, masks, guide_net)
    ref = _reference(grids, image, masks, guide_net)
    assert bad == 0
    assert (fast - ref).abs().max().item() <= 1e-5
    assert (fast - image).abs().max().item() > 1e-2  # the grids do something


def test_kernel_skips_nothing_it_should_not(gen):
    """One pixel of weight in a span otherwise zero must still be rendered (span skipping)."""
    guide_net = _guide_net(gen)
    grids = identity_grid(2) + 0.3 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    image = torch.rand(1, 3, 20, 160, generator=gen)
    masks = torch.zeros(1, 2, 20, 160)
    masks[0, 0, :, :40] = 1
    masks[0, 1, 7, 117] = 0.5
    masks[0, 1, 3, 159] = 1
    fast, _ = _kernel(grids, image, masks, guide_net)
    ref = _reference(grids, image, masks, guide_net)
    assert (fast - ref).abs().max().item() <= 1e-5
    assert (fast[0, :, 7, 117] - image[0, :, 7, 117]).abs().max() > 1e-3
    untouched = torch.ones(20, 160, dtype=torch.bool)
    untouched[:, :40] = False
    untouched[7, 117] = untouched[3, 159] = False
    assert torch.equal(fast[0][:, untouched], image[0][:, untouched])  # weight 0 → input, bit for bit


@pytest.mark.parametrize("n", [1, 3])
def test_identity_grids_give_input_exactly(gen, n):
    guide_net = _guide_net(gen)
    image = torch.rand(1, 3, 37, 53, generator=gen) * 3 - 1
    masks = _soft_masks(n, 37, 53, gen)
    fast, _ = _kernel(identity_grid(n), image, masks, guide_net)
    assert torch.equal(fast, image)
    assert torch.equal(_reference(identity_grid(n), image, masks, guide_net), image)


def test_masks_summing_to_zero_give_input(gen):
    guide_net = _guide_net(gen)
    grids = identity_grid(2) + 0.3 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    image = torch.rand(1, 3, 37, 53, generator=gen)
    masks = torch.zeros(1, 2, 37, 53)
    fast, _ = _kernel(grids, image, masks, guide_net)
    assert torch.equal(fast, image)
    assert torch.equal(_reference(grids, image, masks, guide_net), image)


@pytest.mark.parametrize("region", [0, 2])
def test_weight_one_equals_single_grid_kernel(gen, region):
    """A region with weight 1 everywhere renders as the single-grid kernel with that grid."""
    guide_net = _guide_net(gen)
    grids = identity_grid(3) + 0.3 * torch.randn(3, 12, 8, 16, 16, generator=gen)
    image = torch.rand(1, 3, 37, 53, generator=gen) * 1.4 - 0.2
    masks = torch.zeros(1, 3, 37, 53)
    masks[0, region] = 1
    fast, _ = _kernel(grids, image, masks, guide_net)
    single = np.empty(image.shape[1:], np.float32)
    k.locked(k.guide_slice_apply_cpu, k.grid_to_cells(grids[region]), image[0].numpy(), masks[0].numpy(),
             region_codes(3).numpy(), *guide_net.kernel_weights(), single)
    assert (fast[0] - torch.from_numpy(single)).abs().max().item() <= 1e-6
    with torch.no_grad():
        z = guide_net(image, masks)
        ref = slice_blend_apply_reference(grids[None], z, image, pixel_blend_weights(masks))
        one = slice_apply_reference(grids[region : region + 1], z, image)
    assert (ref - one).abs().max().item() <= 1e-6


def test_kernel_counts_non_finite_rows(gen):
    guide_net = _guide_net(gen)
    grids = identity_grid(2) + 0.3 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    image = torch.rand(1, 3, 37, 53, generator=gen)
    image[0, 0, 3, 4] = float("nan")
    image[0, 2, 3, 40] = float("inf")
    image[0, 1, 30, 52] = -float("inf")
    masks = _soft_masks(2, 37, 53, gen)
    _, bad = _kernel(grids, image, masks, guide_net)
    assert bad == 2


def test_reference_gradcheck():
    gen = torch.Generator().manual_seed(3)
    grids = (identity_grid(2, 3, 2, 3, dtype=torch.float64)
             + 0.2 * torch.randn(2, 12, 3, 2, 3, generator=gen, dtype=torch.float64))[None].requires_grad_()
    guide = (torch.rand(1, 4, 5, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    image = torch.rand(1, 3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    masks = (torch.rand(1, 2, 4, 5, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda g, z, i, m: slice_blend_apply_reference(g, z, i, pixel_blend_weights(m)),
                                    (grids, guide, image, masks))


def test_reference_bad_shapes_are_named():
    g = torch.zeros(1, 2, 12, 8, 16, 16)
    z, img, w = torch.zeros(1, 4, 5), torch.zeros(1, 3, 4, 5), torch.zeros(1, 2, 4, 5)
    with pytest.raises(ShapeMismatchError, match=r"grids must have shape \(B,N,12,D,Hg,Wg\), got \(2, 12, 8, 16, 16\)"):
        slice_blend_apply_reference(g[0], z, img, w)
    with pytest.raises(ShapeMismatchError,
                       match=r"weights must have shape \(B,N,H,W\) = \(1,2,4,5\), got \(1, 3, 4, 5\)"):
        slice_blend_apply_reference(g, z, img, torch.zeros(1, 3, 4, 5))
    with pytest.raises(ShapeMismatchError, match=r"guide must have shape .* got \(1, 4, 6\)"):
        slice_blend_apply_reference(g, torch.zeros(1, 4, 6), img, w)
    with pytest.raises(ShapeMismatchError, match=r"image must have shape .* got \(1, 4, 4, 5\)"):
        slice_blend_apply_reference(g, z, torch.zeros(1, 4, 4, 5), w)


@pytest.mark.parametrize("blend", ["pixel", "grid"])
def test_render_batch_matches_render_parts(random_net, blend):
    """The batched training render (grids batch-major) agrees with render_parts per example."""
    from lookgrid.model.render import render_parts
    from lookgrid.train.step import render_batch

    net = random_net(5)
    net.config["blend"] = blend
    gen = torch.Generator().manual_seed(2)
    b, n, h, w = 2, 3, 40, 56
    img = torch.rand(b, 3, h, w, generator=gen)
    masks = torch.stack([_soft_masks(n, h, w, gen)[0] for _ in range(b)])
    grids = identity_grid(b * n) + 0.3 * torch.randn(b * n, 12, 8, 16, 16, generator=gen)
    with torch.no_grad():
        got = render_batch(net, img, masks, grids)
        for i in range(b):
            one = render_parts(net, img[i : i + 1], masks[i : i + 1], grids[n * i : n * i + n])
            assert (got["output"][i : i + 1] - one["output"]).abs().max().item() <= 1e-5
            assert (got["grid"][i : i + 1] - one["grid"]).abs().max().item() <= 1e-5
            assert (got["soft_masks"][i] - one["soft_masks"]).abs().max().item() <= 1e-5
    net.config["blend"] = "bogus"
    with pytest.raises(Exception, match="'pixel', 'grid'"):
        render_batch(net, img, masks, grids)
