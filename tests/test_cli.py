"""The command line: ``lookgrid --help``, ``info``, ``convert`` (and ``bench convert``'s module)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from lookgrid.cli import main
from lookgrid.imaging import get_pipeline, read_image, write_image


def test_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("info", "convert", "render", "bench"):
        assert name in out


def test_info_json_reports_versions_devices_configs_models(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["versions"]["OpenImageIO"].startswith("3.")
    assert data["versions"]["opencolorio"].startswith("2.")
    assert data["devices"][0]["device"] == "cpu"
    assert any(d["device"].startswith("cuda") for d in data["devices"])
    assert any(c.startswith("ocio://studio-config-latest") for c in data["colour"]["builtin_configs"])
    assert data["colour"]["working_space"] == "ACEScct"
    assert isinstance(data["models"], list)


def _sequence(folder: Path, frames, h=12, w=16) -> np.ndarray:
    rng = np.random.default_rng(0)
    px = rng.lognormal(-1.5, 1.5, (h, w, 4)).astype(np.float32)
    px[0, 0, 0] = np.nan
    for f in frames:
        write_image(folder / f"in.{f:04d}.exr", px * (1 + 0.1 * f), dtype="float",
                    attributes={"lookgrid:note": f"frame {f}"})
    return px


def test_convert_sequence_through_the_colour_pipeline(tmp_path: Path, capsys):
    px = _sequence(tmp_path, [1001, 1002, 1003])
    rc = main(["convert", str(tmp_path / "in.####.exr"), str(tmp_path / "out" / "o.%04d.exr"),
               "--frames", "1001-1003", "--from", "ACEScg", "--to", "ACEScct", "--quiet"])
    assert rc == 0
    pipe = get_pipeline(None, "ACEScg")
    for f in (1001, 1002, 1003):
        src = px * (1 + 0.1 * f)
        out = read_image(tmp_path / "out" / f"o.{f:04d}.exr")
        assert out.channel_names == ("R", "G", "B", "A")
        assert out.spec_info.channel_formats == ("float",) * 4
        assert out.spec_info.attribute("lookgrid:note") == f"frame {f}"
        assert np.array_equal(out.pixels[..., :3], pipe.to_working(src)[..., :3])
        assert np.array_equal(out.pixels[1:, :, 3], src[1:, :, 3])  # alpha untouched
        assert np.isfinite(out.pixels).all()  # NaN replaced by the policy
    # the converted frame converts back to the original; it declares ACEScct, so no --from
    rc = main(["convert", str(tmp_path / "out" / "o.1002.exr"), str(tmp_path / "back.exr"),
               "--to", "ACEScg", "-q"])
    assert rc == 0
    back = read_image(tmp_path / "back.exr").pixels
    src = np.nan_to_num(px * (1 + 0.1 * 1002), nan=0.0)
    assert np.allclose(back[..., :3], src[..., :3], rtol=1e-5, atol=1e-7)


def test_convert_reports_progress_and_nan_counts(tmp_path: Path, capsys):
    _sequence(tmp_path, [1, 2])
    assert main(["convert", str(tmp_path / "in.####.exr"), str(tmp_path / "p.####.png"),
                 "--to", "sRGB - Texture"]) == 0
    err = capsys.readouterr().err
    assert "2/2" in err and "converted 2 frame(s)" in err and "2 NaN" in err  # one per frame
    assert read_image(tmp_path / "p.0001.png").spec_info.channel_formats[0] == "uint8"


@pytest.mark.parametrize("argv_tail,needle", [
    (["--frames", "1-5"], "missing: 3-5"),
    (["--to", "ACEScctt"], "unknown colour space 'ACEScctt'"),
    (["--frames", "5-1"], "ends before it starts"),
])
def test_convert_user_errors_are_one_line_exit_2(tmp_path: Path, capsys, argv_tail, needle):
    _sequence(tmp_path, [1, 2])
    rc = main(["convert", str(tmp_path / "in.####.exr"), str(tmp_path / "o.####.exr"), "-q",
               *argv_tail])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lookgrid convert: error:") and needle in err[0]


def test_convert_damaged_input_and_many_frames_into_one_file(tmp_path: Path, capsys):
    (tmp_path / "bad.exr").write_bytes(b"\x76\x2f\x31\x01garbage")
    assert main(["convert", str(tmp_path / "bad.exr"), str(tmp_path / "x.exr"), "-q"]) == 2
    assert "cannot" in capsys.readouterr().err
    _sequence(tmp_path, [1, 2])
    assert main(["convert", str(tmp_path / "in.####.exr"), str(tmp_path / "one.exr"), "-q"]) == 2
    assert "single file" in capsys.readouterr().err


def test_bench_convert_module_runs_small(capsys):
    from lookgrid.commands.bench import convert as bench_convert

    parser = argparse.ArgumentParser()
    bench_convert.add_arguments(parser)
    assert bench_convert.run(parser.parse_args(["--size", "64x32", "--runs", "3", "--json"])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fast_path"] is True and data["shape"] == [32, 64, 3]
    assert data["round_trip_max_rel_error"] < 1e-5
    assert data["fast_vs_ocio_max_abs_diff"] < 1e-5
    assert set(data["results"]) == {"copy", "to_working", "from_working", "ocio", "ocio_threads"}
