"""``lookgrid demo`` end to end (small), and the bench's synthetic frame."""

from __future__ import annotations

import numpy as np

from lookgrid.cli import main


def test_demo_clip_is_built_from_bundled_photos():
    from lookgrid.commands.demo import build_clip, camera

    frames, mattes = build_clip(5, 96, 64)
    assert frames.shape == (5, 64, 96, 3) and mattes.shape == (5, 64, 96)
    assert 0.05 < mattes.mean() < 0.9 and mattes.min() == 0.0 and mattes.max() > 0.99
    assert np.abs(frames[1] - frames[0]).mean() > 1e-3         # the camera moves
    m = camera(5, 96, 64)
    assert m[0][0, 0] > m[-1][0, 0]                             # and zooms in


def test_demo_matte_is_the_astronaut_herself():
    """The committed matte is what tools/demo_matte.py's recipe makes, and it follows her outline:
    inside on face, hair, suit and helmet, outside on flag, wall and shuttle, and its edge sits on
    the photo's own edges (no blob around her)."""
    import subprocess
    import sys
    from pathlib import Path

    import cv2
    from skimage import data

    from lookgrid.commands.demo import astronaut_matte

    repo = Path(__file__).resolve().parents[2]
    check = subprocess.run([sys.executable, str(repo / "tools" / "demo_matte.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    m = astronaut_matte()
    for x, y in [(225, 120), (200, 40), (200, 330), (390, 430), (60, 420)]:   # face, hair, suit, helmet, arm
        assert m[y, x] > 0.99, (x, y)
    for x, y in [(40, 60), (40, 180), (330, 60), (410, 150), (450, 300), (300, 180)]:  # flag, wall, shuttle, table
        assert m[y, x] < 0.01, (x, y)
    # the matte's edge lies on the photo's edges: image gradient along the 0.5 contour is several
    # times the photo's typical gradient (a blurred blob's edge would sit on wall and flag instead)
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    grad = cv2.dilate(grad, np.ones((3, 3), np.uint8))
    edge = (np.abs(m - 0.5) < 0.25) & (cv2.Sobel(m, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(m, cv2.CV_32F, 0, 1) ** 2 > 0.01)
    assert edge.sum() > 500
    assert np.median(grad[edge]) > 3 * np.median(grad), (np.median(grad[edge]), np.median(grad))


def test_demo_through_an_in_process_server(tmp_path, monkeypatch, net):
    import lookgrid.engine

    class SmallEngine(lookgrid.engine.Engine):  # the session's randomised model instead of the weights
        def __init__(self, *a, **k):
            super().__init__(net, device="cpu")

    monkeypatch.setattr(lookgrid.engine, "Engine", SmallEngine)
    rc = main(["demo", "--output", str(tmp_path), "--frames", "3", "--size", "64x48"])
    assert rc == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["contact_sheet.png", "demo.0001.png", "demo.0002.png", "demo.0003.png", "demo_spec.json"]
    from lookgrid.imaging import read_image

    assert read_image(tmp_path / "demo.0002.png").pixels.shape == (48, 64, 3)


def test_bench_synthetic_frame():
    from lookgrid.commands.bench.serve import CHANNELS, synthetic_frame

    f = synthetic_frame(64, 32, 1)
    assert f.shape == (32, 64, len(CHANNELS)) and f.dtype == np.float16
    assert set(np.unique(f[..., 4])) == {0.0, 1.0}
