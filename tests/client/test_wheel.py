"""The lookgrid-client wheel installs and works in a bare Python with numpy 1.26 and no torch
(as in Blender), against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "client" / "tools"))
import host_venv  # noqa: E402

SCRIPT = r'''
import json, sys
import numpy as np
import lookgrid_client as lc
assert "torch" not in sys.modules and "lookgrid" not in sys.modules
try:
    import torch  # noqa
    raise SystemExit("torch is importable in the bare venv")
except ImportError:
    pass
client = lc.connect(sys.argv[1], timeout=30)
frames = [1, 2, 3]
y, x = np.mgrid[0:24, 0:32].astype(np.float32)
def read(f):
    rgb = np.stack([x / 32, y / 24, np.full_like(x, 0.2 + 0.1 * f)], -1).astype(np.float16)
    return lc.FrameIn(f, rgb, ["R", "G", "B"], masks={"fg": (x > 12 + f).astype(np.float32)})
outs = []
style = np.clip(np.stack([x / 32, y / 24, x * 0 + 0.5], -1), 0, 1).astype(np.float32)
key = client.upload_style(style)
spec = {"regions": [{"name": "fg", "mask": "inline", "styles": [{"style": key}],
                     "strength": lc.track_from_samples({1: 0.5, 2: 0.75, 3: 1.0})},
                    {"name": "background", "styles": [{"style": key}]}]}
res = client.render_sequence(spec, frames, read, outs.append)
client.close()
print(json.dumps({"numpy": np.__version__, "frames": res.frames, "dtype": str(outs[0].pixels.dtype),
                  "shape": list(outs[0].pixels.shape), "file": lc.__file__}))
'''


@pytest.mark.slow
def test_wheel_in_a_bare_venv_with_numpy_1_26(live_server, tmp_path):
    python = host_venv.build(Path(__file__).with_name("requirements-bare.txt"), REPO / ".venv-client-bare")
    wheel = host_venv.client_wheel(tmp_path / "dist")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--force-reinstall", str(wheel)], check=True)
    out = subprocess.run([str(python), "-c", SCRIPT, live_server[1]], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["numpy"] == "1.26.4" and got["frames"] == [1, 2, 3]
    assert got["dtype"] == "float16" and got["shape"] == [24, 32, 3]
    assert ".venv-client-bare" in got["file"]
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
