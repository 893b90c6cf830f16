"""A host's "Render on farm": the job as the backend's own farm bundle, written beside the scene.

The bundle is what ``lookgrid farm export`` writes (the ClipSpec JSON ``clip.json``, an Open Job
Description ``template.yaml`` and ``parameter_values.yaml``; ``lookgrid/farm/openjd.py``), so a
host does not re-implement the template: it writes the storage-form spec of its job and runs the
``lookgrid`` executable the user configured in the host's preferences, with a deadline. Why the
executable and not an RPC: the bundle's tasks run that same executable on the farm's workers, the
files it names must be on storage the workers share (not the server's), and a server on another
machine could not write beside the scene.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from lookgrid_client.errors import InvalidRequestError, LookGridError, one_line
from lookgrid_client.output import write_atomic

EXPORT_TIMEOUT = 120.0


def export_bundle(
    executable: str,
    spec: dict,
    folder: str | os.PathLike,
    *,
    chunk: int = 10,
    name: str = "",
    timeout: float = EXPORT_TIMEOUT,
) -> Path:
    """Write ``spec`` (storage form: input, output and masks are paths) to ``folder/spec.json`` and
    the bundle to ``folder/job/`` with ``<executable> farm export``; returns the bundle folder.
    LookGridError (one line) when the executable is not configured, is missing, fails or takes
    longer than ``timeout`` seconds."""
    if not executable:
        raise InvalidRequestError(
            "set the LookGrid executable in the preferences (the farm job is written by `lookgrid farm export`)"
        )
    if not os.path.isfile(executable) or not os.access(executable, os.X_OK):
        raise InvalidRequestError(f"the LookGrid executable {executable} does not exist or cannot be run")
    for key in ("input", "output"):
        if not spec.get(key):
            raise InvalidRequestError(f"a farm job needs files: the spec has no {key!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    write_atomic(str(spec_path), json.dumps(spec, indent=2) + "\n")
    bundle = folder / "job"
    cmd = [executable, "farm", "export", "--spec", str(spec_path), "--out", str(bundle), "--chunk", str(int(chunk))]
    if name:
        cmd += ["--name", name]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LookGridError(f"`lookgrid farm export` took longer than {timeout:.0f} s") from None
    except OSError as err:
        raise LookGridError(f"cannot run {executable}: {err.strerror}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        raise LookGridError(f"`lookgrid farm export` failed: {one_line(lines[-1]) if lines else done.returncode}")
    return bundle


__all__ = ["EXPORT_TIMEOUT", "export_bundle"]
