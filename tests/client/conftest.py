"""Client test fixtures: a real LookGrid server on a loopback port (port 0) over a real Engine whose
network has seeded random weights (``random_net`` in tests/conftest.py), and small real files."""

from __future__ import annotations

import pytest

from client_files import write_exr_frames, write_style_png


@pytest.fixture(scope="module")
def live_server(random_net, tmp_path_factory):
    """(server, address, storage root) for the whole module."""
    from lookgrid.engine import Engine
    from lookgrid.service.server import create_server, stop_server

    root = tmp_path_factory.mktemp("storage")
    srv, port = create_server("127.0.0.1:0", Engine(random_net(99), device="cpu"), roots=[root])
    yield srv, f"127.0.0.1:{port}", root
    stop_server(srv, grace=0.5)


@pytest.fixture(scope="module")
def shot(live_server):
    """An EXR plate + mask sequence (frames 1001-1006) and two PNG references under the storage root."""
    _, _, root = live_server
    plate, mask = write_exr_frames(root / "shot", range(1001, 1007))
    return {"plate": plate, "mask": mask, "warm": write_style_png(root / "warm.png", 3, (0.55, 0.3, 0.1)),
            "cool": write_style_png(root / "cool.png", 4, (0.1, 0.3, 0.6))}
