"""Bridges between threads and the generators gRPC streams are made of.

* :func:`emitted_by` — run blocking work in a thread and yield what it reports as it goes
  (RenderByPath: the engine's progress callback → the response stream);
* :func:`read_ahead` — consume a (blocking) request iterator in a reader thread, a few items ahead
  of the handler (RenderFrames: the next frame is received while this one renders), freeing what
  was read but never handed out.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

from lookgrid.errors import CancelledError

T = TypeVar("T")
_END = object()


def emitted_by(work: Callable[[Callable[[T], None]], None], *, name: str) -> Iterator[T]:
    """Run ``work(emit)`` in a daemon thread; yield each item it ``emit``\\ s, in order; re-raise
    (in the caller's thread) what ``work`` raises. Returns when ``work`` does."""
    events: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            work(events.put)
            events.put(_END)
        except BaseException as err:  # noqa: BLE001 - forwarded to the caller's thread
            events.put(err)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    while True:
        item = events.get()
        if item is _END:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    worker.join()


def read_ahead(
    source: Iterable[T],
    *,
    stop: threading.Event,
    alive: Callable[[], bool],
    ahead: int = 2,
    on_read: Callable[[T], None] | None = None,
    on_drop: Callable[[T], None] | None = None,
    name: str = "lookgrid-read-ahead",
    poll_s: float = 0.5,
) -> Iterator[T]:
    """Yield the items of ``source``, read by a daemon thread at most ``ahead`` items in advance.

    ``on_read(item)`` runs in the reader for each item it takes (e.g. count held bytes);
    ``on_drop(item)`` for each item read but never yielded (the stream ended early). ``stop`` set
    (e.g. by the call's done-callback) or ``alive()`` false ends the stream with
    :class:`CancelledError`; an error of ``source`` is re-raised here.
    """
    inbox: queue.Queue = queue.Queue(maxsize=ahead)

    def drain() -> None:
        while True:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                return
            if item is not _END and not isinstance(item, BaseException) and on_drop is not None:
                on_drop(item)

    def offer(item) -> bool:
        """Queue ``item`` unless the stream stopped; False (item not queued) when it did."""
        while not stop.is_set():
            try:
                inbox.put(item, timeout=0.2)
            except queue.Full:
                continue
            if stop.is_set():  # stopped while we queued: the consumer's drain may have missed it
                drain()
            return True
        return False

    def reader() -> None:
        try:
            for item in source:
                if on_read is not None:
                    on_read(item)
                if not offer(item):
                    if on_drop is not None:
                        on_drop(item)
                    return
            offer(_END)
        except BaseException as err:  # noqa: BLE001 - forwarded
            offer(err)

    thread = threading.Thread(target=reader, name=name, daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = inbox.get(timeout=poll_s)
            except queue.Empty:
                if stop.is_set() or not alive():
                    raise CancelledError("the client went away") from None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        drain()  # free what the reader took but nobody got
