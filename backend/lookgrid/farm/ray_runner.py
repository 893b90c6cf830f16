"""``lookgrid farm render`` on Ray: analyse once, then render chunks on workers, retried.

* **Ray** is started once per job (a local instance with ``workers`` CPUs, ~5 s), or joined by
  address (``auto``, ``ray://host:port``, ``host:port``) — never per chunk. When this process
  already has Ray running (``ray.is_initialized()``), that instance is used and left running.
* **Analysis** is one task (it uses every CPU it is given: the chain along the clip is sequential)
  and is skipped when the track beside the output is current (:mod:`lookgrid.farm.track`).
* **Chunks** (:func:`lookgrid.farm.chunks.chunk_frames` over the frames not yet done) run as tasks
  of one CPU each, at most ``workers`` at a time. Ray retries a chunk whose worker died (a
  ``kill -9`` included) or that failed to read or write a file, up to ``max_retries`` times; every
  frame is written atomically, and what a killed writer left is removed before the retry renders
  the chunk again and once more when the job ends. Any other error is the job's error: the other
  chunks are cancelled and it is raised as it was raised on the worker.
* **Resume**: frames a previous run of the same job wrote and that verify are skipped
  (:meth:`lookgrid.farm.job.Job.done_frames`).

Progress counts frames: finished chunks, plus the outputs that appear for chunks still running.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import FarmTaskError, InvalidInputError, LookGridError
from lookgrid.farm import job as jobs
from lookgrid.farm.chunks import chunk_frames, chunk_name, order_chunks

MAX_RETRIES = 3
RETRY_EXCEPTIONS = ("ImageReadError", "ImageWriteError")


@dataclass
class FarmSummary:
    frames: int                  # frames in the clip
    rendered: int                # frames rendered by this run
    skipped: int                 # frames already done (resume)
    chunks: int
    retries: int
    workers: int
    seconds: float
    analysed: int = 0            # frames analysed by this run (0: the track was reused)
    analyse_seconds: float = 0.0
    startup_seconds: float = 0.0
    reanalysed_because: str | None = None
    chunk_seconds: list[float] = field(default_factory=list)

    def line(self) -> str:
        fps = self.rendered / self.seconds if self.seconds > 0 else 0.0
        track = (f"analysed {self.analysed} frames in {self.analyse_seconds:.1f} s" if self.analysed
                 else "track reused")
        return (f"farm: {self.rendered} frames rendered, {self.skipped} already done, "
                f"{self.chunks} chunks on {self.workers} workers, {self.retries} retries, {track}; "
                f"{self.seconds:.1f} s ({fps:.2f} frames/s, Ray start {self.startup_seconds:.1f} s)")


def _threads() -> int:
    import ray

    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


def _analyze_remote(spec_dict: dict) -> dict:
    return jobs.analyze_task(ClipSpec.from_dict(spec_dict), threads=_threads())


def _render_remote(spec_dict: dict, frames: list[int]) -> dict:
    return jobs.render_task(ClipSpec.from_dict(spec_dict), frames, threads=_threads(),
                            note_attempt=True)


def start_ray(address: str | None, workers: int, temp_dir: str | None = None) -> bool:
    """Start or join Ray; True when this call started it (and the caller should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=workers, object_store_memory=256 << 20,
                 **({"_temp_dir": temp_dir} if temp_dir else {}), **kwargs)
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


def run_job(spec: ClipSpec, *, chunk: int | None = 10, workers: int = 2, address: str | None = None,
            order: str = "forward", progress=None, max_retries: int = MAX_RETRIES,
            temp_dir: str | None = None) -> FarmSummary:
    """Render ``spec`` on Ray (module docstring). ``progress(done, total)`` counts frames."""
    import ray

    from lookgrid import errors

    if workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {workers}")
    if chunk is not None and chunk < 0:
        raise InvalidInputError(f"--chunk must be >= 1, got {chunk}")
    job = jobs.Job(spec)  # checks the spec and finds the frames before Ray starts
    t_start = time.perf_counter()
    resumed = job.start()
    done = set(job.done_frames()) if resumed else set()
    job.clean()
    job.clear_attempts()
    todo = [f for f in job.frames if f not in done]
    chunks = order_chunks(chunk_frames(job.frames, chunk, wanted=todo), order)
    started = start_ray(address, workers, temp_dir) if chunks else False
    startup = time.perf_counter() - t_start
    retry_on = [getattr(errors, name) for name in RETRY_EXCEPTIONS]
    spec_dict = spec.to_dict()
    summary = FarmSummary(frames=len(job.frames), rendered=0, skipped=len(done), chunks=len(chunks),
                          retries=0, workers=workers, seconds=0.0, startup_seconds=startup)
    try:
        if chunks:
            cpus = max(1, min(workers, int(ray.cluster_resources().get("CPU", 1))))
            analyze = ray.remote(_analyze_remote).options(
                num_cpus=cpus, max_retries=max_retries, retry_exceptions=retry_on)
            t0 = time.perf_counter()
            try:
                result = ray.get(analyze.remote(spec_dict))
            except ray.exceptions.RayError as err:
                raise _unwrap(err, "analyze") from None
            summary.analysed = result["analysed"]
            summary.analyse_seconds = time.perf_counter() - t0
            summary.reanalysed_because = result["reason"]
            _render_chunks(ray, job, chunks, spec_dict, workers, max_retries, retry_on, progress,
                           len(done), summary)
    finally:
        summary.retries = sum(max(0, len(v) - 1) for v in job.attempts().values())
        job.clean()
        job.clear_attempts()
        if started:
            ray.shutdown()
    summary.seconds = time.perf_counter() - t_start
    return summary


def _render_chunks(ray, job, chunks, spec_dict, workers, max_retries, retry_on, progress, already,
                   summary) -> None:
    render = ray.remote(_render_remote).options(num_cpus=1, max_retries=max_retries,
                                                retry_exceptions=retry_on)
    since = time.time_ns() - 1_000_000_000
    queue = list(chunks)
    running: dict = {}
    finished = already
    total = len(job.frames)

    def written(frames) -> int:
        n = 0
        for f in frames:
            try:
                n += os.stat(job.output(f)).st_mtime_ns >= since
            except OSError:
                pass
        return n

    try:
        while queue or running:
            while queue and len(running) < workers:
                c = queue.pop(0)
                running[render.remote(spec_dict, c)] = c
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                c = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:
                    raise _unwrap(err, chunk_name(c)) from None
                finished += len(c)
                summary.rendered += len(c)
                summary.chunk_seconds.append(result["seconds"])
            if progress is not None:
                progress(finished + sum(written(c) for c in running.values()), total)
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
