"""Overlapped read → compute → write over a sequence of frames (``lookgrid render``, farm workers).

A whole-sequence render spends most of its time decoding and encoding files, not computing: a
3840×2160 half-float ZIP EXR costs about as much to read and write as to render. :func:`run_overlapped`
therefore reads frame ``i+1`` and writes frame ``i−1`` while frame ``i`` is computed::

    reader thread ──in-queue (depth)──▶ caller's thread: compute ──out-queue (depth)──▶ writer thread

* **Bounded**: at most ``depth`` frames wait in each queue, so memory stays a few frames whatever
  the length of the sequence.
* **Compute stays on the caller's thread** (torch, the engine's clip lock); so do the ``on_done``
  callbacks, called in frame order after each frame is written (progress bars, streams).
* **Errors propagate**: an exception of any stage is re-raised in the caller with its own type and
  message, and the others stop. As in one plain loop, a read, compute or cancel at frame ``k``
  leaves frames ``< k`` written and nothing after (the writer finishes what was computed first); a
  failed write stops at once. Every write is atomic on its own, so nothing is half-written.
* **Cancel**: ``cancel()`` is asked before each frame is computed; when it returns true the reader
  stops, the frames already computed are written, and :class:`lookgrid.errors.CancelledError` is
  raised.

:func:`run_sequential` is the plain reference: the same contract, one frame after the other on the
caller's thread. Tests check the two give the same results and the same errors.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterable, Sequence, TypeVar

from lookgrid.errors import CancelledError

Item = TypeVar("Item")
#: ``on_done(index, item, result, seconds)``: ``index`` counts from 1; ``seconds`` from the start of
#: the frame's read to the end of its write
DoneCallback = Callable[[int, object, object, float], None]

_POLL_S = 0.05
_END = object()


def run_sequential(
    items: Iterable[Item],
    read: Callable,
    compute: Callable,
    write: Callable,
    *,
    cancel: Callable[[], bool] | None = None,
    on_done: DoneCallback | None = None,
    cancel_message: str = "cancelled",
) -> list:
    """Reference: for each item, ``write(item, read_value, compute(item, read_value))`` in turn.

    ``read(item) -> r``, ``compute(item, r) -> c``, ``write(item, r, c) -> result``. Returns the
    results in item order."""
    results = []
    for n, item in enumerate(items, 1):
        t0 = time.perf_counter()
        value = read(item)
        if cancel is not None and cancel():
            raise CancelledError(cancel_message)
        done = write(item, value, compute(item, value))
        results.append(done)
        if on_done is not None:
            on_done(n, item, done, time.perf_counter() - t0)
    return results


def run_overlapped(
    items: Sequence[Item],
    read: Callable,
    compute: Callable,
    write: Callable,
    *,
    depth: int = 2,
    cancel: Callable[[], bool] | None = None,
    on_done: DoneCallback | None = None,
    cancel_message: str = "cancelled",
) -> list:
    """:func:`run_sequential` with reading and writing on their own threads (module docstring).

    ``read`` runs on the reader thread and ``write`` on the writer thread, each in item order;
    ``compute`` and ``on_done`` run on the caller's thread. ``depth`` >= 1 bounds each queue.
    Returns the results of ``write`` in item order. As in the reference, a failure (or cancel) at
    item ``k`` leaves items ``< k`` written and nothing after; only an interrupt of the caller
    (``KeyboardInterrupt``) or a failed write stops at once."""
    items = list(items)
    depth = max(1, int(depth))
    everything, reading = _Stop(), _Stop()
    inq: queue.Queue = queue.Queue(maxsize=depth)
    outq: queue.Queue = queue.Queue(maxsize=depth)
    doneq: queue.Queue = queue.Queue()  # bounded by what the other two queues hold
    write_error: list[BaseException] = []

    def reader():
        try:
            for item in items:
                t0 = time.perf_counter()
                try:
                    value = read(item)
                except BaseException as err:  # noqa: BLE001 — handed to the caller's thread
                    _put(inq, (_FAILED, err, t0), everything, reading)
                    return
                _put(inq, (item, value, t0), everything, reading)
            _put(inq, _END, everything, reading)
        except _Stopped:
            pass

    def writer():
        try:
            while True:
                got = _get(outq, everything)
                if got is _END:
                    doneq.put(_END)
                    return
                item, value, out, t0 = got
                try:
                    doneq.put((item, write(item, value, out), t0))
                except BaseException as err:  # noqa: BLE001
                    write_error.append(err)
                    everything.set()
                    doneq.put(_END)
                    return
        except _Stopped:
            pass

    results: list = []
    finished: list = []

    def report(block: bool) -> bool:
        """Hand written frames to ``on_done``; True once the writer has finished."""
        while not finished:
            try:
                got = doneq.get(timeout=_POLL_S) if block else doneq.get_nowait()
            except queue.Empty:
                if not block:
                    return False
                continue
            if got is _END:
                finished.append(True)
                break
            item, done, t0 = got
            results.append(done)
            if on_done is not None:
                on_done(len(results), item, done, time.perf_counter() - t0)
        return True

    threads = [
        threading.Thread(target=reader, name="lookgrid-read", daemon=True),
        threading.Thread(target=writer, name="lookgrid-write", daemon=True),
    ]
    for t in threads:
        t.start()
    failure: BaseException | None = None
    try:
        try:
            while not everything.is_set():
                got = _get(inq, everything)
                if got is _END:
                    break
                item, value, t0 = got
                if item is _FAILED:
                    raise value
                if cancel is not None and cancel():
                    raise CancelledError(cancel_message)
                _put(outq, (item, value, compute(item, value), t0), everything)
                report(block=False)
        except _Stopped:
            pass
        except Exception as err:  # read, compute or cancel: write what came before, then raise
            failure = err
        reading.set()
        if not everything.is_set():
            _put(outq, _END, everything)
        while not report(block=True):
            pass
    except _Stopped:
        pass
    except BaseException:  # KeyboardInterrupt and the like: stop at once
        everything.set()
        raise
    finally:
        reading.set()
        for t in threads:
            t.join()
    if write_error:
        raise write_error[0]
    if failure is not None:
        raise failure
    return results


_FAILED = object()


class _Stopped(Exception):
    """Raised inside a stage when it was asked to stop."""


class _Stop(threading.Event):
    """A stop flag (an Event with a name that reads well at the call sites)."""


def _put(q: queue.Queue, value, *stops: threading.Event) -> None:
    """``q.put(value)``, giving up (:class:`_Stopped`) as soon as one of ``stops`` is set."""
    while True:
        if any(s.is_set() for s in stops):
            raise _Stopped
        try:
            q.put(value, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event):
    """``q.get()``, giving up (:class:`_Stopped`) once ``stop`` is set."""
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
