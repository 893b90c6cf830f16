"""The engine's fast read/write path (``SequenceIO(fast=True)``) agrees with its plain reference:
same working pixels, same files, same NaN/Inf counts."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.io import SequenceIO
from lookgrid.imaging import read_image, write_image

from engine_clips import STYLE_A, STYLE_B, make_frame

H, W = 40, 56


def _clip(folder, channels, *, out_ext="exr", nan=False, dtype="half"):
    """Two frames with the given channel names (colour values above 1, alpha/AOVs varying)."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    for f in (1, 2):
        img, m = make_frame(f, H, W)
        lin = (img ** 2.2) * 1.6
        extra = np.linspace(0.1, 2.0, H * W, dtype=np.float32).reshape(H, W, 1)
        planes = {"R": lin[..., 0:1], "G": lin[..., 1:2], "B": lin[..., 2:3]}
        px = np.concatenate([planes.get(c, extra * (k + 1)) for k, c in enumerate(channels)], axis=-1)
        if nan:
            px[0, 0, :] = np.nan
            px[1, 2, 0] = np.inf
            px[2, 1, -1] = -np.inf
        write_image(folder / "in" / f"f.{f:04d}.exr", px, channel_names=channels, dtype=dtype)
        write_image(folder / "in" / f"m.{f:04d}.png", m[0], dtype="uint8")
    return ClipSpec(input=str(folder / "in" / "f.####.exr"), output=str(folder / "out" / f"o.####.{out_ext}"),
                    regions=[RegionSpec("fg", str(folder / "in" / "m.####.png"), [StyleTrack(STYLE_A)]),
                             RegionSpec("background", None, [StyleTrack(STYLE_B)])])


@pytest.mark.parametrize("channels,out_ext,nan", [
    (["R", "G", "B"], "exr", False),          # the fast write: an RGB-only EXR
    (["R", "G", "B"], "exr", True),           # NaN/Inf replaced and counted alike
    (["R", "G", "B", "A"], "exr", True),      # strided colour view, alpha carried
    (["A", "B", "G", "R"], "exr", False),     # OpenEXR's sorted order: colour gathered
    (["R", "G", "B", "A", "Z"], "exr", False),
    (["R", "G", "B"], "png", False),
])
def test_fast_read_and_write_equal_the_reference(tmp_path, channels, out_ext, nan):
    spec = _clip(tmp_path, channels, out_ext=out_ext, nan=nan)
    fast, ref = SequenceIO(spec, fast=True), SequenceIO(spec, fast=False)
    for f in (1, 2):
        a, b = fast.read(f), ref.read(f)
        assert a.working.shape == b.working.shape == (H, W, 3)
        np.testing.assert_array_equal(a.working, b.working)
        assert a.masks.keys() == b.masks.keys()
        for k in a.masks:
            np.testing.assert_array_equal(a.masks[k], b.masks[k])
        # what the clip gives back: planar (3, H, W) memory seen as (H, W, 3), as render_clip does
        out = np.ascontiguousarray((a.working * 0.9 + 0.01).transpose(2, 0, 1))
        if nan:
            out[:, 3, 3] = np.nan
        pa = fast.write(f, out.transpose(1, 2, 0), a, to=str(tmp_path / f"fast.{f}.{out_ext}"))
        pb = ref.write(f, out.transpose(1, 2, 0), b, to=str(tmp_path / f"ref.{f}.{out_ext}"))
        ia, ib = read_image(pa), read_image(pb)
        assert ia.channel_names == ib.channel_names
        assert ia.spec_info.channel_formats == ib.spec_info.channel_formats
        np.testing.assert_array_equal(ia.pixels, ib.pixels)
    assert fast.report == ref.report
    assert bool(fast.report) == nan


def test_fast_read_gives_planar_memory(tmp_path):
    """The working frame's memory is (3, H, W), so the clip takes it without a transposing copy."""
    spec = _clip(tmp_path, ["R", "G", "B", "A"])
    fin = SequenceIO(spec).read(1)
    planar = fin.working.transpose(2, 0, 1)
    assert planar.flags.c_contiguous
