"""The client on the lowest Python it declares (3.10): the wheel installs, talks to a real server, and
HostJob.on_main waits for a host that answers late (``concurrent.futures.TimeoutError`` is not the
builtin ``TimeoutError`` before 3.11, so catching the builtin broke every wait longer than one poll)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "client" / "tools"))
import host_venv  # noqa: E402

SCRIPT = r'''
import json, sys, threading, time
import lookgrid_client as lc
from lookgrid_client.hostjob import HostJob

# the host answers its queued call only after several of on_main's 50 ms polls
job = HostJob(lambda job: job.on_main(lambda x: x * 2, 21))
job.start()
deadline = time.monotonic() + 10
time.sleep(0.3)
while not job.done and time.monotonic() < deadline:
    job.pump()
    time.sleep(0.01)
result = job.result()

client = lc.connect(sys.argv[1], timeout=30)
info = client.server_info()
client.close()
print(json.dumps({"python": sys.version_info[:2], "result": result, "api": info.api_version}))
'''


def lowest_python() -> str | None:
    """An interpreter of the client's lowest declared Python (from requires-python), if this machine
    has one: on PATH or in pyenv."""
    spec = tomllib.loads((REPO / "plugins/client/pyproject.toml").read_text())["project"]["requires-python"]
    version = spec.removeprefix(">=").strip()
    found = shutil.which(f"python{version}")
    candidates = ([found] if found else []) + sorted(glob.glob(
        os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    for exe in candidates:
        done = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if done.returncode == 0:
            return exe
    return None


@pytest.mark.slow
def test_client_on_its_lowest_python(live_server, tmp_path):
    exe = lowest_python()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no Python 3.10 on this machine (pyenv has it on the CI image)")
        pytest.skip("no Python 3.10 here")
    python = host_venv.build(Path(__file__).with_name("requirements-py310.txt"), REPO / ".venv-client-py310",
                             python=exe)
    wheel = host_venv.client_wheel(tmp_path / "dist")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--force-reinstall", str(wheel)], check=True)
    out = subprocess.run([str(python), "-c", SCRIPT, live_server[1]], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"python": [3, 10], "result": 42, "api": "lookgrid.v1"}
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
