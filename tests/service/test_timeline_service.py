"""Timeline behaviour seen through the service: stride r=8 vs r=1, smooth keyframed transitions,
and the keyframe maths the .proto documents (evaluated by the engine's timeline)."""

from __future__ import annotations

import numpy as np
import pytest

from service_clips import frame_rgba, two_region_spec
from lookgrid_client import FrameIn


def _render_order(client, clip_id, order, static=False):
    items = []
    for f in order:
        rgba, mask = frame_rgba(1 if static else f)
        items.append(FrameIn(f, rgba, list("RGBA"), masks={"fg": mask}))
    return {o.frame: o.pixels[..., :3].astype(np.float32) for o in client.render_frames(clip_id, items)}


def test_stride_8_close_to_stride_1_on_a_smooth_clip(client, styles):
    frames = list(range(1, 10))
    r1 = _render_order(client, client.open_clip(two_region_spec(*styles, frames="1-9")).clip_id, frames)
    clip8 = client.open_clip(two_region_spec(*styles, frames="1-9", stride=8)).clip_id
    # inline clips with r > 1: the analysed frames (1 and 9) go first, then those between them
    r8 = _render_order(client, clip8, [1, 9] + frames[1:-1])
    effect = np.mean([np.abs(r1[f] - frame_rgba(f)[0][..., :3].astype(np.float32)).mean() for f in frames])
    gap = np.mean([np.abs(r8[f] - r1[f]).mean() for f in frames])
    assert effect > 5e-3
    assert gap < 0.2 * effect, (gap, effect)


def _transition(client, styles, interpolation, n=9):
    # a still frame: grids on the two analysed frames (stride n-1) are all the network has to do;
    # every frame between them mixes the two looks with its keyframed weights
    spec = two_region_spec(*styles, frames=f"1-{n}", method="per-frame", stride=n - 1)
    spec["regions"][0]["styles"] = [
        {"style": styles[0], "weight": {"keys": [{"frame": 1, "value": 1, "interpolation": interpolation},
                                                 {"frame": n, "value": 0}]}},
        {"style": styles[1], "weight": {"keys": [{"frame": 1, "value": 0, "interpolation": interpolation},
                                                 {"frame": n, "value": 1}]}}]
    out = _render_order(client, client.open_clip(spec).clip_id, [1, n] + list(range(2, n)), static=True)
    return np.array([np.abs(out[f + 1] - out[f]).mean() for f in range(1, n)])


def test_smooth_transition_has_no_jumps(client, styles):
    steps = _transition(client, styles, "SMOOTH")
    mean = steps.sum() / len(steps)
    assert steps.sum() > 1e-3, "the two looks must differ"
    # smoothstep: slope 0 at both keys, at most 1.5x the mean in the middle, no single-step jump
    assert steps.max() <= 1.7 * mean, steps
    assert steps[0] < 0.5 * mean and steps[-1] < 0.5 * mean, steps
    assert np.argmax(steps) in (len(steps) // 2 - 1, len(steps) // 2)
    constant = _transition(client, styles, "CONSTANT", n=4)
    assert constant.max() > 0.9 * constant.sum(), "CONSTANT holds, then steps at the next key"


def test_keyframe_maths_documented_in_the_proto():
    from lookgrid.engine.spec import ClipSpec

    spec = ClipSpec.from_dict({"regions": [{"name": "background", "styles": [{"style": "x", "weight": {"keys": [
        {"frame": 0, "value": 0, "interpolation": "SMOOTH"}, {"frame": 10, "value": 1, "interpolation": "CONSTANT"},
        {"frame": 20, "value": 0.5}]}}]}]})
    track = spec.regions[0].styles[0].weight
    assert track.evaluate(-5) == 0.0 and track.evaluate(30) == 0.5          # held outside the keys
    assert track.evaluate(2.5) == pytest.approx(3 * 0.25 ** 2 - 2 * 0.25 ** 3)  # smoothstep
    assert track.evaluate(5) == pytest.approx(0.5)
    assert track.evaluate(15) == 1.0 and track.evaluate(19.99) == 1.0       # constant until the next key
    cubic = ClipSpec.from_dict({"regions": [{"name": "background", "styles": [{"style": "x", "weight": {"keys": [
        {"frame": 0, "value": 0, "interpolation": "CUBIC"}, {"frame": 1, "value": 1, "interpolation": "CUBIC"},
        {"frame": 2, "value": 1, "interpolation": "CUBIC"}, {"frame": 3, "value": 0}]}}]}]}).regions[0].styles[0].weight
    values = [cubic.evaluate(t) for t in np.linspace(0, 3, 61)]
    assert max(values) <= 1.0 + 1e-12 and min(values) >= -1e-12            # monotone cubic never overshoots
    linear = ClipSpec.from_dict({"regions": [{"name": "background", "styles": [{"style": "x", "weight": {"keys": [
        {"frame": 0, "value": 0}, {"frame": 4, "value": 2}]}}]}]}).regions[0].styles[0].weight
    assert linear.evaluate(1) == pytest.approx(0.5)                         # unspecified = LINEAR
