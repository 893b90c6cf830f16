import pytest
import torch
import torch.nn.functional as F

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.grid import identity_grid
from lookgrid.model.slicing import apply_affine, slice_apply, slice_apply_reference, slice_grid_reference


def test_reference_matches_grid_sample_convention(gen):
    """Independent check of the sampling convention: 5-D grid_sample, align_corners=False, border."""
    b, c, d, hg, wg, h, w = 2, 5, 8, 4, 6, 9, 13
    grid = torch.randn(b, c, d, hg, wg, generator=gen, dtype=torch.float64)
    guide = torch.rand(b, h, w, generator=gen, dtype=torch.float64)
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w * 2 - 1
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h * 2 - 1
    coords = torch.stack([xs.view(1, 1, w).expand(b, h, w), ys.view(1, h, 1).expand(b, h, w), guide * 2 - 1], dim=-1)
    ref = F.grid_sample(grid, coords.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)[:, :, 0]
    assert torch.allclose(slice_grid_reference(grid, guide), ref, atol=1e-10)


@pytest.mark.parametrize("h,w", [(37, 53), (16, 16), (5, 200), (128, 72)])
def test_fast_equals_reference(gen, h, w):
    grid = torch.randn(2, 12, 8, 16, 16, generator=gen)
    guide = torch.rand(2, h, w, generator=gen) * 1.4 - 0.2  # also outside [0, 1]
    image = torch.rand(2, 3, h, w, generator=gen) * 1.5 - 0.2
    fast = slice_apply(grid, guide, image)
    ref = slice_apply_reference(grid, guide, image)
    assert (fast - ref).abs().max().item() <= 1e-5


def test_identity_grid_is_exact(gen):
    image = torch.rand(1, 3, 31, 47, generator=gen) * 3 - 1
    guide = torch.rand(1, 31, 47, generator=gen)
    g = identity_grid(1)
    assert torch.equal(slice_apply_reference(g, guide, image), image)
    assert torch.equal(slice_apply(g, guide, image), image)


def test_constant_affine_reproduced(gen):
    a = torch.randn(12, generator=gen)
    g = a.view(1, 12, 1, 1, 1).expand(1, 12, 8, 16, 16).contiguous()
    image = torch.rand(1, 3, 20, 30, generator=gen)
    guide = torch.rand(1, 20, 30, generator=gen)
    want = torch.einsum("ck,bkhw->bchw", a.view(3, 4)[:, :3], image) + a.view(3, 4)[:, 3].view(1, 3, 1, 1)
    assert torch.allclose(slice_apply_reference(g, guide, image), want, atol=1e-5)
    assert torch.allclose(slice_apply(g, guide, image), want, atol=1e-5)


def test_apply_affine_layout():
    coeffs = torch.zeros(1, 12, 1, 1)
    coeffs[0, 3] = 0.25  # offset b0 is channel 3
    coeffs[0, 4 + 2] = 2.0  # a12: green output takes 2 * blue
    out = apply_affine(coeffs, torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1))
    assert torch.allclose(out.flatten(), torch.tensor([0.25, 0.6, 0.0]))


def test_gradcheck_reference():
    grid = torch.randn(1, 12, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    guide = (torch.rand(1, 4, 5, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    image = torch.rand(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(slice_apply_reference, (grid, guide, image))


@pytest.mark.parametrize("fn", [slice_apply, slice_apply_reference])
def test_bad_shapes_state_shape(fn):
    with pytest.raises(ShapeMismatchError, match=r"\(1, 11, 8, 16, 16\)"):
        fn(torch.zeros(1, 11, 8, 16, 16), torch.zeros(1, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ShapeMismatchError, match=r"\(1, 4, 5\)"):
        fn(torch.zeros(1, 12, 8, 16, 16), torch.zeros(1, 4, 5), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ShapeMismatchError, match=r"\(1, 4, 4, 4\)"):
        fn(torch.zeros(1, 12, 8, 16, 16), torch.zeros(1, 4, 4), torch.zeros(1, 4, 4, 4))
