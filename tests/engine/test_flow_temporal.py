"""The engine's temporal = "flow": state carried along DIS flow at analysis resolution, falling
back at cuts, and chunked (farm-style) analysis equal to a sequential one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from lookgrid.engine import Engine
from lookgrid.errors import InvalidInputError

from engine_clips import fg_bg_spec, make_frame

L = 256


def _texture(seed: int, size: int = L + 64) -> np.ndarray:
    """A textured working-space image (smooth colour fields + detail) that DIS tracks well."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 6)
    detail = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 1.5)
    img = 0.2 + 2.0 * (base - base.mean()) + 0.6 * (detail - detail.mean())
    return np.clip(img + 0.35, 0.02, 0.95).astype(np.float32)


def _grids(engine, frames, masks, method="lookgrid"):
    """Analysed grids (N,12,D,Hg,Wg) of every frame, in order on one clip (analysis only: the
    frames are given with ``provide``, nothing is rendered at full resolution)."""
    clip = engine.open_clip(fg_bg_spec(method=method), frames=list(range(len(frames))))
    try:
        out = []
        for f, (img, m) in enumerate(zip(frames, masks)):
            clip.provide(f, img, m)
            out.append(clip.grids_at(f).clone())
        return out
    finally:
        engine.close_clip(clip.id)


def _mask(size=L):
    m = np.zeros((1, size, size), np.float32)
    m[0, 64:192, 64:192] = 1.0
    return m


def test_a_pure_translation_keeps_the_state_aligned(engines):
    """Content shifts by one grid cell (16 px at analysis resolution) per frame. Fresh grids of
    frame 1 are frame 0's shifted by a cell; the flow-propagated state lands on them, where a
    blend without warping would mix cells that show different content."""
    big = _texture(3)
    frames = [big[32:32 + L, 32 + 16 * t:32 + 16 * t + L].copy() for t in range(2)]
    masks = [np.ones((1, L, L), np.float32)] * 2        # fg everywhere: the background is empty
    g0, g1 = (g[0] for g in _grids(engines["tc"], frames, masks, "per-frame"))
    flow = _grids(engines["flow"], frames, masks)[1][0]
    inner = (..., slice(2, 14), slice(2, 13))           # away from borders that content enters/leaves
    shifted = torch.roll(g0, -1, dims=-1)               # frame 1's cell j shows frame 0's cell j+1
    assert (g1 - shifted)[inner].abs().mean() < 0.35 * (g1 - g0)[inner].abs().mean()   # the net is ~equivariant
    aligned = (flow - (0.5 * (g1 + shifted)))[inner].abs().mean()
    unwarped = (0.5 * (g1 + g0) - g1)[inner].abs().mean()
    assert aligned < 0.35 * unwarped


def test_a_hard_cut_falls_back_within_one_analysed_frame(engines):
    """Frames 0-2 one shot, 3-5 another: at frame 3 the flow state gives this frame's own grids
    (up to the few cells where the flow happens to agree), while TC-AdaIN still carries shot 1."""
    a, b = _texture(5), _texture(11)[::-1].copy() * 0.7 + 0.1
    frames = [a[8 * t:8 * t + L, :L].copy() for t in range(3)] + [b[8 * t:8 * t + L, :L].copy() for t in range(3)]
    masks = [_mask()] * 6
    per = _grids(engines["tc"], frames, masks, "per-frame")
    flow = _grids(engines["flow"], frames, masks)
    tc = _grids(engines["tc"], frames, masks)
    jump = (per[3] - per[2]).abs().mean()
    assert (flow[3] - per[3]).abs().mean() < 0.05 * jump
    assert (tc[3] - per[3]).abs().mean() > 0.1 * jump          # the statistics state carries the cut
    assert (flow[1] - per[1]).abs().mean() > 0.05 * (per[1] - per[0]).abs().mean()  # within a shot it blends


def test_chunked_analysis_equals_a_sequential_one(engines):
    """A farm chunk (a fresh clip asked for frame 3 only; stride 2, anchors 0, 2, 4) replays the
    flow chain from the clip's start and gets the grids — so the pixels — of one in-order run."""
    frames = {f: make_frame(f, 64, 96, speed=2.0) for f in range(5)}
    spec = fg_bg_spec(stride=2)
    seq = engines["flow"].open_clip(spec, frames=list(frames), loader=lambda f: frames[f])
    want = {f: seq.grids_at(f).clone() for f in frames}
    chunk = engines["flow"].open_clip(spec, frames=list(frames), loader=lambda f: frames[f])
    torch.testing.assert_close(chunk.grids_at(3), want[3], rtol=0, atol=0)
    tc = engines["tc"].open_clip(spec, frames=list(frames), loader=lambda f: frames[f])
    assert (tc.grids_at(3) - want[3]).abs().max() > 1e-5          # the mode matters
    for eng, clip in ((engines["flow"], seq), (engines["flow"], chunk), (engines["tc"], tc)):
        eng.close_clip(clip.id)


def test_unknown_mode_and_the_default():
    with pytest.raises(InvalidInputError, match="temporal mode"):
        Engine(device="cpu", temporal="telepathy")
    from lookgrid.model.network import LookGridNet

    assert Engine(LookGridNet(), device="cpu").temporal == "flow"
    assert Engine(LookGridNet({"temporal": "tc"}), device="cpu").temporal == "tc"
