"""Fixtures of the hostile-input suite: a real server on loopback (port 0) over a real Engine with a
seeded random network, a raw gRPC stub for malformed streams, and RSS read from /proc."""

from __future__ import annotations

import grpc
import pytest

from lookgrid.engine import Engine
from lookgrid.service.server import start_in_process
from lookgrid_client import LookGridClient
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc
from hostile_kit import style_image


@pytest.fixture(scope="session")
def net(random_net):
    return random_net(4321)


@pytest.fixture()
def engine(net):
    return Engine(net, device="cpu")


@pytest.fixture()
def server(engine, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with start_in_process(engine, roots=[root], sweep_seconds=0.1, grace=0.5) as (srv, _):
        srv.root = root
        yield srv


@pytest.fixture()
def client(server):
    with LookGridClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture()
def stub(server):
    channel = grpc.insecure_channel(server.address)
    yield pb_grpc.LookGridStub(channel)
    channel.close()


@pytest.fixture()
def styles(client):
    return (client.upload_style(style_image(1, (0.5, 0.25, 0.1))),
            client.upload_style(style_image(2, (0.1, 0.3, 0.55))))
