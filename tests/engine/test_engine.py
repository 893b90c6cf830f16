"""Engine: temporal state and out-of-order requests, stride, keyframes, invalidation, eviction."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.tensors import full_masks
from lookgrid.engine.methods import combine_styles
from lookgrid.model.blend import pixel_blend
from lookgrid.errors import (ClipStateError, InvalidInputError, ShapeMismatchError,
                             UnknownClipError, UnknownStyleError)
from lookgrid.model.grid import identity_grid
from lookgrid.timeline import Key, Track

from engine_clips import STYLE_A, STYLE_B, STYLE_C, fg_bg_spec, loader_for, make_frame

FRAMES = list(range(1, 10))


def render_all(clip, order, flicker=0.0):
    out = {}
    for f in order:
        img, m = make_frame(f, flicker=flicker)
        out[f] = clip.render(f, img, m)
    return out


def test_render_changes_the_image_and_is_finite(engine):
    clip = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    img, m = make_frame(3)
    out = clip.render(3, img, m)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert np.abs(out - img).mean() > 0.01


@pytest.mark.parametrize("engine", ["tc", "flow"], indirect=True)
@pytest.mark.parametrize("stride", [1, 4])
def test_out_of_order_equals_in_order(engine, stride):
    temporal = engine.temporal
    load = loader_for(flicker=0.15)
    a = engine.open_clip(fg_bg_spec(stride), frames=FRAMES, loader=load)
    in_order = render_all(a, FRAMES, flicker=0.15)
    b = engine.open_clip(fg_bg_spec(stride), frames=FRAMES, loader=load)
    shuffled = [7, 2, 9, 5, 1, 8, 3, 4, 6]
    out_of_order = render_all(b, shuffled, flicker=0.15)
    for f in FRAMES:
        np.testing.assert_array_equal(out_of_order[f], in_order[f])
    # the temporal state matters: the per-frame method differs from the stateful one (with "flow",
    # only where the flow between analysed frames is trusted: not across this flicker at stride 4;
    # tests/engine/test_flow_temporal.py shows that state)
    if temporal == "tc" or stride == 1:
        c = engine.open_clip(fg_bg_spec(stride, method="per-frame"), frames=FRAMES, loader=load)
        per_frame = render_all(c, [9], flicker=0.15)
        assert np.abs(per_frame[9] - in_order[9]).max() > 1e-4


def test_inline_clip_needs_earlier_frames(engine):
    clip = engine.open_clip(fg_bg_spec(), frames=FRAMES)  # no loader: frames only arrive inline
    img, m = make_frame(1)
    clip.render(1, img, m)
    img, m = make_frame(3)
    with pytest.raises(ClipStateError, match="frame 2"):
        clip.render(3, img, m)
    # once frame 2 is provided, frame 3 renders exactly as in order
    clip.provide(2, *make_frame(2))
    out3 = clip.render(3, img, m)
    ref = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    np.testing.assert_array_equal(out3, render_all(ref, [1, 2, 3])[3])


def test_stride_interpolates_grids_linearly(engine):
    clip = engine.open_clip(fg_bg_spec(stride=4), frames=FRAMES, loader=loader_for())
    assert clip.anchors == [1, 5, 9]
    g5, g9 = clip.grids_at(5), clip.grids_at(9)
    g7 = clip.grids_at(7)
    torch.testing.assert_close(g7, 0.5 * g5 + 0.5 * g9, rtol=0, atol=1e-6)
    g6 = clip.grids_at(6)
    torch.testing.assert_close(g6, 0.75 * g5 + 0.25 * g9, rtol=0, atol=1e-6)
    # only anchors were analysed (frame 5 needs frame 1's temporal state), each once
    assert clip.cached_frames()["analysed"] == [1, 5, 9]
    assert clip.stats["analysed"] == 3
    clip.grids_at(2)
    assert clip.stats["analysed"] == 3
    # a clip whose last frame is not on the stride: it is an anchor too
    short = engine.open_clip(fg_bg_spec(stride=4), frames=range(1, 8), loader=loader_for())
    assert short.anchors == [1, 5, 7]
    torch.testing.assert_close(short.grids_at(6), 0.5 * short.grids_at(5) + 0.5 * short.grids_at(7),
                               rtol=0, atol=1e-6)
    assert not torch.allclose(g5, g9)  # the test above is not vacuous


def test_stride_8_close_to_stride_1_on_smooth_clip(engine):
    frames = list(range(0, 9))
    outs = {}
    for r in (1, 8):
        clip = engine.open_clip(fg_bg_spec(stride=r), frames=frames, loader=loader_for())
        outs[r] = render_all(clip, frames)
    effect = np.mean([np.abs(outs[1][f] - make_frame(f)[0]).mean() for f in frames])
    diff = np.mean([np.abs(outs[8][f] - outs[1][f]).mean() for f in frames])
    assert effect > 0.01
    assert diff < 0.1 * effect, (diff, effect)
    # anchors agree exactly (same chain? no: r=8 chains over anchors only) — at frame 0 they must
    np.testing.assert_array_equal(outs[8][0], outs[1][0])


def test_style_weights_mix_grids(engine):
    w_a = Track((Key(0, 1.0, "smooth"), Key(10, 0.0)))
    w_c = Track((Key(0, 0.0, "smooth"), Key(10, 1.0)))
    spec = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack(STYLE_A, w_a), StyleTrack(STYLE_C, w_c)]),
                             RegionSpec("background", None, [StyleTrack(STYLE_B)])])
    clip = engine.open_clip(spec, frames=FRAMES, loader=loader_for())
    per = clip.region_grids(4)
    w = clip.weights_at(4)[0]
    assert w[0] == pytest.approx(1 - (3 * 0.4**2 - 2 * 0.4**3))
    torch.testing.assert_close(clip.grids_at(4)[0], w[0] * per[0][0] + w[1] * per[0][1])
    torch.testing.assert_close(clip.grids_at(4)[1], per[1][0])


def test_transition_has_no_jumps_at_smooth_keys(engine):
    """Per-frame change of a keyed style transition: no step at the keys (smooth), unlike 'constant'."""
    frames = list(range(0, 17))

    def steps(interp):
        w_a = Track((Key(4, 1.0, interp), Key(12, 0.0)))
        w_c = Track((Key(4, 0.0, interp), Key(12, 1.0)))
        # static shot, per-frame grids on anchors 0 and 16 only: all change comes from the weights
        spec = ClipSpec(regions=[RegionSpec("background", None,
                                            [StyleTrack(STYLE_A, w_a), StyleTrack(STYLE_C, w_c)])],
                        method="per-frame", stride=16)
        clip = engine.open_clip(spec, frames=frames, loader=loader_for())
        # a static shot, so the change comes from the transition alone
        img, _ = make_frame(0)
        for f in frames:
            clip.provide(f, img, np.zeros((0,) + img.shape[:2], np.float32))
        outs = [clip.render(f, img, np.zeros((0,) + img.shape[:2], np.float32)) for f in frames]
        return np.array([np.abs(b - a).mean() for a, b in zip(outs, outs[1:])])

    smooth = steps("smooth")
    total = smooth.sum()
    assert total > 0.003
    # smoothstep: zero slope at the keys, so the steps next to each key are small (smoothstep(1/8)
    # ≈ 4.3% of the transition, vs 12.5% for a linear ramp) and grow gradually toward the middle
    assert smooth[3] < 1e-6 and smooth[12] < 1e-6  # outside the keys: nothing moves
    assert smooth[4] < 0.05 * total and smooth[11] < 0.05 * total
    assert np.all(np.diff(smooth[4:8]) > 0) and np.all(np.diff(smooth[8:12]) < 0)
    assert smooth.max() <= 1.6 * total / 8
    step = steps("constant")
    assert step.max() > 0.9 * step.sum()  # the control jumps in one frame


def test_keyframe_change_invalidates_only_affected_frames(engine):
    w = Track((Key(0, 1.0, "linear"), Key(20, 1.0)))
    spec = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack(STYLE_A, w), StyleTrack(STYLE_C, Track.constant(0.5))]),
                             RegionSpec("background", None, [StyleTrack(STYLE_B)])])
    clip = engine.open_clip(spec, frames=FRAMES, loader=loader_for())
    before = render_all(clip, FRAMES)
    analysed = clip.stats["analysed"]
    # new key at frame 6 (linear 4→6→8 region changes: frames 5..7 affected... exactly where it differs)
    w2 = Track((Key(0, 1.0, "linear"), Key(4, 1.0, "linear"), Key(6, 0.0, "linear"), Key(8, 1.0),
                Key(20, 1.0)))
    spec2 = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack(STYLE_A, w2), StyleTrack(STYLE_C, Track.constant(0.5))]),
                              RegionSpec("background", None, [StyleTrack(STYLE_B)])])
    n = clip.update(spec2)
    assert n == 3
    assert clip.cached_frames()["combined"] == [f for f in FRAMES if f not in (5, 6, 7)]
    after = render_all(clip, FRAMES)
    assert clip.stats["analysed"] == analysed  # no network call: grids do not depend on weights
    for f in FRAMES:
        if f in (5, 6, 7):
            assert np.abs(after[f] - before[f]).max() > 1e-4
        else:
            np.testing.assert_array_equal(after[f], before[f])
    # strength change on frames >= 8 only
    spec3 = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack(STYLE_A, w2), StyleTrack(STYLE_C, Track.constant(0.5))]),
                              RegionSpec("background", None, [StyleTrack(STYLE_B)],
                                         Track((Key(7, 1.0, "linear"), Key(9, 0.5))))])
    assert clip.update(spec3) == 2  # frames 8, 9


def test_style_change_reanalyses_only_that_pass(engine):
    spec = fg_bg_spec()
    clip = engine.open_clip(spec, frames=FRAMES, loader=loader_for())
    render_all(clip, FRAMES[:4])
    spec2 = fg_bg_spec()
    spec2.regions[0].styles[0] = StyleTrack(STYLE_C)
    assert clip.update(spec2) == 4
    assert clip.cached_frames()["analysed"] == []
    # structural change (stride) drops everything too; a pure strength change drops nothing analysed
    render_all(clip, FRAMES[:2])
    spec3 = fg_bg_spec()
    spec3.regions[0].styles[0] = StyleTrack(STYLE_C)
    spec3.regions[0].strength = Track.constant(0.5)
    clip.update(spec3)
    assert clip.cached_frames()["analysed"] == [1, 2]


def test_strength_zero_gives_identity(engine):
    spec = fg_bg_spec()
    for r in spec.regions:
        r.strength = Track.constant(0.0)
    clip = engine.open_clip(spec, frames=FRAMES, loader=loader_for())
    img, m = make_frame(2)
    np.testing.assert_allclose(clip.render(2, img, m), img, atol=1e-5)


def test_implicit_background_is_untouched(engine):
    spec = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack(STYLE_A)])])
    clip = engine.open_clip(spec, frames=FRAMES, loader=loader_for())
    assert [r.name for r in clip.regions] == ["fg", "background"]
    g = clip.grids_at(1)
    torch.testing.assert_close(g[1], identity_grid(1)[0])
    assert clip.strength_at(1).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("method", ["per-frame", "pixel-blend", "reinhard"])
def test_other_methods_render(engine, method):
    clip = engine.open_clip(fg_bg_spec(method=method), frames=FRAMES, loader=loader_for())
    outs = render_all(clip, [3, 1])
    img, m = make_frame(3)
    assert np.isfinite(outs[3]).all()
    assert np.abs(outs[3] - img).mean() > 1e-3
    # out of order == in order for every method
    again = render_all(engine.open_clip(fg_bg_spec(method=method), frames=FRAMES, loader=loader_for()),
                       [1, 2, 3])
    np.testing.assert_array_equal(outs[3], again[3])


def test_reinhard_matches_baseline_for_single_styles(engine):
    from lookgrid.model.reinhard import reinhard_transfer

    clip = engine.open_clip(fg_bg_spec(method="reinhard"), frames=FRAMES)
    img, m = make_frame(4)
    out = clip.render(4, img, m)
    masks = np.concatenate([m, np.clip(1 - m, 0, 1)])
    ref = reinhard_transfer(img, masks, [engine.style_image(STYLE_A), engine.style_image(STYLE_B)])
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_bad_inputs(engine):
    clip = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    img, m = make_frame(1)
    with pytest.raises(ShapeMismatchError, match="M = 1 masked region"):
        clip.render(1, img, np.zeros((3, 72, 96), np.float32))
    with pytest.raises(ShapeMismatchError, match=r"\(H, W, 3\)"):
        clip.render(1, img[..., :2], m)
    with pytest.raises(InvalidInputError, match="frame 99 is not in the clip"):
        clip.render(99, img, m)
    with pytest.raises(InvalidInputError, match="no mask given for region"):
        clip.render(1, img, {"other": m[0]})
    spec = ClipSpec(regions=[RegionSpec("fg", "m", [StyleTrack("sha256:" + "d" * 64)])])
    with pytest.raises(UnknownStyleError, match="never uploaded"):
        engine.open_clip(spec)
    with pytest.raises(InvalidInputError, match="has no style"):
        engine.open_clip(ClipSpec(regions=[RegionSpec("fg", "m", [])]))
    with pytest.raises(InvalidInputError, match="only one region may have no mask"):
        engine.open_clip(ClipSpec(regions=[RegionSpec("a", None, [StyleTrack(STYLE_A)]),
                                           RegionSpec("b", None, [StyleTrack(STYLE_B)])]))


def test_low_res_masks_are_resized(engine):
    clip = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    img, m = make_frame(1)
    small = m[:, ::4, ::4]
    out = clip.render(1, img, small)
    assert out.shape == img.shape and np.isfinite(out).all()
    out_named = engine.open_clip(fg_bg_spec(), frames=FRAMES).render(1, img, {"fg": small[0]})
    np.testing.assert_array_equal(out, out_named)


def test_close_evict_and_clear_errors(engine):
    a = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    b = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    c = engine.open_clip(fg_bg_spec(), frames=FRAMES, loader=loader_for())
    engine.close_clip(c.id)
    with pytest.raises(UnknownClipError, match="was closed"):
        engine.get_clip(c.id)
    with pytest.raises(UnknownClipError, match="no clip 'nope'"):
        engine.get_clip("nope")
    render_all(a, [1, 2])
    render_all(b, [1])
    # TTL: a is idle far longer than the TTL, b was used "now"
    engine.clips.ttl_s = 10.0
    a.last_used -= 100.0
    assert engine.evict() == [a.id]
    with pytest.raises(UnknownClipError, match="evicted after"):
        engine.get_clip(a.id)
    assert engine.get_clip(b.id) is b
    # memory bound: b holds more than the bound, so it goes too
    assert b.cache_bytes() > 0
    engine.clips.max_cache_bytes = b.cache_bytes() - 1
    assert engine.evict() == [b.id]
    with pytest.raises(UnknownClipError, match="memory bound"):
        engine.get_clip(b.id)


def test_concurrent_clips_do_not_interfere(engine):
    frames = list(range(1, 5))
    ref_a = render_all(engine.open_clip(fg_bg_spec(), frames=frames, loader=loader_for()), frames)
    spec_b = fg_bg_spec()
    spec_b.regions[0].styles[0] = StyleTrack(STYLE_C)
    ref_b = render_all(engine.open_clip(spec_b, frames=frames, loader=loader_for()), frames)
    results, errors = {}, []

    def work(name, spec, order):
        try:
            clip = engine.open_clip(spec, frames=frames, loader=loader_for())
            results[name] = render_all(clip, order)
        except Exception as err:  # pragma: no cover - surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=("a", fg_bg_spec(), frames[::-1])),
               threading.Thread(target=work, args=("b", spec_b, frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    for f in frames:
        np.testing.assert_array_equal(results["a"][f], ref_a[f])
        np.testing.assert_array_equal(results["b"][f], ref_b[f])


def test_helpers_reference_values():
    m = torch.tensor([[[[0.3, 1.0]], [[0.5, 0.4]]]])  # (1, 2, 1, 2)
    full = full_masks(m, 1)
    torch.testing.assert_close(full[0, 1], torch.tensor([[0.2, 0.0]]))
    g = [torch.full((12, 2, 2, 2), 2.0), torch.full((12, 2, 2, 2), 4.0)]
    torch.testing.assert_close(combine_styles(g, [0.25, 0.75]), torch.full((12, 2, 2, 2), 3.5))
    ident = identity_grid(1, 2, 2, 2)[0]
    torch.testing.assert_close(combine_styles(g, [0.0, 0.0]), ident)
    x = torch.zeros(1, 3, 1, 2)
    outs = [torch.ones(1, 3, 1, 2), 2 * torch.ones(1, 3, 1, 2)]
    masks = torch.tensor([[[[1.0, 0.5]], [[1.0, 0.0]]]])
    torch.testing.assert_close(pixel_blend(x, outs, masks)[0, 0], torch.tensor([[1.5, 0.5]]))
