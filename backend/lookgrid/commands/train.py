"""``lookgrid train --config configs/train-cpu.toml [key=value ...]``: train the network.

Overrides are dotted config keys with TOML values, e.g. ``budget.max_steps=20 optim.lr=5e-4
out=runs/try``. ``--resume`` continues the run in ``out`` from its last checkpoint. ``--max-steps`` and
``--minutes`` are shorthands for ``budget.max_steps`` and ``budget.minutes``. ``--export PATH`` also
writes the final weights there (the shipped file is ``models/lookgrid-v2.pt``).
"""

from __future__ import annotations

import argparse
import sys

from lookgrid.train.config import load_config
from lookgrid.train.loop import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config (TOML); default: built-in defaults")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=5e-4")
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT from its checkpoint")
    parser.add_argument("--max-steps", type=int, help="main-phase step budget (budget.max_steps)")
    parser.add_argument("--minutes", type=float, help="wall-clock budget in minutes (budget.minutes)")
    parser.add_argument("--out", help="run folder (out=)")
    parser.add_argument("--export", help="also write the trained weights to this path")
    parser.add_argument("--no-eval", action="store_true", help="skip the held-out metrics at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides or [])
    if args.max_steps is not None:
        overrides.append(f"budget.max_steps={args.max_steps}")
    if args.minutes is not None:
        overrides.append(f"budget.minutes={args.minutes}")
    if args.out:
        overrides.append(f'out="{args.out}"')
    cfg = load_config(args.config, overrides)

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    res = train(cfg, resume=args.resume, export=args.export, evaluate=not args.no_eval, progress=say)
    print(
        f"trained {res.steps} steps (+{res.mask_steps} mask steps) in {res.elapsed_s / 60:.1f} min, "
        f"stopped by {res.stopped_by}; weights: {res.model_path}"
    )
    return 0
