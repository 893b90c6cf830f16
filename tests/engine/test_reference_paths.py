"""The engine's fast read/write path (``SequenceIO(reference=False)``) and fused render masks agree with
their plain references: same working pixels, same files, same NaN/Inf counts, same masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.tensors import full_masks, full_masks_cpu
from lookgrid.engine.io import SequenceIO
from lookgrid.engine.analysis import load_analysis
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
    fast, ref = SequenceIO(spec, reference=False), SequenceIO(spec, reference=True)
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


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_full_masks_cpu_equals_the_reference(m):
    rng = np.random.default_rng(m)
    for background in range(m + 1):
        planes = [rng.uniform(-0.5, 1.5, (33, 47)).astype(np.float32) for _ in range(m)]
        planes[0][0, :5] = [np.nan, np.inf, -np.inf, 1.0, 0.0]
        planes[-1][1, :3] = [np.nan, 2.0, -3.0]
        planes[-1] = planes[-1][:, ::-1].copy()[:, ::-1]  # another layout: reversed and back
        planes.append(np.asfortranarray(planes.pop()))   # a column-major plane
        ref = full_masks(torch.nan_to_num(torch.from_numpy(np.stack(planes))[None], nan=0.0), background)
        fast = full_masks_cpu(planes, background)
        assert fast.shape == (1, m + 1, 33, 47) and fast.dtype == torch.float32
        assert torch.equal(fast, ref), (m, background)


def test_render_from_an_analysis_makes_no_network_resolution_copies(engine, tmp_path):
    """Frames whose grids came from an analysis are not downscaled for an analysis that will not
    run (~0.2 s per 4K frame); the pixels are those of a clip that analyses as it renders."""
    spec = _clip(tmp_path, ["R", "G", "B"])
    analysis = tmp_path / "t.analysis"
    engine.analyze_clip(spec, analysis)
    io = SequenceIO(spec)
    from_analysis = engine.open_clip(spec, frames=io.frames, loader=io.load)
    from_analysis.import_analysis(load_analysis(analysis))
    analysing = engine.open_clip(spec, frames=io.frames, loader=io.load)
    try:
        for f in io.frames:
            a = from_analysis.render(f, *io.load(f))
            b = analysing.render(f, *io.load(f))
            np.testing.assert_array_equal(a, b)
        assert len(from_analysis._lowres.frames) == 0 and from_analysis.stats["analysed"] == 0
        assert len(analysing._lowres.frames) == len(io.frames)
    finally:
        engine.close_clip(from_analysis.id)
        engine.close_clip(analysing.id)


@pytest.mark.parametrize("dtype", ["half", "float"])
def test_half_plates_take_the_table_and_equal_opencolorio(tmp_path, dtype):
    """Half plates: read as float16 and converted through the 65,536-entry table, OpenColorIO's
    values bit for bit; float plates: float32 and the matrix/log kernel. Either way the fast read
    equals the reference read."""
    spec = _clip(tmp_path, ["R", "G", "B", "A"], nan=True, dtype=dtype)
    fast, ref = SequenceIO(spec, reference=False), SequenceIO(spec, reference=True)
    a, b = fast.read(1), ref.read(1)
    assert a.image.pixels.dtype == (np.float16 if dtype == "half" else np.float32)
    np.testing.assert_array_equal(a.working, b.working)
    assert fast.report == ref.report and fast.report.nan > 0
    pipeline = fast._to
    assert pipeline.per_channel  # ACEScg → ACEScct: no matrix
    ocio = pipeline.to_working_reference(read_image(spec.input.replace("####", "0001")).rgb())
    if dtype == "half":
        assert np.array_equal(a.working.view(np.uint32), ocio.view(np.uint32))
