"""Training configuration: a TOML file plus ``key=value`` overrides, resolved into dataclasses.

Paths in ``[data]`` may use ``{shared}`` (``$LOOKGRID_SHARED_DATA`` or ``<repo>/../shared/data``) and
``{repo}`` (the repository root); other relative paths are relative to the current directory.
Overrides use dotted keys and TOML values: ``optim.lr=5e-4``, ``budget.max_steps=10``,
``data.holdout=["libby"]``; a value that is not valid TOML is taken as a string.
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lookgrid.errors import InvalidInputError
from lookgrid.train.data import DataConfig, check_frames
from lookgrid.train.step import LossWeights

REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    env = os.environ.get("LOOKGRID_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@dataclass
class OptimConfig:
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decay to lr·ratio at the end of the step budget
    warmup_steps: int = 50
    batch: int = 4
    grad_clip: float = 1.0
    weight_decay: float = 0.0


@dataclass
class BudgetConfig:
    max_steps: int = 2700
    minutes: float = 90.0  # wall-clock budget for the main phase (checked between steps)


@dataclass
class MaskPretrainConfig:
    steps: int = 300
    batch: int = 8
    lr: float = 3e-3
    crop: int = 128  # random crops of the 256² training masks (the enhancer is local)


@dataclass
class CheckpointConfig:
    every_steps: int = 100
    every_minutes: float = 5.0
    log_every: int = 10


@dataclass
class EvalConfig:
    pairs: int = 24  # held-out synthetic pairs for the final metrics
    seed: int = 12345


@dataclass
class TrainConfig:
    seed: int = 0
    out: str = "runs/lookgrid-v2"
    threads: int = 2
    alpha: float | None = None  # TC-AdaIN weight used in training (None: the model's default)
    model: dict = field(default_factory=dict)  # LookGridNet config overrides
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    masks: MaskPretrainConfig = field(default_factory=MaskPretrainConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return asdict(self)


_SECTIONS = {
    "data": DataConfig,
    "loss": LossWeights,
    "optim": OptimConfig,
    "budget": BudgetConfig,
    "masks": MaskPretrainConfig,
    "checkpoint": CheckpointConfig,
    "eval": EvalConfig,
}


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Return a copy of ``raw`` with ``a.b=value`` overrides applied (TOML values)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise InvalidInputError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InvalidInputError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = _parse_value(value.strip())
    return out


def _expand(path: str) -> str:
    return path.replace("{shared}", str(shared_data_dir())).replace("{repo}", str(REPO_ROOT))


def _build(cls, values: dict, where: str):
    names = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise InvalidInputError(f"unknown key(s) in [{where}]: {sorted(unknown)}; known: {sorted(names)}")
    kw = {}
    for k, v in values.items():
        default = getattr(cls(), k)
        if isinstance(default, tuple) and isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return cls(**kw)


def config_from_dict(raw: dict) -> TrainConfig:
    """Validate and build a :class:`TrainConfig`; unknown keys are errors naming the section."""
    raw = copy.deepcopy(raw)
    top = {f.name for f in fields(TrainConfig)}
    unknown = set(raw) - top
    if unknown:
        raise InvalidInputError(f"unknown top-level config key(s): {sorted(unknown)}; known: {sorted(top)}")
    kw: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _SECTIONS:
            if not isinstance(value, dict):
                raise InvalidInputError(f"[{name}] must be a table")
            kw[name] = _build(_SECTIONS[name], value, name)
        else:
            kw[name] = value
    cfg = TrainConfig(**kw)
    d = cfg.data
    check_frames(d.frames)
    d.clips = [_expand(p) for p in d.clips]
    d.photos = [_expand(p) for p in d.photos]
    d.references = [_expand(p) for p in d.references]
    cfg.out = _expand(cfg.out)
    return cfg


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a TOML config (or start from defaults when ``path`` is None) and apply overrides."""
    raw: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InvalidInputError(f"training config not found: {p}")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as err:
            raise InvalidInputError(f"{p}: not valid TOML: {err}") from None
    return config_from_dict(apply_overrides(raw, overrides or []))
