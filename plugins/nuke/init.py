"""Nuke start-up file of the LookGrid plugin (GUI and ``nuke -t``): puts ``python/`` (lookgrid_nuke,
and lookgrid_client when its wheel was unpacked there) on Nuke's plugin path and adds the LookGrid
preferences (the ``lookgrid`` executable). Add this folder with NUKE_PATH or ``nuke.pluginAddPath``
in your own init.py (see README, "Nuke")."""


def _install() -> None:
    import os

    import nuke

    nuke.pluginAddPath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
    from lookgrid_nuke import prefs

    prefs.install()


_install()
