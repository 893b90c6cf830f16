"""The server's memory budget for what clients send: one mechanism for every call.

Every byte a call receives (RenderFrames payloads, UploadStyle payloads) and every picture the
server decodes from such bytes is *taken* from the budget before it is held and *given* back when it
is freed; an :class:`Account` (one per call) gives back whatever it still holds when the call ends,
whatever way it ends. So memory follows the bytes actually received — a header only announces, it
never allocates — and a call that is gone holds nothing.

Two bounds, both RESOURCE_EXHAUSTED (:class:`lookgrid.errors.ResourceLimitError`) when a take would
pass them:

* ``per_call``: what one call may hold at once (a frame being received plus the frames read ahead
  of the renderer, or one upload and its decoded picture);
* ``total``: what all calls together may hold.

A call that reads ahead waits (:meth:`Account.wait_for_room`) until its own earlier items are freed
rather than fail: only an item that alone exceeds ``per_call`` is refused outright.
"""

from __future__ import annotations

import threading
from typing import Callable

from lookgrid.errors import CancelledError, ResourceLimitError


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


class MemoryBudget:
    """Bytes held for calls, server-wide (``total``) and per call (``per_call``)."""

    def __init__(self, total: int, per_call: int) -> None:
        if total <= 0 or per_call <= 0:
            raise ValueError("memory budgets must be positive")
        self.total = int(total)
        self.per_call = int(per_call)
        self._used = 0
        self._peak = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes held by all calls right now."""
        with self._lock:
            return self._used

    @property
    def peak(self) -> int:
        """The most bytes held at once since the server started."""
        with self._lock:
            return self._peak

    def account(self, what: str) -> "Account":
        """A new per-call account; ``what`` names the call in error messages."""
        return Account(self, what)

    def _take(self, n: int, what: str) -> None:
        with self._lock:
            if self._used + n > self.total:
                raise ResourceLimitError(
                    f"{what}: the server holds {_mib(self._used)} of data sent by its clients and "
                    f"{_mib(n)} more would pass its budget of {_mib(self.total)}; try again later"
                )
            self._used += n
            self._peak = max(self._peak, self._used)

    def _give(self, n: int) -> None:
        with self._lock:
            self._used -= n


class Account:
    """What one call holds of a :class:`MemoryBudget`. Use as a context manager (or call
    :meth:`close`): everything still held is given back at the end."""

    def __init__(self, budget: MemoryBudget, what: str) -> None:
        self.budget = budget
        self.what = what
        self.held = 0
        self._cond = threading.Condition()
        self._closed = False

    def take(self, n: int) -> None:
        """Hold ``n`` more bytes, or raise :class:`ResourceLimitError` (nothing taken then)."""
        n = int(n)
        if n <= 0:
            return
        with self._cond:
            if self._closed:
                raise CancelledError(f"{self.what}: the call has ended")
            if self.held + n > self.budget.per_call:
                raise ResourceLimitError(
                    f"{self.what}: {_mib(self.held + n)} held for this call would pass the per-call "
                    f"budget of {_mib(self.budget.per_call)}"
                )
            self.budget._take(n, self.what)
            self.held += n

    def give(self, n: int) -> None:
        """Give back ``n`` bytes (at most what is held)."""
        with self._cond:
            n = min(int(n), self.held)
            if n <= 0:
                return
            self.held -= n
            self.budget._give(n)
            self._cond.notify_all()

    def wait_for_room(self, n: int, stop: Callable[[], bool], poll_s: float = 0.2) -> None:
        """Block while this call holds earlier items and ``n`` more bytes would not fit its
        per-call budget (they are freed as the call goes on); return at once when the call holds
        nothing (then :meth:`take` decides). ``stop()`` true ends the wait with CancelledError."""
        with self._cond:
            while self.held and self.held + n > self.budget.per_call:
                if stop() or self._closed:
                    raise CancelledError(f"{self.what}: the call has ended")
                self._cond.wait(poll_s)

    def close(self) -> None:
        """Give back everything still held; later takes fail."""
        with self._cond:
            self._closed = True
            if self.held:
                self.budget._give(self.held)
                self.held = 0
            self._cond.notify_all()

    def __enter__(self) -> "Account":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
