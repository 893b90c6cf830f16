"""An Open Job Description job bundle for a LookGrid job (what ``deadline bundle submit`` takes).

The bundle is a folder:

* ``template.yaml`` — a ``jobtemplate-2023-09`` job with the ``TASK_CHUNKING`` extension: step
  **AnalyzeParts** over a ``CHUNK[INT]`` task parameter ``Frame`` (``CONTIGUOUS`` chunks of
  ``ChunkSize`` frames, handed to the task as ``"a-b"``): ``lookgrid farm task analyze-part --frames
  a-b`` (the per-frame and per-pair analysis of the chunk's analysed frames); step **Analyze**, which
  depends on it (one task: ``lookgrid farm task fold``, the short in-order step); then step
  **Render**, which depends on that, over the same chunks: ``lookgrid farm task render --frames a-b``;
* ``clip.json`` — the job's spec (absolute paths: the farm's workers must see the same storage);
* ``parameter_values.yaml`` — the job parameters' values in Deadline Cloud's bundle format.

Job parameters: ``Spec`` (PATH, default ``clip.json`` — relative, as bundles require, so the
bundle can be moved), ``Frames`` (the clip's frames as a range expression), ``ChunkSize`` (INT),
``LookGrid`` (the command to run on a worker, default ``lookgrid`` on its PATH).

The template is built as plain data and written with a YAML library; no text templates.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from lookgrid.engine.spec import ClipSpec
from lookgrid.errors import InvalidInputError
from lookgrid.farm.chunks import openjd_range
from lookgrid.fsutil import atomic_write
from lookgrid.imaging import pinned_config

SPEC_NAME = "clip.json"
TEMPLATE_NAME = "template.yaml"
VALUES_NAME = "parameter_values.yaml"


def _action(*args: str) -> dict:
    return {"actions": {"onRun": {"command": "{{Param.LookGrid}}", "args": list(args)}}}


def _chunks() -> dict:
    """The task parameter ``Frame``: ``CONTIGUOUS`` chunks of ``ChunkSize`` of the job's frames."""
    return {
        "taskParameterDefinitions": [
            {
                "name": "Frame",
                "type": "CHUNK[INT]",
                "range": "{{Param.Frames}}",
                "chunks": {"defaultTaskCount": "{{Param.ChunkSize}}", "rangeConstraint": "CONTIGUOUS"},
            }
        ]
    }


def job_template(name: str, frames: str, chunk: int) -> dict:
    """The job template as data. ``frames``: range expression (``1001-1100``); ``chunk`` ≥ 1."""
    if chunk < 1:
        raise InvalidInputError(f"--chunk must be >= 1, got {chunk}")
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "extensions": ["TASK_CHUNKING"],
        "name": name,
        "description": "LookGrid: analyse the clip in parts, fold them, then render frame chunks from the analysis.",
        "parameterDefinitions": [
            {
                "name": "Spec",
                "type": "PATH",
                "objectType": "FILE",
                "dataFlow": "IN",
                "default": SPEC_NAME,
                "description": "the job's ClipSpec JSON",
            },
            {
                "name": "Frames",
                "type": "STRING",
                "default": frames,
                "description": "frames to render (range expression, e.g. 1001-1100)",
            },
            {
                "name": "ChunkSize",
                "type": "INT",
                "default": int(chunk),
                "minValue": 1,
                "description": "frames per analysis part and render task",
            },
            {
                "name": "LookGrid",
                "type": "STRING",
                "default": "lookgrid",
                "description": "the lookgrid command on a worker",
            },
        ],
        "steps": [
            {
                "name": "AnalyzeParts",
                "parameterSpace": _chunks(),
                "script": _action(
                    "farm", "task", "analyze-part", "--spec", "{{Param.Spec}}", "--frames", "{{Task.Param.Frame}}"
                ),
            },
            {
                "name": "Analyze",
                "dependencies": [{"dependsOn": "AnalyzeParts"}],
                "script": _action("farm", "task", "fold", "--spec", "{{Param.Spec}}"),
            },
            {
                "name": "Render",
                "dependencies": [{"dependsOn": "Analyze"}],
                "parameterSpace": _chunks(),
                "script": _action(
                    "farm", "task", "render", "--spec", "{{Param.Spec}}", "--frames", "{{Task.Param.Frame}}"
                ),
            },
        ],
    }


def write_bundle(
    spec: ClipSpec, frames: list[int], out: str | Path, *, chunk: int = 10, name: str | None = None
) -> Path:
    """Write the bundle folder ``out`` (module docstring); returns the template's path. Each file
    is written atomically; a bundle already there is replaced file by file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames_expr = openjd_range(frames)
    title = name or f"LookGrid {Path(spec.output).name} {frames_expr}"
    template = job_template(title, frames_expr, chunk)
    values = {"parameterValues": [{"name": "Frames", "value": frames_expr}, {"name": "ChunkSize", "value": int(chunk)}]}
    replace(spec, config=pinned_config(spec.config)).save(out / SPEC_NAME)  # the config, named
    for file, data in ((TEMPLATE_NAME, template), (VALUES_NAME, values)):
        with atomic_write(out / file) as tmp:
            Path(tmp).write_text(yaml.safe_dump(data, sort_keys=False))
    return out / TEMPLATE_NAME
