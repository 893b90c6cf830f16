import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.grid import identity_grid
from lookgrid.model.render import render_frame, render_parts


def _masks(h, w, n):
    xs = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
    return torch.cat([((xs * n - k).clamp(0, 1) - (xs * n - k - 1).clamp(0, 1)) for k in range(n)], 1).contiguous()


@pytest.fixture(params=["pixel", "grid"])
def blend_net(identity_net, request):
    """identity_net (session-scoped) in each blend mode; the config is restored afterwards."""
    before = identity_net.config.get("blend")
    identity_net.config["blend"] = request.param
    yield identity_net
    identity_net.config["blend"] = before


@pytest.mark.parametrize("reference", [False, True])
def test_identity_grids_give_input_exactly(blend_net, gen, reference):
    img = torch.rand(1, 3, 45, 70, generator=gen) * 2 - 0.5  # beyond [0, 1] too
    out = render_frame(blend_net, img, _masks(45, 70, 3), identity_grid(3), reference=reference)
    assert torch.equal(out, img)


@pytest.mark.parametrize("reference", [False, True])
def test_zero_strength_gives_input_exactly(blend_net, gen, reference):
    img = torch.rand(1, 3, 30, 40, generator=gen)
    grids = torch.randn(2, 12, 8, 16, 16, generator=gen)
    out = render_frame(blend_net, img, _masks(30, 40, 2), grids, torch.zeros(2), reference=reference)
    assert torch.equal(out, img)


@pytest.mark.parametrize("h,w,n", [(64, 96, 2), (300, 130, 3), (600, 900, 4)])
def test_fast_render_equals_reference(blend_net, gen, h, w, n):
    img = torch.rand(1, 3, h, w, generator=gen)
    grids = identity_grid(n) + 0.3 * torch.randn(n, 12, 8, 16, 16, generator=gen)
    masks = _masks(h, w, n)
    strength = torch.rand(n, generator=gen)
    fast = render_frame(blend_net, img, masks, grids, strength)
    ref = render_frame(blend_net, img, masks, grids, strength, reference=True)
    assert (fast - ref).abs().max().item() <= 1e-5


def test_blend_modes_differ_and_grid_mode_is_eq7(identity_net, gen):
    """"grid" slices the eq. 7 blended grid of render_parts; "pixel" blends the per-region slices.
    Both expose the same guide, blended grid and soft masks."""
    from lookgrid.model.blend import pixel_blend_weights
    from lookgrid.model.slicing import slice_apply_reference

    img = torch.rand(1, 3, 40, 64, generator=gen)
    grids = identity_grid(2) + 0.3 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    masks = _masks(40, 64, 2)
    before = identity_net.config["blend"]
    parts, outs = {}, {}
    try:
        for mode in ("grid", "pixel"):
            identity_net.config["blend"] = mode
            parts[mode] = render_parts(identity_net, img, masks, grids)
            outs[mode] = render_frame(identity_net, img, masks, grids)
    finally:
        identity_net.config["blend"] = before
    for key in ("guide", "grid", "soft_masks"):
        assert torch.equal(parts["grid"][key], parts["pixel"][key])
    g, z = parts["grid"]["grid"], parts["grid"]["guide"]
    assert (outs["grid"] - slice_apply_reference(g, z, img)).abs().max().item() <= 1e-5
    wts = pixel_blend_weights(masks)
    pixel = img + sum(wts[:, k : k + 1] * (slice_apply_reference(grids[k : k + 1], z, img) - img) for k in range(2))
    assert (outs["pixel"] - pixel).abs().max().item() <= 1e-5
    assert (outs["grid"] - outs["pixel"]).abs().max().item() > 1e-2


@pytest.mark.parametrize("reference", [False, True])
def test_pixel_blend_follows_hard_masks_exactly(identity_net, gen, reference):
    """With hard masks, pixel blending applies each region's own transform right up to the edge
    (no halo), where grid blending bleeds across the edge."""
    h, w = 48, 256
    a = torch.randn(2, 12, generator=gen) * 0.3 + identity_grid(2)[:, :, 0, 0, 0]
    grids = a.view(2, 12, 1, 1, 1).expand(2, 12, 8, 16, 16).contiguous()
    masks = torch.zeros(1, 2, h, w)
    masks[:, 0, :, :128] = 1
    masks[:, 1] = 1 - masks[:, 0]
    img = torch.rand(1, 3, h, w, generator=gen)
    mats = a.view(2, 3, 4)
    want = torch.einsum("nck,khw->nchw", mats[:, :, :3], img[0]) + mats[:, :, 3].view(2, 3, 1, 1)
    want = torch.where(masks[0, 0].bool(), want[0], want[1])
    before = identity_net.config["blend"]
    try:
        identity_net.config["blend"] = "pixel"
        assert (render_frame(identity_net, img, masks, grids, reference=reference)[0] - want).abs().max().item() < 1e-5
        identity_net.config["blend"] = "grid"
        assert (render_frame(identity_net, img, masks, grids, reference=reference)[0] - want).abs().max().item() > 1e-2
    finally:
        identity_net.config["blend"] = before


@pytest.mark.parametrize("reference", [False, True])
def test_bad_blend_mode_is_a_clear_error(identity_net, reference):
    img = torch.rand(1, 3, 20, 30)
    before = identity_net.config["blend"]
    identity_net.config["blend"] = "soft"
    try:
        with pytest.raises(InvalidInputError, match=r"'pixel', 'grid'.*'soft'"):
            render_frame(identity_net, img, torch.ones(1, 1, 20, 30), identity_grid(1), reference=reference)
        with pytest.raises(InvalidInputError, match=r"'pixel', 'grid'.*'soft'"):
            render_parts(identity_net, img, torch.ones(1, 1, 20, 30), identity_grid(1))
    finally:
        identity_net.config["blend"] = before


@pytest.mark.parametrize("reference", [False, True])
def test_known_affine_per_region_is_reproduced_inside_regions(blend_net, gen, reference):
    h, w = 96, 256  # 16 px per grid cell across
    a = torch.randn(2, 12, generator=gen) * 0.3 + identity_grid(2)[:, :, 0, 0, 0]
    grids = a.view(2, 12, 1, 1, 1).expand(2, 12, 8, 16, 16).contiguous()
    masks = torch.zeros(1, 2, h, w)
    masks[:, 0, :, :128] = 1
    masks[:, 1] = 1 - masks[:, 0]
    img = torch.rand(1, 3, h, w, generator=gen)
    out = render_frame(blend_net, img, masks, grids, reference=reference)
    for k, cols in ((0, slice(0, 128 - 48)), (1, slice(128 + 48, w))):  # 3 cells away from the edge
        m = a[k].view(3, 4)
        want = torch.einsum("ck,khw->chw", m[:, :3], img[0, :, :, cols]) + m[:, 3].view(3, 1, 1)
        assert (out[0, :, :, cols] - want).abs().max().item() < 1e-5


def test_render_parts_exposes_intermediates_and_gradients(blend_net, gen):
    img = torch.rand(1, 3, 24, 40, generator=gen, dtype=torch.float64)
    grids = (identity_grid(2, dtype=torch.float64) + 0.1 * torch.randn(2, 12, 8, 16, 16, generator=gen,
                                                                         dtype=torch.float64)).requires_grad_()
    parts = render_parts(blend_net.double(), img, _masks(24, 40, 2).double(), grids)
    blend_net.float()
    assert parts["output"].shape == (1, 3, 24, 40) and parts["guide"].shape == (1, 24, 40)
    assert parts["grid"].shape == (1, 12, 8, 16, 16) and parts["soft_masks"].shape == (2, 8, 16, 16)
    parts["output"].sum().backward()
    assert grids.grad is not None and grids.grad.abs().sum() > 0


@pytest.mark.parametrize("blend", ["pixel", "grid"])
def test_gradcheck_render_small(gen, blend):
    from lookgrid.model.network import LookGridNet

    net = LookGridNet({"grid_depth": 2, "guide_hidden": 2, "blend": blend}).double()
    img = torch.rand(1, 3, 4, 5, generator=gen, dtype=torch.float64)
    masks = _masks(4, 5, 2).double()
    grids = (identity_grid(2, 2, 2, 2, dtype=torch.float64) + 0.1 * torch.randn(2, 12, 2, 2, 2, generator=gen,
                                                                                   dtype=torch.float64)).requires_grad_()
    img.requires_grad_()
    assert torch.autograd.gradcheck(lambda g, i: render_parts(net, i, masks, g)["output"], (grids, img))


def test_bad_inputs_raise_with_shapes(identity_net):
    img = torch.rand(1, 3, 20, 30)
    with pytest.raises(ShapeMismatchError, match=r"got \(1, 2, 20, 31\)"):
        render_frame(identity_net, img, torch.ones(1, 2, 20, 31), identity_grid(2))
    with pytest.raises(ShapeMismatchError, match=r"got \(3, 12, 8, 16, 16\)"):
        render_frame(identity_net, img, torch.ones(1, 2, 20, 30), identity_grid(3))
    with pytest.raises(ShapeMismatchError, match=r"got \(3,\)"):
        render_frame(identity_net, img, torch.ones(1, 2, 20, 30), identity_grid(2), torch.ones(3))
    with pytest.raises(ShapeMismatchError, match=r"got \(3, 20, 30\)"):
        render_frame(identity_net, img[0], torch.ones(1, 2, 20, 30), identity_grid(2))


@pytest.mark.parametrize("reference", [False, True])
def test_non_finite_image_is_rejected(blend_net, reference):
    img = torch.rand(1, 3, 20, 30)
    img[0, 2, 5, 5] = float("inf")
    img[0, 0, 9, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN or Inf" + ("" if reference else " in 2 rows")):
        render_frame(blend_net, img, torch.ones(1, 1, 20, 30), identity_grid(1), reference=reference)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_render_equals_cpu_reference(blend_net, gen):
    img = torch.rand(1, 3, 120, 200, generator=gen)
    grids = identity_grid(2) + 0.3 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    masks = _masks(120, 200, 2)
    ref = render_frame(blend_net, img, masks, grids, reference=True)
    net_cuda = blend_net.to("cuda")
    try:
        out = render_frame(net_cuda, img.cuda(), masks.cuda(), grids.cuda())
    finally:
        blend_net.to("cpu")
    assert (out.cpu() - ref).abs().max().item() <= 1e-5


def test_concurrent_renders_from_threads_agree(blend_net, gen):
    """A server renders from several threads; the parallel kernels must not clash."""
    from concurrent.futures import ThreadPoolExecutor

    img = torch.rand(1, 3, 90, 160, generator=gen)
    grids = identity_grid(2) + 0.2 * torch.randn(2, 12, 8, 16, 16, generator=gen)
    masks = _masks(90, 160, 2)
    want = render_frame(blend_net, img, masks, grids)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: render_frame(blend_net, img, masks, grids), range(12)))
    assert all(torch.equal(o, want) for o in outs)
