"""Shared pytest fixtures.

``shared_data``: the Path of the project's development data (``../shared/data`` beside the checkout,
or ``$LOOKGRID_SHARED_DATA``); tests that use it are skipped cleanly when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _shared_data_dir() -> Path:
    env = os.environ.get("LOOKGRID_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``shared/data``; skips the test when the folder is not there."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set LOOKGRID_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def random_net():
    """``random_net(seed) -> LookGridNet`` in eval mode whose weights are randomised (seeded) so grids
    depend measurably on content, style and temporal state. An untrained net gives identity grids,
    which would make every comparison pass trivially. Fan-in scaled weights (gain 1.2) and small
    biases keep features spread: grids move ~0.01 with style and with temporal state, around a
    deviation from identity of ~0.08 (measured with seed 1234)."""
    import math

    import torch

    from lookgrid.model.network import LookGridNet

    def make(seed: int):
        torch.manual_seed(seed)
        model = LookGridNet({"prior": "identity"})  # the prior has its own tests (tests/model/test_prior.py)
        with torch.no_grad():
            for mod in model.modules():
                if isinstance(mod, torch.nn.Conv2d) and mod is not model.to_grid:
                    mod.weight.normal_(0.0, 1.2 / math.sqrt(mod.weight[0].numel()))
                    if mod.bias is not None:
                        mod.bias.normal_(0.0, 0.1)
            model.to_grid.weight.normal_(0.0, 0.125)
        return model.eval()

    return make
