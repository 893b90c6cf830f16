"""connect(): a running server, nothing at the address, a launched `lookgrid serve`, a failed
launch, a server of another API version, and retries of calls that are safe to repeat."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from lookgrid_client import (API_VERSION, IncompatibleServerError, LookGridClient, ServerUnavailableError, connect,
                             track_from_samples)
from lookgrid_client.launch import free_port, health_status

LOOKGRID = str(Path(sys.executable).with_name("lookgrid"))


def test_connects_to_a_running_server_and_checks_its_version(live_server):
    _, address, _ = live_server
    with connect(address, timeout=10) as client:
        info = client.check_version()
        assert info.api_version == API_VERSION
        assert client.owned_process is None
        assert health_status(client._channel) == 1


def test_nothing_at_the_address_and_no_launch_is_one_clear_error():
    address = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(ServerUnavailableError, match=f"no LookGrid server answered at {address}") as err:
        connect(address, timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert "\n" not in str(err.value)


def test_launches_lookgrid_serve_when_nothing_answers_and_stops_it_on_close():
    assert os.path.exists(LOOKGRID), "the lookgrid console script is installed beside this python"
    client = connect(f"127.0.0.1:{free_port()}", launch=LOOKGRID, timeout=30, launch_timeout=180)
    proc = client.owned_process
    try:
        assert proc is not None and proc.process.poll() is None
        assert client.address == proc.address and client.address.startswith("127.0.0.1:")
        i = proc.argv.index("serve")
        assert proc.argv[i:i + 3] == ["serve", "--address", proc.address]
        assert proc.argv[proc.argv.index("--parent-pid") + 1] == str(os.getpid()) and "--idle-exit" in proc.argv
        assert client.check_version().api_version == API_VERSION
    finally:
        client.close()
    assert proc.process.poll() is not None, "closing the client stops the server it launched"
    assert not os.path.exists(proc.log_path)
    with pytest.raises(ServerUnavailableError):
        connect(proc.address, timeout=0.5)


def test_a_launched_server_and_its_client_agree_on_the_token(monkeypatch):
    """Issue 24 item 7: with LOOKGRID_TOKEN set the launched server took it from the environment and
    the client sent none (UNAUTHENTICATED: missing token). Now both use it; a client without it is
    refused. Item 8: the client says which server it renders on."""
    from lookgrid_client import ServerError
    from lookgrid_client.launch import describe_server

    monkeypatch.setenv("LOOKGRID_TOKEN", "token-from-the-environment")
    asked = f"127.0.0.1:{free_port()}"
    with connect(asked, launch=LOOKGRID, timeout=30, launch_timeout=180) as client:
        assert client.check_version().api_version == API_VERSION
        assert describe_server(client) == f"a LookGrid server started on this machine ({client.address}, " \
                                          f"nothing answered at {asked})"
        with LookGridClient(client.address, timeout=5) as stranger:
            with pytest.raises(ServerError, match="UNAUTHENTICATED"):
                stranger.server_info()


def test_the_probe_waits_a_sane_time_before_launching():
    """Item 8: a configured server gets more than a second to answer before a local one is started."""
    import inspect

    from lookgrid_client.launch import PROBE_TIMEOUT

    assert inspect.signature(connect).parameters["probe_timeout"].default == PROBE_TIMEOUT >= 5.0


def test_a_launch_that_fails_reports_the_backends_last_line(tmp_path):
    script = tmp_path / "broken-lookgrid"
    script.write_text("#!/bin/sh\necho 'lookgrid serve: cannot load model x.pt: no such file' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(ServerUnavailableError, match="exited with status 3 before serving: lookgrid serve: "
                                                     "cannot load model x.pt") as err:
        connect(f"127.0.0.1:{free_port()}", launch=[str(script)], timeout=0.5)
    assert "\n" not in str(err.value)
    with pytest.raises(ServerUnavailableError, match="cannot start the LookGrid backend"):
        connect(f"127.0.0.1:{free_port()}", launch=str(tmp_path / "missing"), timeout=0.5)


def test_a_server_of_another_api_version_is_refused(random_net):
    from lookgrid.engine import Engine
    from lookgrid.service.server import create_server, stop_server
    from lookgrid.service.servicer import LookGridServicer

    class OldServicer(LookGridServicer):
        def GetServerInfo(self, request, context):
            info = super().GetServerInfo(request, context)
            info.api_version = "lookgrid.v0"
            return info

    engine = Engine(random_net(5), device="cpu")
    srv, port = create_server("127.0.0.1:0", engine, servicer=OldServicer(engine))
    try:
        with pytest.raises(IncompatibleServerError, match="'lookgrid.v0'.*'lookgrid.v1'"):
            connect(f"127.0.0.1:{port}")
    finally:
        stop_server(srv, grace=0.2)


def test_safe_calls_are_retried_while_the_server_comes_up(random_net):
    """GetServerInfo is retried on UNAVAILABLE: a server that starts 0.3 s after the call still answers."""
    from lookgrid.engine import Engine
    from lookgrid.service.server import create_server, stop_server

    port = free_port()
    started = []
    timer = threading.Timer(0.3, lambda: started.append(
        create_server(f"127.0.0.1:{port}", Engine(random_net(6), device="cpu"))[0]))
    timer.start()
    try:
        with LookGridClient(f"127.0.0.1:{port}", timeout=5) as client:
            assert client.server_info().api_version == API_VERSION
    finally:
        timer.join()
        for srv in started:
            stop_server(srv, grace=0.2)


def test_the_client_modules_never_import_torch_or_the_backend():
    import subprocess

    code = ("import sys, lookgrid_client, lookgrid_client.hostjob, lookgrid_client.output;"
            "bad = [m for m in sys.modules if m == 'torch' or m == 'lookgrid' or m.startswith('lookgrid.')];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert track_from_samples({1: 0.0, 2: 1.0})["keys"]


def test_local_addresses():
    from lookgrid_client.launch import is_local_address

    assert all(is_local_address(a) for a in ("127.0.0.1:50051", "localhost:1", "[::1]:7", "127.8.0.1:2"))
    assert not any(is_local_address(a) for a in ("10.0.0.5:50051", "render-farm:50051", "[2001:db8::1]:5"))
