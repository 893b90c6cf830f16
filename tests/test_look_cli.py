"""`lookgrid look export`: files, printed fidelity figures, one-line errors (shipped model)."""

from __future__ import annotations

import os

from lookgrid.cli import main

from test_render_cli import base_args, clip  # noqa: F401  (the fixture)


def _spec(d):
    path = d / "job" / "clip.json"
    assert main(base_args(d) + ["--write-spec", str(path)]) == 0
    return path


def test_look_export_writes_files_and_prints_fidelity(clip, capsys):  # noqa: F811
    spec = _spec(clip)
    capsys.readouterr()
    rc = main(["look", "export", "--spec", str(spec), "--frames", "0-1", "--out", str(clip / "looks"),
               "--size", "17", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "frames 0-1" in out and "shot colour space sRGB - Texture" in out
    assert "fg.cc: ASC CDL fit error rms" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ") and "px)" in ln}
    assert set(lines) == {"fg", "background", "all"}
    names = set(os.listdir(clip / "looks"))
    assert {"fg.clf", "fg.cube", "fg.cc", "config.ocio", "fg.matte.0000.exr", "background.matte.0001.exr"} <= names


def test_look_export_bad_input_is_one_line_and_writes_nothing(clip, capsys):  # noqa: F811
    spec = _spec(clip)
    for extra, message in ((["--regions", "car"], "no region named 'car'"),
                           (["--frames", "7"], "outside the clip")):
        capsys.readouterr()
        rc = main(["look", "export", "--spec", str(spec), "--out", str(clip / "looks"), "--no-progress"] + extra)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0] and err[0].startswith("lookgrid look: error:")
        assert not (clip / "looks").exists()


def test_look_export_bake_writes_reference_luts_and_prints_their_fidelity(clip, capsys):  # noqa: F811
    spec = _spec(clip)
    capsys.readouterr()
    rc = main(["look", "export", "--spec", str(spec), "--frames", "0-1", "--out", str(clip / "looks"),
               "--size", "17", "--no-progress", "--bake", "--formats", "clf"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "bake (references dissolved" in out and "ranges 0-1" in out
    names = set(os.listdir(clip / "looks"))
    assert {"fg.ref1.acescct.clf", "fg.key.0000.exr", "background.key.0001.exr"} <= names
