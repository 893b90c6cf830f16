"""How every benchmark times a call: median of repeated runs after one warm-up."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call: median and minimum wall time, median process CPU time (all threads;
    on a busy shared machine the wall time includes waiting for a core, the CPU time does not)."""

    median_ms: float
    min_ms: float
    cpu_ms: float

    def as_dict(self) -> dict:
        return {"median_ms": self.median_ms, "min_ms": self.min_ms, "cpu_ms": self.cpu_ms}


def time_call(fn: Callable[[], object], repeat: int, sync: Callable[[], object] | None = None) -> Timing:
    """Call ``fn`` once to warm up (kernel compilation, allocations), then ``max(1, repeat)`` timed
    times; ``sync`` (e.g. ``torch.cuda.synchronize``) runs after each call, inside the timing."""
    sync = sync or (lambda: None)
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(max(1, repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        sync()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return Timing(statistics.median(wall), min(wall), statistics.median(cpu))
