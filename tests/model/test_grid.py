import pytest
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.blend import blend_grids
from lookgrid.model.grid import (DIAGONAL_CHANNELS, GRID_COEFFS, OFFSET_CHANNELS, apply_strength,
                                 check_shape, identity_grid, lerp_grids)


def test_layout_constants():
    assert GRID_COEFFS == 12
    assert OFFSET_CHANNELS == (3, 7, 11)
    assert DIAGONAL_CHANNELS == (0, 5, 10)


def test_identity_grid_values():
    g = identity_grid(2, 8, 4, 5)
    assert g.shape == (2, 12, 8, 4, 5)
    a = g[:, :, 3, 2, 1].view(2, 3, 4)
    assert torch.equal(a[0], torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))


def test_strength_blends_toward_identity(gen):
    g = torch.randn(3, 12, 8, 4, 4, generator=gen)
    out = apply_strength(g, torch.tensor([0.0, 1.0, 0.5]))
    assert torch.equal(out[0], identity_grid(1, 8, 4, 4)[0])
    assert torch.allclose(out[1], g[1])
    assert torch.allclose(out[2], 0.5 * g[2] + 0.5 * identity_grid(1, 8, 4, 4)[0], atol=1e-6)


def test_strength_bad_shape_names_shape():
    with pytest.raises(ShapeMismatchError, match=r"\(2,\)"):
        apply_strength(torch.zeros(3, 12, 8, 4, 4), torch.ones(2))


def test_blend_grids_is_weighted_sum(gen):
    g = torch.randn(3, 12, 8, 4, 4, generator=gen)
    m = torch.rand(3, 8, 4, 4, generator=gen)
    m = m / m.sum(0, keepdim=True)
    ref = (g * m.unsqueeze(1)).sum(0)
    assert torch.allclose(blend_grids(g, m), ref, atol=1e-5)


def test_blend_of_equal_grids_is_exact(gen):
    one = torch.randn(1, 12, 8, 4, 4, generator=gen)
    m = torch.rand(3, 8, 4, 4, generator=gen)
    m = m / m.sum(0, keepdim=True)
    assert torch.equal(blend_grids(one.expand(3, -1, -1, -1, -1), m), one[0])


def test_blend_bad_mask_shape_names_shape():
    with pytest.raises(ShapeMismatchError, match=r"\(3, 8, 4\)"):
        blend_grids(torch.zeros(3, 12, 8, 4, 4), torch.zeros(3, 8, 4))


def test_lerp_grids_endpoints(gen):
    a, b = torch.randn(2, 1, 12, 8, 2, 2, generator=gen)
    assert torch.equal(lerp_grids(a, b, 0.0), a)
    assert torch.allclose(lerp_grids(a, b, 1.0), b)
    with pytest.raises(ShapeMismatchError):
        lerp_grids(a, b[..., :1], 0.5)


def test_gradcheck_blend_and_strength():
    g = torch.randn(2, 12, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    m = torch.rand(2, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    s = torch.rand(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda g, m, s: blend_grids(apply_strength(g, s), m), (g, m, s))


def test_check_shape_reads_its_pattern():
    """Sizes in the pattern are checked, names are free unless bound, and the message shows both."""
    check_shape("x", torch.zeros(2, 3, 4, 5), "(B,3,H,W)")
    check_shape("x", torch.zeros(2, 3, 4, 4), "(B,3,L,L)", L=4)
    with pytest.raises(ShapeMismatchError, match=r"x must have shape \(B,3,H,W\), got \(2, 4, 4, 5\)"):
        check_shape("x", torch.zeros(2, 4, 4, 5), "(B,3,H,W)")
    with pytest.raises(ShapeMismatchError, match=r"\(B,3,H,W\), got \(3, 4, 5\)"):
        check_shape("x", torch.zeros(3, 4, 5), "(B,3,H,W)")
    with pytest.raises(ShapeMismatchError, match=r"\(1,N,H,W\) = \(1,N,4,6\), got \(1, 2, 4, 5\)"):
        check_shape("masks", torch.zeros(1, 2, 4, 5), "(1,N,H,W)", H=4, W=6)
    with pytest.raises(ShapeMismatchError, match="L"):
        check_shape("x", torch.zeros(2, 3, 4, 5), "(B,3,L,L)", L=4)


def test_check_shape_refuses_a_malformed_pattern():
    with pytest.raises(ValueError, match="parentheses"):
        check_shape("x", torch.zeros(2), "B")
    with pytest.raises(ValueError, match="neither sizes nor names"):
        check_shape("x", torch.zeros(2), "(B-1)")
    with pytest.raises(ValueError, match="not names of the pattern"):
        check_shape("x", torch.zeros(2), "(B)", C=2)
