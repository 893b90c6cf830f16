"""Nuke GUI start-up file of the LookGrid plugin: a LookGrid entry in the Nodes toolbar, and the
callbacks that keep each LookGrid node's status line true (stale when knobs or inputs change)."""


def _install() -> None:
    import nuke

    import lookgrid_nuke.render as render

    nuke.menu("Nodes").addCommand("LookGrid/LookGrid", "import lookgrid_nuke; lookgrid_nuke.create_node()")
    nuke.addKnobChanged(render.knob_changed, nodeClass="Group")
    nuke.addUpdateUI(render.update_ui, nodeClass="Group")
    nuke.addOnScriptLoad(render.script_loaded)


_install()
