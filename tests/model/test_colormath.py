"""lookgrid.model.colormath: the numpy and torch forms agree with each other and with OpenColorIO."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model import colormath as C


def _working(seed=0, shape=(1, 3, 6, 7)):
    # working-space values in a realistic range, including the toe and above display white
    return torch.from_numpy(np.random.default_rng(seed).uniform(-0.05, 1.4, shape))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def test_curves_agree_between_forms():
    y = _working()
    np.testing.assert_allclose(C.acescct_decode_t(y).numpy(), C.acescct_decode(y.numpy()), rtol=1e-12)
    lin = C.acescct_decode(y.numpy())
    np.testing.assert_allclose(C.acescct_encode_t(torch.from_numpy(lin)).numpy(), C.acescct_encode(lin),
                               rtol=1e-12, atol=1e-14)
    x = y.numpy() - 0.3
    np.testing.assert_allclose(C.srgb_decode_t(torch.from_numpy(x)).numpy(), C.srgb_decode(x), rtol=1e-12)
    np.testing.assert_allclose(C.srgb_encode_t(torch.from_numpy(x)).numpy(), C.srgb_encode(x), rtol=1e-12)


def test_conversions_agree_between_forms():
    y = _working(1)
    np.testing.assert_allclose(_np(C.working_to_linear709_t(y)), C.working_to_linear709(_np(y)), rtol=1e-12)
    np.testing.assert_allclose(_np(C.working_to_oklab_t(y)), C.working_to_oklab(_np(y)), atol=1e-6)
    np.testing.assert_allclose(C.luma_t(y).numpy(), C.apply_weights(_np(y), C.LUMA_WEIGHTS), rtol=1e-12)
    lab = C.working_to_oklab_t(y)
    np.testing.assert_allclose(C.oklab_to_linear709_t(lab).numpy(), C.working_to_linear709_t(y).numpy(),
                               atol=1e-6)


def test_torch_cap_keeps_gradient_finite_and_numpy_decodes_beyond():
    y = torch.tensor([0.5, C.ACESCCT_DECODE_CAP_T, 4.0, 7.5], dtype=torch.float32, requires_grad=True)
    C.acescct_decode_t(y).sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad[-1] == 0
    big = C.acescct_decode(np.array([4.0]))
    np.testing.assert_allclose(C.acescct_encode(big), [4.0], rtol=1e-12)


def test_reference_values():
    np.testing.assert_allclose(C.acescct_encode([0.0, 0.18, 1.0]), [0.0729055, 0.4135884, 0.5547945], atol=1e-6)
    white = torch.ones(1, 3, 1, 1, dtype=torch.float64)
    np.testing.assert_allclose(C.linear709_to_oklab_t(white).flatten().numpy(), [1, 0, 0], atol=1e-4)
    np.testing.assert_allclose(C.linear709_to_oklab(np.ones(3)), [1, 0, 0], atol=1e-4)


def test_agrees_with_opencolorio():
    imaging = pytest.importorskip("lookgrid.imaging.color")
    assert imaging.WORKING_SPACE == C.WORKING_SPACE_ASSUMED
    rgb = np.random.default_rng(0).uniform(0.05, 0.9, (4, 5, 3)).astype(np.float32)
    ref = imaging.ColorPipeline(None, src="ACEScct", working="Linear Rec.709 (sRGB)").to_working(rgb)
    np.testing.assert_allclose(C.working_to_linear709(rgb), ref, rtol=1e-4, atol=1e-6)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    np.testing.assert_allclose(_np(C.working_to_linear709_t(t))[0], ref, rtol=1e-4, atol=1e-6)
    disp = imaging.ColorPipeline(src=imaging.SRGB_TEXTURE).to_working(rgb)
    np.testing.assert_allclose(C.display_to_working(rgb), disp, atol=2e-5)


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.zeros(())])
def test_bad_shapes_raise(bad):
    with pytest.raises(ShapeMismatchError):
        C.working_to_lab(bad)
    with pytest.raises(ShapeMismatchError):
        C.luma_t(torch.zeros(1, 2, 3, 3))
