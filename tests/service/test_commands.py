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
