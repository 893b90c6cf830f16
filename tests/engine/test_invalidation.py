"""engine.invalidation: the pure diff of two specs that decides what an open clip drops."""

from __future__ import annotations

import dataclasses

from lookgrid.engine.invalidation import SpecChange, is_structural, keyframe_changes, replaced_styles
from lookgrid.timeline import Key, Track

from engine_clips import STYLE_A, STYLE_B, STYLE_C, fg_bg_spec


def _with_region(spec, k, **changes):
    regions = list(spec.regions)
    regions[k] = dataclasses.replace(regions[k], **changes)
    return dataclasses.replace(spec, regions=regions)


def test_structural_changes():
    old = fg_bg_spec()
    assert not is_structural(old, fg_bg_spec())
    assert not is_structural(old, dataclasses.replace(old, output="elsewhere.%04d.exr"))
    for change in ({"method": "per-frame"}, {"stride": 2}, {"model": "other"}, {"input": "x.%04d.exr"},
                   {"input_colorspace": "ACEScg"}, {"config": "ocio://default"}):
        assert is_structural(old, dataclasses.replace(old, **change)), change
    assert is_structural(old, _with_region(old, 0, mask="other.%04d.png"))
    assert is_structural(old, _with_region(old, 0, styles=old.regions[0].styles * 2))
    assert is_structural(old, old, [1, 2, 3], [1, 2])
    assert SpecChange.between(old, dataclasses.replace(old, stride=3)) == SpecChange(True, frozenset())


def test_replaced_styles_name_region_and_style_index():
    old = fg_bg_spec()
    new = _with_region(old, 1, styles=[dataclasses.replace(old.regions[1].styles[0], style=STYLE_C)])
    assert replaced_styles(old, new) == {(1, 0)}
    assert SpecChange.between(old, new) == SpecChange(False, frozenset({(1, 0)}))
    assert replaced_styles(old, old) == set()
    assert STYLE_A != STYLE_B  # the two regions start with different looks


def test_keyframe_changes_compare_evaluated_curves():
    old = fg_bg_spec()
    ramp = Track((Key(4, 1.0, "linear"), Key(8, 0.5)))
    new = _with_region(old, 0, strength=ramp)
    assert keyframe_changes(old, new, range(1, 11)) == {5, 6, 7, 8, 9, 10}
    # weights are compared after normalisation: scaling a region's only weight changes nothing
    scaled = _with_region(old, 0, styles=[dataclasses.replace(old.regions[0].styles[0],
                                                              weight=Track.constant(3.0))])
    assert keyframe_changes(old, scaled, range(1, 11)) == set()
