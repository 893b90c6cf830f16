"""The training loop: mask-enhancement pre-training, then the main phase; resumable and repeatable.

Run folder (``cfg.out``)::

    config.json        the resolved config of the run
    checkpoint.pt      everything needed to resume (model, optimiser, step, RNG states, elapsed time)
    losses.csv         one row per logged step: phase, step, elapsed_s, lr, every loss term
    losses.png         the loss curves
    model.pt           the trained network in the shipped checkpoint format (lookgrid.model.load)
    metrics.json       held-out synthetic-pair metrics (see lookgrid.train.evaluate)

Repeatability: all randomness comes from the config's seed (model initialisation via
``torch.manual_seed``, data from a ``numpy`` Generator, training noise from a ``torch.Generator``);
their states are saved in each checkpoint, so a resumed run continues the same stream. With the same
thread count, two runs of the same config give the same losses.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lookgrid.errors import InvalidInputError, TrainingDivergedError
from lookgrid.fsutil import atomic_write, remove_stale_temps
from lookgrid.model.licence import DATA_LICENCES
from lookgrid.model.load import atomic_torch_save, save_model
from lookgrid.model.network import LookGridNet
from lookgrid.train.config import TrainConfig
from lookgrid.train.data import TrainingData
from lookgrid.train.evaluate import heldout_metrics
from lookgrid.train.step import compute_losses, pretrain_masks_step

log = logging.getLogger("lookgrid.train")

LOSS_COLUMNS = (
    "total",
    "supervised",
    "stats",
    "swd",
    "laplacian",
    "mask",
    "guide",
    "temporal",
    "luminance_temporal",
    "noise",
)
CSV_COLUMNS = ("phase", "step", "elapsed_s", "lr", *LOSS_COLUMNS, "grid_spread")

# Dead-grid guard: after GUARD_STEP main steps the grids must vary across examples/regions by more
# than GUARD_MIN_SPREAD (mean std over the batch); otherwise the grid path ignores its input (e.g.
# dead ReLUs) and training stops with an error instead of producing an identity-like model.
GUARD_STEP = 20
GUARD_MIN_SPREAD = 1e-5


@dataclass
class TrainResult:
    out: Path
    mask_steps: int
    steps: int
    elapsed_s: float
    stopped_by: str  # "max_steps" | "minutes" | "done"
    model_path: Path | None
    metrics: dict | None


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr·min_lr_ratio`` over ``max_steps``."""
    o = cfg.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    span = max(1, cfg.budget.max_steps - o.warmup_steps)
    t = min(1.0, (step - o.warmup_steps) / span)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _main_parameters(net) -> list[torch.nn.Parameter]:
    return [p for name, p in net.named_parameters() if not name.startswith("mask_enhancer.")]


class _CsvLog:
    def __init__(self, path: Path, keep_until: tuple[str, int] | None):
        self.path = path
        rows = []
        if path.exists() and keep_until is not None:
            # drop rows logged after the checkpoint we resume from
            phase_order = {"masks": 0, "main": 1}
            kp, ks = keep_until
            with path.open() as f:
                for r in csv.DictReader(f):
                    if (phase_order[r["phase"]], int(r["step"])) <= (phase_order[kp], ks):
                        rows.append(r)
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, CSV_COLUMNS)
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, CSV_COLUMNS).writerow({k: row.get(k, "") for k in CSV_COLUMNS})


def read_loss_csv(path: Path) -> list[dict]:
    with Path(path).open() as f:
        return list(csv.DictReader(f))


def plot_losses(csv_path: Path, png_path: Path) -> Path:
    """Plot the loss curves of ``losses.csv`` to ``png_path`` (atomic). Returns the PNG path."""
    # matplotlib costs ~0.7 s to import and only this plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg")

    rows = read_loss_csv(csv_path)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    mrows = [r for r in rows if r["phase"] == "masks"]
    if mrows:
        axes[0].plot([int(r["step"]) for r in mrows], [float(r["total"]) for r in mrows])
    axes[0].set_title("mask enhancement pre-training (BCE)")
    axes[0].set_xlabel("step")
    axes[0].set_yscale("log")
    main = [r for r in rows if r["phase"] == "main"]
    steps = [int(r["step"]) for r in main]
    for col in LOSS_COLUMNS:
        pts = [(s, float(r[col])) for s, r in zip(steps, main) if r.get(col) not in ("", None)]
        if pts and max(abs(v) for _, v in pts) > 0:
            xs, vals = zip(*pts)
            k = max(1, len(vals) // 40)
            sm = np.convolve(vals, np.ones(k) / k, mode="valid")
            axes[1].plot(xs[k - 1 :], sm, label=col, lw=2 if col == "total" else 1)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step")
    axes[1].set_title("main phase (unweighted terms, moving average)")
    axes[1].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    try:
        with atomic_write(png_path) as tmp:
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)
    return png_path


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    export: str | Path | None = None,
    evaluate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Run (or resume) a training run described by ``cfg``; see the module docstring for outputs.

    ``export``: also write the trained network there (e.g. ``models/lookgrid-v2.pt``).
    ``progress``: called with one-line status messages.
    """

    say = progress or (lambda s: log.info(s))
    if cfg.data.licence not in DATA_LICENCES:
        raise InvalidInputError(f"data.licence must be one of {', '.join(DATA_LICENCES)}; got {cfg.data.licence!r}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # what a killed earlier run left half-written
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise InvalidInputError(
            f"{out} already holds a run (checkpoint.pt); pass --resume to continue it or choose another out="
        )
    if resume and not ckpt_path.exists():
        raise InvalidInputError(f"nothing to resume: {ckpt_path} does not exist")
    torch.set_num_threads(max(1, int(cfg.threads)))
    # random crops often miss the object; the model's "tiny mask" warning would flood the log
    logging.getLogger("lookgrid.model").setLevel(logging.ERROR)
    _atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str))

    torch.manual_seed(cfg.seed)
    net = LookGridNet(cfg.model)
    data = TrainingData(cfg.data)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    mask_opt = torch.optim.Adam(net.mask_enhancer.parameters(), lr=cfg.masks.lr)
    opt = torch.optim.Adam(_main_parameters(net), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    phase, step, elapsed = "masks", 0, 0.0
    if resume:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        mask_opt.load_state_dict(ck["mask_opt"])
        opt.load_state_dict(ck["opt"])
        phase, step, elapsed = ck["phase"], int(ck["step"]), float(ck["elapsed_s"])
        rng.bit_generator.state = ck["numpy_rng"]
        gen.set_state(ck["torch_gen"])
        say(f"resumed {out} at phase {phase}, step {step} ({elapsed / 60:.1f} min so far)")
    csv_log = _CsvLog(out / "losses.csv", (phase, step) if resume else None)
    # main-phase rows hold the mean of each term over the steps since the previous row

    def save_checkpoint() -> None:
        atomic_torch_save(
            {
                "model": net.state_dict(),
                "mask_opt": mask_opt.state_dict(),
                "opt": opt.state_dict(),
                "phase": phase,
                "step": step,
                "elapsed_s": elapsed,
                "numpy_rng": rng.bit_generator.state,
                "torch_gen": gen.get_state(),
                "config": cfg.to_dict(),
            },
            ckpt_path,
        )

    last_save = time.monotonic()
    t_start = time.monotonic() - elapsed

    def tick() -> None:
        nonlocal elapsed, last_save
        elapsed = time.monotonic() - t_start
        c = cfg.checkpoint
        if step % c.every_steps == 0 or time.monotonic() - last_save > 60 * c.every_minutes:
            save_checkpoint()
            last_save = time.monotonic()

    # --- phase 1: mask enhancement alone --------------------------------------------------------
    if phase == "masks":
        net.train()
        while step < cfg.masks.steps:
            masks = data.mask_batch(rng, cfg.masks.batch)
            c = min(cfg.masks.crop, masks.shape[-1])
            y, x = (int(v) for v in rng.integers(0, masks.shape[-1] - c + 1, 2))
            masks = masks[..., y : y + c, x : x + c]
            loss = pretrain_masks_step(net, masks, gen)
            loss_value = float(loss.detach())
            mask_opt.zero_grad(set_to_none=True)
            loss.backward()
            mask_opt.step()
            step += 1
            if step % cfg.checkpoint.log_every == 0 or step == cfg.masks.steps:
                csv_log.append(
                    {
                        "phase": "masks",
                        "step": step,
                        "elapsed_s": f"{elapsed:.1f}",
                        "lr": cfg.masks.lr,
                        "total": f"{loss_value:.6g}",
                    }
                )
                say(f"masks step {step}/{cfg.masks.steps} bce {loss_value:.4f}")
            tick()
        phase, step = "main", 0
        save_checkpoint()
    mask_steps = cfg.masks.steps
    net.mask_enhancer.requires_grad_(False)

    # --- phase 2: the grid network, guide, encoder ----------------------------------------------
    stopped_by = "max_steps"
    acc_sum: dict[str, float] = {}
    acc_n: dict[str, int] = {}
    net.train()
    budget_s = 60.0 * cfg.budget.minutes
    while step < cfg.budget.max_steps:
        if elapsed >= budget_s:
            stopped_by = "minutes"
            break
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = data.batch(rng, cfg.optim.batch)
        with_noise = cfg.loss.noise_every > 0 and step % cfg.loss.noise_every == 0
        with_temporal = cfg.loss.temporal_every <= 1 or step % cfg.loss.temporal_every == 0
        total, parts = compute_losses(
            net, batch, cfg.loss, gen, cfg.alpha, with_noise=with_noise, with_temporal=with_temporal
        )
        opt.zero_grad(set_to_none=True)
        total.backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(_main_parameters(net), cfg.optim.grad_clip)
        opt.step()
        step += 1
        if not math.isfinite(parts["total"]):
            raise TrainingDivergedError(f"training diverged at step {step}: {parts}")
        if step == GUARD_STEP and parts["grid_spread"] < GUARD_MIN_SPREAD:
            raise TrainingDivergedError(
                f"grids do not depend on the input after {step} steps (spread {parts['grid_spread']:.2e} "
                f"< {GUARD_MIN_SPREAD:g}): the grid path is dead; check the network's activations"
            )
        for k, v in parts.items():  # mean of each term over the logging interval
            if math.isfinite(v):
                acc_sum[k] = acc_sum.get(k, 0.0) + v
                acc_n[k] = acc_n.get(k, 0) + 1
        if step % cfg.checkpoint.log_every == 0 or step == 1:
            means = {k: acc_sum[k] / acc_n[k] for k in acc_sum}
            acc_sum.clear()
            acc_n.clear()
            row = {"phase": "main", "step": step, "elapsed_s": f"{elapsed:.1f}", "lr": f"{lr:.3g}"}
            row.update({k: f"{v:.6g}" for k, v in means.items()})
            csv_log.append(row)
            say(
                f"step {step}/{cfg.budget.max_steps} {elapsed / 60:5.1f} min  total {means['total']:.4f}  "
                f"sup {means['supervised']:.4f}  stats {means['stats']:.4f}  swd {means['swd']:.4f}  "
                f"temp {means.get('luminance_temporal', float('nan')):.2e}  spread {means.get('grid_spread', float('nan')):.2e}"
            )
        tick()
    save_checkpoint()
    net.eval()
    plot_losses(out / "losses.csv", out / "losses.png")
    meta = {
        "steps": step,
        "mask_steps": mask_steps,
        "minutes": round(elapsed / 60, 2),
        "seed": cfg.seed,
        # the engine runs the mask enhancer only for models whose enhancer was trained
        "mask_enhancer_trained": mask_steps > 0,
        "data_licence": cfg.data.licence,
        "frames": cfg.data.frames,  # frames per training sequence (BPTT over frames - 1 steps)
    }
    model_path = save_model(net, out / "model.pt", meta)
    if export:
        save_model(net, Path(export), meta)
        say(f"exported weights to {export}")
    metrics = None
    if evaluate and cfg.eval.pairs > 0 and cfg.data.holdout:
        metrics = heldout_metrics(net, cfg, progress=say)
        if metrics is not None:
            _atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    if stopped_by == "max_steps" and step >= cfg.budget.max_steps:
        stopped_by = "max_steps"
    return TrainResult(out, mask_steps, step, elapsed, stopped_by, model_path, metrics)
