"""The analysis in parts (lookgrid.engine.parts): per-frame and per-pair work of any chunking, on
fresh clips (as farm workers would), folded in order, gives the sequential analysis's grids bit for
bit; missing parts and foreign parts are refused in one line; temporal mode "tc" is not split."""

from __future__ import annotations

import random

import pytest
import torch

from engine_clips import fg_bg_spec, make_frame
from lookgrid.engine import jobs
from lookgrid.engine import parts as P
from lookgrid.engine.analysis import export_analysis
from lookgrid.errors import InvalidInputError

FRAMES = list(range(7))
PIXELS = {f: make_frame(f, 64, 96, speed=2.5, flicker=0.05) for f in FRAMES}


def _open(engine, spec):
    return engine.open_clip(spec, frames=FRAMES, loader=lambda f: PIXELS[f])


def _sequential(engine, spec) -> dict:
    clip = _open(engine, spec)
    try:
        for f in clip.anchors:
            clip.analyze(f)
        return clip.export_analysis()
    finally:
        engine.close_clip(clip.id)


def _in_parts(engine, spec, size: int | None, order: str) -> tuple[dict, list[dict]]:
    """Each part on its own fresh clip, in ``order``; the fold on another one."""
    probe = _open(engine, spec)
    anchors = P.part_anchors(probe)
    engine.close_clip(probe.id)
    chunks = [anchors[i : i + (size or len(anchors))] for i in range(0, len(anchors), size or len(anchors))]
    if order == "reverse":
        chunks.reverse()
    elif order == "shuffled":
        random.Random(5).shuffle(chunks)
    parts = []
    for chunk in chunks:
        clip = _open(engine, spec)
        parts.append(P.analyze_part(clip, chunk))
        engine.close_clip(clip.id)
    fold = _open(engine, spec)
    try:
        grids = P.fold_parts(fold, parts)
        return export_analysis(fold.spec, fold.frames, grids), parts
    finally:
        engine.close_clip(fold.id)


def _assert_same(got: dict, want: dict) -> None:
    assert got["keys"] == want["keys"] and len(got["keys"]) > 0
    assert torch.equal(got["grids"], want["grids"])


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size,order", [(1, "forward"), (2, "reverse"), (3, "shuffled"), (None, "forward")])
def test_parts_folded_equal_the_sequential_flow_analysis(engines, stride, size, order):
    spec = fg_bg_spec(stride=stride)
    want = _sequential(engines["flow"], spec)
    got, parts = _in_parts(engines["flow"], spec, size, order)
    _assert_same(got, want)
    # the fold did the temporal work: the first anchor's grids are fresh, the later ones are not
    fresh = {tuple(k): g for p in parts for k, g in zip(p["keys"], p["grids"])}
    first, later = want["keys"][0][0], want["keys"][-1][0]
    assert torch.equal(fresh[(0, first)][0], want["grids"][0])
    assert not torch.equal(fresh[(0, later)][0], want["grids"][want["keys"].index([later, 0, 0])])


@pytest.mark.parametrize("method", ["per-frame", "pixel-blend"])
def test_other_methods_split_too(engines, method):
    spec = fg_bg_spec(stride=2, method=method)
    _assert_same(_in_parts(engines["flow"], spec, 2, "reverse")[0], _sequential(engines["flow"], spec))


def test_a_missing_part_is_refused_in_one_line(engines):
    spec = fg_bg_spec(stride=1)
    _, parts = _in_parts(engines["flow"], spec, 3, "forward")  # anchors 0-2, 3-5, 6
    clip = _open(engines["flow"], spec)
    try:
        with pytest.raises(InvalidInputError, match=r"^no analysis part holds analysed frames 3, 4, 5$"):
            P.fold_parts(clip, [parts[0], parts[2]])
        other = fg_bg_spec(stride=2)
        foreign = _in_parts(engines["flow"], other, None, "forward")[1][0]
        with pytest.raises(InvalidInputError, match=r"^analysis part 0-6 was made for another clip"):
            P.fold_parts(clip, [*parts, foreign])
        with pytest.raises(InvalidInputError, match="consecutive analysed frames"):
            P.analyze_part(clip, [1, 3])
        with pytest.raises(InvalidInputError, match="not analysed frames of the clip"):
            P.analyze_part(clip, [9])
    finally:
        engines["flow"].close_clip(clip.id)


def test_tc_is_not_split(engines, tmp_path):
    clip = _open(engines["tc"], fg_bg_spec(stride=1))
    try:
        assert P.in_order_reason(clip.method, clip.runtime.temporal) == P.TC_IN_ORDER
        with pytest.raises(InvalidInputError, match="^the analysis cannot be split into parts: temporal mode 'tc'"):
            P.analyze_part(clip, [0])
    finally:
        engines["tc"].close_clip(clip.id)
    per_frame = _open(engines["tc"], fg_bg_spec(stride=1, method="per-frame"))  # no temporal chain at all
    assert P.in_order_reason(per_frame.method, per_frame.runtime.temporal) is None
    engines["tc"].close_clip(per_frame.id)


def test_fold_analysis_saves_what_analyze_clip_saves(engines, tmp_path):
    spec = fg_bg_spec(stride=2)
    _, parts = _in_parts(engines["flow"], spec, 2, "shuffled")
    clip = _open(engines["flow"], spec)
    try:
        assert jobs.fold_analysis(clip, parts, tmp_path / "track.pt") == 4
    finally:
        engines["flow"].close_clip(clip.id)
    saved = torch.load(tmp_path / "track.pt", weights_only=True)
    _assert_same(saved, _sequential(engines["flow"], spec))
