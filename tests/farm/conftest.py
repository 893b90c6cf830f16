"""Farm test fixtures: one Ray for the whole session (started once: ~5 s and ~750 MB), one tiny
clip on disk, its sequential reference render (``lookgrid render``) and one analysis
that the tests copy beside their own outputs (an analysis depends on the analysis inputs only, not on
where the frames are written)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from farm_clips import write_clip
from lookgrid.cli import main as lookgrid
from lookgrid.engine.spec import ClipSpec
from lookgrid.farm.analysis import ANALYSIS_FILE, FOLDER, MANIFEST_FILE, SPEC_FILE


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory):
    import logging
    import os

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=128 << 20, _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """The clip's spec file (12 frames 1001-1012, 64×48, stride 3, keyframed two-look mix)."""
    return write_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def reference(clip) -> Path:
    """The folder of one sequential ``lookgrid render`` of the clip."""
    out = clip.parent / "reference"
    assert lookgrid(["render", "--spec", str(clip), "--output", str(out / "o.####.exr"),
                     "--no-progress"]) == 0
    return out


@pytest.fixture(scope="session")
def analysed(clip) -> Path:
    """The state folder of ``lookgrid farm task analyze`` on the clip."""
    assert lookgrid(["farm", "task", "analyze", "--spec", str(clip)]) == 0
    return clip.parent / "out" / FOLDER


@pytest.fixture()
def job_spec(clip, analysed, tmp_path):
    """``job_spec(name, with_analysis=True, **fields) -> path of a spec`` writing to
    ``tmp_path/name/``; with the analysis copied beside those outputs."""

    def make(name: str, with_analysis: bool = True, **fields) -> Path:
        spec = ClipSpec.load(clip)
        spec.output = str(tmp_path / name / "o.####.exr")
        for key, value in fields.items():
            setattr(spec, key, value)
        if with_analysis:
            dst = tmp_path / name / FOLDER
            dst.mkdir(parents=True)
            for f in (ANALYSIS_FILE, MANIFEST_FILE, SPEC_FILE):
                shutil.copy2(analysed / f, dst / f)
        path = tmp_path / f"{name}.json"
        spec.save(path)
        return path

    return make
