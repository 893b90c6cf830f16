"""Named models: the checkpoints ``<models_dir>/<name>.pt`` and which one is the default.

Plain Python, no torch (``lookgrid info`` lists models without importing torch); loading is
:mod:`lookgrid.model.load`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the default model's name (``models/<name>.pt``); every other checkpoint there is chosen by name
DEFAULT_MODEL = "lookgrid-v2"


def models_dir() -> Path:
    """The folder of named models: ``$LOOKGRID_MODELS``, else ``models/`` of the checkout (beside
    ``backend/``), else ``models/`` beside the installed package."""
    env = os.environ.get("LOOKGRID_MODELS")
    if env:
        return Path(env)
    bases = (Path(__file__).resolve().parents[3], Path(__file__).resolve().parents[1])
    for base in bases:
        if (base / "models").is_dir():
            return base / "models"
    return bases[0] / "models"


def model_names() -> list[str]:
    """Names of the checkpoints in :func:`models_dir` (``<name>.pt``), sorted."""
    folder = models_dir()
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def is_model_name(model: str | Path) -> bool:
    """Whether ``model`` is a bare model name (no folder, no ``.pt``/``.pth``), not a path."""
    text = str(model)
    return bool(text) and os.sep not in text and "/" not in text and not text.endswith((".pt", ".pth"))
