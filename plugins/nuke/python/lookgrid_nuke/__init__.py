"""LookGrid for Nuke: a node that transfers reference looks onto rotoscoped regions of a plate.

A thin adapter over :mod:`lookgrid_client` (the server does the work): :mod:`lookgrid_nuke.node`
builds the node and reads its knobs and inputs, :mod:`lookgrid_nuke.render` exchanges frames with
the server off Nuke's main thread. Install: see README, "Nuke".
"""

from lookgrid_nuke.node import create_node
from lookgrid_nuke.render import preview_frame, render_range

__all__ = ["create_node", "preview_frame", "render_range"]
