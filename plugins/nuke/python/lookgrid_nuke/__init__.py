"""LookGrid for Nuke: a node that transfers reference looks onto rotoscoped regions of a plate.

A thin adapter over :mod:`lookgrid_client` (the server does the work): :mod:`lookgrid_nuke.node`
builds the node and reads its knobs and inputs, :mod:`lookgrid_nuke.render` exchanges frames with
the server off Nuke's main thread. Install: see README, "Nuke".
"""

from lookgrid_nuke.node import create_node
from lookgrid_nuke.render import preview_frame, render_on_farm, render_range

__all__ = ["create_node", "preview_frame", "render_node", "render_on_farm", "render_range"]


def render_node(name: str, first: int | None = None, last: int | None = None) -> dict:
    """Render the LookGrid node ``name`` without UI (``nuke -t``; see ``lookgrid_batch.py``): in this
    thread, from start to end, the node's Read then showing the result. Returns the spec as sent;
    raises with one line on any error."""
    import nuke

    from lookgrid_nuke.node import NodeSetupError
    from lookgrid_nuke.render import _start

    group = nuke.toNode(name)
    if group is None or "node_id" not in group.knobs():
        raise NodeSetupError(f"LookGrid: the script has no LookGrid node called {name!r}")
    return _start(group, first, last, preview=False, batch=True).result()
