"""LookGrid for DaVinci Resolve: a Workspace > Scripts > Utility script over :mod:`lookgrid_client`.

:mod:`lookgrid_resolve.shot` reads the shot under the playhead, :mod:`lookgrid_resolve.job` renders it
by path and places the result on the track above, :mod:`lookgrid_resolve.grade` applies the look as a
colour version of the clip itself (LUT or CDL per node, mattes), :mod:`lookgrid_resolve.dialog` is the dialog.
Install: see README, "DaVinci Resolve".
"""

from lookgrid_resolve.grade import apply_grade
from lookgrid_resolve.job import Form, FormError, RegionForm, render
from lookgrid_resolve.shot import ShotError

__all__ = ["apply_grade", "Form", "FormError", "RegionForm", "ShotError", "render", "main"]


def main(namespace: dict) -> None:
    """Entry of the Utility script: Resolve puts ``resolve``, ``fusion`` and ``bmd`` in its namespace;
    run from outside Resolve, the scripting module gives them."""
    from lookgrid_resolve.dialog import show

    resolve, bmd = namespace.get("resolve"), namespace.get("bmd")
    if resolve is None or bmd is None:
        import DaVinciResolveScript   # the scripting module is fusionscript, the same object as ``bmd``

        bmd = bmd or DaVinciResolveScript
        resolve = resolve or DaVinciResolveScript.scriptapp("Resolve")
    if resolve is None:
        print("LookGrid: DaVinci Resolve is not running (or external scripting is off in its preferences)")
        return
    show(resolve, namespace.get("fusion") or resolve.Fusion(), bmd)
