"""Training raises the project's own errors (``lookgrid.errors``), never ad hoc built-in ones: a
bad shape is a :class:`ShapeMismatchError`, a failed run a :class:`TrainingDivergedError`, so the
CLI prints one line and every caller can catch :class:`LookGridError`."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest
import torch

from lookgrid.errors import LookGridError, ShapeMismatchError
from lookgrid.train.data import degrade_masks

TRAIN = Path(__file__).resolve().parents[2] / "backend" / "lookgrid" / "train"
BUILTIN_ERRORS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _builtin_raises(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(call, ast.Name) and call.id in BUILTIN_ERRORS:
                out.append(f"{path.name}:{node.lineno} raises {call.id}")
    return out


def test_train_raises_only_the_projects_errors():
    bad = [line for p in sorted(TRAIN.rglob("*.py")) for line in _builtin_raises(p)]
    assert not bad, "use lookgrid.errors:\n" + "\n".join(bad)


def test_the_check_sees_a_builtin_raise(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    raise ValueError('x')\n")
    assert _builtin_raises(tmp_path / "m.py") == ["m.py:2 raises ValueError"]


def test_a_bad_shape_in_training_is_a_lookgrid_error():
    with pytest.raises(ShapeMismatchError) as err:
        degrade_masks(torch.zeros(1, 8, 8), torch.Generator())
    assert isinstance(err.value, LookGridError) and isinstance(err.value, ValueError)
