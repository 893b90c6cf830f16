"""The LookGrid settings of this Nuke installation (Edit ▸ Preferences ▸ LookGrid), never of a script.

The ``lookgrid`` executable starts a server when none answers and writes farm jobs (``lookgrid farm
export``): a setting that starts a program, so it lives in the user's preferences, not in a knob a
script from elsewhere could carry.
"""

from __future__ import annotations

EXECUTABLE = "lookgrid_executable"
TOKEN = "lookgrid_token"          # empty: $LOOKGRID_TOKEN (a server LookGrid starts shares the client's)
TLS_CERT = "lookgrid_tls_cert"    # the server's PEM certificate: connect with TLS


def install() -> None:
    """Add the LookGrid knobs to Nuke's preferences node (init.py; kept if already there)."""
    import nuke

    prefs = nuke.toNode("preferences")
    if prefs is None or EXECUTABLE in prefs.knobs():
        return
    prefs.addKnob(nuke.Tab_Knob("lookgrid_prefs", "LookGrid"))
    prefs.addKnob(nuke.File_Knob(EXECUTABLE, "LookGrid executable"))
    prefs.addKnob(nuke.String_Knob(TOKEN, "LookGrid token"))
    prefs.addKnob(nuke.File_Knob(TLS_CERT, "LookGrid TLS certificate"))


def _value(name: str) -> str:
    import nuke

    prefs = nuke.toNode("preferences")
    knobs = prefs.knobs() if prefs is not None else {}
    return knobs[name].value().strip() if name in knobs else ""


def executable() -> str:
    """The configured ``lookgrid`` executable, or ""."""
    return _value(EXECUTABLE)


def token() -> str:
    """The token for the server (issue 24: each host can set it), or "" for $LOOKGRID_TOKEN."""
    return _value(TOKEN)


def tls_cert() -> str:
    """The server's PEM certificate file (connect with TLS), or ""."""
    return _value(TLS_CERT)
