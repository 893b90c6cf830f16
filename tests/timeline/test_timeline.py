"""Keyframe maths: interpolations, monotone cubic, weights, stride brackets, JSON form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lookgrid.errors import InvalidInputError
from lookgrid.timeline import (Key, Track, bracket, changed_frames, fritsch_carlson_slopes,
                               interp_from_proto, interpolation_bracket, region_weights, smoothstep,
                               subsample_frames)


def test_constant_holds_until_next_key():
    t = Track((Key(0, 1.0, "constant"), Key(10, 3.0, "constant")))
    assert t.evaluate(0) == 1.0
    assert t.evaluate(9.999) == 1.0
    assert t.evaluate(10) == 3.0
    assert t.evaluate(-5) == 1.0 and t.evaluate(50) == 3.0


def test_linear_values():
    t = Track((Key(10, 0.0, "linear"), Key(20, 2.0)))
    assert t.evaluate(15) == pytest.approx(1.0)
    assert t.evaluate(12.5) == pytest.approx(0.5)
    assert t.evaluate(5) == 0.0 and t.evaluate(25) == 2.0


def test_smooth_is_smoothstep_with_zero_slope_at_keys():
    t = Track((Key(0, 0.0, "smooth"), Key(10, 1.0, "smooth"), Key(20, 0.0)))
    assert t.evaluate(5) == pytest.approx(0.5)
    assert t.evaluate(2.5) == pytest.approx(smoothstep(0.25)) == pytest.approx(0.15625)
    eps = 1e-4
    for key in (0.0, 10.0, 20.0):  # one-sided slopes at each key are ~0
        left = (t.evaluate(key) - t.evaluate(key - eps)) / eps
        right = (t.evaluate(key + eps) - t.evaluate(key)) / eps
        assert abs(left) < 1e-3 and abs(right) < 1e-3


def test_no_jumps_at_keys_with_smooth_interpolation():
    """Per-frame change stays small around keys (continuous value and slope); a step track jumps."""
    keys = [Key(0, 0.0, "smooth"), Key(12, 1.0, "smooth"), Key(24, 0.2, "smooth"), Key(36, 1.0)]
    smooth = Track(tuple(keys))
    frames = np.arange(-5, 42)
    v = np.array(smooth.evaluate_many(frames))
    d = np.abs(np.diff(v))
    # the largest single-frame step is bounded by the steepest smoothstep slope (1.5·Δ/span)
    assert d.max() <= 1.5 * 1.0 / 12 + 1e-9
    # around each key, the change from frame to frame is continuous: no step at the key
    for k in (12, 24):
        i = int(np.where(frames == k)[0][0])
        assert abs(d[i] - d[i - 1]) < 0.03
    step = Track(tuple(Key(k.frame, k.value, "constant") for k in keys))
    ds = np.abs(np.diff(step.evaluate_many(frames)))
    assert ds.max() >= 0.8  # the control does jump, so the check above can fail


def test_cubic_is_monotone_and_interpolates():
    xs = [0.0, 5.0, 6.0, 20.0, 30.0]
    ys = [0.0, 0.1, 0.9, 1.0, 1.0]
    t = Track(tuple(Key(x, y, "cubic") for x, y in zip(xs, ys)))
    for x, y in zip(xs, ys):
        assert t.evaluate(x) == pytest.approx(y)
    v = np.array(t.evaluate_many(np.linspace(0, 30, 601)))
    assert np.all(np.diff(v) >= -1e-12), "monotone data must give a monotone curve"
    assert v.max() <= 1.0 + 1e-12 and v.min() >= -1e-12, "no overshoot"
    # flat segment stays exactly flat
    assert t.evaluate(25.0) == pytest.approx(1.0)


def test_cubic_extremum_has_zero_slope_and_no_overshoot():
    t = Track((Key(0, 0.0, "cubic"), Key(10, 1.0, "cubic"), Key(20, 0.0, "cubic")))
    v = np.array(t.evaluate_many(np.linspace(0, 20, 401)))
    assert v.max() == pytest.approx(1.0, abs=1e-12)


def test_fritsch_carlson_slopes_limit():
    m = fritsch_carlson_slopes([0, 1, 2], [0, 1, 100])
    # the steep second secant would overshoot on the first segment without the α²+β² ≤ 9 limit
    a, b = m[0] / 1.0, m[1] / 1.0
    assert a * a + b * b <= 9.0 + 1e-9


def test_cubic_matches_pchip_shape_on_uniform_data():
    # Fritsch-Carlson on uniform data with same-sign secants: interior slope = mean of secants
    m = fritsch_carlson_slopes([0, 1, 2, 3], [0, 1, 3, 4])
    assert m[1] == pytest.approx(1.5) and m[2] == pytest.approx(1.5)


def test_track_errors():
    with pytest.raises(InvalidInputError):
        Track(())
    with pytest.raises(InvalidInputError, match="two keys on frame 3"):
        Track((Key(3, 0.0), Key(3, 1.0)))
    with pytest.raises(InvalidInputError, match="unknown interpolation"):
        Key(0, 1.0, "bezier")
    with pytest.raises(InvalidInputError):
        Key(math.nan, 1.0)


def test_aliases_and_proto_names():
    assert Key(0, 0, "ease").interp == "smooth"
    assert interp_from_proto("SMOOTH") == "smooth"
    assert interp_from_proto("INTERPOLATION_UNSPECIFIED") == "linear"
    assert interp_from_proto(4) == "cubic"


def test_json_round_trip_and_defaults():
    t = Track((Key(0, 0.0, "smooth"), Key(10.5, 1.0, "cubic"), Key(20, 0.25, "constant")))
    d = t.to_dict()
    assert d["keys"][0] == {"interpolation": "SMOOTH"}  # proto3 defaults omitted
    assert d["keys"][1] == {"frame": 10.5, "value": 1.0, "interpolation": "CUBIC"}
    assert Track.from_dict(d) == t
    assert Track.from_dict({}, default=1.0).evaluate(123) == 1.0
    assert Track.from_dict(0.5).evaluate(7) == 0.5


def test_region_weights_normalised_and_zero():
    a = Track((Key(0, 1.0, "linear"), Key(10, 0.0)))
    b = Track((Key(0, 0.0, "linear"), Key(10, 3.0)))
    w = region_weights([a, b], 5)
    assert w == pytest.approx([0.5 / 2.0, 1.5 / 2.0])
    assert sum(region_weights([a, b], 3)) == pytest.approx(1.0)
    zero = Track.constant(0.0)
    assert region_weights([zero, zero], 4) == [0.0, 0.0]
    neg = Track.constant(-1.0)
    assert region_weights([neg, Track.constant(2.0)], 0) == [0.0, 1.0]


def test_subsample_frames_includes_last():
    assert subsample_frames(range(1, 11), 4) == [1, 5, 9, 10]
    assert subsample_frames(range(1, 10), 4) == [1, 5, 9]
    assert subsample_frames([1001, 1003, 1005, 1007], 2) == [1001, 1005, 1007]
    assert subsample_frames(range(5), 1) == [0, 1, 2, 3, 4]
    with pytest.raises(InvalidInputError):
        subsample_frames(range(5), 0)


def test_brackets():
    anchors = subsample_frames(range(1, 11), 4)
    assert bracket(1, anchors) == (1, 1, 0.0)
    assert bracket(2, anchors) == (1, 5, 0.25)
    assert bracket(7, anchors) == (5, 9, 0.5)
    assert bracket(10, anchors) == (10, 10, 0.0)
    assert bracket(9.5, anchors) == (9, 10, 0.5)
    assert bracket(50, anchors) == (10, 10, 0.0)
    for f in range(1, 11):  # the uniform formula agrees with the list form
        assert interpolation_bracket(f, 4, first=1, last=10) == bracket(f, anchors)


def test_changed_frames_is_exact():
    old = Track((Key(0, 0.0, "linear"), Key(10, 1.0), Key(20, 1.0)))
    new = Track((Key(0, 0.0, "linear"), Key(10, 1.0), Key(15, 0.5, "linear"), Key(20, 1.0)))
    assert changed_frames(old, new, range(0, 25)) == [11, 12, 13, 14, 15, 16, 17, 18, 19]
