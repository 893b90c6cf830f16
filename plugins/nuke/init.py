"""Nuke start-up file of the LookGrid plugin: puts ``python/`` (lookgrid_nuke, and lookgrid_client
when its wheel was unpacked there) on Nuke's plugin path. Add this folder with NUKE_PATH or
``nuke.pluginAddPath`` in your own init.py (see README, "Nuke")."""


def _install() -> None:
    import os

    import nuke

    nuke.pluginAddPath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))


_install()
