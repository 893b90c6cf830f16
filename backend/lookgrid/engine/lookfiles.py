"""The files of a look export (:func:`lookgrid.engine.look.export_look`): a staging folder whose
files move into place together when the whole export succeeded, and a region's LUT written as CLF,
``.cube`` and ASC CDL through OpenColorIO's writers (:mod:`lookgrid.imaging.looks`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lookgrid.errors import ImageWriteError
from lookgrid.imaging import write_image
from lookgrid.imaging.looks import cdl_text, clf_text, cube_text, write_text
from lookgrid.model.look import CDLFit, fit_cdl, lut_apply_reference, lut_lattice

STAGING_PREFIX = ".lookgrid-export-"


def _clean_stale_staging(out: Path) -> None:
    """Remove staging folders inside ``out`` whose export process is gone (killed mid-export)."""
    for p in out.glob(STAGING_PREFIX + "*"):
        try:
            os.kill(int(p.name[len(STAGING_PREFIX) :].split("-")[0]), 0)
            alive = True  # a running export (this process included) owns it
        except (ValueError, ProcessLookupError):
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            shutil.rmtree(p, ignore_errors=True)


def staging(out: Path) -> tuple[Path, bool]:
    """A fresh staging folder inside ``out`` (created if needed: then the flag is True)."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        _clean_stale_staging(out)
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out)), created
    except OSError as err:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise ImageWriteError(f"cannot write to {out}: {err.strerror or err}") from None


def commit(stage: Path, out: Path) -> list[str]:
    """Move every staged file into ``out``; returns their new paths, sorted."""
    files = []
    for p in sorted(stage.iterdir()):
        os.replace(p, out / p.name)
        files.append(str(out / p.name))
    return files


def write_matte(path: Path, matte: np.ndarray, dtype: str) -> None:
    """A matte ``(H, W)`` as an RGBA EXR whose four channels are all the matte (``dtype``: half, float)."""
    write_image(path, matte[..., None].repeat(4, axis=2), channel_names=["R", "G", "B", "A"], dtype=dtype)


def lut_lattice_sample(size: int) -> torch.Tensor:
    """``(S³, 3)`` lattice colours (the CDL is fitted on these when a region has no pixels)."""
    return lut_lattice(size).reshape(-1, 3)


def write_region_files(
    stage: Path,
    name: str,
    lut: torch.Tensor,
    working: np.ndarray,
    formats: Sequence[str],
    *,
    config: str,
    shot_space: str,
    description: str,
) -> CDLFit | None:
    """Write region ``name``'s LUT ``(S,S,S,3)`` (float64, ACEScct in and out) into ``stage`` in
    ``formats``: ``R.clf`` (shot space in and out), ``R.acescct.clf`` (with "clf" or "ocio"),
    ``R.cube``, ``R.cc`` (an ASC CDL fitted by least squares at the region's ``working`` colours
    ``(P, 3)``, or at the lattice when it has none). Returns the CDL fit ("cdl") or None."""
    array = lut.numpy()
    if "clf" in formats:
        text = clf_text(
            array, config=config, shot_space=shot_space, description=f"{description}; input and output {shot_space}"
        )
        write_text(stage / f"{name}.clf", text)
    if "clf" in formats or "ocio" in formats:
        text = clf_text(array, config=config, description=f"{description}; input and output ACEScct")
        write_text(stage / f"{name}.acescct.clf", text)
    if "cube" in formats:
        text = cube_text(array, config=config, description=f"{description}\nInput: ACEScct. Output: ACEScct.")
        write_text(stage / f"{name}.cube", text)
    if "cdl" not in formats:
        return None
    x = torch.from_numpy(working).clamp(0.0, 1.0) if len(working) else lut_lattice_sample(lut.shape[0])
    cdl = fit_cdl(x, lut_apply_reference(lut, x))
    note = f"{description}; ASC CDL least-squares fit on ACEScct, rms error {cdl.rms:.4f}"
    write_text(stage / f"{name}.cc", cdl_text(cdl.slope, cdl.offset, cdl.power, cdl.sat, cdl_id=name, description=note))
    return cdl
