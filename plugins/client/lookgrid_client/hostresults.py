"""Where a host node keeps its results, which earlier results a new one replaces, and whether the
result it shows is stale: decisions shared by the host plugins (Nuke today).

* **Location.** Results live beside the host's saved file, keyed by the node's identity (a
  stable id stored in the node, not its name, which two scripts may share):
  ``<folder of the script>/lookgrid/<script name>/<node id>/``, or ``<results folder>/<script
  name>/<node id>/`` when the artist chose a folder. The host reads them back through a path
  relative to the script (:attr:`ResultLocation.host_prefix`), so a moved or reopened script, or a
  farm machine with the same mounts, finds them.
* **Kinds.** A result is a ``render`` (the node's frame range) or a ``preview`` (one frame). A
  new render replaces earlier renders and previews; a preview replaces earlier previews only: a
  preview never deletes a render.
* **Staleness.** :func:`fingerprint` of everything a result depends on (the host's knob values
  sampled at every frame, reference files, its inputs' hashes), stored with the result and
  compared later, as Nuke's Write "check file matches input" does.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from lookgrid_client.errors import InvalidRequestError

KINDS = ("render", "preview")
_REPLACES = {"render": ("render", "preview"), "preview": ("preview",)}
RESULTS_DIR = "lookgrid"


def fingerprint(state) -> str:
    """A short stable hash of a JSON-able description of what a result depends on."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class ResultLocation:
    folder: Path  # absolute folder of this node's results
    host_prefix: str  # the same folder as the host should store it (relative to the script when possible)

    def name(self, kind: str, result_id: str, padding: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown result kind {kind!r}")
        return f"{kind}.{result_id}.{padding}.exr"

    def replaced_by(self, kind: str, keep: str) -> list[Path]:
        """The files a new result of ``kind`` makes obsolete (never the file name prefix ``keep``)."""
        out = []
        for old in sorted(self.folder.glob("*.exr")):
            old_kind = old.name.split(".", 1)[0]
            if old_kind in _REPLACES[kind] and not old.name.startswith(keep):
                out.append(old)
        return out


def result_location(
    node_id: str, script_path: str, results_folder: str = "", *, script_dir_expression: str = ""
) -> ResultLocation:
    """Where node ``node_id`` of the script saved at ``script_path`` keeps its results.

    ``results_folder`` empty: beside the script (``script_path`` must be a saved file), and
    ``host_prefix`` starts with ``script_dir_expression`` (Nuke: ``[file dirname [value
    root.name]]``) so the host's path follows the script. Otherwise that folder, as an absolute
    path. InvalidRequestError when there is nowhere to keep them."""
    if not node_id:
        raise InvalidRequestError("the node has no id: recreate it from the LookGrid menu")
    script = Path(script_path) if script_path and os.path.isabs(script_path) else None
    stem = script.stem if script is not None else "untitled"
    if results_folder:
        folder = Path(results_folder).absolute() / stem / node_id
        return ResultLocation(folder, str(folder))
    if script is None:
        raise InvalidRequestError("save the script first: results are kept beside it (or choose a results folder)")
    folder = script.parent / RESULTS_DIR / stem / node_id
    prefix = f"{script_dir_expression}/{RESULTS_DIR}/{stem}/{node_id}" if script_dir_expression else str(folder)
    return ResultLocation(folder, prefix)


__all__ = ["KINDS", "RESULTS_DIR", "ResultLocation", "fingerprint", "result_location"]
