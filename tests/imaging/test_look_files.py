"""Look files (lookgrid.imaging.looks): written by OpenColorIO's writers, read back by OpenColorIO."""

from __future__ import annotations

import os

import numpy as np
import PyOpenColorIO as ocio
import pytest

from lookgrid.errors import ColorSpaceError, ImageWriteError, InvalidInputError, ShapeMismatchError
from lookgrid.imaging import get_pipeline
from lookgrid.imaging.looks import (apply_file, apply_look, cdl_text, clf_text, cube_text, look_config_text,
                                    write_text)

A = np.array([[0.9, 0.05, 0.0], [0.02, 1.1, 0.0], [0.0, 0.1, 0.8]])
B = np.array([0.02, -0.01, 0.05])


def _lattice(size):
    a = np.linspace(0.0, 1.0, size)
    return np.stack(np.meshgrid(a, a, a, indexing="ij"), axis=-1)


def _affine_lut(size=17):
    return _lattice(size) @ A.T + B


def _working_values(n=500, seed=0):
    return np.random.default_rng(seed).uniform(0.08, 0.95, (n, 3)).astype(np.float32)


def test_identity_clf_is_identity_in_the_shot_space(tmp_path):
    path = write_text(tmp_path / "id.clf", clf_text(_lattice(33), shot_space="ACEScg", description="identity"))
    pipe = get_pipeline(None, "ACEScg")
    shot = pipe.from_working(_working_values()[None])[0]  # scene-linear, -0.0005 .. 60
    out = apply_file(path, shot)
    assert np.abs(out - shot).max() <= 1e-6 * np.maximum(1.0, np.abs(shot)).max()
    assert "<Description>identity</Description>" in path.read_text()


def test_affine_lut_round_trips_through_clf_cube_and_config(tmp_path):
    lut = _affine_lut()
    x = _working_values()
    want = x @ A.T + B
    write_text(tmp_path / "r.acescct.clf", clf_text(lut))
    write_text(tmp_path / "r.clf", clf_text(lut, shot_space="ACEScg"))
    cube = write_text(tmp_path / "r.cube", cube_text(lut, description="expects ACEScct\nsecond line"))
    iridas = write_text(tmp_path / "r.iridas.cube", cube_text(lut, fmt="iridas_cube"))
    assert cube.read_text().startswith("# expects ACEScct\n# second line\n")
    assert "LUT_3D_SIZE 17" in iridas.read_text()
    np.testing.assert_allclose(apply_file(tmp_path / "r.acescct.clf", x), want, atol=1e-5)
    np.testing.assert_allclose(apply_file(cube, x), want, atol=1e-5)
    pipe = get_pipeline(None, "ACEScg")
    shot = pipe.from_working(x[None])[0]
    np.testing.assert_allclose(pipe.to_working(apply_file(tmp_path / "r.clf", shot)[None])[0], want, atol=1e-5)
    # the config: the clip's config plus the Look, valid, applied by name
    text = look_config_text({"lookgrid-r": ("r.acescct.clf", "test look")}, folder=tmp_path)
    cfg_path = write_text(tmp_path / "config.ocio", text)
    cfg = ocio.Config.CreateFromFile(str(cfg_path))
    cfg.validate()
    assert cfg.getLook("lookgrid-r").getProcessSpace() == "ACEScct"
    assert "ACEScct" in [c.getName() for c in cfg.getColorSpaces()]
    by_name = apply_look(cfg_path, "lookgrid-r", "ACEScg", shot)
    np.testing.assert_allclose(pipe.to_working(by_name[None])[0], want, atol=1e-5)


def test_config_with_a_missing_clf_does_not_validate(tmp_path):
    with pytest.raises(ColorSpaceError, match="does not validate"):
        look_config_text({"lookgrid-r": ("nowhere.clf", "")}, folder=tmp_path)


def test_cdl_file_applies_the_asc_cdl_formula(tmp_path):
    import torch

    from lookgrid.model.look import cdl_apply

    slope, offset, power, sat = (1.1, 1.0, 0.9), (0.01, 0.0, -0.02), (1.2, 1.0, 0.8), 0.9
    path = write_text(tmp_path / "r.cc", cdl_text(slope, offset, power, sat, cdl_id="r", description="fit"))
    assert 'id="r"' in path.read_text()
    x = np.random.default_rng(1).uniform(-0.1, 1.1, (400, 3)).astype(np.float32)  # clamps exercised
    ref = cdl_apply(torch.from_numpy(x).double(), torch.tensor(slope).double(), torch.tensor(offset).double(),
                    torch.tensor(power).double(), torch.tensor(sat).double())
    np.testing.assert_allclose(apply_file(path, x), ref.numpy(), atol=2e-6)


def test_bad_input_and_atomic_writes(tmp_path):
    with pytest.raises(ShapeMismatchError, match=r"\(S, S, S, 3\)"):
        clf_text(np.zeros((4, 4, 3, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        clf_text(np.full((2, 2, 2, 3), np.nan))
    with pytest.raises(InvalidInputError, match="cube format"):
        cube_text(_lattice(2), fmt="csp")
    with pytest.raises(ColorSpaceError, match="unknown colour space"):
        clf_text(_lattice(2), shot_space="no such space")
    with pytest.raises(ImageWriteError, match="cannot write"):
        write_text(tmp_path / "missing" / "x.clf", "x")
    target = write_text(tmp_path / "x.clf", "old")

    with pytest.raises(TypeError):
        write_text(target, 42)  # fails while writing: the old file stays, no temp file is left
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["x.clf"]
