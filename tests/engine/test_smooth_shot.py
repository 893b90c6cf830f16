"""Whole-shot smoothing in the engine (spec.smooth): where it hooks in, chunks, saved analyses, streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.engine import ClipSpec
from lookgrid.engine.spec import DEFAULT_SMOOTH
from lookgrid.engine.chain import GridKey
from lookgrid.errors import InvalidInputError
from lookgrid.imaging import read_image
from lookgrid.model.smooth import smooth_looks

from test_render_clip import spec_for, write_clip


def test_smoothed_grids_are_the_pure_function_of_the_raw_ones(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 7))
    spec = spec_for(inp, mask, str(tmp_path / "o.####.exr"), smooth=2.0)
    from lookgrid.engine.io import SequenceIO

    io = SequenceIO(spec.validate())
    clip = engine.open_clip(spec, frames=io.frames, loader=io.load)
    try:
        g3 = clip.region_grids(3)  # analyses the whole shot first
        raw = clip._chains.grids
        assert sorted({k.frame for k in raw}) == list(range(1, 7))
        looks = torch.stack([torch.stack([raw[GridKey(f, k, 0)] for k in range(2)]) for f in range(1, 7)])
        want = smooth_looks(looks, sigma=2.0)
        for k in range(2):
            torch.testing.assert_close(g3[k][0], want[2, k])
        assert not torch.equal(g3[0][0], raw[GridKey(3, 0, 0)])
    finally:
        engine.close_clip(clip.id)


def test_smoothing_is_in_the_spec_and_on_by_default_where_the_clip_has_a_range():
    assert ClipSpec().smooth is None  # unset: the default
    assert ClipSpec().smooth_sigma(whole_shot=True) == DEFAULT_SMOOTH == 3.0
    assert ClipSpec().smooth_sigma(whole_shot=False) == 0.0  # a stream renders causally
    assert ClipSpec(smooth=0.0).smooth_sigma(whole_shot=True) == 0.0  # off, asked for
    spec = ClipSpec.from_dict({"smooth": 2.5})
    assert spec.smooth == 2.5 and ClipSpec.from_dict(spec.to_dict()).smooth == 2.5
    assert ClipSpec.from_dict({"smooth": 0}).to_dict()["smooth"] == 0.0  # an explicit 0 is kept
    assert "smooth" not in ClipSpec().to_dict() and ClipSpec.from_dict({}).smooth is None
    with pytest.raises(InvalidInputError, match="smooth"):
        ClipSpec.from_dict({"smooth": "lots"})
    with pytest.raises(InvalidInputError, match="smooth"):
        spec_for("a.####.exr", "m.####.png", "o.####.exr", smooth=-1.0).validate()


def test_chunks_and_saved_analyses_equal_one_smoothed_run(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 8))
    spec = spec_for(inp, mask, str(tmp_path / "a" / "o.####.exr"), stride=2, smooth=1.5)
    engine.render_clip(spec)
    engine.render_clip(spec_for(inp, mask, str(tmp_path / "b" / "o.####.exr"), stride=2, smooth=1.5), frames=[4, 5])
    analysis = tmp_path / "clip.track"
    engine.analyze_clip(spec, analysis)
    engine.render_clip(spec_for(inp, mask, str(tmp_path / "c" / "o.####.exr"), stride=2, smooth=1.5),
                       frames=[5, 6], analysis=analysis)
    for folder, frames in (("b", (4, 5)), ("c", (5, 6))):
        for f in frames:
            np.testing.assert_array_equal(read_image(tmp_path / "a" / f"o.{f:04d}.exr").pixels,
                                          read_image(tmp_path / folder / f"o.{f:04d}.exr").pixels)
    # and smoothing changes the pixels
    engine.render_clip(spec_for(inp, mask, str(tmp_path / "d" / "o.####.exr"), stride=2, smooth=0.0), frames=[4])
    assert not np.array_equal(read_image(tmp_path / "a" / "o.0004.exr").pixels,
                              read_image(tmp_path / "d" / "o.0004.exr").pixels)


def test_a_stream_without_a_frame_range_cannot_smooth(engine):
    spec = spec_for("", "inline", "", smooth=2.0)
    with pytest.raises(InvalidInputError, match="frame range"):
        engine.open_clip(spec)
    spec.smooth = 0.0
    engine.close_clip(engine.open_clip(spec).id)
    spec.smooth = None  # the default: causal for a stream, smoothed when the clip can read its shot
    clip = engine.open_clip(spec)
    assert clip.smooth == 0.0
    engine.close_clip(clip.id)
    clip = engine.open_clip(spec, frames=[1, 2, 3])  # a range, but frames only arrive inline
    assert clip.smooth == 0.0
    engine.close_clip(clip.id)
    clip = engine.open_clip(spec, frames=[1, 2, 3], loader=lambda f: None)  # it can read the shot
    assert clip.smooth == DEFAULT_SMOOTH
    engine.close_clip(clip.id)


def test_a_replaced_style_is_smoothed_again(engine, tmp_path):
    from engine_clips import STYLE_C
    from lookgrid.engine.io import SequenceIO

    inp, mask = write_clip(tmp_path, range(1, 5))
    spec = spec_for(inp, mask, str(tmp_path / "o.####.exr"), smooth=1.0)
    io = SequenceIO(spec.validate())
    clip = engine.open_clip(spec, frames=io.frames, loader=io.load)
    try:
        before = clip.grids_at(2).clone()
        new = spec_for(inp, mask, str(tmp_path / "o.####.exr"), smooth=1.0)
        new.regions[0].styles[0].style = STYLE_C
        clip.update(new)
        after = clip.grids_at(2)
        assert not torch.allclose(before[0], after[0])
        raw = clip._chains.grids
        looks = torch.stack([torch.stack([raw[GridKey(f, k, 0)] for k in range(2)]) for f in range(1, 5)])
        torch.testing.assert_close(after, smooth_looks(looks, sigma=1.0)[1])
    finally:
        engine.close_clip(clip.id)
