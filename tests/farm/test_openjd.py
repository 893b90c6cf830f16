"""lookgrid farm export: the Open Job Description bundle passes `openjd check` and runs locally with
`openjd run` end to end (Analyze, then Render over CHUNK[INT] chunks), giving the pixels of one
sequential `lookgrid render`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lookgrid.cli import main as lookgrid
from lookgrid.farm.chunks import chunk_frames, frames_in_range, openjd_range, order_chunks
from lookgrid.farm.openjd import job_template

BIN = Path(sys.executable).parent
OPENJD = str(BIN / "openjd") if (BIN / "openjd").exists() else shutil.which("openjd")
LOOKGRID = str(BIN / "lookgrid") if (BIN / "lookgrid").exists() else shutil.which("lookgrid")


def test_the_bundle_checks_and_runs_with_openjd(job_spec, reference, analysed, tmp_path):
    import torch

    from test_farm import assert_same_as_reference

    spec = job_spec("openjd", with_analysis=False)
    bundle = tmp_path / "bundle"
    assert lookgrid(["farm", "export", "--spec", str(spec), "--out", str(bundle), "--chunk", "5"]) == 0
    assert sorted(os.listdir(bundle)) == ["clip.json", "parameter_values.yaml", "template.yaml"]
    template = yaml.safe_load((bundle / "template.yaml").read_text())
    assert template["extensions"] == ["TASK_CHUNKING"]
    assert [p["default"] for p in template["parameterDefinitions"] if p["type"] == "PATH"] == ["clip.json"]
    values = yaml.safe_load((bundle / "parameter_values.yaml").read_text())["parameterValues"]
    assert {"name": "Frames", "value": "1001-1012"} in values

    check = subprocess.run([OPENJD, "check", str(bundle / "template.yaml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    elsewhere = tmp_path / "elsewhere"  # the relative Spec default resolves against the bundle
    elsewhere.mkdir()
    run = subprocess.run([OPENJD, "run", str(bundle / "template.yaml"), "-p", f"LookGrid={LOOKGRID}",
                          *[f"-p{v['name']}={v['value']}" for v in values]],
                         capture_output=True, text=True, cwd=elsewhere, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # AnalyzeParts ran per chunk, then Analyze folded the parts (once), then Render
    parts = re.findall(r"analyze-part: frames (\d+-\d+): (\d+) analysed frames", log)
    assert sum(int(n) for _, n in parts) == 5 and len(parts) == 3, parts
    assert "fold: 5 analysed frames from 3 parts" in log
    assert log.index("fold: 5") < log.index("render: frames")
    got = torch.load(tmp_path / "openjd" / ".lookgrid" / "track.pt", weights_only=True)
    want = torch.load(analysed / "track.pt", weights_only=True)  # one sequential analysis
    assert got["keys"] == want["keys"] and torch.equal(got["grids"], want["grids"])
    # CONTIGUOUS chunks of at most ChunkSize frames that cover the clip once (openjd evens them out)
    chunks = sorted(tuple(map(int, m.split("-"))) for m in re.findall(r"render: frames (\d+-\d+)", log))
    assert len(chunks) == 3 and all(b - a + 1 <= 5 for a, b in chunks), chunks
    assert [f for a, b in chunks for f in range(a, b + 1)] == list(range(1001, 1013))
    assert "openjd_progress: 100.0" in log
    assert_same_as_reference(tmp_path / "openjd", reference)


def test_a_failing_task_fails_the_openjd_job(job_spec, tmp_path):
    """No analysis and no Analyze step: the Render task refuses, openjd run exits non-zero."""
    spec = job_spec("openjd-fail", with_analysis=False)
    bundle = tmp_path / "bundle"
    assert lookgrid(["farm", "export", "--spec", str(spec), "--out", str(bundle), "--chunk", "12"]) == 0
    run = subprocess.run([OPENJD, "run", str(bundle / "template.yaml"), "-p", f"LookGrid={LOOKGRID}",
                          "--step", "Render", "--no-run-dependencies"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "no analysis" in run.stdout + run.stderr
    # the fold without its parts refuses too, naming the analysed frames no part holds
    run = subprocess.run([OPENJD, "run", str(bundle / "template.yaml"), "-p", f"LookGrid={LOOKGRID}",
                          "--step", "Analyze", "--no-run-dependencies"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "holds analysed frames 1001, 1004, 1007, 1010, 1012;" in run.stdout + run.stderr


def test_template_is_data_and_chunks_are_contiguous_runs():
    t = job_template("j", "1001-1010", 4)
    parts, fold, render = t["steps"]
    assert (parts["name"], fold["name"], render["name"]) == ("AnalyzeParts", "Analyze", "Render")
    assert "dependencies" not in parts and fold["dependencies"] == [{"dependsOn": "AnalyzeParts"}]
    assert "parameterSpace" not in fold and fold["script"]["actions"]["onRun"]["args"][:3] == ["farm", "task", "fold"]
    assert render["dependencies"] == [{"dependsOn": "Analyze"}]
    assert parts["parameterSpace"] == render["parameterSpace"]
    frame = render["parameterSpace"]["taskParameterDefinitions"][0]
    assert frame["type"] == "CHUNK[INT]" and frame["chunks"]["rangeConstraint"] == "CONTIGUOUS"
    assert chunk_frames(range(1, 11), 4) == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert chunk_frames(range(1, 11), None) == [list(range(1, 11))]
    assert chunk_frames(range(1, 11), 4, wanted=[1, 2, 3, 5, 6, 7, 8, 9]) == [[1, 2, 3], [5, 6, 7, 8], [9]]
    assert chunk_frames([1, 3, 5, 7], 2) == [[1, 3], [5, 7]]  # neighbours in a clip with a step
    assert order_chunks([[1], [2], [3]], "reverse") == [[3], [2], [1]]
    assert sorted(order_chunks([[1], [2], [3]], "shuffled", seed=3)) == [[1], [2], [3]]
    assert openjd_range([1, 2, 3, 4]) == "1-4" and openjd_range([1, 3, 5, 7]) == "1-7:2"
    assert openjd_range([1, 2, 3, 7, 9, 10]) == "1-3,7,9-10"
    assert frames_in_range("3-5", [1, 3, 5, 7]) == [3, 5] and frames_in_range("7", [1, 7]) == [7]
