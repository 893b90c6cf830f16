"""Nuke GUI start-up file of the LookGrid plugin: a LookGrid entry in the Nodes toolbar."""


def _install() -> None:
    import nuke

    nuke.menu("Nodes").addCommand("LookGrid/LookGrid", "import lookgrid_nuke; lookgrid_nuke.create_node()")


_install()
