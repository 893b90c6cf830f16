"""lookgrid.engine.look: exporting a clip's per-region looks as files OpenColorIO reads back."""

from __future__ import annotations

import os

import numpy as np
import PyOpenColorIO as ocio
import pytest
import torch

from lookgrid.engine import ClipSpec, Engine, RegionSpec, StyleTrack
from lookgrid.engine.look import export_look
from lookgrid.errors import ImageWriteError, InvalidInputError
from lookgrid.eval.looks import fidelity_rows
from lookgrid.imaging import get_pipeline, read_image
from lookgrid.imaging.looks import apply_file, apply_look
from lookgrid.model.look import lut_lattice
from lookgrid.timeline import Track

from engine_clips import STYLE_A, STYLE_B
from test_render_clip import write_clip

AFFINE = torch.tensor([[0.9, 0.05, 0.0, 0.02], [0.02, 1.1, 0.0, -0.01], [0.0, 0.1, 0.8, 0.05]])


def _spec(inp, mask, strength=1.0):
    return ClipSpec(input=inp, regions=[RegionSpec("fg", mask, [StyleTrack(STYLE_A)], Track.constant(strength)),
                                        RegionSpec("background", None, [StyleTrack(STYLE_B)])])


@pytest.fixture()
def clip(tmp_path):
    return write_clip(tmp_path, range(1, 4))


def _shot_pixels(tmp_path, frame=2):
    return read_image(tmp_path / "in" / f"f.{frame:04d}.exr").pixels[..., :3].reshape(-1, 3)


def test_export_writes_every_file_and_opencolorio_reads_them(engine, clip, tmp_path):
    out = tmp_path / "looks"
    res = export_look(engine, _spec(*clip), out, [1, 2, 3], size=17)
    names = sorted(os.listdir(out))
    for region in ("fg", "background"):
        for ext in (".clf", ".acescct.clf", ".cube", ".cc"):
            assert f"{region}{ext}" in names
        assert [n for n in names if n.startswith(f"{region}.matte.")] == [
            f"{region}.matte.{f:04d}.exr" for f in (1, 2, 3)]
    assert "config.ocio" in names and not [n for n in names if n.startswith(".")]
    shot = _shot_pixels(tmp_path)
    pipe = get_pipeline(None, "ACEScg")
    for region in ("fg", "background"):
        via_clf = apply_file(out / f"{region}.clf", shot)
        assert np.isfinite(via_clf).all() and np.abs(via_clf - shot).max() > 1e-3  # a real look
        # the Look by name through the exported config = the shot-space CLF
        by_name = apply_look(out / "config.ocio", f"lookgrid-{region}", "ACEScg", shot)
        np.testing.assert_allclose(by_name, via_clf, rtol=1e-5, atol=1e-6)
        work = pipe.to_working(shot[None])[0]
        cube = apply_file(out / f"{region}.cube", np.clip(work, 0, 1))
        np.testing.assert_allclose(cube, pipe.to_working(via_clf[None])[0], atol=2e-5)
        assert np.isfinite(apply_file(out / f"{region}.cc", work)).all()
        assert "ACEScct" in (out / f"{region}.cube").read_text().splitlines()[0]
    cfg = ocio.Config.CreateFromFile(str(out / "config.ocio"))
    cfg.validate()
    assert {"lookgrid-fg", "lookgrid-background"} <= {look.getName() for look in cfg.getLooks()}
    # mattes: the render's blend weights — fg follows its mask file, the two sum to one
    fg = read_image(out / "fg.matte.0002.exr").pixels
    bg = read_image(out / "background.matte.0002.exr").pixels
    mask = read_image(tmp_path / "mask" / "m.0002.png").pixels[..., 0]
    np.testing.assert_allclose(fg[..., 3], mask, atol=1e-3)
    np.testing.assert_allclose(fg[..., 3] + bg[..., 3], 1.0, atol=1e-3)
    rows = fidelity_rows(res)
    assert [r[0] for r in rows] == ["fg", "background", "all"]
    for _, own, glob in rows:
        assert own.pixels > 0 and np.isfinite([own.mean, own.p95, glob.mean, glob.p95]).all()
    assert all(r.cdl is not None and np.isfinite(r.cdl.rms) for r in res.collection.regions)


def test_strength_zero_exports_an_exact_identity(engine, clip, tmp_path):
    res = export_look(engine, _spec(*clip, strength=0.0), tmp_path / "looks", [2], size=17,
                      formats=["clf"], regions=["fg"])
    fg = res.collection.regions[0]
    assert np.array_equal(fg.lut, lut_lattice(17).numpy())
    shot = _shot_pixels(tmp_path)
    np.testing.assert_allclose(apply_file(tmp_path / "looks" / "fg.clf", shot), shot, rtol=1e-6, atol=1e-6)
    assert not (tmp_path / "looks" / "background.clf").exists()


@pytest.mark.parametrize("blend", ["pixel", "grid"])
def test_a_model_with_constant_affine_grids_exports_that_affine(random_net, clip, tmp_path, blend):
    net = random_net(7)
    net.config["blend"] = blend
    with torch.no_grad():
        net.to_grid.weight.zero_()
        dev = (AFFINE.reshape(12) - torch.eye(3, 4).reshape(12)).repeat_interleave(net.grid_depth)
        net.to_grid.bias.copy_(dev)
    engine = Engine(net, device="cpu")
    engine.register_style(STYLE_A, np.full((16, 16, 3), 0.4, np.float32))
    engine.register_style(STYLE_B, np.full((16, 16, 3), 0.6, np.float32))
    res = export_look(engine, _spec(*clip), tmp_path / "looks", [1, 3], size=17, formats=["clf"])
    lattice = lut_lattice(17).numpy()
    want = lattice @ AFFINE[:, :3].double().numpy().T + AFFINE[:, 3].double().numpy()
    for look in res.collection.regions:
        assert np.abs(look.lut - want).max() < 1e-4
    pipe = get_pipeline(None, "ACEScg")
    shot = _shot_pixels(tmp_path)
    work = pipe.to_working(shot[None])[0]
    got = pipe.to_working(apply_file(tmp_path / "looks" / "fg.clf", shot)[None])[0]
    np.testing.assert_allclose(got, work @ AFFINE[:, :3].numpy().T + AFFINE[:, 3].numpy(), atol=1e-4)
    # and the export reproduces LookGrid's render: every pixel gets the same affine map
    own = fidelity_rows(res)[-1][1]
    assert own.mean < 0.01 and own.p95 < 0.02


@pytest.mark.parametrize("kwargs, message", [
    ({"regions": ["car"]}, "no region named 'car'"),
    ({"frames": [2, 9]}, "frame(s) 9 are outside the clip"),
    ({"size": 20}, "LUT size must be one of"),
    ({"formats": ["clf", "exr"]}, "unknown format(s) exr"),
])
def test_bad_input_writes_nothing(engine, clip, tmp_path, kwargs, message):
    frames = kwargs.pop("frames", [1])
    with pytest.raises(InvalidInputError) as err:
        export_look(engine, _spec(*clip), tmp_path / "looks", frames, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "looks").exists() or not os.listdir(tmp_path / "looks")


def test_unwritable_folder_and_failed_run_leave_nothing(engine, clip, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageWriteError, match="cannot write to"):
        export_look(engine, _spec(*clip), tmp_path / "file" / "looks", [1])
    out = tmp_path / "looks"
    out.mkdir()
    (out / ".lookgrid-export-999999999-stale").mkdir()  # left by a killed run
    spec = _spec(*clip)
    spec.input_colorspace = "no such space"  # fails after the first matte is staged
    with pytest.raises(Exception, match="unknown colour space"):
        export_look(engine, spec, out, [1, 2])
    assert os.listdir(out) == []
