"""lookgrid.engine.pipeline: the overlapped read/compute/write agrees with the plain loop — results,
order, what is written before an error, cancel — and really overlaps."""

from __future__ import annotations

import threading
import time

import pytest

from lookgrid.engine.pipeline import run_overlapped, run_sequential
from lookgrid.errors import CancelledError, ImageReadError, ImageWriteError

RUNNERS = [run_sequential, run_overlapped]


class Log:
    """Stages that record which thread ran them and what was written."""

    def __init__(self, fail_read=None, fail_compute=None, fail_write=None, delay=0.0):
        self.written, self.threads = [], {"read": set(), "compute": set(), "write": set()}
        self.fail = {"read": fail_read, "compute": fail_compute, "write": fail_write}
        self.delay = delay
        self.lock = threading.Lock()

    def _stage(self, name, item):
        with self.lock:
            self.threads[name].add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if self.fail[name] == item:
            raise {"read": ImageReadError, "compute": ValueError, "write": ImageWriteError}[name](
                f"{name} failed at {item}")

    def read(self, item):
        self._stage("read", item)
        return item * 10

    def compute(self, item, value):
        self._stage("compute", item)
        return value + 1

    def write(self, item, value, out):
        self._stage("write", item)
        self.written.append((item, value, out))
        return f"frame-{item}"


@pytest.mark.parametrize("run", RUNNERS)
def test_results_in_order_and_done_callbacks(run):
    log, done = Log(), []
    out = run(range(7), log.read, log.compute, log.write,
              on_done=lambda n, item, res, s: done.append((n, item, res)))
    assert out == [f"frame-{i}" for i in range(7)]
    assert log.written == [(i, 10 * i, 10 * i + 1) for i in range(7)]
    assert done == [(i + 1, i, f"frame-{i}") for i in range(7)]


def test_overlapped_runs_stages_on_their_own_threads_and_callbacks_on_the_caller():
    log, callers = Log(), set()
    run_overlapped(range(5), log.read, log.compute, log.write,
                   on_done=lambda *a: callers.add(threading.current_thread().name))
    me = threading.current_thread().name
    assert log.threads["read"] == {"lookgrid-read"}
    assert log.threads["write"] == {"lookgrid-write"}
    assert log.threads["compute"] == {me} and callers == {me}


@pytest.mark.parametrize("stage,exc", [("read", ImageReadError), ("compute", ValueError),
                                       ("write", ImageWriteError)])
def test_an_error_propagates_with_the_same_frames_written_as_the_plain_loop(stage, exc):
    written = {}
    for run in RUNNERS:
        log = Log(**{f"fail_{stage}": 4})
        with pytest.raises(exc, match=f"{stage} failed at 4"):
            run(range(9), log.read, log.compute, log.write)
        written[run.__name__] = [w[0] for w in log.written]
    assert written["run_overlapped"] == written["run_sequential"] == [0, 1, 2, 3]


def test_errors_leave_no_thread_behind():
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ImageWriteError):
        run_overlapped(range(20), Log().read, Log().compute, Log(fail_write=2).write)
    assert {t.name for t in threading.enumerate()} - before == set()


@pytest.mark.parametrize("run", RUNNERS)
def test_cancel_stops_with_the_frames_before_written(run):
    log, calls = Log(), []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CancelledError, match="render cancelled"):
        run(range(10), log.read, log.compute, log.write, cancel=cancel,
            cancel_message="render cancelled")
    assert [w[0] for w in log.written] == [0, 1, 2]


def test_queues_are_bounded():
    """Frames read but not yet written stay under 2·depth + 3 (each queue full, plus one frame
    being read, one being computed and one being written), however long the sequence."""
    ahead, read_count, written = [], [0], [0]

    def read(i):
        read_count[0] += 1
        ahead.append(read_count[0] - written[0])
        return i

    def write(i, v, o):
        time.sleep(0.01)
        written[0] += 1

    run_overlapped(range(30), read, lambda i, v: v, write, depth=2)
    assert max(ahead) <= 2 * 2 + 3


def test_overlap_saves_time():
    """Three stages of 20 ms each: the plain loop takes ~60 ms a frame, the pipeline ~20 ms.
    Sleeping stages release the interpreter, so this measures the structure, not the machine."""
    log = Log(delay=0.02)
    t0 = time.perf_counter()
    run_sequential(range(12), log.read, log.compute, log.write)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_overlapped(range(12), log.read, log.compute, log.write)
    overlapped = time.perf_counter() - t0
    assert overlapped < 0.6 * plain, (overlapped, plain)
