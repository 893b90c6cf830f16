"""Hosts' colour-space names -> the OpenColorIO names the backend expects.

The backend reads colour spaces by their names in its OpenColorIO config (by default the built-in
``ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6``). Hosts name the same spaces differently; this table says, per host,
which name means which. A host space with no exact counterpart there (a display/view look such as
Blender's "AgX Base sRGB", a log encoding only Blender defines such as "Filmic Log") is refused with
a message naming the ones that work, rather than guessed. ``Non-Color`` (data) is refused for
pictures, since a look transfer needs to know what the numbers mean; masks are data and are read
as such by the host adapter, without this table.
"""

from __future__ import annotations

from lookgrid_client.errors import InvalidRequestError

BLENDER = {
    # scene-linear
    "Linear Rec.709": "Linear Rec.709 (sRGB)",
    "scene_linear": "Linear Rec.709 (sRGB)",  # Blender's scene-linear role (Linear Rec.709 by default)
    "ACEScg": "ACEScg",
    "ACES2065-1": "ACES2065-1",
    "Linear Rec.2020": "Linear Rec.2020",
    "Linear DCI-P3 D65": "Linear P3-D65",
    # encoded
    "ACEScc": "ACEScc",
    "ACEScct": "ACEScct",
    "sRGB": "sRGB - Texture",
    "Display P3": "sRGB Encoded P3-D65",
    "Rec.1886": "Gamma 2.4 Encoded Rec.709",
}
"""Blender 4.2-5.0 colour-space names (its bundled config) -> studio-config names."""

RESOLVE = {
    # Resolve Color Management names as its Clip Attributes / Project Settings show them (not
    # confirmed against a running Resolve: see README, "What only a real Resolve can confirm")
    "ACEScg": "ACEScg",
    "ACEScct": "ACEScct",
    "ACEScc": "ACEScc",
    "ACES2065-1": "ACES2065-1",
    "ACES (AP0) Linear": "ACES2065-1",
    "Linear": "Linear Rec.709 (sRGB)",
    "Rec.709 Linear": "Linear Rec.709 (sRGB)",
    "Rec.2020 Linear": "Linear Rec.2020",
    "P3-D65 Linear": "Linear P3-D65",
    "sRGB": "sRGB Encoded Rec.709 (sRGB)",
    "Rec.709 Gamma 2.4": "Gamma 2.4 Encoded Rec.709",
    "Rec.709 Gamma 2.2": "Gamma 2.2 Encoded Rec.709",
    "Rec.709-A": "Camera Rec.709",
    "DaVinci WG/Intermediate": "DaVinci Intermediate WideGamut",
    "DaVinci Wide Gamut Intermediate": "DaVinci Intermediate WideGamut",
    "Blackmagic Design Wide Gamut Gen 5/Film Gen 5": "BMDFilm WideGamut Gen5",
    "ARRI Wide Gamut 3/LogC3": "ARRI LogC3 (EI800)",
    "ARRI Wide Gamut 4/LogC4": "ARRI LogC4",
    "S-Gamut3.Cine/S-Log3": "S-Log3 S-Gamut3.Cine",
    "S-Gamut3/S-Log3": "S-Log3 S-Gamut3",
    "Panasonic V-Gamut/V-Log": "V-Log V-Gamut",
    "REDWideGamutRGB/Log3G10": "Log3G10 REDWideGamutRGB",
    "Canon Cinema Gamut/Canon Log 3": "CanonLog3 CinemaGamut D55",
}
"""DaVinci Resolve colour-space names -> studio-config names (a name the server's config has itself
is taken as it is: :func:`resolve_colorspace`)."""

HOSTS = {"blender": BLENDER, "resolve": RESOLVE}

MANAGED = ("davinciYRGBColorManagedv2", "davinciYRGBColorManaged", "acescct", "acescc")
"""``colorScienceMode`` values under which Resolve manages colour (RCM, ACES)."""


def resolve_shot_colorspace(
    chosen: str, *, clip: str, project: dict, rendered: bool, server_spaces=()
) -> tuple[str, str]:
    """(the server's name, Resolve's name to tag the result with) of a Resolve shot's colour space.

    ``chosen``: what the artist picked ("" = from Resolve), a name among ``server_spaces``.
    Otherwise: a shot rendered by Resolve itself (``rendered``: an intermediate of a movie) is in
    the project's output colour space; a file sequence in the clip's "Input Color Space", else the
    project's input colour space. Without colour management (``colorScienceMode`` YRGB) Resolve
    knows no colour space: the artist must pick one. Raises InvalidRequestError naming what to do."""
    if chosen:
        if server_spaces and chosen not in server_spaces:
            raise InvalidRequestError(f"colour space {chosen!r} is not one of the server's")
        back = {v: k for k, v in RESOLVE.items()}
        return chosen, back.get(chosen, chosen if chosen in RESOLVE else "")
    mode = project.get("colorScienceMode", "")
    if mode not in MANAGED:
        raise InvalidRequestError(
            f"the project does not manage colour (colour science {mode or 'DaVinci YRGB'!r}): "
            "pick the shot's colour space in the dialog"
        )
    candidates = [project.get("colorSpaceOutput", "")] if rendered else [clip, project.get("colorSpaceInput", "")]
    for name in candidates:
        ocio = resolve_colorspace(name, server_spaces)
        if ocio:
            return ocio, (name.split(" - ", 1)[1].strip() if " - " in name and name not in RESOLVE else name)
    shown = " / ".join(repr(c) for c in candidates if c) or "none"
    raise InvalidRequestError(
        f"Resolve's colour space {shown} has no counterpart on the server: pick the shot's colour space in the dialog"
    )


def resolve_colorspace(name: str, server_spaces=()) -> str | None:
    """The backend's name for a DaVinci Resolve colour-space name, or None when there is none.

    Resolve may prefix the project's default (``"Project - Rec.709 Gamma 2.4"``-like forms are
    read as the name after the dash)."""
    name = (name or "").strip()
    if not name:
        return None
    candidates = [name]
    if " - " in name:
        candidates.append(name.split(" - ", 1)[1].strip())
    for c in candidates:
        if c in RESOLVE:
            return RESOLVE[c]
        if c in server_spaces:
            return c
    return None


def ocio_colorspace(host: str, name: str) -> str:
    """The backend's name for ``host``'s colour space ``name``; InvalidRequestError when there is none."""
    table = HOSTS[host]
    if name in table:
        return table[name]
    why = "is data, not a picture" if name == "Non-Color" else "has no exact counterpart in the backend's config"
    raise InvalidRequestError(f"{host} colour space {name!r} {why}; set the strip/image to one of {', '.join(table)}")


__all__ = ["BLENDER", "HOSTS", "RESOLVE", "ocio_colorspace", "resolve_colorspace", "resolve_shot_colorspace"]
