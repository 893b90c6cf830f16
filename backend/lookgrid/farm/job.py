"""A farm job without the farm: load and check its spec, analyse (in parts, or once), render one
chunk, resume.

Everything here runs the same on a Ray worker (:mod:`lookgrid.farm.ray`) and in an Open Job
Description task (``lookgrid farm task ...``, :mod:`lookgrid.farm.openjd`).

Resuming: ``.lookgrid/job.json`` records the hash of the whole spec (weights, strengths and output
settings included) of the job that writes into the output folder. When a job starts with another
hash the file is rewritten, so every output from before it counts as not done. A frame is *done*
when the analysis is current, and its output exists, is not empty, its header reads with the input's
resolution, and it was written after ``job.json``, the analysis and the frame's own input and mask
files (modification times on the same file system, as ``make`` compares them). A done frame is
not rendered again.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lookgrid.engine import Engine
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError
from lookgrid.farm import analysis as analyses
from lookgrid.farm import parts as analysis_parts
from lookgrid.farm.chunks import chunk_name
from lookgrid.fsutil import atomic_write
from lookgrid.imaging import read_header
from lookgrid.model.device import configure_threads

JOB_FILE = "job.json"
ATTEMPTS = "attempts"


def load_spec(path: str | os.PathLike) -> ClipSpec:
    """Read a farm job's spec (relative paths against the file's folder) and check it: paths are
    needed, styles must be files (a worker cannot see images uploaded to a server)."""
    spec = ClipSpec.load(path).validate(need_paths=True)
    check_farm_spec(spec)
    return spec


def check_farm_spec(spec: ClipSpec) -> None:
    spec.validate(need_paths=True)
    for r in spec.regions:
        for s in r.styles:
            if s.is_hash:
                raise InvalidInputError(
                    f"region {r.name!r}: style {s.style[:15]}… is an uploaded image (a content "
                    "hash); a farm job reads its styles from storage: give the style image's path"
                )
            if not os.path.isfile(s.style):
                raise InvalidInputError(f"region {r.name!r}: style image {s.style} does not exist")


def spec_hash(spec: ClipSpec) -> str:
    """sha256 of the whole spec (its canonical JSON): what makes one job's outputs its own."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()


@dataclass
class Job:
    """A spec, its frames and output paths, and its state folder."""

    spec: ClipSpec
    frames: list[int] = field(default_factory=list)

    def __post_init__(self):
        check_farm_spec(self.spec)
        self.io = SequenceIO(self.spec)
        self.frames = list(self.io.frames)
        self.folder = analyses.state_dir(self.spec)

    def output(self, frame: int) -> str:
        return self.io.output.path(frame)

    @property
    def output_dir(self) -> Path:
        return Path(self.output(self.frames[0])).parent

    # --- resume -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Claim the output folder for this spec; True when it already was (a resumed job)."""
        path = self.folder / JOB_FILE
        mine = spec_hash(self.spec)
        try:
            if json.loads(path.read_text()).get("spec_sha256") == mine:
                return True
        except (OSError, ValueError, AttributeError):
            pass
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            Path(tmp).write_text(json.dumps({"spec_sha256": mine, "started": time.time()}) + "\n")
        return False

    def done_frames(self) -> list[int]:
        """Frames whose output is already written by this job and verified (module docstring):
        none when the clip must be analysed again; otherwise the outputs newer than ``job.json``,
        the analysis and the frame's own input and mask files, not empty, whose header reads with
        the input's resolution."""
        if analyses.stale_reason(self.spec, self.io) is not None:
            return []
        try:
            since = max(
                os.stat(self.folder / JOB_FILE).st_mtime_ns, os.stat(self.folder / analyses.ANALYSIS_FILE).st_mtime_ns
            )
        except OSError:
            return []
        want = None
        done = []
        for f in self.frames:
            try:
                st = os.stat(self.output(f))
                newest_input = max(os.stat(p).st_mtime_ns for p in self.inputs(f))
            except OSError:
                continue
            if st.st_size == 0 or st.st_mtime_ns < max(since, newest_input):
                continue
            try:
                if want is None:
                    want = read_header(self.io.input.path(self.frames[0]))[:2]
                if read_header(self.output(f))[:2] != want:
                    continue
            except OSError:  # ImageReadError: unreadable header
                continue
            done.append(f)
        return done

    def inputs(self, frame: int) -> list[str]:
        """The files frame ``frame`` is rendered from: its input and mask frames."""
        return [self.io.input.path(frame)] + [seq.path(frame) for _, seq in self.io.masks]

    # --- attempts (retries are counted by the files the attempts leave) ------------------------
    def note_attempt(self, chunk: list[int]) -> Path:
        """Mark that an attempt at ``chunk`` started here (an empty file naming host and pid)."""
        folder = self.folder / ATTEMPTS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{chunk_name(chunk)}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        path.touch(exist_ok=False)
        return path

    def attempts(self) -> dict[str, list[str]]:
        """Chunk name → the attempt marks found (host.pid.tag each)."""
        out: dict[str, list[str]] = {}
        try:
            names = os.listdir(self.folder / ATTEMPTS)
        except OSError:
            return out
        for name in names:
            chunk, _, who = name.partition(".")
            out.setdefault(chunk, []).append(who)
        return out

    def clear_attempts(self) -> None:
        folder = self.folder / ATTEMPTS
        for name in os.listdir(folder) if folder.is_dir() else []:
            (folder / name).unlink(missing_ok=True)


# --- the kinds of task --------------------------------------------------------------------
_ENGINES: dict = {}


def worker_engine(spec: ClipSpec, threads: int | None = None):
    """One engine per process and (device, model), kept between the chunks a worker renders."""
    configure_threads(threads or None)
    key = (spec.device or "auto", spec.model or "")
    if key not in _ENGINES:
        _ENGINES[key] = Engine(device=spec.device, model_path=spec.model)
    return _ENGINES[key]


#: torch threads an analysis task runs the network with, at least: oneDNN's single-threaded 1×1
#: convolution (the grid head) sums in another order than its multi-threaded one (2, 4, 16 threads
#: agree), so a part analysed on a one-CPU worker would differ in the last bit from a sequential
#: analysis on a workstation
ANALYSIS_MIN_THREADS = 2


#: torch threads of the fold: its tensors are a few KB, and waking a pool of threads costs more
#: than the work (0.2 ms vs 20-36 ms per frame with 2 threads on a busy 2-core machine);
#: :func:`lookgrid.model.propagate.apply_moves` gives the same bits with any number of threads
FOLD_THREADS = 1


def analysis_threads(threads: int | None) -> int:
    """The torch threads of an analysis task given ``threads`` CPUs (None: this process's default)."""
    return max(ANALYSIS_MIN_THREADS, threads or torch.get_num_threads())


def analyze_task(spec: ClipSpec, *, threads: int | None = None, progress=None) -> dict:
    """Analyse unless the analysis beside the output is current. Returns
    ``{"analysed": n, "reused": bool, "seconds": s, "reason": why it was (re)analysed}``."""
    check_farm_spec(spec)
    reason = analyses.stale_reason(spec)
    if reason is None:
        return {"analysed": 0, "reused": True, "seconds": 0.0, "reason": None}
    t0 = time.perf_counter()
    manifest = analyses.analyze(spec, worker_engine(spec, analysis_threads(threads)), progress=progress)
    return {"analysed": manifest["analysed"], "reused": False, "seconds": time.perf_counter() - t0, "reason": reason}


def analyze_part_task(spec: ClipSpec, frames: list[int], *, threads: int | None = None) -> dict:
    """One part of the analysis: the analysed frames among ``frames`` (a chunk of the clip), unless
    the analysis beside the output is current or cannot be split (:mod:`lookgrid.farm.parts`).
    Returns ``{"analysed": n, "seconds": s, "skipped": why nothing was done, or None}``."""
    check_farm_spec(spec)
    job = Job(spec)
    if analyses.stale_reason(spec, job.io) is None:
        return {"analysed": 0, "seconds": 0.0, "skipped": "the analysis beside the output is current"}
    engine = worker_engine(spec, analysis_threads(threads))
    in_order = engine.analysis_in_order(spec)
    if in_order is not None:
        return {"analysed": 0, "seconds": 0.0, "skipped": f"{in_order} (the Analyze step does it)"}
    chosen = set(frames)
    anchors = [f for f in analyses.analysed_frames(spec, job.frames) if f in chosen]
    if not anchors:
        return {"analysed": 0, "seconds": 0.0, "skipped": "no analysed frames in this chunk"}
    t0 = time.perf_counter()
    analysis_parts.analyze_part(spec, anchors, engine, job.io)
    return {"analysed": len(anchors), "seconds": time.perf_counter() - t0, "skipped": None}


def fold_task(spec: ClipSpec, *, threads: int | None = None, progress=None) -> dict:
    """After the part tasks: fold their parts into the analysis (:func:`lookgrid.farm.parts.fold`),
    or analyse in order when the analysis cannot be split, unless it is current. Returns
    ``{"analysed", "reused", "seconds", "reason": why it was (re)analysed, "parts": parts folded,
    "in_order": why it ran in order, or None}``."""
    check_farm_spec(spec)
    io = SequenceIO(spec)
    reason = analyses.stale_reason(spec, io)
    if reason is None:
        return {"analysed": 0, "reused": True, "seconds": 0.0, "reason": None, "parts": 0, "in_order": None}
    t0 = time.perf_counter()
    engine = worker_engine(spec, analysis_threads(threads))
    in_order = engine.analysis_in_order(spec)
    if in_order is not None:
        manifest = analyses.analyze(spec, engine, progress=progress)
    else:
        before = torch.get_num_threads()
        configure_threads(FOLD_THREADS)
        try:
            manifest = analysis_parts.fold(spec, engine, io)
        finally:  # the process goes on (a worker's next task, a command run in-process)
            configure_threads(before)
    return {
        "analysed": manifest["analysed"],
        "reused": False,
        "seconds": time.perf_counter() - t0,
        "reason": reason,
        "parts": manifest.get("parts", 0),
        "in_order": in_order,
    }


def render_task(
    spec: ClipSpec, frames: list[int], *, threads: int | None = None, progress=None, note_attempt: bool = False
) -> dict:
    """Render one chunk from the analysis (refused when it does not fit the spec). Returns
    ``{"frames", "seconds", "host", "pid"}``. ``note_attempt``: leave an attempt mark (the Ray
    driver counts retries with them; an Open Job Description farm counts its own)."""
    job = Job(spec)
    missing = sorted(set(frames) - set(job.frames))
    if missing:
        raise InvalidInputError(f"frames {missing[:5]} are not in the clip")
    path = analyses.require_analysis(spec, job.io)
    if note_attempt:
        job.note_attempt(frames)
    t0 = time.perf_counter()
    worker_engine(spec, threads).render_clip(spec, progress, frames=list(frames), analysis=path)
    return {
        "frames": list(frames),
        "seconds": time.perf_counter() - t0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
