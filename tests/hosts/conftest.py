"""Fixtures for the host plugins: the stand-in host modules, the plugins on sys.path, a real
``lookgrid serve`` in a subprocess (shipped model, CPU, one per session) and a generated shot.

The shot: 6 frames (1001-1006) of a 64x48 scene-linear RGBA plate with a soft moving disc, its
matte both as a layer of the plate (``person.a``) and as a separate EXR sequence (alpha), written
through OpenImageIO; three small reference photos (warm, cool, green) as PNG.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import fake_nuke
import fake_resolve
from recording import instrument

REPO = Path(__file__).resolve().parents[2]
NUKE_PLUGIN = REPO / "plugins" / "nuke"
RESOLVE_PLUGIN = REPO / "plugins" / "resolve"
FIRST, LAST = 1001, 1006
H, W = 48, 64

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


def _write(path: Path, pixels: np.ndarray, channels: list[str], fmt: str = "float") -> None:
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], fmt)
    spec.channelnames = tuple(channels)
    if "A" in channels:
        spec.alpha_channel = channels.index("A")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), oiio.geterror()
    assert out.write_image(pixels)
    out.close()


@dataclass
class Shot:
    folder: Path
    plate: str            # "####" pattern (Nuke) of RGBA + person.a
    matte: str            # "####" pattern of the matte (alpha)
    refs: list[str]       # warm, cool, green PNGs

    def printf(self, pattern: str) -> str:
        return pattern.replace("####", "%04d")


def make_shot(folder: Path) -> Shot:
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    for i, f in enumerate(range(FIRST, LAST + 1)):
        cx, cy = 20 + 4 * i, 24
        d = np.hypot(x - cx, y - cy)
        matte = np.clip((14 - d) / 3, 0, 1).astype(np.float32)
        rgb = np.stack([0.18 + 0.5 * x / W, 0.12 + 0.3 * y / H, 0.25 - 0.1 * x / W], axis=2)
        rgb = rgb * (1 + 0.8 * matte[..., None]) + 0.02 * np.sin(x / 3 + i)[..., None]
        plate = np.concatenate([rgb, np.ones((H, W, 1)), matte[..., None]], axis=2).astype(np.float32)
        _write(folder / f"plate.{f:04d}.exr", plate, ["R", "G", "B", "A", "person.a"])
        _write(folder / f"matte.{f:04d}.exr", np.dstack([matte] * 4).astype(np.float32), ["R", "G", "B", "A"])
    refs = []
    rng = np.random.default_rng(7)
    for name, colour in (("warm", (0.85, 0.45, 0.2)), ("cool", (0.15, 0.35, 0.8)), ("green", (0.3, 0.7, 0.25))):
        img = np.clip(np.array(colour)[None, None] * (0.6 + 0.8 * rng.random((32, 32, 1))), 0, 1)
        path = folder / f"{name}.png"
        _write(path, (img * 255).astype(np.uint8), ["R", "G", "B"], "uint8")
        refs.append(str(path))
    return Shot(folder, str(folder / "plate.####.exr"), str(folder / "matte.####.exr"), refs)


@pytest.fixture(scope="session")
def shot(lookgrid_server):
    """The generated shot, under the server's storage root (so it can also be rendered by path)."""
    return make_shot(lookgrid_server.root / "shot")


def read_exr(path: str) -> tuple[np.ndarray, list[str]]:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    px = inp.read_image(0, 0, 0, spec.nchannels, "float")
    inp.close()
    return np.asarray(px).reshape(spec.height, spec.width, spec.nchannels), list(spec.channelnames)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def one_line(text: str) -> bool:
    return "\n" not in text and "Traceback" not in text and len(text) < 400


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
