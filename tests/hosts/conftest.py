"""Fixtures for the host plugins: the stand-in host modules, the plugins on sys.path, a real
``lookgrid serve`` in a subprocess (shipped model, CPU, one per session) and the generated shot
(:mod:`hostkit`)."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import fake_nuke
import fake_resolve
from recording import instrument

from hostkit import FIRST, LAST, NUKE_PLUGIN, RESOLVE_PLUGIN, make_shot

instrument(fake_nuke, "nuke")
instrument(fake_resolve, "resolve")


@pytest.fixture()
def nuke(monkeypatch):
    """A fresh Nuke session with the plugin installed the way Nuke does it: init.py, then menu.py."""
    fake_nuke._reset(FIRST, LAST)
    monkeypatch.setitem(sys.modules, "nuke", fake_nuke)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runpy.run_path(str(NUKE_PLUGIN / "init.py"))
    runpy.run_path(str(NUKE_PLUGIN / "menu.py"))
    yield fake_nuke


@pytest.fixture()
def resolve(monkeypatch):
    """A fresh Resolve session whose scripting module is the stand-in; the script folder on sys.path."""
    app = fake_resolve._reset()
    monkeypatch.setitem(sys.modules, "DaVinciResolveScript", fake_resolve)
    monkeypatch.setattr(sys, "path", [str(RESOLVE_PLUGIN)] + sys.path)
    yield app


@dataclass
class Server:
    address: str
    root: Path
    launch: str


@pytest.fixture(scope="session")
def lookgrid_server(tmp_path_factory):
    """A real ``lookgrid serve`` (shipped model, CPU) with one storage root."""
    root = tmp_path_factory.mktemp("server-root")
    ready = root.parent / "server-port"
    log = open(root.parent / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "lookgrid.cli", "serve", "--address", "127.0.0.1:0",
                             "--root", str(root), "--ready-file", str(ready), "--device", "cpu",
                             "--log-level", "WARNING"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while not ready.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert ready.exists(), (root.parent / "server.log").read_text()
        yield Server(f"127.0.0.1:{int(ready.read_text())}", root, str(Path(sys.executable).parent / "lookgrid"))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def shot(lookgrid_server):
    """The generated shot, under the server's storage root (so it can also be rendered by path)."""
    return make_shot(lookgrid_server.root / "shot")


def pytest_terminal_summary(terminalreporter):
    """With LOOKGRID_HOST_CALL_TABLE=path, write the table of host calls the plugins made."""
    target = os.environ.get("LOOKGRID_HOST_CALL_TABLE")
    if not target:
        return
    from recording import call_table

    rows = call_table({"resolve": fake_resolve._UNDESCRIBED, "nuke": {}})
    width = max(len(r[1]) for r in rows) if rows else 10
    lines = [f"{'host':8} {'call':{width}}  covered by"] + [f"{h:8} {c:{width}}  {s}" for h, c, s in rows]
    Path(target).write_text("\n".join(lines) + "\n")
    terminalreporter.write_line(f"host call table ({len(rows)} calls) written to {target}")
