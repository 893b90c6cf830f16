"""How faithfully exported look files reproduce LookGrid's own render (measured below the service).

For a region, its sampled pixels (inside its matte, weight ≥ 0.5, :mod:`lookgrid.engine.look`) are
put through an exported file **by OpenColorIO**, exactly as a host applies it, and compared with
LookGrid's render of the same pixels: the CIEDE2000 difference of what a display shows
(:func:`lookgrid.model.colormath.display_lab`: sRGB display image clipped to [0, 1]), mean and 95th
percentile. The export fills the ``ExportLook`` reply with these figures, so the servicer only
copies them; ``lookgrid look`` prints them (:mod:`lookgrid.eval.looks` re-exports this module).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from lookgrid.imaging import get_pipeline
from lookgrid.imaging.looks import apply_file, clf_text, write_text
from lookgrid.model.colormath import delta_e2000, display_lab


@dataclass(frozen=True)
class Fidelity:
    """ΔE2000 between the look file's result and LookGrid's render over ``pixels`` samples."""

    mean: float
    p95: float
    pixels: int

    def text(self) -> str:
        return f"ΔE2000 mean {self.mean:.2f}  p95 {self.p95:.2f}  ({self.pixels} px)"


def fidelity(render_working: np.ndarray, test_working: np.ndarray) -> Fidelity:
    """Compare two working-space ``(P, 3)`` arrays (LookGrid's render, the look file's result)."""
    if len(render_working) == 0:
        return Fidelity(float("nan"), float("nan"), 0)
    d = delta_e2000(display_lab(render_working), display_lab(test_working))
    return Fidelity(float(d.mean()), float(np.percentile(d, 95)), int(d.size))


def pooled(items: list[tuple[np.ndarray, np.ndarray]]) -> Fidelity:
    """:func:`fidelity` over the union of several ``(render, test)`` sample sets."""
    items = [(r, t) for r, t in items if len(r)]
    if not items:
        return Fidelity(float("nan"), float("nan"), 0)
    return fidelity(np.concatenate([r for r, _ in items]), np.concatenate([t for _, t in items]))


def file_result(path, shot: np.ndarray, shot_space: str, config) -> np.ndarray:
    """The CLF at ``path`` (shot space in and out) applied by OpenColorIO to shot pixels ``(P, 3)``,
    converted to working space."""
    out = apply_file(path, shot, config=config)
    return get_pipeline(config, shot_space).to_working(out.reshape(-1, 1, 3)).reshape(-1, 3)


def working_file_result(path, working: np.ndarray, config) -> np.ndarray:
    """A working-space (ACEScct) file at ``path`` applied by OpenColorIO to working pixels ``(P, 3)``."""
    return apply_file(path, working, config=config).reshape(-1, 3)


def lut_result(lut: np.ndarray, shot: np.ndarray, shot_space: str, config) -> np.ndarray:
    """A LUT written as a CLF (shot space in/out) and applied through OpenColorIO → working ``(P,3)``."""
    with tempfile.TemporaryDirectory(prefix="lookgrid-fidelity-") as tmp:
        path = os.path.join(tmp, "look.clf")
        write_text(path, clf_text(lut, config=config, shot_space=shot_space))
        return file_result(path, shot, shot_space, config)


def lut_fidelity(lut: np.ndarray, shot: np.ndarray, render: np.ndarray, shot_space: str, config) -> tuple:
    """``(render, LUT result)`` working-space arrays for :func:`fidelity` / :func:`pooled`."""
    if len(shot) == 0:
        return render, render
    return render, lut_result(lut, shot, shot_space, config)
