"""Process-wide numba settings shared by every parallel kernel in LookGrid.

Import this module before defining or calling any ``parallel=True`` kernel.

- Threading layer: numba's OpenMP layer keeps its worker threads spinning after each kernel;
  beside torch's own OpenMP pool on 2 cores that made the torch ops between kernels ~20x slower
  (measured). The workqueue layer's threads sleep. It can only be chosen before numba starts its
  threads, which is why this lives in one module imported first by every kernel module.
- ``PARALLEL_LOCK``: the workqueue layer aborts the process if two parallel kernels run at once,
  and the server renders and converts colour from several threads. Every parallel kernel in the
  project (model render path, imaging colour path) is called under this one lock; each kernel
  uses every core anyway, so serialising them costs nothing.
"""

from __future__ import annotations

import threading

import numba

if getattr(numba.config, "THREADING_LAYER", "default") in ("default", None):
    numba.config.THREADING_LAYER = "workqueue"

PARALLEL_LOCK = threading.Lock()


def locked(kernel, *args):
    """Call a parallel numba kernel under :data:`PARALLEL_LOCK`."""
    with PARALLEL_LOCK:
        return kernel(*args)


def serial_or_locked(serial, parallel, *args):
    """``serial(*args)`` for a caller budgeted to one numba thread (a render stage beside others:
    no lock to wait for), else the parallel twin ``parallel(*args)`` under :data:`PARALLEL_LOCK`.
    The twins share their per-row body, so the result is the same either way."""
    if numba.get_num_threads() == 1:
        return serial(*args)
    return locked(parallel, *args)
