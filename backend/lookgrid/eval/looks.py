"""How faithfully an exported look file reproduces LookGrid's own render.

The measurement itself is :mod:`lookgrid.engine.lookfidelity` (the export fills the ``ExportLook``
reply with it, below the service); this module keeps its names for the evaluation and adds
:func:`fidelity_rows`, an export's own CLFs beside one global whole-frame LUT (what a host's
match-grade exports), which measures the gain of per-region export.
"""

from __future__ import annotations

from lookgrid.engine.lookfidelity import Fidelity, fidelity, file_result, lut_fidelity, lut_result, pooled

__all__ = ["Fidelity", "fidelity", "fidelity_rows", "lut_fidelity", "lut_result", "pooled"]


def fidelity_rows(export) -> list[tuple[str, Fidelity, Fidelity]]:
    """Per exported region ``(name, its CLF, the global LUT)`` and a last row ``("all", ...)`` over
    the pixels of every region; ``export`` is a :class:`lookgrid.engine.look.LookExport`."""
    col = export.collection
    rows, own_all, glob_all = [], [], []
    for look in col.regions:
        path = export.clf_path(look.name)
        if path not in export.files:
            continue
        shot, _, render = look.samples()
        own = (render, file_result(path, shot, col.shot_space, col.config)) if len(shot) else (render, render)
        glob = lut_fidelity(export.global_lut, shot, render, col.shot_space, col.config)
        rows.append((look.name, fidelity(*own), fidelity(*glob)))
        own_all.append(own)
        glob_all.append(glob)
    if rows:
        rows.append(("all", pooled(own_all), pooled(glob_all)))
    return rows
