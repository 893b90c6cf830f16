"""Issue 14, item 7: a folder swapped for a symbolic link in the middle of RenderByPath does not
redirect any file outside the server's root; plus path tricks refused up front."""

from __future__ import annotations

import os

import grpc
import numpy as np
import pytest

from hostile_kit import style_image
from lookgrid.engine import ClipSpec
from lookgrid.imaging import write_image


def _clip_in(root, n=16, size=96):
    (root / "frames").mkdir()
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for f in range(n):
        write_image(root / "frames" / f"f.{f:04d}.exr", np.stack([x, y, 0.3 + 0.02 * f + 0 * x], -1))
    return str(root / "frames" / "f.####.exr")


def test_symlink_swapped_in_mid_render_writes_nothing_outside(server, client, tmp_path):
    root = server.root
    outside = tmp_path / "outside"
    outside.mkdir()
    key = client.upload_style(style_image(3, (0.4, 0.2, 0.1)))
    (root / "out").mkdir()
    spec = {"input": _clip_in(root), "output": str(root / "out" / "o.####.exr"),
            "regions": [{"name": "background", "styles": [{"style": key}]}]}
    seen = []

    def on_progress(p):
        if not seen:
            os.rename(root / "out", root / "out.moved")
            os.symlink(outside, root / "out")
        seen.append(p.frame)

    client.render_by_path(spec=spec, progress=on_progress)
    assert len(seen) == 16
    assert os.listdir(outside) == []
    assert sorted(os.listdir(root / "out.moved")) == [f"o.{f:04d}.exr" for f in range(16)]


@pytest.mark.parametrize("output", ["../escape/o.####.exr", "/etc/lookgrid-o.####.exr", "link/o.####.exr"])
def test_outputs_outside_the_root_are_refused(server, client, tmp_path, output):
    root = server.root
    (tmp_path / "escape").mkdir(exist_ok=True)
    os.symlink(tmp_path / "escape", root / "link")
    key = client.upload_style(style_image(3, (0.4, 0.2, 0.1)))
    spec = {"input": _clip_in(root, n=2, size=16),
            "output": output if output.startswith("/") else str(root / output),
            "regions": [{"name": "background", "styles": [{"style": key}]}]}
    with pytest.raises(Exception) as err:
        client.render_by_path(spec=spec)
    assert getattr(err.value, "code", None) == grpc.StatusCode.PERMISSION_DENIED, err.value
    assert os.listdir(tmp_path / "escape") == []


def test_render_clip_follows_the_folder_it_opened_not_a_swapped_link(engine, tmp_path):
    """Deterministic form of the attack: the swap happens inside the job, after frame 0 is done."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "out").mkdir()
    spec = ClipSpec.from_dict({"input": _clip_in(root, n=6, size=16), "output": str(root / "out" / "o.####.exr"),
                               "method": "reinhard",
                               "regions": [{"name": "background", "styles": [{"style": str(tmp_path / "ref.png")}]}]})
    write_image(tmp_path / "ref.png", style_image(3, (0.4, 0.2, 0.1)), dtype="uint8")

    def progress(done, total, frame, path, seconds):
        if done == 1:
            os.rename(root / "out", root / "out.moved")
            os.symlink(outside, root / "out")

    engine.render_clip(spec, progress)
    assert os.listdir(outside) == []
    assert sorted(os.listdir(root / "out.moved")) == [f"o.{f:04d}.exr" for f in range(6)]
