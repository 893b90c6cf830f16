"""imaging.decode: pictures that arrive as bytes (uploads, inline EXR frames) or raw arrays."""

from __future__ import annotations

import numpy as np
import pytest

from lookgrid.errors import InvalidInputError
from lookgrid.imaging import SRGB_TEXTURE, get_pipeline, read_style_image, write_image
from lookgrid.imaging.decode import decode_exr, decode_style, encode_exr, raw_style_to_working


def _png_bytes(tmp_path, pixels):
    path = tmp_path / "ref.png"
    write_image(path, pixels, dtype="uint8")
    return path, path.read_bytes()


def test_style_bytes_decode_like_the_file(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.random((12, 16, 3)).astype(np.float32)
    path, data = _png_bytes(tmp_path, pixels)
    expected = read_style_image(path)
    # the content decides the format, not the name the client gave
    for name in ("ref.png", "ref.jpg", "", "upload.bin"):
        np.testing.assert_array_equal(decode_style(data, filename=name), expected)
    assert not list(tmp_path.glob("lookgrid-bytes-*"))


def test_style_bytes_that_are_no_picture_are_refused():
    with pytest.raises(InvalidInputError, match="not a PNG, JPEG, EXR or TIFF"):
        decode_style(b"GIF89a...", filename="x.gif")
    with pytest.raises(InvalidInputError, match="not a PNG, JPEG, EXR or TIFF"):
        decode_style(b"SDPX" + b"\0" * 64, filename="x.dpx")  # a DPX is a frame format, not a style


def test_exr_bytes_round_trip():
    px = np.linspace(-0.5, 4.0, 8 * 6 * 4, dtype=np.float32).reshape(6, 8, 4)
    data = encode_exr(px, ["R", "G", "B", "A"], dtype="float")
    img = decode_exr(data)
    assert img.channel_names == ("R", "G", "B", "A")
    np.testing.assert_array_equal(img.pixels, px)
    again = decode_exr(encode_exr(img.pixels, list(img.channel_names), like=img))
    np.testing.assert_array_equal(again.pixels, px)


def test_raw_style_goes_through_the_colour_pipeline():
    raw = np.random.default_rng(1).random((5, 7, 4)).astype(np.float16)
    expected = get_pipeline(None, SRGB_TEXTURE).to_working(raw[..., :3].astype(np.float32))
    np.testing.assert_array_equal(raw_style_to_working(raw), expected)
    lin = get_pipeline(None, "ACEScg").to_working(raw[..., :3].astype(np.float32))
    np.testing.assert_array_equal(raw_style_to_working(raw, "ACEScg"), lin)
