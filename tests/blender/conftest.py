"""Real-Blender fixtures: the bpy venvs (built from the package index, cached in .venv-blender/ and
.venv-blender-5.2/, keyed on their requirements files), the extension zip built by
plugins/blender/build_extension.py, and a real `lookgrid serve` started from this (the backend's)
environment on a free loopback port.

Every test runs on each Blender of :data:`BLENDERS`: bpy 5.0.1 (Python 3.11, the last 3.11 wheel)
and the newest, bpy 5.2.4 (Python 3.13: found as ``$LOOKGRID_PYTHON313``, ``python3.13`` on PATH or
pyenv's 3.13.0; skipped, saying so, where there is none). The first build of each venv downloads
about 1 GB."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from blender_env import LOOKGRID, REPO, build_extension, host_venv

BLENDERS = {
    "5.0": ("requirements-bpy.txt", ".venv-blender", "3.11"),
    "5.2": ("requirements-bpy-5.2.txt", ".venv-blender-5.2", "3.13"),
}


def _python(version: str) -> str | None:
    import sys

    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    # a PATH entry may be pyenv's shim, which exists but fails unless that version is selected:
    # take the first candidate that really runs
    candidates = [os.environ.get(f"LOOKGRID_PYTHON{version.replace('.', '')}"), shutil.which(f"python{version}")]
    candidates += sorted(map(str, Path(os.path.expanduser("~/.pyenv/versions")).glob(f"{version}.*/bin/python{version}")))
    for exe in filter(None, candidates):
        if subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
            return exe
    return None


@pytest.fixture(scope="session", params=sorted(BLENDERS), ids=lambda v: f"bpy{v}")
def blender_version(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def bpy_python(blender_version) -> str:
    requirements, venv, python = BLENDERS[blender_version]
    base = _python(python)
    if base is None:
        pytest.skip(f"bpy {blender_version} needs Python {python}, which this machine does not have")
    return str(host_venv.build(REPO / "plugins" / "blender" / requirements, REPO / venv, base))


@pytest.fixture(scope="session")
def extension_zip(bpy_python, tmp_path_factory) -> Path:
    (zip_path,) = build_extension.build(build_extension.blender_ext_in(bpy_python),
                                        tmp_path_factory.mktemp("ext-dist"), ["linux-x64"])
    return zip_path


@pytest.fixture(scope="session")
def backend():
    """A `lookgrid serve` process (the shipped model, CPU); yields its address."""
    from lookgrid_client.launch import ServerProcess

    proc = ServerProcess(LOOKGRID)
    try:
        proc.wait_serving(180)
        yield proc.address
    finally:
        proc.stop()
