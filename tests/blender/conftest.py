"""Real-Blender fixtures: the bpy venv (built from the package index, cached in .venv-blender/
keyed on plugins/blender/requirements-bpy.txt), the extension zip built by
plugins/blender/build_extension.py, and a real `lookgrid serve` started from this (the backend's)
environment on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from blender_env import LOOKGRID, REPO, build_extension, host_venv


@pytest.fixture(scope="session")
def bpy_python() -> str:
    return str(host_venv.build(REPO / "plugins" / "blender" / "requirements-bpy.txt", REPO / ".venv-blender"))


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
