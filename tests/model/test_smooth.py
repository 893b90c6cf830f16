"""Whole-shot smoothing of region looks (lookgrid.model.smooth)."""

from __future__ import annotations

import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.smooth import smooth_looks, smooth_looks_reference, smoothing_kernel


def _looks(t=12, r=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(1, r, 12, 2, 3, 3, generator=g, dtype=torch.float64)
    return base + 0.01 * torch.randn(t, r, 12, 2, 3, 3, generator=g, dtype=torch.float64)


def test_fast_path_agrees_with_the_reference():
    looks = _looks()
    w = torch.rand(12, 2, generator=torch.Generator().manual_seed(1))
    w[3, 0] = 0.0
    cuts = torch.zeros(12, dtype=torch.bool)
    cuts[7] = True
    for kw in ({"sigma": 2.0}, {"sigma": 1.5, "range_sigma": None}, {"sigma": 3.0, "weights": w, "cuts": cuts},
               {"sigma": 2.0, "range_sigma": 0.01, "weights": w[:, 0]}):
        want = smooth_looks_reference(looks, **kw)
        torch.testing.assert_close(smooth_looks(looks, **kw), want, rtol=1e-10, atol=1e-12)
        k = smoothing_kernel(looks, **kw)  # (R, T, T) dense
        dense = torch.einsum("rts,srp->trp", k, looks.reshape(12, 2, -1)).reshape(looks.shape)
        torch.testing.assert_close(dense, want, rtol=1e-10, atol=1e-12)


def test_a_held_look_stays_and_jitter_shrinks():
    held = _looks()[:1].expand(10, 2, 12, 2, 3, 3).clone()
    torch.testing.assert_close(smooth_looks(held, sigma=3.0), held)
    jittery = _looks(t=40)
    out = smooth_looks(jittery, sigma=3.0, range_sigma=None)
    d2 = lambda x: (x[2:] - 2 * x[1:-1] + x[:-2]).abs().mean()  # noqa: E731
    assert d2(out) < 0.1 * d2(jittery)
    # linear drift passes through (away from the ends, where the window is symmetric)
    drift = torch.linspace(0, 1, 30, dtype=torch.float64).view(30, 1, 1) * torch.ones(30, 1, 4, dtype=torch.float64)
    torch.testing.assert_close(smooth_looks(drift, sigma=2.0, range_sigma=None)[8:-8], drift[8:-8])


def test_cuts_reset_and_a_real_change_comes_through():
    step = torch.zeros(20, 1, 5, dtype=torch.float64)
    step[10:] = 1.0  # a light switched on at frame 10
    cuts = torch.zeros(20, dtype=torch.bool)
    cuts[10] = True
    torch.testing.assert_close(smooth_looks(step, sigma=3.0, range_sigma=None, cuts=cuts), step)
    # without a cut, the range kernel keeps the step (frames across it look far apart) ...
    kept = smooth_looks(step, sigma=3.0, range_sigma=0.05)
    assert (kept - step).abs().max() < 1e-6
    # ... where a plain time kernel would smear it
    smeared = smooth_looks(step, sigma=3.0, range_sigma=None)
    assert (smeared - step).abs().max() > 0.3


def test_weights_zero_frames_out_and_rows_sum_to_one():
    looks = torch.zeros(7, 1, 2, dtype=torch.float64)
    looks[3] = 5.0  # an outlier whose flow failed
    w = torch.ones(7)
    w[3] = 0.0
    out = smooth_looks(looks, sigma=1.0, range_sigma=None, weights=w)
    assert out.abs().max() < 1e-12  # nobody uses it, and it takes its neighbours' look
    k = smoothing_kernel(looks, sigma=1.0, range_sigma=None, weights=w)
    torch.testing.assert_close(k.sum(-1), torch.ones(1, 7, dtype=torch.float64))
    all_zero = smooth_looks(looks, sigma=1.0, range_sigma=None, weights=torch.zeros(7))
    torch.testing.assert_close(all_zero, looks)  # nothing to average: unchanged


def test_sigma_zero_is_identity_dtype_kept_and_bad_input_named():
    looks = _looks().float()
    assert torch.equal(smooth_looks(looks, sigma=0.0), looks)
    assert smooth_looks(looks, sigma=1.0).dtype == torch.float32
    with pytest.raises(ShapeMismatchError, match="weights"):
        smooth_looks(looks, sigma=1.0, weights=torch.ones(3))
    with pytest.raises(ShapeMismatchError, match="cuts"):
        smooth_looks(looks, sigma=1.0, cuts=torch.ones(3, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match="sigma"):
        smooth_looks(looks, sigma=-1.0)


def test_blocks_agree_with_the_reference_on_a_long_shot():
    from lookgrid.model import smooth as S

    g = torch.Generator().manual_seed(3)
    looks = torch.cumsum(0.02 * torch.randn(3 * S.BLOCK + 5, 2, 6, generator=g, dtype=torch.float64), 0)
    cuts = torch.zeros(len(looks), dtype=torch.bool)
    cuts[S.BLOCK + 2] = True
    w = torch.rand(len(looks), generator=g)
    for kw in ({"sigma": 4.0, "cuts": cuts, "weights": w}, {"sigma": 12.0, "range_sigma": 0.1}):
        torch.testing.assert_close(smooth_looks(looks, **kw), smooth_looks_reference(looks, **kw), rtol=1e-10, atol=1e-12)
