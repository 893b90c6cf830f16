"""The ExportLook RPC: a real server on loopback, files on its storage, errors as status codes."""

from __future__ import annotations

import os

import numpy as np
import PyOpenColorIO as ocio
import pytest

from lookgrid.imaging import read_image
from lookgrid.imaging.looks import apply_file
from lookgrid_client import ServerError

from test_server import _code, _path_spec, _write_sequence


def test_export_look_writes_files_under_the_root(client, styles, tmp_path, engine):
    _write_sequence(tmp_path)
    seen = []
    res = client.export_look(str(tmp_path / "looks"), _path_spec(tmp_path, styles, "o"), frames=[1, 2],
                             lut_size=17, progress=seen.append)
    assert [p.frame for p in seen] == [1, 2] and seen[-1].done == seen[-1].total == 2
    assert res.lut_size == 17 and res.shot_colorspace == "ACEScg"
    assert [r.name for r in res.regions] == ["fg", "background"]
    fg = res.regions[0]
    assert fg.look_name == "lookgrid-fg" and fg.cdl_rms_error > 0 and fg.matte_area > 0
    assert fg.matte_pattern == str(tmp_path / "looks" / "fg.matte.%04d.exr")
    assert all(os.path.isfile(p) for p in res.files) and os.path.isfile(fg.matte_pattern % 2)
    cfg = ocio.Config.CreateFromFile(res.config_path)
    cfg.validate()
    shot = read_image(tmp_path / "plate" / "p.0001.exr").pixels[..., :3]
    assert np.isfinite(apply_file(fg.clf_path, shot)).all() and np.isfinite(apply_file(fg.cube_path, shot)).all()
    assert engine.clip_ids() == []  # the one-off clip is closed


def test_export_look_errors(client, styles, tmp_path):
    _write_sequence(tmp_path)
    spec = _path_spec(tmp_path, styles, "o")
    outside = tmp_path.parent / f"{tmp_path.name}-outside-look"
    for kwargs, code, text in (
            (dict(output_dir=str(outside)), "PERMISSION_DENIED", "outside"),
            (dict(output_dir=str(tmp_path / "l"), regions=["car"]), "INVALID_ARGUMENT", "no region named 'car'"),
            (dict(output_dir=str(tmp_path / "l"), frames=[9]), "INVALID_ARGUMENT", "outside the clip"),
            (dict(output_dir=""), "INVALID_ARGUMENT", "output_dir")):
        out = kwargs.pop("output_dir")
        with pytest.raises(ServerError) as err:
            client.export_look(out, spec, **kwargs)
        assert _code(err) == code and text in err.value.details
    assert not outside.exists() and not (tmp_path / "l").exists()


def test_export_look_reply_carries_fidelity_and_the_bake(client, styles, tmp_path):
    """Issue 26: the figures are measured below the service and copied into the reply; with bake,
    per-reference LUTs, key mattes and the per-frame curves come back too."""
    _write_sequence(tmp_path)
    plain = client.export_look(str(tmp_path / "plain"), _path_spec(tmp_path, styles, "o"), frames=[1, 2], lut_size=17)
    assert all(r.fidelity.pixels > 0 and r.fidelity.p95_delta_e >= r.fidelity.mean_delta_e >= 0 for r in plain.regions)
    assert not any(r.HasField("bake") for r in plain.regions)
    res = client.export_look(str(tmp_path / "baked"), _path_spec(tmp_path, styles, "o"), frames=[1, 2],
                             lut_size=17, bake=True)
    for r in res.regions:
        b = r.bake
        assert [m.frame for m in b.mix] == [1, 2] and len(b.segments) == 1
        assert (b.segments[0].first, b.segments[0].last) == (1, 2)
        assert len(b.reference_clf_paths) == len(b.references) == len(b.mix[0].weights)
        assert all(os.path.isfile(p) for p in b.reference_clf_paths)
        assert os.path.isfile(b.key_pattern % 1) and b.fidelity.pixels == r.fidelity.pixels > 0
