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

HOSTS = {"blender": BLENDER}


def ocio_colorspace(host: str, name: str) -> str:
    """The backend's name for ``host``'s colour space ``name``; InvalidRequestError when there is none."""
    table = HOSTS[host]
    if name in table:
        return table[name]
    why = "is data, not a picture" if name == "Non-Color" else "has no exact counterpart in the backend's config"
    raise InvalidRequestError(f"{host} colour space {name!r} {why}; set the strip/image to one of "
                              f"{', '.join(table)}")


__all__ = ["BLENDER", "HOSTS", "ocio_colorspace"]
