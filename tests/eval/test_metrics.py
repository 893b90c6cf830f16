"""Metrics on synthetic data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.errors import ShapeMismatchError
from lookgrid.eval import metrics as M
from lookgrid.model import colormath as C
from lookgrid.eval.synthetic import shift_clip, smooth_image


W = C.display_to_working  # tests describe pictures in display values and convert them


# ---- colour -------------------------------------------------------------------------------------
def test_colour_round_trips_and_anchors():
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.3, 1.6, size=(50, 3))  # working values, beyond the usual range too
    np.testing.assert_allclose(C.lab_to_working(C.working_to_lab(x)), x, atol=1e-9)
    np.testing.assert_allclose(C.display_to_working(C.working_to_display(x)), x, atol=1e-9)
    lin = rng.uniform(-1, 100, size=(50, 3))
    np.testing.assert_allclose(C.acescct_decode(C.acescct_encode(lin)), lin, rtol=1e-9, atol=1e-12)
    # ACEScct anchors: 0 -> 0.0729, 0.18 -> 0.4136, 1 -> 0.5548
    np.testing.assert_allclose(C.acescct_encode([0.0, 0.18, 1.0]), [0.0729055, 0.4135884, 0.5547945], atol=1e-6)
    # display white/black/mid grey -> Lab
    np.testing.assert_allclose(C.working_to_lab(W(np.array([1.0, 1.0, 1.0]))), [100, 0, 0], atol=1e-6)
    np.testing.assert_allclose(C.working_to_lab(W(np.array([0.0, 0.0, 0.0]))), [0, 0, 0], atol=1e-6)
    assert C.working_to_lab(W(np.array([0.5, 0.5, 0.5])))[0] == pytest.approx(53.39, abs=0.01)
    assert C.working_to_lab(W(np.array([1.0, 0.0, 0.0])))[1] > 70  # sRGB red has a large a*


def test_rec709_to_ap1_matches_imaging():
    """Our analytic matrices and curve must agree with the imaging layer's OpenColorIO pipeline."""
    imaging = pytest.importorskip("lookgrid.imaging.color")
    assert imaging.WORKING_SPACE == C.WORKING_SPACE_ASSUMED
    # the studio config's Rec.709 -> ACEScg matrix (Bradford-adapted), as OpenColorIO reports it
    want = np.array([[0.6130974, 0.33952315, 0.04737945], [0.07019372, 0.91635388, 0.0134524],
                     [0.02061559, 0.10956977, 0.86981463]])
    np.testing.assert_allclose(C.REC709_TO_AP1, want, atol=2e-7)
    pipe = imaging.ColorPipeline(src=imaging.SRGB_TEXTURE)
    disp = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(pipe.to_working(disp)), W(disp), atol=2e-5)


# ---- warping error (flow, warps and occlusion: tests/imaging/test_flow.py) --------------------
def test_warping_error_known_cases():
    images, _ = shift_clip(frames=4, height=64, width=96, shift=(2, 1))
    flows = M.input_flows(images)
    e_in = M.warping_errors(images, flows)
    assert e_in.shape == (3,)
    assert e_in.max() < 1e-4  # a pure translation is perfectly predicted by the flow
    # a flickering output (gain alternates per frame) is far less stable than its input
    flicker = [im + 0.05 * (t % 2) for t, im in enumerate(images)]
    e_fl = M.warping_errors(flicker, flows)
    assert e_fl.min() > 100 * max(e_in.max(), 1e-7)
    # the same colour transform on every frame is as stable as the input
    steady = [im * 0.9 + 0.02 for im in images]
    assert M.warping_errors(steady, flows).max() < 1e-4
    # hand-computed value: display frames 0.2 and 0.5 differ by 0.3 on all channels -> 3 * 0.09
    const = [W(np.full((64, 96, 3), 0.2, np.float32)), W(np.full((64, 96, 3), 0.5, np.float32))]
    assert M.warping_error_pair(const[0], const[1], flows[0]) == pytest.approx(0.27, rel=1e-5)


# ---- style distance -----------------------------------------------------------------------------
def test_style_distances_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5000, 3)) * [10, 5, 5] + [50, 0, 0]
    assert M.sliced_wasserstein(a, a) == pytest.approx(0.0, abs=1e-9)
    assert M.lab_moment_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    d = np.array([6.0, 0.0, 8.0])  # |d| = 10
    b = a + d
    assert M.lab_moment_distance(a, b) == pytest.approx(10.0, rel=1e-9)
    # for a pure shift each projection's W2 is |theta . d|; the mean over directions is |d|/2
    assert M.sliced_wasserstein(a, b, n_projections=256) == pytest.approx(5.0, rel=0.08)
    # deterministic (fixed seed) and monotone in the shift
    assert M.sliced_wasserstein(a, b) == M.sliced_wasserstein(a, b)
    assert M.sliced_wasserstein(a, a + 2 * d) > M.sliced_wasserstein(a, b)
    # spread difference only: moments see |sigma_a - sigma_b|
    c = (a - a.mean(0)) * 2 + a.mean(0)
    assert M.lab_moment_distance(a, c) == pytest.approx(np.linalg.norm(a.std(0)), rel=1e-9)


def test_region_style_distance_uses_only_the_region():
    img = np.zeros((32, 32, 3), np.float32)
    img[:, :16] = [1.0, 0.0, 0.0]  # red left half
    img[:, 16:] = [0.0, 0.0, 1.0]  # blue right half
    img = W(img)
    mask = np.zeros((32, 32), np.float32)
    mask[:, :16] = 1
    ref_red = C.working_to_lab(W(np.tile([[1.0, 0.0, 0.0]], (100, 1))))
    d = M.region_style_distance(img, mask, ref_red)
    assert d.lab_moments == pytest.approx(0.0, abs=1e-4) and d.swd == pytest.approx(0.0, abs=1e-4)
    d_blue = M.region_style_distance(img, 1 - mask, ref_red)
    assert d_blue.lab_moments > 50
    assert M.region_style_distance(img, np.zeros_like(mask), ref_red) is None


# ---- structure and halos ------------------------------------------------------------------------
def test_structure_term():
    import cv2

    rng = np.random.default_rng(0)
    # a textured image (blurred noise with good local contrast)
    d = np.clip(0.5 + 2.5 * (cv2.GaussianBlur(rng.random((48, 64, 3)).astype(np.float32), (0, 0), 1.0) - 0.5), 0, 1)
    img = W(d)
    assert M.structure_similarity(img, img) == pytest.approx(1.0, abs=1e-6)
    # a positive gain and offset on the display image keep every local pattern: s = 1
    assert M.structure_similarity(img, W(0.5 * d + 0.2)) == pytest.approx(1.0, abs=1e-3)
    assert M.structure_similarity(img, W(1.0 - d)) < -0.8
    noise = W(rng.random(img.shape).astype(np.float32))
    assert abs(M.structure_similarity(img, noise)) < 0.2
    # a blurred output loses structure
    assert M.structure_similarity(img, W(cv2.GaussianBlur(d, (0, 0), 3.0))) < 0.9


def test_halo_ratio():
    h, w = 128, 128
    d = smooth_image(h, w, seed=2) * 0.6
    img = W(d)
    y, x = np.mgrid[0:h, 0:w]
    fg = ((x - 64) ** 2 + (y - 64) ** 2 <= 30**2).astype(np.float32)
    masks = np.stack([fg, 1 - fg])
    # a global gain has no halo
    assert M.halo_ratio(img, W(d * 0.7), masks) == pytest.approx(1.0, abs=1e-5)
    # different per-region gains, applied exactly at the edge: still no halo
    gains = 1.5 * fg + 0.6 * (1 - fg)
    assert M.halo_ratio(img, W(d * gains[..., None]), masks) == pytest.approx(1.0, abs=1e-5)
    # the foreground's offset leaking across the edge through a blurred mask: a halo
    import cv2

    leak = cv2.GaussianBlur(fg, (0, 0), 4)[..., None]
    h1 = M.halo_ratio(img, W(d + 0.1 * leak), masks)
    h2 = M.halo_ratio(img, W(d + 0.2 * leak), masks)
    h4 = M.halo_ratio(img, W(d + 0.4 * leak), masks)
    assert 1.0 < h1 < h2 < h4 and h4 > 1.15
    # no region with an edge -> no value
    assert M.halo_ratio(img, img, np.ones((1, h, w), np.float32)) is None


def test_ms_per_frame():
    assert M.ms_per_frame(2.0, 4) == 500.0


def test_fast_helpers_match_their_plain_versions():
    rng = np.random.default_rng(4)
    pts = rng.normal(size=(3001, 3))
    q = M.projected_quantiles(pts, n_projections=8, n_quantiles=50, seed=3)
    dirs = np.random.default_rng(3).normal(size=(8, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    want = np.quantile(pts @ dirs.T, (np.arange(50) + 0.5) / 50, axis=0).T
    np.testing.assert_allclose(q, want, atol=1e-12)
    m = rng.normal(size=(3, 3))
    x = rng.normal(size=(5, 7, 3))
    np.testing.assert_allclose(C.apply_matrix(x, m), x @ m.T, atol=1e-12)
    np.testing.assert_allclose(C.apply_weights(x, C.LUMA_WEIGHTS), x @ C.LUMA_WEIGHTS, atol=1e-12)
