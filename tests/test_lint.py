"""The backend and the client pass ruff (lint and format check) and mypy, as configured in
``pyproject.toml`` (``[tool.ruff]``, ``[tool.mypy]``), so the README's test command runs them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["backend", "plugins/client"]


def _tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True)


def test_ruff_finds_nothing():
    out = _run(_tool("ruff"), "check", *SOURCES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_everything_as_it_is():
    out = _run(_tool("ruff"), "format", "--check", *SOURCES)
    assert out.returncode == 0, out.stdout + out.stderr + "\n(.venv/bin/ruff format backend plugins/client)"


@pytest.mark.slow
def test_mypy_finds_nothing():
    out = _run(_tool("mypy"))  # files, paths and options from [tool.mypy]
    assert out.returncode == 0, out.stdout + out.stderr
