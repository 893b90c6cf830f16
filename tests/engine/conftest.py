"""Engine test fixtures: a real LookGridNet whose last layer is randomised (so grids depend on
content, style and temporal state — an untrained net would give identity grids and make every
comparison trivially pass), styles registered by hash, and small synthetic clips."""

from __future__ import annotations

import math

import pytest
import torch

from lookgrid.engine import Engine

from engine_clips import STYLE_A, STYLE_B, STYLE_C, _style  # noqa: E402


@pytest.fixture(scope="session")
def net():
    from lookgrid.model.network import LookGridNet

    torch.manual_seed(1234)
    model = LookGridNet()
    with torch.no_grad():
        # fan-in scaled weights (gain 1.2) and small biases: features keep enough spread that the
        # grids depend measurably on style (~0.01) and temporal state (~0.01) around a deviation
        # from identity of ~0.08 — measured with this seed.
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod is not model.to_grid:
                mod.weight.normal_(0.0, 1.2 / math.sqrt(mod.weight[0].numel()))
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
        model.to_grid.weight.normal_(0.0, 0.125)
    return model.eval()


@pytest.fixture()
def engine(net):
    eng = Engine(net, device="cpu")
    eng.register_style(STYLE_A, _style(1, (0.5, 0.2, 0.1)))
    eng.register_style(STYLE_B, _style(2, (0.1, 0.3, 0.55)))
    eng.register_style(STYLE_C, _style(3, (0.3, 0.5, 0.2)))
    return eng


