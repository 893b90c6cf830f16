"""Engine test fixtures: a real LookGridNet whose last layer is randomised (so grids depend on
content, style and temporal state — an untrained net would give identity grids and make every
comparison trivially pass), styles registered by hash, and small synthetic clips."""

from __future__ import annotations


import pytest

from lookgrid.engine import Engine

from engine_clips import STYLE_A, STYLE_B, STYLE_C, _style  # noqa: E402


@pytest.fixture(scope="session")
def net(random_net):
    return random_net(1234)


@pytest.fixture(params=["default"])
def engine(net, request):
    """The engine; a test parametrised indirectly on ``engine`` with ``"tc"``/``"flow"`` gets that
    temporal mode."""
    eng = Engine(net, device="cpu", temporal=None if request.param == "default" else request.param)
    eng.register_style(STYLE_A, _style(1, (0.5, 0.2, 0.1)))
    eng.register_style(STYLE_B, _style(2, (0.1, 0.3, 0.55)))
    eng.register_style(STYLE_C, _style(3, (0.3, 0.5, 0.2)))
    return eng




@pytest.fixture(scope="module")
def engines(random_net):
    """One engine per temporal mode, shared by a module's tests (a style is encoded once per
    engine; every test opens and closes its own clips)."""
    net = random_net(1234)
    out = {}
    for mode in ("tc", "flow"):
        eng = Engine(net, device="cpu", temporal=mode)
        eng.register_style(STYLE_A, _style(1, (0.5, 0.2, 0.1)))
        eng.register_style(STYLE_B, _style(2, (0.1, 0.3, 0.55)))
        out[mode] = eng
    return out
