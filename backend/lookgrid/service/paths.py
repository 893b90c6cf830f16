"""Confine paths a client names to the server's configured storage roots.

Rules (a path that breaks one raises :class:`lookgrid.errors.PathOutsideRootsError`):

* relative paths are taken relative to the first root;
* no component may be ``..`` (even one that would stay inside a root);
* the real path (all symlinks resolved) must lie inside a root's real path;
* for frame patterns (``####``, ``%04d``, ``@``) the folder must pass the rule and so must every
  existing file in it that matches the pattern (a symlinked frame pointing outside is refused).

No roots configured means no path is allowed at all: the server then only takes inline frames and
uploaded styles.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from lookgrid.errors import PathOutsideRootsError

_FRAME_TOKEN = re.compile(r"%0?\d*d|#+|@+")


def _inside(real: str, roots: list[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class PathPolicy:
    """The roots, and checks of single paths, patterns and whole ClipSpecs against them."""

    def __init__(self, roots=()) -> None:
        self.roots = [os.path.realpath(os.path.abspath(os.fspath(r))) for r in roots]

    def _absolute(self, path: str, what: str) -> str:
        if not self.roots:
            raise PathOutsideRootsError(
                f"{what} {path!r}: this server has no storage roots (start it with --root DIR); "
                "send frames inline and upload styles instead"
            )
        if "\x00" in path:
            raise PathOutsideRootsError(f"{what} {path!r}: contains a NUL byte")
        parts = Path(path).parts
        if ".." in parts:
            raise PathOutsideRootsError(f"{what} {path!r}: '..' is not allowed in paths")
        return path if os.path.isabs(path) else os.path.join(self.roots[0], path)

    def check_file(self, path: str, what: str = "path") -> str:
        """Absolute, confined form of a plain file path (need not exist)."""
        full = self._absolute(path, what)
        real = os.path.realpath(full)
        if not _inside(real, self.roots):
            raise PathOutsideRootsError(
                f"{what} {path!r} resolves to {real}, outside the server's roots ({', '.join(self.roots)})"
            )
        return full

    def check_pattern(self, pattern: str, what: str = "pattern") -> str:
        """Absolute, confined form of a frame pattern; matching files on disk are checked too."""
        full = self._absolute(pattern, what)
        folder, name = os.path.split(full)
        real_folder = os.path.realpath(folder)
        if not _inside(real_folder, self.roots):
            raise PathOutsideRootsError(
                f"{what} {pattern!r}: folder resolves to {real_folder}, outside "
                f"the server's roots ({', '.join(self.roots)})"
            )
        m = _FRAME_TOKEN.search(name)
        if m is None:
            return self.check_file(full, what)
        prefix, suffix = name[: m.start()], name[m.end() :]
        if os.path.isdir(folder):
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(prefix) and entry.name.endswith(suffix) and entry.is_symlink():
                        real = os.path.realpath(entry.path)
                        if not _inside(real, self.roots):
                            raise PathOutsideRootsError(
                                f"{what} {pattern!r}: {entry.name} is a symlink to {real}, outside the server's roots"
                            )
        return full

    def check_spec(self, spec):
        """A copy of an engine ClipSpec with every path made absolute and confined.

        Style references of the form ``sha256:<hex>``, ``ocio://`` configs and ``"inline"`` masks are
        left alone.
        """

        def pat(p, what):
            return self.check_pattern(p, what) if p else p

        regions = []
        for r in spec.regions:
            styles = [
                replace(
                    s,
                    style=s.style
                    if s.style.startswith("sha256:")
                    else self.check_file(s.style, f"region {r.name!r} style"),
                )
                for s in r.styles
            ]
            mask = r.mask if r.mask == "inline" else pat(r.mask, f"region {r.name!r} mask")
            regions.append(replace(r, mask=mask or None, styles=styles))
        config = spec.config
        if config and not config.startswith("ocio://"):
            config = self.check_file(config, "config")
        model = spec.model
        if model and (os.sep in model or model.endswith((".pt", ".pth"))):
            model = self.check_file(model, "model")
        return replace(
            spec,
            input=pat(spec.input, "input") or "",
            output=pat(spec.output, "output") or "",
            regions=regions,
            config=config,
            model=model,
        )
