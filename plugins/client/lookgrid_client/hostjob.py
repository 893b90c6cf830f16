"""Run client work off a host's UI thread: :class:`HostJob`.

A host's UI thread must never wait on the network, but host data (Blender's ``bpy``, Nuke's nodes)
may only be touched from that thread. A HostJob runs ``work(job)`` on a worker thread that never
touches the host; whatever must run on the host's thread goes through :meth:`HostJob.on_main`,
which queues the call and waits for it; the host's timer (Blender's modal operator timer, Nuke's
``executeInMainThread``) calls :meth:`HostJob.pump` to run what is queued and to read progress.
Where the host runs no timers (Blender in background mode), :meth:`HostJob.run_here` runs the same
work synchronously on the calling thread, and ``on_main`` calls straight through.

    job = HostJob(lambda job: client.render_sequence(..., read_frame=lambda f: job.on_main(read, f),
                                                     progress=job.set_progress, cancel=job.cancelled))
    job.start()
    ... every timer tick: job.pump(); show job.progress; if job.done: use job.result() ...
    ... on Esc: job.cancel()
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeoutError  # not the builtin before 3.11
from typing import Any

from lookgrid_client.errors import LookGridError, RenderCancelledError, one_line


class HostJob:
    """One piece of work, its progress, cancel flag and result. ``work(job)`` returns the result."""

    def __init__(self, work: Callable[["HostJob"], Any], name: str = "lookgrid-job") -> None:
        self._work = work
        self._name = name
        self._main_calls: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._main_thread: threading.Thread | None = None
        self._result: Any = None
        self._error: BaseException | None = None
        self.progress: tuple[int, int] = (0, 0)
        self.phase: str = ""  # what the work is doing (lookgrid_client.progress phases)
        self.server: str = ""  # which server renders (lookgrid_client.launch.describe_server)
        self._pace: tuple[float, int] | None = None  # (time, frames done) at the first frame reported

    # -- the host's side ---------------------------------------------------------------------------
    def start(self) -> "HostJob":
        """Run the work on a worker thread; the calling thread is the host's (pumps ``on_main``)."""
        self._main_thread = threading.current_thread()
        threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return self

    def run_here(self) -> Any:
        """Run the work synchronously on this thread (hosts without timers); returns the result or
        raises its error."""
        self._main_thread = threading.current_thread()
        self._run()
        return self.result()

    def pump(self, max_calls: int = 4) -> None:
        """Run up to ``max_calls`` queued host-thread calls; call it from the host's timer."""
        for _ in range(max_calls):
            try:
                fn, args, fut = self._main_calls.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as err:  # handed to the worker, which raises it
                fut.set_exception(err)

    def cancel(self) -> None:
        """Ask the work to stop (it sees :meth:`cancelled`); queued host calls are dropped."""
        self._cancel.set()
        while True:
            try:
                _, _, fut = self._main_calls.get_nowait()
            except queue.Empty:
                break
            fut.cancel()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self) -> Any:
        """The work's result; raises its error (or RuntimeError while it is still running)."""
        if not self.done:
            raise RuntimeError("the job is still running")
        if self._error is not None:
            raise self._error
        return self._result

    @property
    def error(self) -> BaseException | None:
        return self._error

    def error_line(self) -> str:
        """The error as one line for a host's report ('' when none): a LookGridError's own text,
        otherwise the exception class and message."""
        err = self._error
        if err is None:
            return ""
        if isinstance(err, LookGridError):
            return str(err)
        return one_line(f"{type(err).__name__}: {err}")

    # -- the worker's side -------------------------------------------------------------------------
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def set_progress(self, done: int, total: int) -> None:
        self.progress = (int(done), int(total))
        if self._pace is None and done > 0:
            self._pace = (time.monotonic(), int(done))

    def set_phase(self, text: str) -> None:
        """What the work is doing now ("uploading references", "analysing", "rendering", ...)."""
        self.phase = str(text)

    def set_server(self, text: str) -> None:
        self.server = str(text)

    def status_line(self) -> str:
        """The phase, the frames and a time estimate (from the pace since the first frame), for a
        host's status line: ``rendering: frame 12 of 48, about 1 min 10 s left``."""
        from lookgrid_client.progress import eta_text

        done, total = self.progress
        phase = self.phase or ("rendering" if total else "starting")
        if not total:
            return phase
        eta = ""
        if self._pace is not None and done > self._pace[1]:
            eta = eta_text(done - self._pace[1], total - self._pace[1], time.monotonic() - self._pace[0])
        return f"{phase}: frame {done} of {total}{eta}"

    def on_main(self, fn: Callable, *args, cleanup: bool = False, cleanup_timeout: float = 30.0) -> Any:
        """Run ``fn(*args)`` on the host's thread and return its result (directly when called there).

        ``cleanup``: a call that must run even after a cancel (undoing what the work changed in the
        host); it waits at most ``cleanup_timeout`` seconds for the host to run it."""
        if threading.current_thread() is self._main_thread:
            return fn(*args)
        fut: Future = Future()
        self._main_calls.put((fn, args, fut))
        deadline = time.monotonic() + cleanup_timeout
        while True:
            if not cleanup and self._cancel.is_set() and fut.cancel():
                raise RenderCancelledError("cancelled while waiting for the host")
            if cleanup and time.monotonic() > deadline and fut.cancel():
                raise RenderCancelledError(f"the host did not run the clean-up within {cleanup_timeout:g} s")
            try:
                return fut.result(timeout=0.05)
            except FutureTimeoutError:
                continue
            except CancelledError:
                raise RenderCancelledError("cancelled while waiting for the host") from None

    def _run(self) -> None:
        try:
            self._result = self._work(self)
        except BaseException as err:
            self._error = err
        finally:
            self._done.set()


__all__ = ["HostJob"]
