"""``lookgrid farm render`` on Ray: analyse once, then render chunks on workers, retried.

* **Ray** is started once per job (a local instance with ``workers`` CPUs, ~5 s), or joined by
  address (``auto``, ``ray://host:port``, ``host:port``) — never per chunk. When this process
  already has Ray running (``ray.is_initialized()``), that instance is used and left running.
* **Analysis** runs in parts (:mod:`lookgrid.farm.parts`): one task of one CPU per chunk of the
  clip that holds analysed frames (the per-frame network pass and the per-pair flow), then one
  small fold task, the only part in order. Where the analysis cannot be split (temporal mode
  ``tc``) the part tasks do nothing and the fold task analyses in order with every CPU it is given.
  All of it is skipped when the analysis beside the output is current (:mod:`lookgrid.farm.analysis`).
* **Chunks** (:func:`lookgrid.farm.chunks.chunk_frames` over the frames not yet done) run as tasks
  of one CPU each, at most ``workers`` at a time. Ray retries a chunk whose worker died (a
  ``kill -9`` included) or that failed to read or write a file, up to ``max_retries`` times; every
  frame is written atomically, and what a killed writer left is removed when the retry starts
  (``Engine.render_clip`` clears the temporaries of dead processes from the output folder). Any other error is the job's error: the other
  chunks are cancelled and it is raised as it was raised on the worker.
* **Resume**: frames a previous run of the same job wrote and that verify are skipped
  (:meth:`lookgrid.farm.job.Job.done_frames`).

Progress counts frames: finished chunks, plus the outputs that appear for chunks still running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import ray

from lookgrid import errors
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import FarmTaskError, InvalidInputError, LookGridError
from lookgrid.farm import analysis as analyses
from lookgrid.farm import job as jobs
from lookgrid.farm.chunks import chunk_frames, chunk_name, order_chunks

MAX_RETRIES = 3
RETRY_EXCEPTIONS = ("ImageReadError", "ImageWriteError")


@dataclass
class FarmSummary:
    frames: int  # frames in the clip
    rendered: int  # frames rendered by this run
    skipped: int  # frames already done (resume)
    chunks: int
    retries: int
    workers: int
    seconds: float
    analysed: int = 0  # frames analysed by this run (0: the analysis was reused)
    analyse_seconds: float = 0.0
    analysis_parts: int = 0  # part tasks the analysis ran in (0: in order, or reused)
    in_order_because: str | None = None  # why the analysis ran in order on one worker
    startup_seconds: float = 0.0
    reanalysed_because: str | None = None
    chunk_seconds: list[float] = field(default_factory=list)

    def line(self) -> str:
        fps = self.rendered / self.seconds if self.seconds > 0 else 0.0
        how = f" in {self.analysis_parts} parts + fold" if self.analysis_parts else " in order"
        analysis = (
            f"analysed {self.analysed} frames{how} in {self.analyse_seconds:.1f} s"
            if self.analysed
            else "analysis reused"
        )
        return (
            f"farm: {self.rendered} frames rendered, {self.skipped} already done, "
            f"{self.chunks} chunks on {self.workers} workers, {self.retries} retries, {analysis}; "
            f"{self.seconds:.1f} s ({fps:.2f} frames/s, Ray start {self.startup_seconds:.1f} s)"
        )


def _threads() -> int:
    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


def _analyze_part_remote(spec_dict: dict, frames: list[int]) -> dict:
    return jobs.analyze_part_task(ClipSpec.from_dict(spec_dict), frames, threads=_threads())


def _fold_remote(spec_dict: dict) -> dict:
    return jobs.fold_task(ClipSpec.from_dict(spec_dict), threads=_threads())


def _render_remote(spec_dict: dict, frames: list[int]) -> dict:
    return jobs.render_task(ClipSpec.from_dict(spec_dict), frames, threads=_threads(), note_attempt=True)


def start_ray(address: str | None, workers: int, temp_dir: str | None = None) -> bool:
    """Start or join Ray; True when this call started it (and the caller should shut it down)."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a render job reports nothing anywhere
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(
            num_cpus=workers, object_store_memory=256 << 20, **({"_temp_dir": temp_dir} if temp_dir else {}), **kwargs
        )
    return True


def _unwrap(err, chunk: str) -> BaseException:
    """A task's failure as the job's error: the worker's LookGridError as it was raised, else a
    FarmTaskError naming the chunk."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, LookGridError):
        return cause
    if cause is not None:
        return FarmTaskError(f"chunk {chunk} failed: {type(cause).__name__}: {cause}")
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return FarmTaskError(f"chunk {chunk} failed after {MAX_RETRIES} retries: {first}")


def run_job(
    spec: ClipSpec,
    *,
    chunk: int | None = 10,
    workers: int = 2,
    address: str | None = None,
    order: str = "forward",
    progress=None,
    max_retries: int = MAX_RETRIES,
    temp_dir: str | None = None,
    gpus: float = 0.0,
) -> FarmSummary:
    """Render ``spec`` on Ray (module docstring). ``progress(done, total)`` counts frames.
    ``gpus``: GPUs each task asks Ray for (Ray hides the GPUs from tasks that ask for none)."""
    if gpus < 0:
        raise InvalidInputError(f"--gpus-per-worker must be >= 0, got {gpus}")
    if workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {workers}")
    if chunk is not None and chunk < 0:
        raise InvalidInputError(f"--chunk must be >= 1, got {chunk}")
    job = jobs.Job(spec)  # checks the spec and finds the frames before Ray starts
    t_start = time.perf_counter()
    done = set(job.done_frames()) if job.start() else set()
    job.clear_attempts()
    todo = [f for f in job.frames if f not in done]
    chunks = order_chunks(chunk_frames(job.frames, chunk, wanted=todo), order)
    started = start_ray(address, workers, temp_dir) if chunks else False
    startup = time.perf_counter() - t_start
    retry_on = [getattr(errors, name) for name in RETRY_EXCEPTIONS]
    spec_dict = spec.to_dict()
    summary = FarmSummary(
        frames=len(job.frames),
        rendered=0,
        skipped=len(done),
        chunks=len(chunks),
        retries=0,
        workers=workers,
        seconds=0.0,
        startup_seconds=startup,
    )
    with contextlib.ExitStack() as stack:
        interrupted = stack.enter_context(_interrupt_between_calls())
        stack.callback(_finish, ray, job, summary, started)
        if chunks:
            cpus = max(1, min(workers, int(ray.cluster_resources().get("CPU", 1))))
            options = dict(num_gpus=gpus, max_retries=max_retries, retry_exceptions=retry_on)
            t0 = time.perf_counter()
            if analyses.stale_reason(spec, job.io) is not None:
                _analyze_in_parts(ray, job, chunk, order, spec_dict, options, cpus, summary, interrupted)
            summary.analyse_seconds = time.perf_counter() - t0
            render = ray.remote(_render_remote).options(
                num_cpus=1, num_gpus=gpus, max_retries=max_retries, retry_exceptions=retry_on
            )
            _render_chunks(ray, render, job, chunks, spec_dict, workers, progress, len(done), summary, interrupted)
    summary.seconds = time.perf_counter() - t_start
    return summary


def _analyze_in_parts(ray, job, chunk, order, spec_dict, options, cpus, summary, interrupted) -> None:
    """The part tasks (one CPU each; chunks of the clip holding analysed frames, in ``order``),
    then the fold task (``cpus`` CPUs: it analyses in order where the analysis cannot be split)."""
    anchors = set(analyses.analysed_frames(job.spec, job.frames))
    chunks = order_chunks([c for c in chunk_frames(job.frames, chunk) if anchors & set(c)], order)
    part = ray.remote(_analyze_part_remote).options(num_cpus=1, **options)
    refs = {part.remote(spec_dict, c): c for c in chunks}
    done = []
    try:
        for ref, c in refs.items():
            done.append(_result(ray, ref, "analysis of " + chunk_name(c), interrupted))
    finally:
        if len(done) < len(refs):  # a part failed or the job was interrupted: stop the others
            for ref in refs:
                ray.cancel(ref, force=True)
            ray.wait(list(refs), num_returns=len(refs), timeout=10)
    fold = ray.remote(_fold_remote).options(num_cpus=cpus, **options)
    result = _result(ray, fold.remote(spec_dict), "analysis fold", interrupted)
    summary.analysed = result["analysed"]
    summary.analysis_parts = sum(1 for d in done if d["skipped"] is None) if result["in_order"] is None else 0
    summary.reanalysed_because = result["reason"]
    summary.in_order_because = result["in_order"]


def _finish(ray, job, summary, started: bool) -> None:
    """After the job, done or failed: count retries, clear what attempts left, leave Ray."""
    summary.retries = sum(max(0, len(v) - 1) for v in job.attempts().values())
    job.clear_attempts()
    if started:
        ray.shutdown()


@contextlib.contextmanager
def _interrupt_between_calls():
    """While Ray runs, Ctrl-C (SIGINT) only sets a flag; the driver's loop raises
    ``KeyboardInterrupt`` between Ray calls (an interrupt inside one can abort Ray's core worker).
    Only the main thread can take signals; elsewhere this does nothing."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, old)


def _result(ray, ref, chunk: str, interrupted: threading.Event):
    """``ray.get(ref)``, waiting in short steps so an interrupt is seen; a failure as the job's error."""
    while not ray.wait([ref], timeout=0.5)[0]:
        if interrupted.is_set():
            raise KeyboardInterrupt
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:
        raise _unwrap(err, chunk) from None


def _render_chunks(ray, render, job, chunks, spec_dict, workers, progress, already, summary, interrupted) -> None:
    """Keep at most ``workers`` chunks running until all are rendered; report frames."""
    since = time.time_ns() - 1_000_000_000
    queue, running = list(chunks), dict[object, list[int]]()

    def written(frames) -> int:  # outputs of running chunks that have appeared (for progress)
        n = 0
        for f in frames:
            with contextlib.suppress(OSError):
                n += os.stat(job.output(f)).st_mtime_ns >= since
        return n

    try:
        while queue or running:
            if interrupted.is_set():
                raise KeyboardInterrupt
            while queue and len(running) < workers:
                c = queue.pop(0)
                running[render.remote(spec_dict, c)] = c
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                c = running.pop(ref)
                summary.chunk_seconds.append(_result(ray, ref, chunk_name(c), interrupted)["seconds"])
                summary.rendered += len(c)
            if progress is not None:
                progress(already + summary.rendered + sum(written(c) for c in running.values()), len(job.frames))
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if running:  # let the cancellations land before the driver disconnects
            ray.wait(list(running), num_returns=len(running), timeout=10)
