"""DaVinci Resolve Utility script: Workspace > Scripts > LookGrid (see README, "DaVinci Resolve")."""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else ""
for _p in (_here, os.path.join(_here, "lookgrid_libs")):
    if _p and os.path.isdir(_p) and _p not in sys.path:
        sys.path.insert(0, _p)

import lookgrid_resolve  # noqa: E402

lookgrid_resolve.main(globals())
