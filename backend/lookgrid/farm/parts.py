"""The analysis in parts on the farm: chunks of analysed frames on workers, one fold in order.

Each **part** task analyses a run of consecutive analysed frames (the per-frame network grids and
the per-pair cell moves, :mod:`lookgrid.engine.parts`; it reads the analysed frame before its first
too, for the pair across its start) and writes, into ``<output dir>/.lookgrid/parts/``:

* ``<a-b>.pt`` — the part (``a``, ``b``: its first and last analysed frame), then
* ``<a-b>.json`` — its manifest: the part's own :class:`~lookgrid.farm.analysis.Fingerprint` (the
  spec's analysis fields, the clip's frames and the files *this part* read) and the sha256 of
  ``<a-b>.pt``,

each atomically, so a part without its manifest is no part. The **fold** (:func:`fold`) takes the
job's fingerprint, keeps the parts that fit it (each part's fingerprint must equal the job's over
the files that part read, and its file its recorded sha256), refuses in one line when an analysed
frame has no such part (naming a stale part that holds it, if any), folds, and writes ``track.pt``,
``spec.json`` and ``track.json`` exactly as the sequential analysis does
(:func:`lookgrid.farm.analysis.write_manifest`); the parts folder is then removed.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch

from lookgrid.engine.io import SequenceIO
from lookgrid.engine.parts import short_list
from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import ClipStateError
from lookgrid.farm.analysis import (
    ANALYSIS_FILE,
    MANIFEST_FILE,
    Fingerprint,
    analysed_frames,
    file_sha256,
    fingerprint,
    state_dir,
    write_manifest,
)
from lookgrid.farm.chunks import chunk_name
from lookgrid.fsutil import atomic_write

PARTS = "parts"
PART_MANIFEST_FORMAT = "lookgrid-farm-part"


def parts_dir(spec: ClipSpec) -> Path:
    return state_dir(spec) / PARTS


def part_reads(spec: ClipSpec, frames, anchors) -> list[int]:
    """The analysed frames a part over ``anchors`` reads: them and the analysed frame before them."""
    every = analysed_frames(spec, frames)
    start = every.index(anchors[0])
    return every[max(start - 1, 0) : start + len(anchors)]


def analyze_part(spec: ClipSpec, anchors: list[int], engine, io=None) -> dict:
    """Analyse the part over consecutive analysed frames ``anchors`` and write it with its manifest
    (module doc). Returns the manifest."""
    io = io or SequenceIO(spec)
    reads = part_reads(spec, io.frames, anchors)
    before = fingerprint(spec, io, anchors=reads)
    t0 = time.perf_counter()
    data = engine.analyze_part(spec, anchors)
    seconds = time.perf_counter() - t0
    after = fingerprint(spec, io, known=before.files, anchors=reads)
    if after.key != before.key:
        raise ClipStateError(
            "the analysis inputs changed while they were analysed: " + "; ".join(after.changes(before))
        )
    folder = parts_dir(spec)
    folder.mkdir(parents=True, exist_ok=True)
    name = chunk_name(anchors)
    with atomic_write(folder / f"{name}.pt") as tmp:
        torch.save(data, tmp)
    manifest = {
        "format": PART_MANIFEST_FORMAT,
        "version": 1,
        "anchors": list(anchors),
        "key": before.key,
        "part_sha256": file_sha256(folder / f"{name}.pt"),
        "seconds": round(seconds, 3),
        "fingerprint": before.to_dict(),
    }
    with atomic_write(folder / f"{name}.json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _read_manifests(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("format") == PART_MANIFEST_FORMAT:
            out[path.stem] = manifest
    return out


def check_parts(spec: ClipSpec, job: Fingerprint, anchors: list[int], manifests: dict[str, dict]) -> list[Path]:
    """The part files that fit the job's fingerprint ``job`` and together hold every analysed frame
    of ``anchors``, given the parts' ``manifests`` by name (:func:`_read_manifests`);
    :class:`ClipStateError` in one line otherwise (module doc)."""
    folder = parts_dir(spec)
    fitting: list[Path] = []
    covered: set[int] = set()
    stale: dict[str, str] = {}  # part name -> why it does not fit
    for name, manifest in manifests.items():
        mine = Fingerprint.from_dict(manifest["fingerprint"])
        expected = job.subset(mine.files)
        path = folder / f"{name}.pt"
        if expected.key != manifest.get("key") or mine.key != manifest.get("key"):
            stale[name] = (
                "was made from other inputs: " + "; ".join(expected.changes(mine) or ["its inputs"]) + " changed since"
            )
        elif not path.is_file() or file_sha256(path) != manifest.get("part_sha256"):
            stale[name] = "does not match its recorded hash (damaged or replaced)"
        else:
            fitting.append(path)
            covered |= set(manifest.get("anchors") or [])
    missing = [f for f in anchors if f not in covered]
    if not missing:
        return fitting
    for name, why in stale.items():
        if set(manifests[name].get("anchors") or []) & set(missing):
            raise ClipStateError(f"analysis part {name} in {folder} {why}; run its AnalyzeParts task again")
    raise ClipStateError(
        f"no analysis part in {folder} holds analysed frames {short_list(missing)}; run their AnalyzeParts tasks "
        "(`lookgrid farm task analyze-part`) first"
    )


def fold(spec: ClipSpec, engine, io=None) -> dict:
    """Check the parts against the job (:func:`check_parts`), fold them into the job's analysis
    and write it with its spec and manifest, as the sequential analysis does; remove the parts.
    Returns the manifest (``parts``: how many were folded)."""
    io = io or SequenceIO(spec)
    manifests = _read_manifests(parts_dir(spec))
    known: dict = {}
    for manifest in manifests.values():  # the parts hashed what they read
        known.update(manifest["fingerprint"]["files"])
    job = fingerprint(spec, io, known=known)
    paths = check_parts(spec, job, analysed_frames(spec, io.frames), manifests)
    folder = state_dir(spec)
    (folder / MANIFEST_FILE).unlink(missing_ok=True)  # the old analysis is about to be replaced
    t0 = time.perf_counter()
    parts = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    n = engine.fold_analysis(spec, parts, folder / ANALYSIS_FILE)
    manifest = write_manifest(spec, job, n, time.perf_counter() - t0, parts=len(parts))
    shutil.rmtree(parts_dir(spec), ignore_errors=True)
    return manifest
