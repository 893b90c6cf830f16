"""tools/gpu_check.sh, the first lent GPU's script, runs its CPU path in a fresh environment shaped
like the GPU image (no Ray, no OpenImageIO/OpenColorIO/fileseq until the carried wheels go in), so
the device's minutes go to measuring, not debugging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "client" / "tools"))
import host_venv  # noqa: E402


@pytest.mark.slow
def test_gpu_check_cpu_path_in_an_image_like_venv(tmp_path):
    python = str(host_venv.build(Path(__file__).with_name("requirements-image.txt"), REPO / ".venv-gpu-image"))
    bare = subprocess.run([python, "-c", "import ray"], capture_output=True)
    assert bare.returncode != 0, "the image-like venv must not have Ray"
    version = subprocess.run([python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    wheels = tmp_path / "wheels"
    subprocess.run(["bash", str(REPO / "tools" / "gpu_wheels.sh"), version, str(wheels)], check=True,
                   capture_output=True)
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PYTHON=python)
    env.pop("PYTHONPATH", None)
    done = subprocess.run(["bash", str(REPO / "tools" / "gpu_check.sh"), "--device", "cpu", "--quick",
                           "--wheels", str(wheels)], env=env, capture_output=True, text=True, timeout=900)
    summary = (out / "summary.txt").read_text()
    assert done.returncode == 0, summary + "\n".join((out / n).read_text()[-2000:] for n in
                                                     ("install.txt", "environment.txt", "cuda-tests.txt",
                                                      "bench-render.txt", "bench-analyze.txt", "bench-farm.txt")
                                                     if (out / n).exists())
    assert summary.count("exit 0,") >= 6 and "== exit 0" in summary
    assert "skipped" in (out / "cuda-tests.txt").read_text()        # the CUDA tests skip on a CPU
    assert "lookgrid bench analyze: device=cpu" in (out / "bench-analyze.txt").read_text()
    assert "512" in (out / "bench-render.txt").read_text()
    farm = (out / "bench-farm.txt").read_text()  # the render budgets measured without Ray
    assert "Overlap, 1920x1080" in farm and "budgeted / plain" in farm
