"""lookgrid.imaging.style: reference photos into the working space; masks of every kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookgrid.errors import InvalidInputError
from lookgrid.imaging import (get_pipeline, mask_from_pixels, read_mask, read_style_image,
                              write_image)


def test_style_image_8_and_16_bit_are_srgb(tmp_path: Path):
    px = np.zeros((4, 6, 3), np.float32)
    px[:, 3:] = 1.0
    px[0, 0] = (0.5, 0.25, 0.75)
    write_image(tmp_path / "s8.png", px, dtype="uint8")
    write_image(tmp_path / "s16.tif", px, dtype="uint16")
    srgb = get_pipeline(None, "sRGB - Texture")
    for name in ("s8.png", "s16.tif"):
        out = read_style_image(tmp_path / name)
        assert out.shape == (4, 6, 3) and out.dtype == np.float32
        assert np.allclose(out[0, 3], 0.5547945, atol=1e-5)      # sRGB white = linear 1.0
        assert np.allclose(out[1, 0], 0.0729055, atol=1e-5)      # black = ACEScct toe at 0
        step = 1 / 255 if name.endswith("png") else 1 / 65535
        expected = srgb.to_working(np.round(px * (1 / step)) * step)
        assert np.allclose(out, expected, atol=1e-5)


def test_style_image_grey_rgba_and_float(tmp_path: Path):
    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    write_image(tmp_path / "g.png", grey)
    g = read_style_image(tmp_path / "g.png")
    assert g.shape == (3, 4, 3) and np.array_equal(g[..., 0], g[..., 2])
    rgba = np.concatenate([np.full((3, 4, 3), 0.5, np.float32), np.zeros((3, 4, 1), np.float32)], -1)
    write_image(tmp_path / "a.png", rgba)
    assert read_style_image(tmp_path / "a.png").shape == (3, 4, 3)  # alpha dropped
    lin = np.full((2, 2, 3), 0.18, np.float32)
    write_image(tmp_path / "f.exr", lin, dtype="float")
    out = read_style_image(tmp_path / "f.exr")  # float file: ACEScg by default
    assert np.allclose(out, (np.log2(0.18) + 9.72) / 17.52, atol=1e-6)
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 0.5
    write_image(tmp_path / "red.exr", red, dtype="float")
    as_cg = read_style_image(tmp_path / "red.exr")
    as_709 = read_style_image(tmp_path / "red.exr", colorspace="Linear Rec.709 (sRGB)")
    assert np.abs(as_709 - as_cg).max() > 0.05  # the declared colour space is used


def test_masks_single_channel_alpha_grey_and_colour(tmp_path: Path):
    binary = np.zeros((8, 10), np.float32)
    binary[2:6, 3:7] = 1.0
    write_image(tmp_path / "m.png", binary)
    m = read_mask(tmp_path / "m.png")
    assert m.shape == (8, 10) and m.dtype == np.float32 and np.array_equal(m, binary)

    write_image(tmp_path / "m16.png", binary * 0.5, dtype="uint16")
    assert np.allclose(read_mask(tmp_path / "m16.png"), binary * 0.5, atol=1e-4)

    rgba = np.zeros((8, 10, 4), np.float32)
    rgba[..., :3] = 0.3  # colour is flat; alpha carries the matte
    rgba[..., 3] = binary
    write_image(tmp_path / "rgba.png", rgba)
    assert np.array_equal(read_mask(tmp_path / "rgba.png"), binary)

    grey = np.repeat((binary * 0.6)[..., None], 3, -1)  # soft grey matte stays soft
    write_image(tmp_path / "grey.png", grey)
    assert np.allclose(read_mask(tmp_path / "grey.png"), binary * 0.6, atol=1 / 255)

    seg = np.zeros((8, 10, 3), np.float32)
    seg[:4] = (0, 1, 0)          # green region
    seg[4:, :5] = (1, 0, 0)      # red region
    write_image(tmp_path / "seg.png", seg)
    green = read_mask(tmp_path / "seg.png", color=(0, 255, 0))
    red = read_mask(tmp_path / "seg.png", color=(1.0, 0.0, 0.0))
    assert green[:4].all() and not green[4:].any()
    assert red[4:, :5].all() and red.sum() == 20
    anything = read_mask(tmp_path / "seg.png")  # colour-coded, no colour: any non-black
    assert anything.sum() == 60

    with pytest.raises(InvalidInputError):
        read_mask(tmp_path / "m.png", color=(1, 1, 1))
    with pytest.raises(InvalidInputError):
        read_mask(tmp_path / "seg.png", color=(1, 1))


def test_float_masks_are_clipped_and_finite_and_resized(tmp_path: Path):
    m = np.array([[np.nan, -1.0, 0.25, 7.0]], np.float32)
    out = mask_from_pixels(m)
    assert np.array_equal(out, [[0.0, 0.0, 0.25, 1.0]])
    px = np.zeros((40, 60, 2), np.float32)
    px[:20, :, 1] = 1.0
    write_image(tmp_path / "mask.exr", px, channel_names=("Y", "mask"), dtype="half")
    full = read_mask(tmp_path / "mask.exr", channel="mask")
    assert full[:20].all() and not full[20:].any()
    small = read_mask(tmp_path / "mask.exr", size=(4, 6), channel="mask")
    assert small.shape == (4, 6) and np.allclose(small[:2], 1) and np.allclose(small[2:], 0)
    big = read_mask(tmp_path / "mask.exr", size=(80, 120), channel="mask")
    assert big.shape == (80, 120) and 0 <= big.min() and big.max() <= 1
    with pytest.raises(InvalidInputError, match="no channel"):
        read_mask(tmp_path / "mask.exr", channel="alpha")


def test_shared_masks(shared_data: Path):
    davis = read_mask(shared_data / "davis/blackswan/masks/00000.png")
    assert davis.shape == (480, 854) and set(np.unique(davis)) <= {0.0, 1.0} and davis.any()
    seg = shared_data / "styles/deep-photo/segmentation/in1.png"
    parts = [read_mask(seg, color=c) for c in [(0, 0, 0), (0, 255, 0), (255, 255, 255)]]
    total = sum(parts)
    assert total.max() <= 1.0 and total.mean() > 0.95  # colours partition the picture (edges aside)
    style = read_style_image(shared_data / "styles/deep-photo/style/tar1.png")
    assert style.ndim == 3 and style.shape[2] == 3 and 0.07 <= style.min() and style.max() <= 0.56
