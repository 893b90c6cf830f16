"""The LookGrid settings of this Nuke installation (Edit ▸ Preferences ▸ LookGrid), never of a script.

The ``lookgrid`` executable starts a server when none answers and writes farm jobs (``lookgrid farm
export``): a setting that starts a program, so it lives in the user's preferences, not in a knob a
script from elsewhere could carry.
"""

from __future__ import annotations

EXECUTABLE = "lookgrid_executable"


def install() -> None:
    """Add the LookGrid knobs to Nuke's preferences node (init.py; kept if already there)."""
    import nuke

    prefs = nuke.toNode("preferences")
    if prefs is None or EXECUTABLE in prefs.knobs():
        return
    prefs.addKnob(nuke.Tab_Knob("lookgrid_prefs", "LookGrid"))
    prefs.addKnob(nuke.File_Knob(EXECUTABLE, "LookGrid executable"))


def executable() -> str:
    """The configured ``lookgrid`` executable, or ""."""
    import nuke

    prefs = nuke.toNode("preferences")
    knobs = prefs.knobs() if prefs is not None else {}
    return knobs[EXECUTABLE].value().strip() if EXECUTABLE in knobs else ""
