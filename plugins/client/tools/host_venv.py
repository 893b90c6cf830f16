#!/usr/bin/env python3
"""Host environments: a cached virtual environment for a host's Python, and the client's wheel.

Hosts run the client in their own Python (Blender 5.0: Python 3.11 with numpy 1.26), so their tests
need an environment apart from the backend's ``.venv``. This script makes one from the package
index and caches it: the environment records the sha256 of its requirements file in
``<venv>/lookgrid-requirements.sha256`` and is rebuilt only when that changes (or when it is
broken). The build goes to ``<venv>.partial`` first and is renamed into place when complete, so an
interrupted build never leaves a half-made environment that looks ready.

    python plugins/client/tools/host_venv.py plugins/blender/requirements-bpy.txt .venv-blender

:func:`client_wheel` builds the ``lookgrid-client`` wheel (``plugins/client``) with the running
interpreter's setuptools, without build isolation (nothing fetched).

Prints the environment's python path on the last line. Use the environment as ``<venv>/bin/python -m
pip ...``: the console scripts under ``bin/`` keep the ``.partial`` path in their first line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

STAMP = "lookgrid-requirements.sha256"
CLIENT_DIR = Path(__file__).resolve().parents[1]


def requirements_key(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_ready(venv: Path, key: str) -> bool:
    stamp = venv / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == key
        and venv_python(venv).exists()
        and subprocess.run([str(venv_python(venv)), "-c", "pass"], capture_output=True).returncode == 0
    )


def build(requirements: Path, venv: Path, python: str = sys.executable, quiet: bool = True) -> Path:
    """Return the python of a ready environment at ``venv`` for ``requirements`` (built if needed)."""
    requirements, venv = requirements.resolve(), venv.absolute()
    key = requirements_key(requirements)
    if is_ready(venv, key):
        return venv_python(venv)
    partial = venv.with_name(venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(partial)], check=True)
    pip = [str(venv_python(partial)), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    subprocess.run(pip + ["-r", str(requirements)], check=True)
    (partial / STAMP).write_text(key + "\n")
    shutil.rmtree(venv, ignore_errors=True)
    os.replace(partial, venv)
    return venv_python(venv)


def client_wheel(out_dir: Path, python: str = sys.executable) -> Path:
    """Build the lookgrid-client wheel into ``out_dir``; returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("lookgrid_client-*.whl"):
        old.unlink()
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "wheel",
            "--disable-pip-version-check",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out_dir),
            str(CLIENT_DIR),
        ],
        check=True,
    )
    # setuptools leaves its build/ and *.egg-info folders in the source tree: not ours to keep
    shutil.rmtree(CLIENT_DIR / "build", ignore_errors=True)
    for info in CLIENT_DIR.glob("*.egg-info"):
        shutil.rmtree(info, ignore_errors=True)
    (wheel,) = out_dir.glob("lookgrid_client-*.whl")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", type=Path)
    parser.add_argument("venv", type=Path)
    parser.add_argument("--python", default=sys.executable, help="interpreter to base it on (this one)")
    args = parser.parse_args(argv)
    print(build(args.requirements, args.venv, args.python, quiet=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
