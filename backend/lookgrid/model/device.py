"""Which torch device to run on: one rule for the whole project.

``resolve_device`` is what the engine, :func:`lookgrid.model.load.load_model` and every command's
``--device`` option go through, so ``cuda:1`` means the same thing everywhere and an unusable device
is refused with one clear message before any work starts.
"""

from __future__ import annotations

import numba
import torch

import lookgrid._numba  # noqa: F401  (picks numba's threading layer before its threads start)
from lookgrid.errors import InvalidInputError

__all__ = ["resolve_device", "DEVICE_HELP"]

#: what a user may pass (for ``--help`` texts and error messages)
DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def resolve_device(device: str | torch.device | None, *, default: str = "auto") -> torch.device:
    """Resolve a device name to a usable ``torch.device``.

    ``None`` or an empty string means ``default``. ``"auto"`` (any case, surrounding spaces ignored)
    is cuda when a CUDA GPU is available, else cpu. ``cpu``, ``cuda`` and ``cuda:N`` are accepted
    when present on this machine (``cuda`` without an index is the current CUDA device).
    Raises :class:`InvalidInputError` for an unknown name, a device type LookGrid does not run on,
    or a CUDA device that is not available (no GPU, or index ≥ the number of GPUs).
    """
    if isinstance(device, torch.device):
        dev = device
        text = str(device)
    else:
        text = "" if device is None else str(device).strip().lower()
        if not text:
            text = default.strip().lower()
        if text == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(text)
        except (RuntimeError, ValueError, TypeError):
            raise InvalidInputError(f"unknown device {device!r}; use {DEVICE_HELP}") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InvalidInputError(f"device {text!r} is not supported; use {DEVICE_HELP}")
    if not torch.cuda.is_available():
        raise InvalidInputError(f"device {text!r} requested but no CUDA GPU is available")
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise InvalidInputError(f"device {text!r} requested but this machine has {count} CUDA GPU(s)")
    return dev


def configure_threads(threads: int | None) -> None:
    """Use ``threads`` threads for torch and for numba's parallel kernels (``None``: leave both at
    their defaults). Numba is capped at the pool size it started with."""
    if threads is None:
        return
    if int(threads) < 1:
        raise InvalidInputError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(int(threads))
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
