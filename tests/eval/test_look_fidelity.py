"""Colour difference (CIEDE2000) and the look-fidelity measure built on it."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.errors import ShapeMismatchError
from lookgrid.eval.looks import fidelity, pooled
from lookgrid.eval.metrics import delta_e2000, display_lab

# Sharma, Wu and Dalal (2005), Table 1: L1 a1 b1, L2 a2 b2, ΔE00 (a selection covering their notes:
# hue mean across 0°/360°, zero chroma, large differences)
SHARMA = np.array([
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
])


def test_delta_e2000_matches_the_published_pairs():
    d = delta_e2000(SHARMA[:, :3], SHARMA[:, 3:6])
    np.testing.assert_allclose(d, SHARMA[:, 6], atol=1e-4)
    np.testing.assert_allclose(delta_e2000(SHARMA[:, 3:6], SHARMA[:, :3]), d, atol=1e-9)  # symmetric
    assert np.all(delta_e2000(SHARMA[:, :3], SHARMA[:, :3]) == 0)
    with pytest.raises(ShapeMismatchError):
        delta_e2000(np.zeros((2, 3)), np.zeros((3, 3)))


def test_fidelity_of_display_colours():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (1000, 3)).astype(np.float32)
    f = fidelity(x, x)
    assert f.mean == 0 and f.p95 == 0 and f.pixels == 1000
    lab = display_lab(x)
    assert lab.shape == (1000, 3) and 0 <= lab[:, 0].min() and lab[:, 0].max() <= 100.0 + 1e-9
    shifted = fidelity(x, x + 0.02)
    assert 0.5 < shifted.mean < shifted.p95 < 10
    both = pooled([(x, x), (x, x + 0.02)])
    assert both.pixels == 2000 and abs(both.mean - shifted.mean / 2) < 1e-9
    assert np.isnan(fidelity(x[:0], x[:0]).mean)
