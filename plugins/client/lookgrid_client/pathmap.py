"""Path mapping between a workstation and a render server: :class:`PathMap`.

A host on a Mac or Windows workstation and a Linux render server often see the same storage under
different paths (``/Volumes/shots`` on the Mac, ``S:\\shots`` on Windows, ``/mnt/shots`` on the
server). A PathMap is a table of (host prefix, server prefix) pairs, applied both ways: paths the
host names are sent to the server in the server's form (:meth:`to_server`), paths the server names
are used on the host in the host's form (:meth:`to_host`). The longest matching prefix wins; a
prefix matches whole path components only (``/mnt/shots`` does not match ``/mnt/shots2``);
Windows-style prefixes match case-insensitively and with either slash, and the rest of the path
takes the target's separator. A path no entry matches is left as it is.

The table is written one mapping per line (or separated by ``;``) as ``host prefix = server
prefix``, e.g. ``/Volumes/shots = /mnt/shots``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lookgrid_client.errors import InvalidRequestError

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")


def _is_windows(path: str) -> bool:
    return bool(_DRIVE.match(path)) or ("\\" in path and "/" not in path)


def _split(path: str) -> tuple[list[str], str]:
    """(components, separator) of ``path``; Windows paths compare case-insensitively."""
    sep = "\\" if _is_windows(path) else "/"
    parts = re.split(r"[\\/]+", path) if sep == "\\" else path.split("/")
    return [p for i, p in enumerate(parts) if p or i == 0], sep


@dataclass(frozen=True)
class PathMap:
    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "PathMap":
        """``host = server`` per line or ``;``-separated; InvalidRequestError names a bad entry."""
        pairs = []
        for entry in re.split(r"[;\n]", text or ""):
            entry = entry.strip()
            if not entry:
                continue
            host, sep, server = entry.partition("=")
            if not sep or not host.strip() or not server.strip():
                raise InvalidRequestError(f"path mapping {entry!r}: write it as 'host prefix = server prefix'")
            pairs.append((host.strip().rstrip("/\\") or "/", server.strip().rstrip("/\\") or "/"))
        return cls(tuple(pairs))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    @staticmethod
    def _apply(path: str, pairs) -> str:
        if not path:
            return path
        parts, _ = _split(path)
        best = None
        for src, dst in pairs:
            sparts, _ = _split(src)
            if src == "/":
                sparts = [""]
            if len(sparts) > len(parts):
                continue
            fold = _is_windows(src)
            head = parts[: len(sparts)]
            same = [a.lower() for a in head] == [b.lower() for b in sparts] if fold else head == sparts
            if same and (best is None or len(sparts) > best[0]):
                best = (len(sparts), dst)
        if best is None:
            return path
        n, dst = best
        rest = parts[n:]
        dsep = "\\" if _is_windows(dst) else "/"
        return dst if not rest else dst.rstrip("/\\") + dsep + dsep.join(rest)

    def to_server(self, path: str) -> str:
        """The server's form of a path the host names."""
        return self._apply(path, self.pairs)

    def to_host(self, path: str) -> str:
        """The host's form of a path the server names."""
        return self._apply(path, [(b, a) for a, b in self.pairs])


__all__ = ["PathMap"]
