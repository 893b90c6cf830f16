"""Thread budgets for a whole-sequence render: how many threads read, compute and write may use.

A render (:func:`lookgrid.engine.jobs.render_clip`) has three stages with their own thread pools:
the reader (OpenImageIO decode, colour conversion, masks), the compute (torch and the numba CPU
kernels) and the writer (colour conversion, OpenImageIO half ZIP EXR encode). Left alone, each pool
sizes itself to the whole machine, so an overlapped render on 2 cores ran 3 × 2 busy threads and
was no faster than the plain loop (issue 27: 0.933 / 0.792 s against 0.765 / 0.802 s at 4K).

:func:`stage_threads` gives each stage a share of the cores instead:

* **1 or 2 cores: the plain loop** (:func:`lookgrid.engine.pipeline.run_sequential`), each stage in
  turn with every core. Overlap can only fill cores the plain loop leaves idle, and costs CPU of
  its own: measured at 4K (load 7), the overlapped render took 1.60 CPU seconds per frame against
  1.30 for its stages one at a time (concurrent 4K frames contend for caches and memory), and at
  1080p 0.37–0.39 against 0.31–0.35 for the plain loop. On 2 cores it is therefore bounded by
  1.60 / 2 = 0.80 s per 4K frame, while the plain loop already keeps most of both cores busy
  (OpenImageIO's decode and encode use both: the floor, read + write, runs at ~2 CPU seconds per
  wall second on a quiet machine; the plain loop took 0.765–0.802 s quiet, issue 27). No overlap
  wins there; on 1 core it only adds thread switches. Two other shapes were measured on 2 cores
  at 4K (quiet, load 1.4–2.6, against the plain loop in the same runs) and lost too: the
  pipeline with budgets of 1 numba thread per stage, OpenImageIO at 2 and torch at 1 thread
  (1.03–1.10×, 1.39–1.49 CPU s per frame against 1.25–1.30), and two whole frames in flight,
  each worker reading, computing (in frame order) and writing its own frame (1.00–1.01× over six
  runs, at 7 % more CPU). Whatever runs beside a 4K stage slows it about as much as it fills.
* **3 or more: overlapped.** numba (per stage): ``write = cores // 2``, ``read = max(1, (cores -
  write) // 2)``, ``compute = max(1, cores - write - read)`` — 1 + 1 + 1 on 3 cores, 1 + 1 + 2 on
  4. OpenImageIO's and OpenEXR's pools (``io``), which decode in the reader and encode in the
  writer: every core. Encoding a half ZIP EXR is the longest stage at 1080p and at 4K (measured at
  4K, load 7, CPU seconds per frame: decode 0.25, table conversion 0.02, masks 0.04, compute 0.15,
  inverse conversion 0.10, encode 0.69), so a writer held to its share would make the overlap as
  slow as that share's encode; free to use any core the others leave idle, the overlap tends to
  all its CPU seconds over the cores (1.60 / 3 = 0.53 s per 4K frame on 3 cores, below the plain
  loop). The pools stay one per library, so no stage multiplies threads.

How a budget is applied (:func:`run_budgeted`):

* numba's thread count is **per thread** (``numba.set_num_threads`` sets the calling thread's
  mask), so the reader and writer threads each set their own when they start and the compute's is
  set on the caller's thread for the render and restored after.
* torch's intra-op pool is **left as it is**: torch's results depend on its thread count (the
  network's reductions are split by thread; measured: a render that analysed with 1 torch thread
  differed from one that used an analysis made with 2), and a render must give the pixels of an
  analysis made anywhere else (``analyze_clip``, the farm, the service). From an analysis, the
  compute stage is mostly numba kernels, which do follow the budget (they work pixel by pixel, so
  their results do not depend on it).
* OpenImageIO's and OpenEXR's pools are **process-wide** too, and read and write both use them:
  they are set to ``io`` for the render and restored after.

``$LOOKGRID_RENDER_CORES`` (``lookgrid bench farm --threads``) budgets for another number of cores
than the process may run on (:func:`machine_cores`); ``$LOOKGRID_RENDER_PLAIN=1`` runs the plain
loop with every library's own defaults, the reference the overlap is measured against;
``$LOOKGRID_RENDER_UNBUDGETED=1`` the overlap with those defaults (the render before budgets).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numba

from lookgrid.engine.pipeline import run_overlapped, run_sequential
from lookgrid.errors import InvalidInputError
from lookgrid.imaging import set_io_threads

#: ``LOOKGRID_RENDER_CORES=N``: budget the render for N cores (default: :func:`machine_cores`)
CORES_ENV = "LOOKGRID_RENDER_CORES"
#: ``LOOKGRID_RENDER_PLAIN=1``: the plain loop with the libraries' default threads (the reference)
PLAIN_ENV = "LOOKGRID_RENDER_PLAIN"
#: ``LOOKGRID_RENDER_UNBUDGETED=1``: overlapped with the libraries' default threads (the render as
#: it was before the budgets; ``lookgrid bench farm`` measures it beside them)
UNBUDGETED_ENV = "LOOKGRID_RENDER_UNBUDGETED"
#: up to this many cores a render runs the plain loop (module docstring: overlap cannot win there)
MAX_PLAIN_CORES = 2


@dataclass(frozen=True)
class StageThreads:
    """Threads per stage (each >= 1) and whether the stages overlap (module docstring)."""

    cores: int
    read: int
    compute: int
    write: int
    overlap: bool
    io: int = 0  #: OpenImageIO's and OpenEXR's pools (read and write share them); 0: ``cores``

    def line(self) -> str:
        mode = "overlapped" if self.overlap else "plain loop"
        return (
            f"{self.cores} cores: {mode}, numba threads read {self.read}, compute {self.compute}, "
            f"write {self.write}; OpenImageIO {self.io or self.cores}"
        )


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity; else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def stage_threads(cores: int | None = None) -> StageThreads:
    """The budget for ``cores`` cores (default ``$LOOKGRID_RENDER_CORES``, else
    :func:`machine_cores`): n <= 2 → the plain loop, every stage with n threads; n >= 3 →
    overlapped, numba write n//2, read max(1, (n - write)//2), compute the rest (at least 1);
    OpenImageIO n. Bad values raise one clear line."""
    if cores is None:
        text = os.environ.get(CORES_ENV, "").strip()
        if text:
            try:
                cores = int(text)
            except ValueError:
                raise InvalidInputError(f"${CORES_ENV} must be a whole number of cores, got {text!r}") from None
        else:
            cores = machine_cores()
    if int(cores) < 1:
        raise InvalidInputError(f"a render needs at least 1 core, got {cores}")
    n = int(cores)
    if n <= MAX_PLAIN_CORES:
        return StageThreads(n, n, n, n, overlap=False, io=n)
    write = n // 2
    read = max(1, (n - write) // 2)
    return StageThreads(n, read, max(1, n - write - read), write, overlap=True, io=n)


_globals_lock = threading.Lock()
_globals_users = [0]
_globals_saved: list = []


@contextmanager
def _process_threads(budget: StageThreads) -> Iterator[None]:
    """OpenImageIO's process-wide pools set for ``budget`` inside (torch's is left alone: module
    docstring); the previous values come back when the last render inside leaves."""
    with _globals_lock:
        if _globals_users[0] == 0:
            io = budget.io or budget.cores
            _globals_saved[:] = [set_io_threads(io, io)]
        _globals_users[0] += 1
    try:
        yield
    finally:
        with _globals_lock:
            _globals_users[0] -= 1
            if _globals_users[0] == 0:
                set_io_threads(*_globals_saved[0])


@contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """The calling thread's numba thread count set to ``n`` (capped at numba's pool) inside."""
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _in_budget(fn: Callable, n: int) -> Callable:
    """``fn`` run with the calling thread's numba count at ``n`` (the stage threads' own)."""

    def run(*args):
        with numba_threads(n):
            return fn(*args)

    return run


def run_budgeted(
    items: Sequence,
    read: Callable,
    compute: Callable,
    write: Callable,
    *,
    budget: StageThreads | None = None,
    plain: bool | None = None,
    unbudgeted: bool | None = None,
    **kwargs,
) -> list:
    """:func:`run_overlapped` or :func:`run_sequential` (same arguments and results) under a
    thread budget (module docstring). ``budget``: default :func:`stage_threads`; ``plain``: the
    plain loop with the libraries' default threads (default ``$LOOKGRID_RENDER_PLAIN`` = 1);
    ``unbudgeted``: overlapped with those defaults (default ``$LOOKGRID_RENDER_UNBUDGETED`` = 1)."""
    if plain is None:
        plain = os.environ.get(PLAIN_ENV, "") == "1"
    if unbudgeted is None:
        unbudgeted = os.environ.get(UNBUDGETED_ENV, "") == "1"
    if plain:
        return run_sequential(items, read, compute, write, **kwargs)
    if unbudgeted:
        return run_overlapped(items, read, compute, write, **kwargs)
    budget = budget or stage_threads()
    with _process_threads(budget):
        if not budget.overlap:
            with numba_threads(budget.compute):
                return run_sequential(items, read, compute, write, **kwargs)
        with numba_threads(budget.compute):
            return run_overlapped(
                items, _in_budget(read, budget.read), compute, _in_budget(write, budget.write), **kwargs
            )
