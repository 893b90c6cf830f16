"""Per-region Reinhard transfer: statistics land on the reference's, blending by masks, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.reinhard import reinhard_transfer, style_stats, weighted_lab_stats
from lookgrid.model.colormath import display_to_working as W
from lookgrid.model.colormath import working_to_lab
from lookgrid.eval.synthetic import smooth_image


def _two_regions(h=48, w=64):
    fg = np.zeros((h, w), np.float32)
    fg[10:30, 15:45] = 1
    return np.stack([fg, 1 - fg])


def test_weighted_stats_are_true_masked_statistics():
    lab = np.array([[10.0, 0, 0], [20.0, 0, 0], [1000.0, 5, 5]])
    s = weighted_lab_stats(lab, np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(s.mean, [15, 0, 0])
    np.testing.assert_allclose(s.std, [5, 0, 0])
    with pytest.raises(InvalidInputError):
        weighted_lab_stats(lab, np.zeros(3))


def test_each_region_takes_its_reference_statistics():
    img = W(smooth_image(48, 64, seed=1))
    masks = _two_regions()
    warm = W(smooth_image(40, 40, seed=7) * [1.0, 0.6, 0.3] + [0.1, 0.05, 0.0])
    cool = W(smooth_image(30, 50, seed=8) * [0.3, 0.6, 1.0])
    out = reinhard_transfer(img, masks, [warm, cool])
    assert out.shape == img.shape and out.dtype == np.float32
    for k, ref in enumerate([warm, cool]):
        got = weighted_lab_stats(working_to_lab(out.astype(np.float64)), masks[k])
        want = style_stats(ref)
        np.testing.assert_allclose(got.mean, want.mean, atol=0.05)
        np.testing.assert_allclose(got.std, want.std, atol=0.05)
    # precomputed statistics give the same pixels
    out2 = reinhard_transfer(img, masks, [style_stats(warm), style_stats(cool)])
    np.testing.assert_allclose(out, out2, atol=1e-6)


def test_identity_and_blending_rules():
    img = W(smooth_image(48, 64, seed=2))
    masks = _two_regions()
    # the image as its own reference for one region over the whole frame: unchanged
    whole = np.ones((1, 48, 64), np.float32)
    np.testing.assert_allclose(reinhard_transfer(img, whole, [img]), img, atol=1e-4)
    ref = W(np.full((8, 8, 3), 0.3, np.float32) + np.random.default_rng(0).random((8, 8, 3)) * 0.2)
    # masks summing to zero leave the input; strength 0 leaves the input
    out = reinhard_transfer(img, masks[:1], [ref])
    np.testing.assert_array_equal(out[masks[0] == 0], img[masks[0] == 0])
    np.testing.assert_allclose(reinhard_transfer(img, masks, [ref, ref], strength=[0, 0]), img, atol=1e-6)
    # half strength is halfway in RGB
    full = reinhard_transfer(img, masks, [ref, ref])
    half = reinhard_transfer(img, masks, [ref, ref], strength=[0.5, 0.5])
    np.testing.assert_allclose(half, 0.5 * (img + full), atol=1e-5)
    # a soft 50/50 mask is the mean of the two hard transfers
    soft = np.full((2, 48, 64), 0.5, np.float32)
    a = reinhard_transfer(img, np.stack([np.ones((48, 64)), np.zeros((48, 64))]), [ref, img])
    b = reinhard_transfer(img, np.stack([np.zeros((48, 64)), np.ones((48, 64))]), [ref, img])
    np.testing.assert_allclose(reinhard_transfer(img, soft, [ref, img]), 0.5 * (a + b), atol=1e-5)


def test_non_finite_pixels_pass_through_and_do_not_poison_statistics():
    img = W(smooth_image(48, 64, seed=3))
    img[0, 0] = np.nan
    img[1, 1] = np.inf
    ref = W(smooth_image(20, 20, seed=4) * 0.5)
    out = reinhard_transfer(img, _two_regions(), [ref, ref])
    assert np.isnan(out[0, 0]).all() and np.isinf(out[1, 1]).all()
    finite = np.isfinite(img).all(axis=2)
    assert np.isfinite(out[finite]).all()


def test_bad_input_is_named():
    img = W(smooth_image(16, 16))
    with pytest.raises(ShapeMismatchError, match=r"\(N, H, W\)"):
        reinhard_transfer(img, np.ones((1, 8, 8)), [img])
    with pytest.raises(InvalidInputError, match="one style per mask"):
        reinhard_transfer(img, np.ones((2, 16, 16)), [img])
    with pytest.raises(ShapeMismatchError, match="image must be"):
        reinhard_transfer(img[..., :2], np.ones((1, 16, 16)), [img])
