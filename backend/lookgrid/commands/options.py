"""Options several commands share, defined once: ``--device``, ``--model``, and sizes ``WxH``."""

from __future__ import annotations

import argparse

from lookgrid.errors import InvalidInputError
from lookgrid.model.device import DEVICE_HELP

__all__ = ["add_device_option", "add_model_option", "parse_size", "parse_sizes"]


def add_device_option(parser: argparse.ArgumentParser, what: str = "the model") -> None:
    """``--device``: where ``what`` runs. No value means ``auto`` (cuda when available, else cpu);
    the name is checked by :func:`lookgrid.model.device.resolve_device` when the command starts."""
    parser.add_argument(
        "--device",
        default=None,
        metavar="DEVICE",
        help=f"device for {what}: {DEVICE_HELP} (default auto: cuda when available)",
    )


def add_threads_option(parser: argparse.ArgumentParser, *, budget: bool = False) -> None:
    """``--threads N``: torch's (and numba's) thread count for a benchmark; with ``budget`` the
    cores a whole-sequence render budgets its stages for (:mod:`lookgrid.engine.budget`)."""
    if budget:
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="cores the render budgets its read, compute and write threads for (1: the plain "
            "loop); default: the cores this process may run on",
        )
        return
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch (and numba) threads; default: torch's default. On a busy machine 1 can be "
        "much faster for torch ops: waiting on descheduled pool threads dominates",
    )


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model NAME|PATH``: a model name (``models/<name>.pt``) or a checkpoint; none means the
    default weights (see :func:`lookgrid.model.load.resolve_model_path`)."""
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH",
        help="a model by name (lookgrid info lists them, e.g. lookgrid-v2; 'prior' is the "
        "closed-form colour prior alone, no weights) or a checkpoint file (default: "
        "$LOOKGRID_MODEL, else the default model, else the untrained model)",
    )


def parse_size(text: str, flag: str = "--size", *, lo: int = 1, hi: int = 65536) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` → ``(width, height)``; each side must lie in ``[lo, hi]``.

    Raises :class:`InvalidInputError` naming ``flag`` for anything else.
    """
    try:
        w, h = (int(v) for v in str(text).strip().lower().split("x"))
    except ValueError:
        raise InvalidInputError(f"{flag} must be WIDTHxHEIGHT like 1920x1080, got {text!r}") from None
    if not (lo <= w <= hi and lo <= h <= hi):
        raise InvalidInputError(f"{flag} {text}: width and height must be between {lo} and {hi}")
    return w, h


def parse_sizes(text: str, flag: str = "--sizes", **limits) -> list[tuple[int, int]]:
    """Comma-separated :func:`parse_size` values: ``"1920x1080,3840x2160"``."""
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise InvalidInputError(f"{flag} needs at least one WIDTHxHEIGHT")
    return [parse_size(t, flag, **limits) for t in items]
