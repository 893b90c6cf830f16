"""Fixtures for the host plugins: stand-in host modules, the plugins on sys.path, a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO / "plugins" / "resolve",):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
