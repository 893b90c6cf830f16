"""A 3840x2160 RGBA half frame both ways with default message limits; a server in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from service_clips import two_region_spec
from lookgrid.service.server import DEFAULT_MAX_MESSAGE_BYTES
from lookgrid_client import FrameIn, LookGridClient


def test_4k_rgba_half_frame_streams_both_ways(client, styles, server):
    h, w = 2160, 3840
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    rgba = np.empty((h, w, 4), np.float16)
    rgba[..., 0] = 0.05 + 0.6 * x
    rgba[..., 1] = 0.1 + 0.4 * y
    rgba[..., 2] = 0.3 * (1 - x * y)
    rgba[..., 3] = x
    mask = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1).astype(np.float32)
    assert rgba.nbytes > 60e6 > DEFAULT_MAX_MESSAGE_BYTES * 4  # 66 MB: far beyond one message
    clip = client.open_clip(two_region_spec(*styles))
    out = next(client.render_frames(clip.clip_id, [FrameIn(1, rgba, list("RGBA"), masks={"fg": mask})]))
    assert out.pixels.shape == (h, w, 4) and out.pixels.dtype == np.float16
    np.testing.assert_array_equal(out.pixels[..., 3], rgba[..., 3])
    assert np.isfinite(out.pixels.astype(np.float32)).all()
    assert np.abs(out.pixels[..., :3].astype(np.float32) - rgba[..., :3].astype(np.float32)).mean() > 1e-3
    assert server.servicer.stream_bytes == 0


def test_lookgrid_serve_in_a_subprocess(tmp_path):
    ready = tmp_path / "port"
    env = dict(os.environ, LOOKGRID_TOKEN="tok")
    proc = subprocess.Popen([sys.executable, "-m", "lookgrid.cli", "serve", "--address", "127.0.0.1:0",
                             "--ready-file", str(ready), "--device", "cpu", "--log-level", "WARNING"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while not ready.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert ready.exists(), proc.stdout.read() if proc.poll() is not None else "server did not start"
        port = int(ready.read_text())
        with LookGridClient(f"127.0.0.1:{port}", token="tok") as c:
            info = c.server_info()
            assert info.api_version == "lookgrid.v1" and info.device == "cpu"
            key = c.upload_style(np.full((16, 16, 3), 0.4, np.float32))
            clip = c.open_clip({"regions": [{"name": "background", "styles": [{"style": key}]}]})
            rgb = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
            out = c.render_frame(clip.clip_id, 1, rgb)
            assert out.shape == (32, 48, 3) and np.isfinite(out).all()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
