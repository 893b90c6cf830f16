"""``lookgrid eval`` end to end on a tiny generated clip on disk, and the dev suite's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookgrid.cli import main
from lookgrid.eval.synthetic import shift_clip, smooth_image


def _write_clip(root, frames=3, h=48, w=72):
    import cv2

    images, masks = shift_clip(frames, h, w, shift=(2, 0))
    from lookgrid.model.colormath import working_to_display

    (root / "frames").mkdir()
    (root / "masks").mkdir()
    for t, (im, m) in enumerate(zip(images, masks)):
        disp = np.clip(working_to_display(im), 0, 1)
        cv2.imwrite(str(root / "frames" / f"{t:05d}.png"), np.round(disp[..., ::-1] * 255).astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"{t:05d}.png"), (m * 255).astype(np.uint8))
    warm = np.clip(smooth_image(30, 40, seed=7) * [1.2, 0.7, 0.3], 0, 1)
    cool = np.clip(smooth_image(30, 40, seed=8) * [0.3, 0.6, 1.2], 0, 1)
    cv2.imwrite(str(root / "warm.png"), np.round(warm[..., ::-1] * 255).astype(np.uint8))
    cv2.imwrite(str(root / "cool.png"), np.round(cool[..., ::-1] * 255).astype(np.uint8))


def test_eval_command_writes_table_json_sheet_and_plot(tmp_path, capsys):
    clip = tmp_path / "myclip"
    clip.mkdir()
    _write_clip(clip)
    out = tmp_path / "out"
    rc = main(["eval", "--input", str(clip / "frames" / "%05d.png"), "--mask", f"fg={clip / 'masks' / '%05d.png'}",
               "--style", f"fg={clip / 'warm.png'}", "--style", f"background={clip / 'cool.png'}",
               "--methods", "lookgrid,reinhard", "--name", "myclip", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "myclip" in printed and "reinhard" in printed and "mean over clips" in printed
    data = json.loads((out / "eval.json").read_text())
    assert data["methods"] == ["lookgrid", "reinhard"]
    (c,) = data["clips"]
    assert c["frames"] == [0, 1, 2] and c["resolution"] == [72, 48]
    assert set(c["methods"]) == {"input", "lookgrid", "reinhard"}
    assert c["methods"]["reinhard"]["style"]["fg"]["lab_moments"] < c["methods"]["input"]["style"]["fg"]["lab_moments"]
    assert (out / "myclip_contact.png").is_file() and (out / "myclip_warping.png").is_file()


def test_eval_command_errors_are_one_line(tmp_path, capsys):
    clip = tmp_path / "c"
    clip.mkdir()
    _write_clip(clip, frames=2)
    rc = main(["eval", "--input", str(clip / "frames" / "%05d.png"), "--mask", f"fg={clip / 'masks' / '%05d.png'}",
               "--style", f"fg={clip / 'warm.png'}", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "background" in capsys.readouterr().err
    rc = main(["eval", "--input", str(clip / "frames" / "%05d.png"), "--methods", "magic", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "magic" in capsys.readouterr().err


def test_suite_skips_cleanly_without_data(tmp_path, capsys):
    rc = main(["eval", "--suite", "dev", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert rc == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.shared_data
def test_dev_suite_data_is_complete(shared_data):
    from lookgrid.eval.suites import DEV_SUITE, missing_files

    assert len(DEV_SUITE) == 5
    assert missing_files(DEV_SUITE, shared_data) == []
    # the fg and background looks of every clip are clearly different colour distributions
    from lookgrid.model.reinhard import style_stats
    from lookgrid.imaging import read_style_image

    for c in DEV_SUITE:
        a = style_stats(read_style_image(str(shared_data / c.fg_style)))
        b = style_stats(read_style_image(str(shared_data / c.bg_style)))
        distance = np.linalg.norm(a.mean - b.mean) + np.linalg.norm(a.std - b.std)
        assert distance > 25, (c.name, distance)


def test_eval_grain_and_lowpass_columns_and_cut_needs_a_suite(tmp_path, capsys):
    clip = tmp_path / "g"
    clip.mkdir()
    _write_clip(clip)
    base = ["eval", "--input", str(clip / "frames" / "%05d.png"), "--mask", f"fg={clip / 'masks' / '%05d.png'}",
            "--style", f"fg={clip / 'warm.png'}", "--style", f"background={clip / 'cool.png'}",
            "--methods", "reinhard"]
    assert main(base + ["--grain", "0.05", "--out", str(tmp_path / "grain")]) == 0
    assert main(base + ["--out", str(tmp_path / "clean")]) == 0
    assert "lp rat" in capsys.readouterr().out
    grainy = json.loads((tmp_path / "grain" / "eval.json").read_text())
    clean = json.loads((tmp_path / "clean" / "eval.json").read_text())
    assert grainy["grain"] == 0.05 and clean["grain"] == 0.0
    g, c = grainy["clips"][0]["methods"], clean["clips"][0]["methods"]
    assert g["input"] == c["input"]                      # measured against the clean frames
    assert g["reinhard"]["warping_ratio"] > c["reinhard"]["warping_ratio"]
    assert g["reinhard"]["lowpass_ratio"] is not None
    # the grainy frames themselves: the floor of a look that keeps the grain; absent from a clean run
    assert "input+grain" not in c and g["input+grain"]["warping_ratio"] > 1.5
    assert 1.0 < g["input+grain"]["lowpass_ratio"] < g["input+grain"]["warping_ratio"]
    assert main(base + ["--cut", "2", "--out", str(tmp_path / "cut")]) == 2
    assert "--cut" in capsys.readouterr().err
