"""lookgrid.imaging.flow: DIS flow, warps (fast path vs reference), the occlusion test."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.eval.synthetic import smooth_image
from lookgrid.imaging import flow as F
from lookgrid.model import colormath as C

W = C.display_to_working


# ---- flow and warping ---------------------------------------------------------------------------
def test_warp_matches_reference():
    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 3)).astype(np.float32)
    flow = rng.uniform(-3, 3, size=(20, 30, 2)).astype(np.float32)
    np.testing.assert_allclose(F.warp(img, flow), F.warp_reference(img, flow), atol=2e-3)
    # integer shift: exact sampling
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2
    np.testing.assert_array_equal(F.warp(img, flow)[:, :-2], img[:, 2:])


def test_dis_recovers_known_shift():
    a = W(smooth_image(96, 128, seed=3))
    b = W(smooth_image(96, 128, seed=3, offset=(3, -2)))
    f = F.dis_flow(C.display_luma_u8(a), C.display_luma_u8(b))
    inner = f[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(3, abs=0.1)
    assert np.median(inner[..., 1]) == pytest.approx(-2, abs=0.1)


def test_occlusion_consistent_and_inconsistent():
    h, w = 40, 50
    fwd = np.zeros((h, w, 2), np.float32)
    fwd[..., 0] = 2.0
    bwd = -fwd
    occ = F.occlusion_mask(fwd, bwd)
    assert not occ[:, : w - 3].any()  # consistent and inside the frame
    assert occ[:, w - 2 :].all()  # x + 2 leaves the frame
    occ_bad = F.occlusion_mask(fwd, fwd.copy())  # backward should be -2, is +2: |F+B|^2 = 16 > 0.5+
    assert occ_bad.all()
    # motion boundary: a sharp step in the flow field
    step = np.zeros((h, w, 2), np.float32)
    step[:, 25:, 0] = 3.0
    assert F.occlusion_mask(step, -step)[:, 24:26].all()
    with pytest.raises(ShapeMismatchError):
        F.occlusion_mask(fwd, fwd[:, :10])


def test_dis_flow_rejects_bad_input():
    g = np.zeros((8, 8), np.uint8)
    with pytest.raises(ShapeMismatchError, match="uint8"):
        F.dis_flow(np.zeros((8, 8, 3), np.float32), g)
    with pytest.raises(ShapeMismatchError, match="differ"):
        F.dis_flow(g, np.zeros((8, 9), np.uint8))
    with pytest.raises(InvalidInputError, match="preset"):
        F.dis_flow(g, g, "slowest")
