"""A host's colour space, checked against the server's: the colour-space menus and mappings of the
host plugins (Nuke's node menu, Blender's strips).

The server lists its config's colour spaces (``ServerInfo.colorspaces``). A host offers those, or
maps its own name onto one of them through the host's *active* OpenColorIO config (``$OCIO`` — a
studio config — or the config bundled with the host), rather than through a fixed table alone:
:func:`map_colorspace`. The fixed tables of :mod:`lookgrid_client.colorspaces` remain for the
hosts' bundled configs (and an older server that lists nothing).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from lookgrid_client.colorspaces import HOSTS, ocio_colorspace
from lookgrid_client.errors import InvalidRequestError


def _split_flow_list(text: str) -> list[str]:
    """``[a, b c, "d: e"]`` -> ["a", "b c", "d: e"] (a YAML flow list of plain or quoted strings)."""
    items = re.findall(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,]+)\s*(?:,|$)', text.strip().strip("[]"))
    return [i.strip().strip("\"'") for i in items if i.strip()]


def config_aliases(path: str) -> dict[str, list[str]]:
    """Colour space name -> its aliases, for the OpenColorIO config file at ``path``.

    With PyOpenColorIO (Blender and Nuke ship it) the config is loaded by OpenColorIO itself;
    without it (Blender as a pip module), its colour spaces' ``name:`` and ``aliases:`` lines are
    read from the YAML. InvalidRequestError when the file cannot be read."""
    try:
        import PyOpenColorIO as ocio  # noqa: N813
    except ImportError:
        ocio = None
    if ocio is not None:
        try:
            cfg = ocio.Config.CreateFromFile(path)
        except Exception as err:  # OCIO raises its own Exception type
            raise InvalidRequestError(f"cannot load the OpenColorIO config {path}: {err}") from None
        return {cs.getName(): list(cs.getAliases()) for cs in cfg.getColorSpaces()}
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as err:
        raise InvalidRequestError(f"cannot read the OpenColorIO config {path}: {err.strerror}") from None
    out: dict[str, list[str]] = {}
    for block in re.split(r"(?m)^\s*- !<ColorSpace>\s*$", text)[1:]:
        name = re.search(r"(?m)^\s+name:\s*(.+?)\s*$", block)
        if name is None:
            continue
        aliases = re.search(r"(?m)^\s+aliases:\s*(\[.*\])\s*$", block)
        out[name.group(1).strip("\"'")] = _split_flow_list(aliases.group(1)) if aliases else []
    return out


def active_config(bundled: str, environ: Mapping[str, str] | None = None) -> str:
    """The OpenColorIO config a host uses: ``$OCIO`` when set (a studio config), else the config
    bundled with the host (``bundled``)."""
    env = os.environ if environ is None else environ
    return env.get("OCIO") or bundled


def map_colorspace(
    host: str, name: str, server_spaces: Sequence[str], *, host_config: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The server's name for the host's colour space ``name``, checked against the server's colour
    spaces (ServerInfo.colorspaces; empty: an older server, then only the fixed table is used).

    In order: the same name in the server's config; this module's table for the host's bundled
    config; the one server colour space among the name's aliases in the host's active config
    (``host_config``: :func:`config_aliases`). Several matches, or none, are refused."""
    server = list(server_spaces)
    lower = {s.lower(): s for s in server}
    if name == "Non-Color":
        raise InvalidRequestError(
            f"{host} colour space {name!r} is data, not a picture; set the strip/image "
            f"to the colour space its pixels are in"
        )
    if name.lower() in lower:
        return lower[name.lower()]
    table = HOSTS.get(host, {})
    if name in table and (not server or table[name].lower() in lower):
        return lower.get(table[name].lower(), table[name])
    aliases = (host_config or {}).get(name, [])
    found = sorted({lower[a.lower()] for a in aliases if a.lower() in lower})
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InvalidRequestError(
            f"{host} colour space {name!r} could be any of {', '.join(found)} in the "
            f"server's config; choose one of those names in the host"
        )
    if not server:
        return ocio_colorspace(host, name)
    raise InvalidRequestError(
        f"{host} colour space {name!r} has no counterpart in the server's OpenColorIO "
        f"config (neither its name nor an alias is one of the server's colour spaces)"
    )


def pick_default(working: str, server_spaces: Sequence[str], fallback: str) -> str:
    """The colour space a new node starts with: the host's working space (e.g. Nuke's OCIO
    ``workingSpaceLUT``) when the server has it, by name or without a family prefix such as
    ``"ACES - ACEScg"``; otherwise ``fallback`` (the server's working space)."""
    lower = {s.lower(): s for s in server_spaces}
    for candidate in (working, working.rpartition(" - ")[2]):
        if candidate and candidate.lower() in lower:
            return lower[candidate.lower()]
    return fallback


__all__ = ["active_config", "config_aliases", "map_colorspace", "pick_default"]
