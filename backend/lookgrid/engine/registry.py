"""The open clips of an engine: ids, lookup with a reason for clips that are gone, eviction.

Eviction (:meth:`ClipRegistry.evict`) closes clips idle longer than ``ttl_s`` and then the least
recently used ones until the clips' cache estimate is under ``max_cache_bytes``; a later call on an
evicted clip raises :class:`UnknownClipError` saying so.

It runs only while no engine work is in progress, so it never drops a clip in the middle of a call
(a clip that is working is by definition not idle): work is bracketed by :meth:`busy`, and
:meth:`evict_if_idle` — what the sweeper thread (:meth:`start_sweeper`) and the end of the last
busy call run — does nothing while any is.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator

from lookgrid.engine.clip import Clip
from lookgrid.errors import InvalidInputError, UnknownClipError

log = logging.getLogger("lookgrid.engine")

#: how many closed/evicted clip ids are remembered (for the reason in the error)
REMEMBER_GONE = 10_000


class ClipRegistry:
    """Open clips by id, with the eviction policy ``ttl_s`` / ``max_cache_bytes``."""

    def __init__(self, *, ttl_s: float = 900.0, max_cache_bytes: int = 2 << 30) -> None:
        self.ttl_s = float(ttl_s)
        self.max_cache_bytes = int(max_cache_bytes)
        self._lock = threading.RLock()
        self._clips: dict[str, Clip] = {}
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._counter = itertools.count(1)
        self._gate = threading.Condition()
        self._busy = 0
        self._evicting = False
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    # --- open, find, close --------------------------------------------------------------------
    def add(self, make: Callable[[str], Clip], clip_id: str | None = None) -> Clip:
        """Register the clip ``make(clip_id)`` under ``clip_id`` (a new id when ``None``)."""
        with self._lock:
            cid = clip_id or f"clip-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
            if cid in self._clips:
                raise InvalidInputError(f"clip id {cid!r} is already open")
            clip = make(cid)
            self._clips[cid] = clip
            self._gone.pop(cid, None)
        return clip

    def get(self, clip_id: str) -> Clip:
        """The open clip ``clip_id`` (marked used); :class:`UnknownClipError` with the reason."""
        with self._lock:
            clip = self._clips.get(clip_id)
            if clip is None:
                reason = self._gone.get(clip_id)
                if reason:
                    raise UnknownClipError(f"clip {clip_id!r} was {reason}")
                raise UnknownClipError(f"no clip {clip_id!r} is open")
            clip.last_used = time.monotonic()
            return clip

    def close(self, clip_id: str, reason: str = "closed") -> None:
        with self._lock:
            clip = self._clips.pop(clip_id, None)
            if clip is None:
                self.get(clip_id)  # raises with the reason
            self._remember_gone(clip_id, reason)

    def close_all(self, reason: str) -> None:
        with self._lock:
            for cid in list(self._clips):
                self.close(cid, reason)

    def _remember_gone(self, clip_id: str, reason: str) -> None:
        self._gone[clip_id] = reason
        while len(self._gone) > REMEMBER_GONE:
            self._gone.popitem(last=False)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._clips)

    def cache_bytes(self) -> int:
        with self._lock:
            clips = list(self._clips.values())
        return sum(c.cache_bytes() for c in clips)

    # --- eviction -----------------------------------------------------------------------------
    def evict(self, now: float | None = None) -> list[str]:
        """Close idle clips (TTL) and then least-recently-used ones until the caches fit
        ``max_cache_bytes``. Returns the evicted ids."""
        now = time.monotonic() if now is None else now
        evicted = []
        with self._lock:
            for cid, clip in list(self._clips.items()):
                idle = now - clip.last_used
                if idle > self.ttl_s:
                    del self._clips[cid]
                    self._remember_gone(cid, f"evicted after {idle:.0f} s idle (ttl {self.ttl_s:.0f} s)")
                    evicted.append(cid)
            clips = dict(self._clips)
        # Sizes are read without the registry lock: a clip's size takes that clip's lock, and a
        # render holds its clip's lock while it may open or look up clips. Taking them in the
        # opposite order here could deadlock.
        sizes = {cid: c.cache_bytes() for cid, c in clips.items()}
        total = sum(sizes.values())
        with self._lock:
            for cid in sorted(clips, key=lambda c: clips[c].last_used):
                if total <= self.max_cache_bytes:
                    break
                if self._clips.get(cid) is not clips[cid]:
                    continue  # closed or replaced meanwhile
                del self._clips[cid]
                total -= sizes[cid]
                self._remember_gone(cid, f"evicted to stay under the memory bound ({self.max_cache_bytes} bytes)")
                evicted.append(cid)
        if evicted:
            log.info("evicted clips: %s", ", ".join(evicted))
        return evicted

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark engine work in progress: eviction waits until none is; the last one out evicts."""
        with self._gate:
            while self._evicting:
                self._gate.wait()
            self._busy += 1
        try:
            yield
        finally:
            with self._gate:
                self._busy -= 1
                last = self._busy == 0
            if last:
                self.evict_if_idle()

    def evict_if_idle(self) -> list[str]:
        """:meth:`evict` unless engine work is in progress (then nothing; returns ``[]``)."""
        with self._gate:
            if self._busy or self._evicting:
                return []
            self._evicting = True
        try:
            return self.evict()
        finally:
            with self._gate:
                self._evicting = False
                self._gate.notify_all()

    def start_sweeper(self, every_s: float) -> None:
        """A daemon thread that calls :meth:`evict_if_idle` every ``every_s`` seconds (0: none)."""
        if self._sweeper is None and every_s > 0:
            self._stop.clear()
            self._sweeper = threading.Thread(
                target=self._sweep, args=(float(every_s),), name="lookgrid-evict", daemon=True
            )
            self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._stop.set()
        self._sweeper = None

    def _sweep(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.evict_if_idle()
            except Exception:  # pragma: no cover - keep sweeping
                log.exception("eviction failed")
