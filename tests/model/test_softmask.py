import numpy as np
import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.softmask import (_splat, soft_grid_mask_algorithm1, soft_grid_mask_splat, soft_grid_masks)


def test_algorithm1_hand_worked_example():
    # 4x4 image, 2x2 cells, D=2; mask = left half.
    z = torch.tensor([[0.6, 0.6, 0.1, 0.1],
                      [0.9, 1.0, 0.1, 0.1],
                      [0.2, 0.7, 0.5, 0.5],
                      [0.7, 0.7, 0.5, 0.5]]).unsqueeze(0)
    m = torch.zeros(1, 4, 4)
    m[:, :, :2] = 1
    out = soft_grid_mask_algorithm1(z, m, 2, 2, 2)[0]  # (D, Hg, Wg)
    assert out[:, 0, 0].tolist() == [0.75, 0.25]  # bins hold 3 and 1 of 4 pixels
    assert out[:, 0, 1].tolist() == [0.0, 0.0]  # no mask pixels
    assert out[:, 1, 0].tolist() == [0.75, 0.75]  # bin 1 holds 3; empty bin 2 gets the spatial share 3/4


@pytest.mark.parametrize("method", ["splat", "algorithm1"])
def test_partition_of_unity(gen, method):
    z = torch.rand(2, 40, 56, generator=gen)
    raw = torch.rand(2, 3, 40, 56, generator=gen)
    raw[:, 1, :, :20] = 0  # a region absent from part of the frame
    masks = raw / raw.sum(1, keepdim=True)
    out = soft_grid_masks(z, masks, 8, 16, 16, method)
    assert out.shape == (2, 3, 8, 16, 16)
    assert torch.allclose(out.sum(1), torch.ones(2, 8, 16, 16), atol=1e-5)
    assert (out >= 0).all()


def test_partition_when_no_region_has_mass():
    out = soft_grid_masks(torch.rand(1, 32, 32), torch.zeros(1, 2, 32, 32), 8, 16, 16)
    assert torch.allclose(out, torch.full_like(out, 0.5))


def test_splat_constant_mask_gives_constant(gen):
    z = torch.rand(1, 64, 48, generator=gen)
    for c in (0.0, 0.3, 1.0):
        out = soft_grid_mask_splat(z, torch.full((1, 64, 48), c), 8, 16, 16)
        assert torch.allclose(out, torch.full_like(out, c), atol=1e-5)


def test_splat_separates_by_depth():
    # left half dark (z=0.1) and in the mask, right half bright (z=0.9) and out of it:
    # even in the centre cells, where both halves meet spatially, the depth bins separate them.
    z = torch.full((1, 64, 64), 0.9)
    z[:, :, :32] = 0.1
    m = torch.zeros(1, 64, 64)
    m[:, :, :32] = 1
    out = soft_grid_mask_splat(z, m, 8, 16, 16)[0]
    assert out[0, :, 7].min() > 0.99  # bin of z=0.1 in the boundary column: all mask
    assert out[7, :, 8].max() < 0.01  # bin of z=0.9 in the other boundary column: no mask


def test_fast_splat_equals_torch_splat(gen):
    from lookgrid.model import _cpu_kernels as k

    z = torch.rand(1, 45, 70, generator=gen) * 1.2 - 0.1
    masks = torch.rand(1, 3, 45, 70, generator=gen)
    mm, pm = _splat(z, masks, 8, 16, 16)
    fmm = np.empty((3, 8, 16, 16))
    fpm = np.empty((8, 16, 16))
    k.splat_cpu(z[0].numpy(), masks[0].numpy(), 8, 16, 16, fmm, fpm)
    assert np.allclose(fmm, mm[0].numpy(), atol=1e-4)
    assert np.allclose(fpm, pm[0, 0].numpy(), atol=1e-4)


def test_gradcheck_splat():
    z = (torch.rand(1, 6, 7, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    m = torch.rand(1, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z, m: soft_grid_mask_splat(z, m, 3, 2, 2), (z, m))


def test_bad_inputs():
    with pytest.raises(ShapeMismatchError, match=r"got \(1, 2, 8, 8\)"):
        soft_grid_masks(torch.rand(1, 9, 8), torch.rand(1, 2, 8, 8), 8, 16, 16)
    with pytest.raises(InvalidInputError, match="unknown soft mask method"):
        soft_grid_masks(torch.rand(1, 8, 8), torch.rand(1, 2, 8, 8), 8, 16, 16, "nope")
