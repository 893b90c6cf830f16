"""lookgrid.model.blend: numpy and torch forms agree; batched eq. 7 equals the per-item blend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.blend import blend_grids, blend_outputs, pixel_blend, pixel_blend_weights
from lookgrid.model.grid import identity_grid


def _soft(b, n, d=8, h=4, w=4, seed=0):
    m = torch.rand(b, n, d, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return m / m.sum(dim=1, keepdim=True)


def test_pixel_blend_weights_numpy_equals_torch():
    m = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.8
    np.testing.assert_array_equal(pixel_blend_weights(m.numpy()[0], axis=0), pixel_blend_weights(m)[0].numpy())


def test_pixel_blend_is_the_documented_formula():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 4, 5, generator=g)
    outs = [torch.rand(1, 3, 4, 5, generator=g) for _ in range(2)]
    m = torch.rand(1, 2, 4, 5, generator=g)
    w = m / m.sum(1, keepdim=True).clamp(min=1)
    want = x + w[:, :1] * (outs[0] - x) + w[:, 1:] * (outs[1] - x)
    torch.testing.assert_close(pixel_blend(x, outs, m), want)
    torch.testing.assert_close(blend_outputs(x, iter(outs), w), want)  # any iterable of outputs
    assert torch.equal(pixel_blend(x, [x, x], m), x)  # identity results stay exact


def test_blend_grids_batched_numpy_and_identity():
    grids = torch.randn(2, 3, 12, 8, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    soft = _soft(2, 3)
    batched = blend_grids(grids, soft)
    assert batched.shape == (2, 12, 8, 4, 4)
    for i in range(2):
        assert torch.equal(batched[i], blend_grids(grids[i], soft[i]))
        torch.testing.assert_close(batched[i], (grids[i] * soft[i].unsqueeze(1)).sum(0))  # Σ M_k Γ_k
    np.testing.assert_array_equal(blend_grids(grids.numpy(), soft.numpy()), batched.numpy())
    ident = identity_grid(1, 8, 4, 4, dtype=torch.float64)[0]
    assert torch.equal(blend_grids(ident.expand(3, -1, -1, -1, -1), soft[0]), ident)


def test_bad_shapes_raise():
    with pytest.raises(ShapeMismatchError):
        blend_grids(torch.zeros(3, 12, 8, 4, 4), torch.zeros(2, 8, 4, 4))
    with pytest.raises(ShapeMismatchError):
        blend_grids(torch.zeros(3, 11, 8, 4, 4), torch.zeros(3, 8, 4, 4))
    with pytest.raises(ShapeMismatchError):
        pixel_blend_weights(torch.zeros(2, 4, 4))
