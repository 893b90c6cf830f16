"""The analysis beside a job's output, and the hash that says whether it still fits the job.

A farm job keeps its state in ``<output dir>/.lookgrid/`` (the file names are the ones farm jobs
have always written, so a job analysed before keeps its analysis):

* ``track.pt`` — the analysis (:meth:`lookgrid.engine.Engine.analyze_clip`, :mod:`lookgrid.engine.analysis`);
* ``spec.json`` — the spec it was analysed from (:meth:`ClipSpec.save`);
* ``track.json`` — the manifest: the **analysis hash** and its parts, the analysis file's own sha256;
* ``job.json`` — which job (the hash of the whole spec) the frames in the output folder belong to
  (:mod:`lookgrid.farm.job`).

The analysis hash covers everything the grids depend on and nothing else: the spec's analysis
fields (:func:`lookgrid.engine.analysis.analysis_key`: input pattern, frames, colour settings, method,
stride, model, masks, styles — not weights, strength or output), the analysed frames, and the
*content* (sha256) of every file analysis reads: the input and mask frames at the analysed frames,
the style images, the model checkpoint and a local OpenColorIO config. Rendering checks it before
it uses the analysis; a file whose size and modification time are unchanged keeps its recorded sha256
(as ``git`` does), so the check reads only files that were touched. A mismatch raises
:class:`lookgrid.errors.ClipStateError` naming what changed — a stale analysis is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lookgrid.engine.analysis import analysis_key
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.parts import short_list
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import ClipStateError, InvalidInputError
from lookgrid.fsutil import atomic_write
from lookgrid.imaging import OCIO_VERSION, pinned_config
from lookgrid.model.load import resolve_model_path
from lookgrid.timeline import subsample_frames

FOLDER = ".lookgrid"
ANALYSIS_FILE, SPEC_FILE, MANIFEST_FILE = "track.pt", "spec.json", "track.json"
MANIFEST_FORMAT = "lookgrid-farm-track"
_CHUNK = 1 << 20


def state_dir(spec: ClipSpec) -> Path:
    """``<output dir>/.lookgrid`` of a spec (absolute)."""
    if not spec.output:
        raise InvalidInputError("clip spec: 'output' is empty (an output pattern is required)")
    return Path(os.path.abspath(spec.output)).parent / FOLDER


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _canonical(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def analysed_frames(spec: ClipSpec, frames) -> list[int]:
    """The frames whose pixels the analysis reads (none for ``reinhard``)."""
    return [] if spec.method == "reinhard" else subsample_frames(frames, max(int(spec.stride), 1))


def analysed_files(spec: ClipSpec, io, anchors=None) -> list[str]:
    """Every file the analysis of ``spec`` reads: input and mask frames at the analysed frames (or
    at ``anchors`` only: what one analysis part reads), style images, the model checkpoint, a local
    OpenColorIO config. ``io``: its ``SequenceIO``."""
    anchors = analysed_frames(spec, io.frames) if anchors is None else list(anchors)
    files = [io.input.path(f) for f in anchors]
    for _, seq in io.masks:
        files += [seq.path(f) for f in anchors]
    files += [s.style for r in spec.regions for s in r.styles]  # paths (lookgrid.farm.job checks)
    model = resolve_model_path(spec.model)  # a path or a model name; the default weights when unset
    if model is not None and model.is_file():
        files.append(str(model))
    config = pinned_config(spec.config)  # $OCIO's file too when the spec names none
    if not config.startswith("ocio://"):
        files.append(config)
    return sorted({os.path.abspath(f) for f in files})


@dataclass
class Fingerprint:
    """What an analysis was made from: the spec's analysis fields and frames, and each file's
    ``[size, mtime_ns, sha256]``; :attr:`key` hashes the parts that matter (not the stat data)."""

    analysis: dict
    frames: list[int]
    files: dict[str, list]

    @property
    def key(self) -> str:
        return hashlib.sha256(
            _canonical(
                {"analysis": self.analysis, "frames": self.frames, "files": {p: v[2] for p, v in self.files.items()}}
            )
        ).hexdigest()

    def to_dict(self) -> dict:
        return {"analysis": self.analysis, "frames": self.frames, "files": self.files}

    @classmethod
    def from_dict(cls, data: dict) -> "Fingerprint":
        return cls(data["analysis"], data["frames"], data["files"])

    def subset(self, paths) -> "Fingerprint":
        """This fingerprint over ``paths`` only (those it has): what a part that read them should have."""
        return Fingerprint(self.analysis, self.frames, {p: self.files[p] for p in paths if p in self.files})

    def changes(self, old: "Fingerprint") -> list[str]:
        """What differs from ``old``, in words (empty when the keys agree)."""
        fields = [
            repr(name)
            for name in sorted(set(self.analysis) | set(old.analysis))
            if self.analysis.get(name) != old.analysis.get(name)
        ]
        out = [f"the spec's {' and '.join(fields)}"] if fields else []
        if self.frames != old.frames:
            out.append("the clip's frames")
        mine = {p: v[2] for p, v in self.files.items()}
        theirs = {p: v[2] for p, v in old.files.items()}
        changed = sorted(p for p in set(mine) & set(theirs) if mine[p] != theirs[p])
        if changed:
            out.append("the content of " + short_list(changed, 3))
        added, gone = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
        if (added or gone) and not out:
            out.append("the files read (" + short_list(added or gone, 3) + ")")
        return out


def fingerprint(spec: ClipSpec, io=None, known: dict | None = None, anchors=None) -> Fingerprint:
    """Hash what the analysis of ``spec`` depends on (``anchors``: of the part that analyses those
    frames). ``known``: a previous fingerprint's ``files``; a file whose size and mtime are
    unchanged keeps its recorded sha256."""
    io = io or SequenceIO(spec)
    files = {}
    for path in analysed_files(spec, io, anchors):
        try:
            st = os.stat(path)
        except OSError as err:
            raise InvalidInputError(f"cannot read {path}: {err.strerror or err}") from None
        old = (known or {}).get(path)
        if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
            files[path] = list(old)
        else:
            files[path] = [st.st_size, st.st_mtime_ns, file_sha256(path)]
    # the config as this machine resolves it (a versioned built-in or a path) and the OpenColorIO
    # build: a worker that would convert colours differently refuses the track
    analysis = dict(analysis_key(spec), config=pinned_config(spec.config), opencolorio=OCIO_VERSION)
    return Fingerprint(analysis, [int(f) for f in io.frames], files)


@dataclass
class StoredAnalysis:
    """The analysis in a job's state folder, as its manifest describes it."""

    folder: Path
    manifest: dict

    @property
    def path(self) -> Path:
        return self.folder / ANALYSIS_FILE

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint.from_dict(self.manifest["fingerprint"])


def read_state(spec: ClipSpec) -> StoredAnalysis | None:
    """The manifest in the spec's state folder, or None when there is none (or it is unreadable)."""
    folder = state_dir(spec)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    return StoredAnalysis(folder, manifest)


def stale_reason(spec: ClipSpec, io=None) -> str | None:
    """Why the analysis beside ``spec``'s output cannot be used for it (None: it can)."""
    state = read_state(spec)
    if state is None:
        return f"there is no analysis in {state_dir(spec)} yet"
    if not state.path.is_file():
        return f"the analysis {state.path} is missing"
    now = fingerprint(spec, io, known=state.fingerprint.files)
    if now.key != state.manifest.get("key"):
        what = now.changes(state.fingerprint) or ["the analysis inputs"]
        return f"the analysis in {state.folder} was made from other inputs: {'; '.join(what)} changed since"
    if file_sha256(state.path) != state.manifest.get("track_sha256"):
        return f"the analysis {state.path} does not match its recorded hash (damaged or replaced)"
    return None


def require_analysis(spec: ClipSpec, io=None) -> Path:
    """The analysis file to render ``spec`` with; :class:`ClipStateError` saying why when it
    is missing or out of date (a changed spec or input is refused, never silently reused)."""
    reason = stale_reason(spec, io)
    if reason is not None:
        raise ClipStateError(
            f"{reason}; analyse again (`lookgrid farm render` does it; in an "
            "Open Job Description job, re-run its AnalyzeParts and Analyze steps)"
        )
    return state_dir(spec) / ANALYSIS_FILE


def analyze(spec: ClipSpec, engine, *, progress=None, cancel=None) -> dict:
    """Analyse ``spec`` into its state folder: analysis, spec, manifest (in that order, each written
    atomically, so an interrupted analysis leaves the old manifest — which no longer matches — or
    none). Returns the manifest."""
    io = SequenceIO(spec)
    before = fingerprint(spec, io)
    folder = state_dir(spec)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_FILE).unlink(missing_ok=True)  # the old analysis is about to be replaced
    t0 = time.perf_counter()
    n = engine.analyze_clip(spec, folder / ANALYSIS_FILE, progress, cancel=cancel)
    seconds = time.perf_counter() - t0
    after = fingerprint(spec, io, known=before.files)
    if after.key != before.key:
        raise ClipStateError(
            "the analysis inputs changed while they were analysed: " + "; ".join(after.changes(before))
        )
    return write_manifest(spec, before, n, seconds)


def write_manifest(spec: ClipSpec, made_from: Fingerprint, analysed: int, seconds: float, **extra) -> dict:
    """After the analysis file is written: the spec it was made from, then the manifest (each
    atomically) recording ``made_from``'s key and the analysis file's sha256. Returns the manifest."""
    folder = state_dir(spec)
    replace(spec, config=pinned_config(spec.config)).save(folder / SPEC_FILE)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "key": made_from.key,
        "track_sha256": file_sha256(folder / ANALYSIS_FILE),
        "analysed": analysed,
        "seconds": round(seconds, 3),
        "fingerprint": made_from.to_dict(),
        **extra,
    }
    with atomic_write(folder / MANIFEST_FILE) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
