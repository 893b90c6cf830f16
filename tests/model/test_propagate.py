"""temporal = "flow": grids warped along the flow, blended where it is trusted (model.propagate)."""

from __future__ import annotations

import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model import propagate as P
from lookgrid.model.network import LookGridNet


def test_warp_grids_matches_the_reference():
    g = torch.Generator().manual_seed(0)
    grids = torch.randn(2, 12, 8, 16, 16, generator=g, dtype=torch.float64)
    moves = torch.randn(16, 16, 2, generator=g, dtype=torch.float64) * 3     # some leave the grid
    torch.testing.assert_close(P.warp_grids(grids, moves), P.warp_grids_reference(grids, moves))
    torch.testing.assert_close(P.warp_grids(grids, torch.zeros(16, 16, 2, dtype=torch.float64)), grids)


def test_a_translation_moves_the_state_with_the_content():
    """Grids linear in x; the flow says every pixel of t came from 8 px (half a 16-px cell) to the
    right in t-1: interior cells take the previous value half a cell to the right, exactly."""
    j = torch.arange(16, dtype=torch.float64)
    prev = (0.1 * j).expand(1, 12, 8, 16, 16).clone()
    flow = torch.zeros(256, 256, 2, dtype=torch.float64)
    flow[..., 0] = 8.0
    fresh = torch.zeros_like(prev)
    out = P.propagate_grids(prev, fresh, flow, torch.ones(256, 256, dtype=torch.bool), alpha=1.0)
    torch.testing.assert_close(out[..., :15], (0.1 * (j[:15] + 0.5)).expand(1, 12, 8, 16, 15))
    half = P.propagate_grids(prev, fresh, flow, torch.ones(256, 256, dtype=torch.bool), alpha=0.5)
    torch.testing.assert_close(half, 0.5 * out)


def test_untrusted_flow_falls_back_to_this_frame_cell_by_cell():
    g = torch.Generator().manual_seed(1)
    prev, fresh = torch.randn(2, 3, 12, 8, 16, 16, generator=g)
    flow = torch.zeros(256, 256, 2)
    visible = torch.zeros(256, 256, dtype=torch.bool)
    torch.testing.assert_close(P.propagate_grids(prev, fresh, flow, visible, 0.5), fresh)   # a cut
    visible[:, :128] = True                                  # left half agrees, right half occluded
    out = P.propagate_grids(prev, fresh, flow, visible, 0.5)
    torch.testing.assert_close(out[..., 8:], fresh[..., 8:])
    torch.testing.assert_close(out[..., :8], 0.5 * (prev + fresh)[..., :8])


def test_cell_flow_averages_visible_pixels_only():
    flow = torch.zeros(32, 32, 2)
    flow[:8, :8, 0] = 4.0
    flow[8:16, :16, 0] = 100.0                            # occluded junk inside cell (0, 0)
    visible = torch.ones(32, 32, dtype=torch.bool)
    visible[8:16, :16] = False
    mean, share = P.cell_flow(flow, visible, 2, 2)
    assert mean[0, 0, 0] == pytest.approx(4.0 * 64 / 128) and share[0, 0] == pytest.approx(0.5)
    none = torch.zeros(32, 32, dtype=torch.bool)
    mean, share = P.cell_flow(flow, none, 2, 2)
    assert share.max() == 0 and mean[0, 0, 0] == pytest.approx((64 * 4.0 + 128 * 100.0) / 256)


def test_bad_inputs_say_what_is_wrong():
    g = torch.zeros(1, 12, 8, 16, 16)
    with pytest.raises(ShapeMismatchError, match="regions must not change"):
        P.propagate_grids(torch.zeros(2, 12, 8, 16, 16), g, torch.zeros(256, 256, 2), torch.ones(256, 256), 0.5)
    with pytest.raises(ShapeMismatchError, match="divide"):
        P.propagate_grids(g, g, torch.zeros(250, 256, 2), torch.ones(250, 256), 0.5)
    with pytest.raises(InvalidInputError, match="alpha"):
        P.propagate_grids(g, g, torch.zeros(256, 256, 2), torch.ones(256, 256), 1.5)
    with pytest.raises(InvalidInputError, match="temporal mode"):
        LookGridNet({"temporal": "psychic"})
    assert LookGridNet().config["temporal"] == "flow"  # the default (issue 16: it wins on the dev suite)


def test_flow_moves_then_apply_moves_is_propagate_grids_and_any_thread_count_gives_the_same_bits():
    """The farm computes the moves on workers and folds with one thread; the engine's sequential
    path does both with whatever threads it has: the two must agree bit for bit."""
    gen = torch.Generator().manual_seed(3)
    prev, fresh = torch.randn(3, 12, 8, 16, 16, generator=gen), torch.randn(3, 12, 8, 16, 16, generator=gen)
    flow = 6 * torch.randn(256, 256, 2, generator=gen)
    visible = torch.rand(256, 256, generator=gen) > 0.3
    moves = P.flow_moves(flow, visible, 16, 16)
    assert moves.moves.shape == (16, 16, 2) and moves.share.shape == (16, 16)
    before = torch.get_num_threads()
    try:
        out = {}
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            out[threads] = P.apply_moves(prev, fresh, moves, 0.5)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(out[1], out[2]) and torch.equal(out[1], out[4])
    assert torch.equal(out[1], P.propagate_grids(prev, fresh, flow, visible, 0.5))
    assert not torch.equal(out[1], fresh)
    with pytest.raises(ShapeMismatchError):
        P.apply_moves(prev, fresh, P.CellMoves(moves.moves, moves.share[:8]), 0.5)
