"""lookgrid.imaging.color: working space, exact round trips, fast path == OpenColorIO, NaN/Inf."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookgrid.errors import ColorSpaceError, InvalidInputError, ShapeMismatchError
from lookgrid.imaging import (HALF_MAX, SCENE_DEFAULT, SRGB_TEXTURE, WORKING_SPACE, ColorPipeline, SpecInfo,
                              builtin_configs, config_source, declared_colorspace, default_colorspace,
                              get_pipeline, read_image, sanitize, write_image)


def _scene_values() -> np.ndarray:
    """(1, K, 3): 0.18, 1e-4..100 and -1..-1e-4, mixed across channels."""
    pos = np.geomspace(1e-4, 100.0, 120)
    vals = np.concatenate([pos, -pos[pos <= 1.0], [0.0, 0.18, 1.0, 100.0]])
    rng = np.random.default_rng(3)
    rgb = np.stack([vals, rng.permutation(vals), rng.permutation(vals)], -1)
    return rgb[None].astype(np.float32)


def test_working_space_is_acescct_with_known_values():
    assert WORKING_SPACE == "ACEScct"
    pipe = get_pipeline(None, "ACEScg")
    x = np.array([[[0.18, 1.0, 0.0]]], np.float32)
    y = pipe.to_working(x)[0, 0]
    # ACEScct (S-2016-001): (log2(x) + 9.72) / 17.52 above 0.0078125; 0.0729055341958355 at 0
    assert y[0] == pytest.approx((np.log2(0.18) + 9.72) / 17.52, abs=1e-6)
    assert y[1] == pytest.approx((0.0 + 9.72) / 17.52, abs=1e-6)
    assert y[2] == pytest.approx(0.0729055341958355, abs=1e-6)
    assert pipe.fast_path


@pytest.mark.parametrize("src", ["ACEScg", "ACES2065-1", "Linear Rec.709 (sRGB)"])
def test_round_trip_is_exact_for_large_and_negative_values(src: str):
    pipe = get_pipeline(None, src)
    x = _scene_values()
    back = pipe.from_working(pipe.to_working(x))
    if src == "ACEScg":  # no matrix: every value keeps its own relative precision
        big = np.abs(x) >= 1e-3
        assert (np.abs(back[big] - x[big]) / np.abs(x[big])).max() <= 1e-5
        assert np.abs(back[~big] - x[~big]).max() <= 1e-7
    # with a gamut matrix the channels mix, so float32 gives precision relative to the pixel's
    # largest channel (a 1e-3 channel beside a 100 one is good to ~1e-6 absolute)
    scale = np.abs(x).max(-1, keepdims=True)
    assert (np.abs(back - x) / scale).max() <= 1e-5
    # and the famous one: ACEScg mid grey comes back within 1e-5 relative
    g = np.array([[[0.18, 0.18, 0.18]]], np.float32)
    assert np.allclose(pipe.from_working(pipe.to_working(g)), 0.18, rtol=1e-5, atol=0)


@pytest.mark.parametrize("src", ["ACEScg", "ACES2065-1", "Linear Rec.709 (sRGB)", "ACEScct"])
def test_fast_path_agrees_with_opencolorio(src: str):
    pipe = get_pipeline(None, src)
    assert pipe.fast_path, f"{src} → ACEScct is matrix + log and should use the fast path"
    rng = np.random.default_rng(0)
    x = (rng.lognormal(-1.5, 2.0, (37, 53, 3)) * np.where(rng.random((37, 53, 3)) < 0.1, -1, 1))
    x = x.astype(np.float32)
    fast, ref = pipe.to_working(x), pipe.to_working_reference(x)
    scale = np.maximum(np.abs(ref).max(-1, keepdims=True), 1.0)
    assert np.all(np.abs(fast - ref) <= 2e-6 * scale + 2e-6)
    back_fast, back_ref = pipe.from_working(ref), pipe.from_working_reference(ref)
    scale = np.abs(back_ref).max(-1, keepdims=True)
    assert np.all(np.abs(back_fast - back_ref) <= 2e-5 * scale + 1e-6)


@pytest.mark.parametrize("src", ["ACEScg", "ACES2065-1", "sRGB - Texture"])
def test_strided_input_and_out_give_the_contiguous_result(src: str):
    """Views (a colour view of RGBA, a planar frame seen as (H, W, 3)) in, and ``out=`` of any
    layout, give the same values and reports as contiguous arrays — fast path and OpenColorIO."""
    pipe = get_pipeline(None, src)
    rng = np.random.default_rng(5)
    rgba = (rng.lognormal(-1.5, 2.0, (23, 31, 4)) * np.where(rng.random((23, 31, 4)) < 0.1, -1, 1))
    rgba = rgba.astype(np.float32)
    rgba[0, 0, :3] = [np.nan, np.inf, -np.inf]
    rgba[1, 1, 0] = 1e30
    view = rgba[..., :3]
    planar = np.ascontiguousarray(view.transpose(2, 0, 1)).transpose(1, 2, 0)
    for forward in (True, False):
        conv = pipe.to_working if forward else pipe.from_working
        ref, ref_report = conv(np.ascontiguousarray(view), return_report=True)
        assert ref.flags.c_contiguous
        for x in (view, planar):
            got, report = conv(x, return_report=True)
            np.testing.assert_array_equal(got, ref)
            assert report == ref_report
            out = np.full((3, 23, 31), -7.0, np.float32).transpose(1, 2, 0)
            res, report = conv(x, return_report=True, out=out)
            assert res is out and report == ref_report
            np.testing.assert_array_equal(out, ref)
        flat = np.empty((23 * 31, 3), np.float32)  # out= of another number of dimensions
        assert conv(view.reshape(-1, 3), out=flat) is flat
        np.testing.assert_array_equal(flat, ref.reshape(-1, 3))
    with pytest.raises(ShapeMismatchError, match="out="):
        pipe.to_working(view, out=np.empty((23, 31, 3), np.float64))
    with pytest.raises(ShapeMismatchError, match="out="):
        pipe.to_working(view, out=np.empty((23, 30, 3), np.float32))


def test_non_matrix_spaces_fall_back_to_opencolorio_and_still_round_trip():
    pipe = ColorPipeline(None, src="sRGB - Texture")
    assert not pipe.fast_path
    x = np.random.default_rng(1).random((64, 48, 3)).astype(np.float32)  # threads split rows
    y = pipe.to_working(x)
    assert np.array_equal(y, pipe.to_working_reference(x))
    assert np.abs(pipe.from_working(y) - x).max() < 1e-5  # 8-bit steps are 3.9e-3
    assert 0.07 < y.min() and y.max() < 0.56  # sRGB [0,1] lands inside ACEScct's [0.073, 0.555]


def test_alpha_and_extra_channels_are_untouched():
    rng = np.random.default_rng(2)
    x = rng.lognormal(0, 2, (16, 20, 5)).astype(np.float32)
    for pipe in (get_pipeline(None, "ACEScg"), ColorPipeline(None, src="ACEScg", fast=False)):
        y = pipe.to_working(x)
        assert y.shape == x.shape
        assert np.array_equal(y[..., 3:].view(np.uint32), x[..., 3:].view(np.uint32))
        z = pipe.from_working(y)
        assert np.array_equal(z[..., 3:].view(np.uint32), x[..., 3:].view(np.uint32))


def test_nan_inf_policy_in_sanitize_and_both_paths():
    x = np.array([[[np.nan, np.inf, -np.inf, 0.5], [0.18, 1.0, 2.0, np.nan]]], np.float32)
    clean, report = sanitize(x)
    assert (report.nan, report.posinf, report.neginf, report.total) == (2, 1, 1, 4)
    expected = np.array([[[0.0, HALF_MAX, -HALF_MAX, 0.5], [0.18, 1.0, 2.0, 0.0]]], np.float32)
    assert np.array_equal(clean, expected)
    assert np.isnan(x[0, 0, 0])  # the input is left alone by default
    same, none = sanitize(clean)
    assert same is clean and not none and str(none) == "no NaN/Inf values"
    fast = get_pipeline(None, "ACEScg")
    slow = ColorPipeline(None, src="ACEScg", fast=False)
    for pipe in (fast, slow):
        y, rep = pipe.to_working(x, return_report=True)
        assert np.isfinite(y).all() and rep == report
        assert np.allclose(y, pipe.to_working_reference(clean), atol=1e-6)
        z, rep2 = pipe.from_working(np.where(np.isfinite(y), y, 0) * 0 + x, return_report=True)
        assert np.isfinite(z).all() and rep2.total == 4


def test_shapes_and_errors():
    pipe = get_pipeline(None, "ACEScg")
    assert pipe.to_working(np.zeros((7, 3), np.float32)).shape == (7, 3)
    assert pipe.to_working(np.zeros((2, 4, 5, 3), np.float64)).shape == (2, 4, 5, 3)
    with pytest.raises(ShapeMismatchError, match=r"\(4, 4, 2\)"):
        pipe.to_working(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ColorSpaceError, match="sRGB - Texture"):
        ColorPipeline(None, src="sRGB Textur")
    with pytest.raises(ColorSpaceError):
        ColorPipeline("/no/such/config.ocio")


def test_configs_builtin_path_and_env(monkeypatch, tmp_path: Path):
    uris = [u for u, _ in builtin_configs()]
    assert "ocio://default" in uris and "ocio://studio-config-latest" in uris
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")
    assert config_source(None) == "ocio://cg-config-latest"
    assert ColorPipeline(None, src="ACEScg").config_source == "ocio://cg-config-latest"
    monkeypatch.delenv("OCIO")
    assert config_source(None) == "ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6"
    # a config file on disk (written from the built-in one)
    import PyOpenColorIO as ocio  # test-only: make a config file

    cfg_path = tmp_path / "studio.ocio"
    cfg_path.write_text(ocio.Config.CreateFromFile("ocio://studio-config-latest").serialize())
    pipe = ColorPipeline(str(cfg_path), src="ACEScg")
    x = _scene_values()
    assert np.allclose(pipe.to_working(x), get_pipeline(None, "ACEScg").to_working(x), atol=1e-7)


def test_sample_images_with_nan_inf_and_extreme_values(shared_data: Path):
    pipe = get_pipeline(None, "ACEScg")
    img = read_image(shared_data / "exr/TestImages/BrightRingsNanInf.exr")
    assert not np.isfinite(img.pixels).all()
    y, report = pipe.to_working(img.pixels, return_report=True)
    assert np.isfinite(y).all() and report.total == int((~np.isfinite(img.pixels)).sum())
    assert report.nan > 0 and report.posinf > 0
    # every finite half value survives the round trip (relative 1e-5 where |x| >= 1e-3)
    halves = read_image(shared_data / "exr/TestImages/AllHalfValues.exr").pixels
    finite = np.isfinite(halves).all(-1)
    x = halves[finite][None]
    back = pipe.from_working(pipe.to_working(x))
    big = np.abs(x) >= 1e-3
    assert (np.abs(back[big] - x[big]) / np.abs(x[big])).max() <= 1e-5
    # float32 values up to ~1e38: finite in, finite out; beyond ±65504 clamped and counted
    wide = read_image(shared_data / "exr/TestImages/WideFloatRange.exr").pixels
    rgb = np.repeat(wide, 3, axis=-1)
    for p in (pipe, ColorPipeline(None, src="ACEScg", fast=False)):
        out, rep = p.to_working(rgb, return_report=True)
        assert np.isfinite(out).all()
        assert rep.clamped == int((np.abs(rgb) > HALF_MAX).sum()) > 0
        back = p.from_working(out)
        inside = np.abs(rgb) <= HALF_MAX
        assert np.isfinite(back).all()
        assert np.allclose(back[inside], rgb[inside], rtol=1e-5, atol=1e-6)


def test_concurrent_conversions_from_threads_agree():
    from concurrent.futures import ThreadPoolExecutor

    pipe = get_pipeline(None, "ACEScg")
    rng = np.random.default_rng(5)
    frames = [rng.lognormal(-1.5, 2.0, (64, 48, 3)).astype(np.float32) for _ in range(6)]
    expected = [pipe.to_working(f) for f in frames]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(pipe.to_working, frames))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_declared_colour_space_is_mapped_to_config_names(tmp_path: Path):
    px = np.full((2, 2, 3), 0.5, np.float32)
    for declared, expected in [("ACEScct", "ACEScct"), ("ACEScg", "ACEScg"),
                               ("sRGB - Texture", "sRGB Encoded Rec.709 (sRGB)")]:
        write_image(tmp_path / "d.exr", px, colorspace=declared)
        info = read_image(tmp_path / "d.exr").spec_info
        assert declared_colorspace(info) == expected, info.attribute("oiio:ColorSpace")
    write_image(tmp_path / "n.exr", px)
    assert declared_colorspace(read_image(tmp_path / "n.exr").spec_info) is None
    info = SpecInfo(path="x", format_name="openexr", data_window=(0, 0, 1, 1),
                    display_window=(0, 0, 1, 1), pixels_window=(0, 0, 1, 1),
                    channel_formats=("half",), attributes=(("oiio:ColorSpace", "string", "bogus"),))
    assert declared_colorspace(info) is None


def test_default_colorspace_is_one_rule(tmp_path: Path):
    """8/16-bit files are sRGB pictures whatever they declare; float files: declared, else ACEScg."""
    px = np.full((2, 2, 3), 0.5, np.float32)
    write_image(tmp_path / "a.png", px, dtype="uint8", colorspace="ACEScg")
    assert default_colorspace(read_image(tmp_path / "a.png").spec_info) == SRGB_TEXTURE
    write_image(tmp_path / "b.exr", px, colorspace="ACEScct")
    assert default_colorspace(read_image(tmp_path / "b.exr").spec_info) == "ACEScct"
    write_image(tmp_path / "c.exr", px)
    assert default_colorspace(read_image(tmp_path / "c.exr").spec_info) == SCENE_DEFAULT == "ACEScg"
    assert default_colorspace(None) == SCENE_DEFAULT


# --- half-float input through the 65,536-entry table -------------------------------------------
_ALL_HALVES = np.arange(65536, dtype=np.uint16).view(np.float16)


def test_half_table_equals_opencolorio_bit_for_bit_on_every_half():
    """Every half bit pattern (NaN and ±Inf included) in every channel: the table path gives
    OpenColorIO's processor's values and the same NaN/Inf counts."""
    p = ColorPipeline(src="ACEScg")
    assert p.per_channel and p.half_table is not None and p.half_table.shape == (3, 65536)
    rng = np.random.default_rng(5)
    px = np.stack([_ALL_HALVES, rng.permutation(_ALL_HALVES), rng.permutation(_ALL_HALVES)], -1)
    px = px.reshape(256, 256, 3)
    fast, fast_report = p.to_working(px, return_report=True)
    ref, ref_report = p.to_working_reference(px, return_report=True)
    assert fast.dtype == np.float32
    assert np.array_equal(fast.view(np.uint32), ref.view(np.uint32))
    assert fast_report == ref_report and fast_report.nan > 0 and fast_report.posinf == 3
    split = p.to_working_reference(px, threads=2)  # rows over OpenColorIO threads: the same values
    assert np.array_equal(split.view(np.uint32), ref.view(np.uint32))
    # the float32 kernel is only close to OpenColorIO (≤ 2e-6): the table is the exact one
    assert np.abs(p.to_working(px.astype(np.float32)) - ref).max() <= 2e-6


def test_half_table_keeps_other_channels_and_layouts():
    """Alpha gets the NaN/Inf policy only; ``out=`` a planar view and (N, C) shapes work."""
    p = ColorPipeline(src="ACEScg")
    rng = np.random.default_rng(6)
    px = rng.choice(_ALL_HALVES, (20, 30, 4))
    ref = p.to_working_reference(px)
    out = np.empty((4, 20, 30), np.float32).transpose(1, 2, 0)
    got = p.to_working(px, out=out)
    assert got is out
    assert np.array_equal(out.view(np.uint32), ref.view(np.uint32))
    flat = p.to_working(px.reshape(-1, 4))
    assert np.array_equal(flat.view(np.uint32), ref.reshape(-1, 4).view(np.uint32))
    strided = p.to_working(px[:, ::-1])  # negative strides: copied first
    assert np.array_equal(strided, ref[:, ::-1])
    with pytest.raises(ShapeMismatchError, match="C>=3"):
        p.to_working(px[..., :2])


def test_a_matrix_transform_has_no_table_and_converts_half_as_float():
    p = ColorPipeline(src="Linear Rec.709 (sRGB)")
    assert not p.per_channel and p.half_table is None
    px = np.random.default_rng(7).choice(_ALL_HALVES[np.isfinite(_ALL_HALVES)], (8, 9, 3))
    np.testing.assert_array_equal(p.to_working(px), p.to_working(px.astype(np.float32)))
    ident = ColorPipeline(src=WORKING_SPACE)
    assert ident.per_channel
    np.testing.assert_array_equal(ident.to_working(px), px.astype(np.float32))


@pytest.mark.parametrize("src", ["ACEScg", "Linear Rec.709 (sRGB)"])
def test_one_thread_inverse_runs_the_serial_twin_with_the_same_values(src):
    """A caller budgeted to one numba thread (the render's writer) converts back through the serial
    twin of the parallel kernel, outside the parallel-kernel lock: the same values and counts."""
    import threading

    import numba

    from lookgrid._numba import PARALLEL_LOCK

    p = ColorPipeline(src=src)
    rng = np.random.default_rng(8)
    y = rng.uniform(-2.0, 1.6, (37, 41, 4)).astype(np.float32)
    y[0, 0] = [np.nan, np.inf, -np.inf, np.nan]
    y[1, 1, :3] = 200.0  # beyond the half range once linear: clamped
    ref, ref_report = p.from_working(y, return_report=True)
    got = []

    def convert():  # on its own thread: numba's thread count is per thread
        numba.set_num_threads(1)
        got.append(p.from_working(y, return_report=True))

    with PARALLEL_LOCK:  # held by another stage: the serial twin must not wait for it
        t = threading.Thread(target=convert, daemon=True)
        t.start()
        t.join(timeout=60)
    assert got, "the one-thread conversion waited for the parallel-kernel lock"
    one, one_report = got[0]
    assert np.array_equal(one.view(np.uint32), ref.view(np.uint32))
    assert one_report == ref_report and one_report.nan == 2


def _on_one_numba_thread(convert):
    """``convert()`` on a thread of its own budgeted to one numba thread (numba's count is per
    thread), as a render stage beside others runs: its result."""
    import threading

    import numba

    got = []

    def run():
        numba.set_num_threads(1)
        got.append(convert())

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=60)
    assert got, "the one-thread conversion did not finish"
    return got[0]


def _half_edge_bits() -> np.ndarray:
    """float32 bit patterns where rounding to half can go wrong: every half and its float32
    neighbours, every midpoint between neighbouring halves and its neighbours (the ties), the
    subnormal, overflow and NaN edges, and a sweep of the whole float32 range."""
    halves = _ALL_HALVES.astype(np.float32)
    finite = np.sort(halves[np.isfinite(halves)])
    mids = ((finite[1:].astype(np.float64) + finite[:-1]) / 2).astype(np.float32)
    base = np.concatenate([halves.view(np.uint32), mids.view(np.uint32)]).astype(np.int64)
    near = np.concatenate([(base + d) & 0xFFFFFFFF for d in range(-3, 4)])
    edges = np.array([0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x7F801FFF, 0x477FEFFF, 0x477FF000,
                      0x33000000, 0x33000001, 0x32FFFFFF, 0x38800000, 0x387FFFFF, 0x387FF000], np.int64)
    sweep = np.arange(0, 2**32, 4099, dtype=np.int64)
    return np.concatenate([near, edges, sweep, sweep | 0x80000000]).astype(np.uint32)


def test_half_rounding_is_numpys_bit_for_bit():
    """The kernels' float32 → half (nearest, ties to even; ±Inf beyond 65504; NaN kept) equals
    numpy's (and OpenImageIO's: tests/imaging/test_io.py) on every edge case."""
    from lookgrid.imaging import _color_kernels as kernels

    bits = _half_edge_bits()
    values = bits.view(np.float32).reshape(-1, 4)
    with np.errstate(over="ignore", invalid="ignore"):
        want = values.astype(np.float16).view(np.uint16)
    nan = np.isnan(want.view(np.float16))
    for convert in (kernels.to_half_reference, kernels.to_half):  # the reference; F16C where present
        got = np.empty(values.shape, np.uint16)
        convert(values, got)
        if convert is kernels.to_half and kernels.HAS_F16C:  # hardware NaNs are quiet NaNs
            assert np.array_equal(np.isnan(got.view(np.float16)), nan)
            got, ref = got[~nan], want[~nan]
        else:
            ref = want
        assert np.array_equal(got, ref), f"{convert.__name__}: {int((got != ref).sum())} of {got.size} differ"


@pytest.mark.parametrize("src", ["ACEScg", "Linear Rec.709 (sRGB)", "sRGB - Texture"])
def test_half_output_is_the_float_output_rounded(src):
    """``from_working(half=True)`` gives ``from_working(...).astype(float16)`` bit for bit, with the
    same NaN/Inf counts, on the parallel kernel, its one-thread twin and OpenColorIO's fallback."""
    p = ColorPipeline(src=src)
    rng = np.random.default_rng(9)
    y = rng.uniform(-0.5, 1.4, (33, 47, 4)).astype(np.float32)
    y[0, 0] = [np.nan, np.inf, -np.inf, np.nan]
    planar = np.ascontiguousarray(y.transpose(2, 0, 1)).transpose(1, 2, 0)  # the clip's layout
    ref, ref_report = p.from_working(y, return_report=True)
    want = ref.astype(np.float16)
    got, report = p.from_working(planar, return_report=True, half=True)
    assert got.dtype == np.float16 and got.shape == y.shape
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    assert report == ref_report and report.nan >= 1
    one = _on_one_numba_thread(lambda: p.from_working(y, half=True))
    assert np.array_equal(one.view(np.uint16), want.view(np.uint16))
    with pytest.raises(InvalidInputError, match="out="):
        p.from_working(y, half=True, out=np.empty(y.shape, np.float32))


def test_parallel_half_table_equals_the_serial_one():
    """The plain render loop converts half plates over numba's threads; a budgeted reader on one
    thread takes the serial kernel: the same values and counts."""
    p = ColorPipeline(src="ACEScg")
    rng = np.random.default_rng(10)
    px = rng.choice(_ALL_HALVES, (64, 50, 3))
    many, many_report = p.to_working(px, return_report=True)
    one, one_report = _on_one_numba_thread(lambda: p.to_working(px, return_report=True))
    assert np.array_equal(one.view(np.uint32), many.view(np.uint32))
    assert one_report == many_report and many_report.nan > 0
