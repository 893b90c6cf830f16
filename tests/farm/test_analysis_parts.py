"""The analysis in parts on the farm (lookgrid.farm.parts): on a real Ray, part tasks in any chunking
and order plus the fold give the track of one sequential analysis bit for bit (torch.equal) and the
pixels of one sequential render; a missing, stale or damaged part is refused in one line; where
the analysis cannot be split (temporal mode "tc") the fold analyses in order and says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from farm_clips import write_clip
from lookgrid.cli import main as lookgrid
from lookgrid.engine import Engine
from lookgrid.engine.parts import TC_IN_ORDER
from lookgrid.farm import job as jobs
from lookgrid.farm.analysis import ANALYSIS_FILE, FOLDER, analysed_frames
from lookgrid.farm.chunks import chunk_frames
from lookgrid.farm.job import load_spec
from lookgrid.farm.parts import PARTS
from lookgrid.farm.ray_runner import run_job

FRAMES = list(range(1001, 1013))


def track(folder: Path) -> dict:
    return torch.load(folder / FOLDER / ANALYSIS_FILE, weights_only=True)


def assert_same_track(got: dict, want: dict) -> None:
    assert got["keys"] == want["keys"] and len(got["keys"]) > 0
    assert torch.equal(got["grids"], want["grids"])


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, clip):
    """``sequential(stride) -> folder`` of one sequential ``farm task analyze`` and one sequential
    ``lookgrid render`` of the session's clip at that stride (made once per stride)."""
    from lookgrid.engine.spec import ClipSpec

    made: dict[int, Path] = {}

    def make(stride: int) -> Path:
        if stride not in made:
            folder = tmp_path_factory.mktemp(f"seq{stride}")
            spec = ClipSpec.load(clip)
            spec.output, spec.stride = str(folder / "o.####.exr"), stride
            spec.save(folder / "clip.json")
            assert lookgrid(["farm", "task", "analyze", "--spec", str(folder / "clip.json")]) == 0
            assert lookgrid(["render", "--spec", str(folder / "clip.json"), "--no-progress"]) == 0
            made[stride] = folder
        return made[stride]

    return make


@pytest.mark.parametrize("stride,chunk,order", [
    (1, 1, "shuffled"), (1, 2, "reverse"), (2, 3, "forward"), (2, None, "reverse"), (3, 2, "shuffled")])
def test_parts_on_ray_give_the_sequential_track_and_pixels(ray_session, job_spec, sequential,
                                                           stride, chunk, order):
    from test_farm import assert_same_as_reference

    spec = load_spec(job_spec(f"parts-s{stride}-c{chunk}-{order}", with_analysis=False, stride=stride))
    out = Path(spec.output).parent
    summary = run_job(spec, chunk=chunk, workers=2, order=order)
    anchors = analysed_frames(spec, FRAMES)
    chunks = [c for c in chunk_frames(FRAMES, chunk) if set(c) & set(anchors)]
    assert (summary.analysed, summary.analysis_parts, summary.rendered) == (len(anchors), len(chunks), 12)
    assert f"in {len(chunks)} parts + fold" in summary.line()
    assert_same_track(track(out), track(sequential(stride)))
    assert_same_as_reference(out, sequential(stride))
    assert not (out / FOLDER / PARTS).exists()  # folded parts are removed
    again = run_job(spec, chunk=chunk, workers=2, order=order)  # current: nothing analysed again
    assert (again.analysed, again.analysis_parts, again.skipped) == (0, 0, 12)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lookgrid farm: error:"), err
    return err[0]


def test_missing_stale_and_damaged_parts_are_refused(tmp_path, capsys):
    from lookgrid.imaging import read_image, write_image

    path = write_clip(tmp_path, frames=range(1001, 1007), stride=2)  # analysed 1001, 1003, 1005, 1006
    parts = tmp_path / "out" / FOLDER / PARTS

    def task(*args) -> int:
        return lookgrid(["farm", "task", *args, "--spec", str(path)])

    assert task("analyze-part", "--frames", "1001-1002") == 0
    assert task("analyze-part", "--frames", "1005-1006") == 0
    assert "1005-1006: 2 analysed frames" in capsys.readouterr().out
    assert sorted(p.name for p in parts.iterdir()) == ["1001-1001.json", "1001-1001.pt",
                                                       "1005-1006.json", "1005-1006.pt"]
    assert task("fold") == 2
    line = _one_line(capsys)
    assert "no analysis part in" in line and "holds analysed frames 1003;" in line, line

    assert task("analyze-part", "--frames", "1003-1004") == 0
    mask = tmp_path / "mask" / "m.1003.png"  # read by parts 1003-1003 and 1005-1006 (the pair 1003→1005)
    write_image(mask, 1.0 - read_image(mask).pixels, dtype="uint8")
    capsys.readouterr()
    assert task("fold") == 2
    line = _one_line(capsys)
    assert re.search(r"analysis part 100[35]-100[36] in .* was made from other inputs: the content of "
                     r".*m\.1003\.png changed since; run its AnalyzeParts task again", line), line

    assert task("analyze-part", "--frames", "1003-1006") == 0  # the new input's part: 1003-1006
    (parts / "1001-1001.pt").write_bytes((parts / "1001-1001.pt").read_bytes() + b"\0")
    capsys.readouterr()
    assert task("fold") == 2
    assert "analysis part 1001-1001 in" in (line := _one_line(capsys)) and "recorded hash" in line, line

    assert task("analyze-part", "--frames", "1001-1002") == 0
    capsys.readouterr()
    assert task("fold") == 0
    assert "fold: 4 analysed frames from 2 parts" in capsys.readouterr().out  # 1001-1001, 1003-1006
    assert not parts.exists()
    other = load_spec(path)
    other.output = str(tmp_path / "seq" / "o.####.exr")
    other.save(tmp_path / "seq.json")
    assert lookgrid(["farm", "task", "analyze", "--spec", str(tmp_path / "seq.json")]) == 0
    assert_same_track(track(tmp_path / "out"), track(tmp_path / "seq"))
    # the folded analysis is the job's analysis: render tasks take it, part tasks see it is current
    assert task("render", "--frames", "1001-1006") == 0
    assert task("analyze-part", "--frames", "1001-1006") == 0
    assert "nothing to do: the analysis beside the output is current" in capsys.readouterr().out


def test_tc_analyses_in_order_and_says_why(tmp_path, capsys, monkeypatch):
    path = write_clip(tmp_path, frames=range(1001, 1005), stride=1)
    spec = load_spec(path)
    tc = Engine(device=spec.device, model_path=spec.model, temporal="tc")
    monkeypatch.setitem(jobs._ENGINES, (spec.device or "auto", spec.model or ""), tc)
    assert lookgrid(["farm", "task", "analyze-part", "--spec", str(path), "--frames", "1001-1004"]) == 0
    assert f"nothing to do: {TC_IN_ORDER} (the Analyze step does it)" in capsys.readouterr().out
    assert not (tmp_path / "out" / FOLDER / PARTS).exists()
    assert lookgrid(["farm", "task", "fold", "--spec", str(path)]) == 0
    assert "fold: analysed 4 frames in order" in (out := capsys.readouterr().out) and TC_IN_ORDER in out, out
    assert track(tmp_path / "out")["keys"]


def test_reinhard_has_no_parts_and_its_fold_writes_the_empty_analysis(tmp_path, capsys):
    path = write_clip(tmp_path, frames=range(1001, 1004), stride=1)
    spec = load_spec(path)
    spec.method = "reinhard"
    spec.save(path)
    assert lookgrid(["farm", "task", "analyze-part", "--spec", str(path), "--frames", "1001-1003"]) == 0
    assert "nothing to do: no analysed frames in this chunk" in capsys.readouterr().out
    assert lookgrid(["farm", "task", "fold", "--spec", str(path)]) == 0
    assert "from 0 parts" in capsys.readouterr().out
    assert track(tmp_path / "out")["keys"] == []
    assert lookgrid(["farm", "task", "render", "--spec", str(path), "--frames", "1001-1003"]) == 0
    assert (tmp_path / "out" / "o.1003.exr").is_file()
