"""Helpers of the real-Blender tests (a module with its own name: conftest modules of different
test folders shadow each other when imported by name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "client" / "tools"))
sys.path.insert(0, str(REPO / "plugins" / "blender"))
import build_extension  # noqa: E402,F401
import host_venv  # noqa: E402,F401

LOOKGRID = str(Path(sys.executable).with_name("lookgrid"))
"""The backend's console script, in the environment running the tests."""


def run_blender(bpy_python: str, script: Path, job_file: Path, user_resources: Path, timeout: float = 600,
                env: dict | None = None):
    """Run ``script job_file`` in the bpy venv with its own BLENDER_USER_RESOURCES (and ``env``
    added); returns the completed process (stdout, stderr as text)."""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user_resources), **(env or {}))
    return subprocess.run([bpy_python, str(script), str(job_file)], capture_output=True, text=True,
                          timeout=timeout, env=env)
