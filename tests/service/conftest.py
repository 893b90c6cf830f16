"""Service test fixtures: a real server on port 0 (in process) over a real Engine.

The model is a real LookGridNet whose weights are randomised (seeded) so that grids depend on
content, style and temporal state; an identity model would make every comparison pass trivially.
"""

from __future__ import annotations


import pytest

from lookgrid.engine import Engine
from lookgrid.service.server import start_in_process
from lookgrid_client import LookGridClient
from service_clips import style_image


@pytest.fixture(scope="session")
def net(random_net):
    return random_net(1234)


@pytest.fixture()
def engine(net):
    return Engine(net, device="cpu")


@pytest.fixture()
def server(engine, tmp_path):
    with start_in_process(engine, roots=[tmp_path], sweep_seconds=0.1, grace=0.5) as (srv, _):
        yield srv


@pytest.fixture()
def client(server):
    with LookGridClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture()
def styles(client):
    """Two uploaded styles: (warm key, cool key)."""
    return (client.upload_style(style_image(1, (0.5, 0.25, 0.1))),
            client.upload_style(style_image(2, (0.1, 0.3, 0.55))))
