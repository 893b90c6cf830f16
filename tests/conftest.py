"""Shared pytest fixtures.

``shared_data``: the Path of the project's development data (``../shared/data`` beside the checkout,
or ``$LOOKGRID_SHARED_DATA``); tests that use it are skipped cleanly when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _shared_data_dir() -> Path:
    env = os.environ.get("LOOKGRID_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``shared/data``; skips the test when the folder is not there."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set LOOKGRID_SHARED_DATA)")
    return path
