"""Progress as a host shows it: a phase (upload, analysis, render, ...) and a time estimate.

:class:`Progress` is what the client reports while it works (``phase``, frames ``done`` of
``total``, seconds since the phase began); :func:`eta_text` turns frames and elapsed time into
", about 1 min 20 s left" for a status line.
"""

from __future__ import annotations

from dataclasses import dataclass

UPLOAD, ANALYSIS, RENDER, WRITE = "uploading references", "analysing", "rendering", "writing"


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the pace so far; None before the first frame is done."""
    if done <= 0 or total <= 0 or elapsed <= 0:
        return None
    return elapsed / done * max(total - done, 0)


def eta_text(done: int, total: int, elapsed: float) -> str:
    """``", about 40 s left"`` (empty before the first frame, or when done)."""
    left = eta_seconds(done, total, elapsed)
    if left is None or done >= total:
        return ""
    return f", about {_duration(left)} left"


@dataclass
class Progress:
    """One report: ``phase`` and, where it counts frames, ``done`` of ``total`` after ``elapsed`` s."""

    phase: str
    done: int = 0
    total: int = 0
    elapsed: float = 0.0

    def line(self) -> str:
        if not self.total:
            return self.phase
        return f"{self.phase}: frame {self.done} of {self.total}{eta_text(self.done, self.total, self.elapsed)}"


__all__ = ["ANALYSIS", "Progress", "RENDER", "UPLOAD", "WRITE", "eta_seconds", "eta_text"]
