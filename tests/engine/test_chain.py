"""engine.chain: pass layouts and the replay of temporal chains, with a stand-in network call."""

from __future__ import annotations

import pytest
import torch

from lookgrid.engine.chain import Chains, GridKey, RegionStylePass, StateKey, StylePass
from lookgrid.engine.spec import RegionSpec, StyleTrack
from lookgrid.errors import CancelledError

REGIONS = [RegionSpec("fg", "m", [StyleTrack("a"), StyleTrack("b")]),
           RegionSpec("background", None, [StyleTrack("c")])]
STYLED = [0, 1]
ANCHORS = [1, 3, 5, 7]


def recorder(chains: Chains, pass_):
    """``run`` that stores a grid per output and returns ``state + 1`` (None counts as 0)."""
    calls = []

    def run(p, frame, state):
        calls.append((frame, state))
        for _, k, i in p.outputs(REGIONS, STYLED):
            chains.grids[GridKey(frame, k, i)] = torch.zeros(12, 1, 1, 1)
        return (state or 0) + 1

    return run, calls


def test_pass_layouts():
    assert StylePass(0).network_inputs(REGIONS, STYLED) == (["a", "c"], [0, 1])
    assert StylePass(1).network_inputs(REGIONS, STYLED) == (["b", "c"], [0, 1])  # last style reused
    assert StylePass(1).outputs(REGIONS, STYLED) == [(0, 0, 1)]                  # but not kept
    assert RegionStylePass(1, 0).network_inputs(REGIONS, STYLED) == (["c"], None)  # full-frame mask
    assert StylePass(1).replaced_by({(1, 1)}) and not StylePass(0).replaced_by({(1, 1)})
    assert RegionStylePass(0, 1).replaced_by({(0, 1)}) and not RegionStylePass(0, 1).replaced_by({(1, 1)})


def test_replay_starts_from_the_nearest_kept_state():
    chains = Chains()
    p = StylePass(0)
    run, calls = recorder(chains, p)
    chains.ensure(p, 5, lambda f: ANCHORS, temporal=True, run=run, regions=REGIONS, styled=STYLED)
    assert calls == [(1, None), (3, 1), (5, 2)]
    assert chains.states[StateKey(p, 5)] == 3
    calls.clear()
    chains.ensure(p, 5, lambda f: ANCHORS, temporal=True, run=run, regions=REGIONS, styled=STYLED)
    assert calls == []                                   # done: nothing runs
    chains.ensure(p, 7, lambda f: ANCHORS, temporal=True, run=run, regions=REGIONS, styled=STYLED)
    assert calls == [(7, 3)]                             # continues from frame 5's state
    dropped = chains.drop_passes([p], REGIONS, STYLED)
    assert dropped == {1, 3, 5, 7} and not chains.grids and not chains.states


def test_non_temporal_runs_one_frame_and_cancel_stops_replay():
    chains = Chains()
    p = RegionStylePass(1, 0)
    run, calls = recorder(chains, p)
    chains.ensure(p, 5, lambda f: ANCHORS, temporal=False, run=run, regions=REGIONS, styled=STYLED)
    assert calls == [(5, None)] and not chains.states
    with pytest.raises(CancelledError):
        chains.ensure(StylePass(0), 7, lambda f: ANCHORS, temporal=True, run=run, regions=REGIONS,
                      styled=STYLED, cancel=lambda: True)
