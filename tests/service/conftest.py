"""Service test fixtures: a real server on port 0 (in process) over a real Engine.

The model is a real LookGridNet whose weights are randomised (seeded) so that grids depend on
content, style and temporal state; an identity model would make every comparison pass trivially.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lookgrid.engine import Engine
from lookgrid.service.server import create_server, stop_server
from lookgrid_client import LookGridClient


@pytest.fixture(scope="session")
def net():
    from lookgrid.model.network import LookGridNet

    torch.manual_seed(4321)
    model = LookGridNet()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod is not model.to_grid:
                mod.weight.normal_(0.0, 1.2 / math.sqrt(mod.weight[0].numel()))
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
        model.to_grid.weight.normal_(0.0, 0.125)
    return model.eval()


def style_image(seed: int, tint) -> np.ndarray:
    """A small (48, 64, 3) float32 reference in sRGB-ish [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1) * 0.4
    return np.clip(base + np.asarray(tint) + 0.05 * rng.standard_normal((48, 64, 3)), 0, 1).astype(np.float32)


def frame_rgba(f: int, h: int = 48, w: int = 64, dtype=np.float16) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic scene-linear RGBA frame with a soft blob drifting one pixel per frame, and its mask."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * 0.3 + f, h * 0.5
    blob = np.exp(-(((x - cx) / (w * 0.15)) ** 2 + ((y - cy) / (h * 0.2)) ** 2))
    rgb = np.stack([0.05 + 0.4 * x / w + 0.3 * blob, 0.1 + 0.2 * y / h, 0.3 - 0.2 * x / w + 0.2 * blob], -1)
    alpha = np.clip(0.5 + 0.5 * x / w, 0, 1)[..., None]
    mask = (blob > 0.4).astype(np.float32)
    return np.concatenate([rgb, alpha], -1).astype(dtype), mask


@pytest.fixture()
def engine(net):
    return Engine(net, device="cpu")


@pytest.fixture()
def server(engine, tmp_path):
    srv, port = create_server("127.0.0.1:0", engine, roots=[tmp_path], sweep_seconds=0.1)
    srv.address = f"127.0.0.1:{port}"
    yield srv
    stop_server(srv, grace=0.5)


@pytest.fixture()
def client(server):
    with LookGridClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture()
def styles(client):
    """Two uploaded styles: (warm key, cool key)."""
    return (client.upload_style(style_image(1, (0.5, 0.25, 0.1))),
            client.upload_style(style_image(2, (0.1, 0.3, 0.55))))


def two_region_spec(key_fg: str, key_bg: str, **extra) -> dict:
    spec = {"regions": [{"name": "fg", "mask": "inline", "styles": [{"style": key_fg}]},
                        {"name": "background", "styles": [{"style": key_bg}]}]}
    spec.update(extra)
    return spec
