"""Named models: the checkpoints ``<models_dir>/<name>.pt`` and which one is the default.

Plain Python, no torch (``lookgrid info`` lists models without importing torch); loading is
:mod:`lookgrid.model.load`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the closed-form colour prior alone (MKL affine + tone curve, no learned residual): a model with no
#: checkpoint and no training data, chosen by this name like any other (``--model prior``,
#: ``LOOKGRID_MODEL=prior``, ``"model": "prior"`` in a spec; :func:`lookgrid.model.load.prior_model`).
#: The name is reserved: a ``models/prior.pt`` is never read.
PRIOR_MODEL = "prior"
#: what a command that names no model runs: the prior alone, which measures best among the models a
#: studio may use (no training data; ``lookgrid-v2`` was trained on research-only data and is chosen
#: by name). The dev-suite tables are in ``models/README.md``.
DEFAULT_MODEL = PRIOR_MODEL


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


def is_prior(model: str | Path | None) -> bool:
    """Whether ``model`` names the prior alone (:data:`PRIOR_MODEL`)."""
    return model is not None and str(model) == PRIOR_MODEL


def available_models() -> list[str]:
    """Every name a model may be chosen by: the checkpoints of :func:`model_names`, then
    :data:`PRIOR_MODEL`."""
    return [n for n in model_names() if n != PRIOR_MODEL] + [PRIOR_MODEL]


def is_model_name(model: str | Path) -> bool:
    """Whether ``model`` is a bare model name (no folder, no ``.pt``/``.pth``), not a path."""
    text = str(model)
    return bool(text) and os.sep not in text and "/" not in text and not text.endswith((".pt", ".pth"))
