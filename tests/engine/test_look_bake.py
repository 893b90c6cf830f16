"""The export side of the native-node bake (issue 26): one LUT per reference of a region's style
track, a look per frame range where the look changes, key mattes, and the fidelity figures.

The numeric proof: a region's LUT is linear in its grid, the render blends the references' grids
linearly with the weight curves and the guide does not depend on the style, so the references' LUTs
dissolved with the weights (and mixed toward the input with the strength) equal the LUT of the
blended, strength-applied grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.engine import ClipSpec, RegionSpec, StyleTrack
from lookgrid.engine.look import export_look, region_luts
from lookgrid.engine.lookbake import dissolve, dissolve_lut, key_mattes, look_segments, reference_luts
from lookgrid.engine.methods import combine_styles
from lookgrid.imaging import get_pipeline, read_image
from lookgrid.imaging.looks import apply_file
from lookgrid.model.grid import apply_strength, identity_grid
from lookgrid.model.guide import GuideNet
from lookgrid.model.look import guide_of, look_lut, look_stats
from lookgrid.timeline import Key, Track

from engine_clips import STYLE_A, STYLE_B
from test_render_clip import write_clip

TRANSITION = Track((Key(2, 0.0, "smooth"), Key(4, 1.0)))     # reference 2's weight: 0 at 2, 1 at 4
STRENGTH = Track((Key(1, 1.0, "linear"), Key(5, 0.4)))


def _transition_spec(inp, mask):
    return ClipSpec(input=inp, regions=[
        RegionSpec("fg", mask, [StyleTrack(STYLE_A, Track.constant(1.0)), StyleTrack(STYLE_B, TRANSITION)],
                   STRENGTH),
        RegionSpec("background", None, [StyleTrack(STYLE_B)])])


@pytest.mark.parametrize("weights,strength", [([1.0, 0.0], 1.0), ([0.3, 0.7], 1.0), ([0.55, 0.45], 0.35),
                                              ([0.0, 0.0], 0.8), ([0.2, 0.5], 1.7)])
def test_dissolved_reference_luts_equal_the_lut_of_the_blended_grid(weights, strength):
    """Model level, exact: the look of Σ wᵢΓᵢ (+ the identity for 1 − Σw) at strength s is
    c + s·Σ wᵢ·(LUTᵢ(c) − c) for every LUT entry."""
    torch.manual_seed(3)
    d, hg, wg, h, w = 8, 4, 6, 24, 30
    ident = identity_grid(1, d, hg, wg, dtype=torch.float64)[0]
    refs = [ident + 0.2 * torch.randn(12, d, hg, wg, dtype=torch.float64) for _ in range(2)]
    code = torch.zeros(h, w, dtype=torch.float64)
    code[:, w // 2:] = 1.0
    matte = torch.rand(h, w, dtype=torch.float64) * (code > 0.5)
    guide = guide_of(GuideNet().double())
    blended = apply_strength(combine_styles(refs, weights).unsqueeze(0), strength)[0]
    direct = look_lut(look_stats(blended, code, matte), guide, 9)
    per_ref = [look_lut(look_stats(g, code, matte), guide, 9) for g in refs]
    np.testing.assert_allclose(dissolve_lut(per_ref, weights, strength, 9).numpy(), direct.numpy(),
                               rtol=0, atol=1e-10)
    # the same through the colour form the native graph applies
    lattice = torch.stack(torch.meshgrid(*[torch.linspace(0, 1, 9, dtype=torch.float64)] * 3, indexing="ij"), -1)
    np.testing.assert_allclose(dissolve(lattice.numpy(), [p.numpy() for p in per_ref], weights, strength),
                               direct.numpy(), atol=1e-10)


def test_key_mattes_make_a_region_order_keymix_chain_equal_the_render_blend():
    rng = np.random.default_rng(0)
    w = rng.random((3, 5, 7))
    w = w / np.maximum(1.0, w.sum(axis=0)) * rng.random((1, 5, 7))   # soft, overlapping, Σ ≤ 1
    p, looks = rng.random((5, 7)), rng.random((3, 5, 7))
    keys = key_mattes(w)
    x = p.copy()
    for k in range(3):
        x = x + keys[k] * (looks[k] - x)            # Nuke's Keymix: B·(1 − m) + A·m
    np.testing.assert_allclose(x, p + (w * (looks - p)).sum(axis=0), atol=1e-6)
    binary = np.zeros((2, 3, 3))
    binary[0, :, :2], binary[1, :, 2] = 1, 1
    np.testing.assert_array_equal(key_mattes(binary), binary)      # mattes that do not overlap: as they are


def test_segments_are_runs_where_the_look_holds_and_the_transitions_between():
    frames = list(range(1, 9))
    hold_a, hold_b = [([1.0, 0.0], 1.0)], [([0.0, 1.0], 1.0)]
    mixes = [hold_a, hold_a, [([0.7, 0.3], 1.0)], [([0.2, 0.8], 1.0)], hold_b, hold_b, hold_b, [([0.0, 1.0], 0.5)]]
    assert look_segments(mixes, frames) == [(1, 2), (3, 4), (5, 7), (8, 8)]
    assert look_segments([hold_a] * 8, frames) == [(1, 8)]
    assert look_segments([[([1.0], 0.1 * i)] for i in range(8)], frames) == [(1, 8)]   # one long transition
    assert look_segments([hold_a], [5]) == [(5, 5)]


def test_one_frame_export_per_reference_luts_dissolve_to_that_frame_look(engine, tmp_path):
    """Engine level, on a frame inside the transition (weights 1 and 0.5, normalised; strength 0.5): the
    exported references dissolved with the frame's weights and strength = the frame's exported
    look LUT (no OpenColorIO rounding in between: the LUTs as computed)."""
    inp, mask = write_clip(tmp_path, range(1, 6))
    spec = _transition_spec(inp, mask)
    res = export_look(engine, spec, tmp_path / "looks", [3], size=17, bake=True)
    col = res.collection
    fg = col.regions[0]
    weights, strength = fg.mix[0]
    assert weights == pytest.approx([2 / 3, 1 / 3]) and strength == pytest.approx(STRENGTH.evaluate(3))
    luts, _ = region_luts(col, 17)
    refs = reference_luts(fg, col.guide, 17)
    assert len(refs) == 2 and not torch.allclose(refs[0], refs[1])
    np.testing.assert_allclose(dissolve_lut(refs, weights, strength, 17).numpy(), luts[0].numpy(), atol=1e-6)  # float32 grids


def test_bake_export_files_fidelity_and_mix(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 6))
    out = tmp_path / "looks"
    res = export_look(engine, _transition_spec(inp, mask), out, [1, 2, 3, 4, 5], size=17, bake=True)
    fg = res.bake["fg"]
    assert len(fg.reference_clfs) == 2 and all(p in res.files for p in fg.reference_clfs + fg.reference_cubes)
    # the strength curve changes at every frame: one transition over the whole shot
    assert [(s.first, s.last) for s in fg.segments] == [(1, 5)] and fg.segments[0].clf == ""
    assert fg.frames == [1, 2, 3, 4, 5] and fg.weights[0] == pytest.approx([1.0, 0.0])
    assert fg.weights[4] == pytest.approx([0.5, 0.5]) and fg.strength[4] == pytest.approx(0.4)
    assert res.bake["background"].strength == [1.0] * 5 and res.bake["background"].weights == [[1.0]] * 5
    for region in ("fg", "background"):
        for f in range(1, 6):
            assert (out / f"{region}.key.{f:04d}.exr").is_file()
    # key mattes of binary mattes are the mattes
    np.testing.assert_allclose(read_image(out / "fg.key.0003.exr").pixels[..., 3],
                               read_image(out / "fg.matte.0003.exr").pixels[..., 3], atol=1e-3)
    # fidelity of the shot look and of the dissolved references, measured by the export itself
    for region in ("fg", "background"):
        f, b = res.fidelity[region], res.bake[region].fidelity
        assert f.pixels > 0 and b.pixels == f.pixels and np.isfinite([f.mean, f.p95, b.mean, b.p95]).all()
    # following the curves beats one look for the whole shot
    assert res.bake["fg"].fidelity.mean < res.fidelity["fg"].mean
    # the dissolve of frame 3, through OpenColorIO's reading of the files, changes the picture
    shot = read_image(tmp_path / "in" / "f.0003.exr").pixels[..., :3].reshape(-1, 3)
    work = get_pipeline(None, "ACEScg").to_working(shot[None])[0]
    refs = [apply_file(p, work) for p in fg.reference_clfs]
    mixed = dissolve(work, refs, fg.weights[2], fg.strength[2])
    assert np.isfinite(mixed).all() and np.abs(mixed - work).max() > 1e-3


def test_bake_writes_a_look_per_range_where_the_look_changes(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 7))
    spec = _transition_spec(inp, mask)
    spec.regions[0].strength = Track.constant(1.0)
    res = export_look(engine, spec, tmp_path / "looks", list(range(1, 7)), size=17, bake=True)
    segs = res.bake["fg"].segments
    assert [(s.first, s.last) for s in segs] == [(1, 2), (3, 3), (4, 6)]       # weight keys at 2 and 4
    for s in segs:
        assert s.clf in res.files and s.cube in res.files and s.fidelity is not None and s.fidelity.pixels > 0


def test_without_bake_nothing_more_is_written(engine, tmp_path):
    inp, mask = write_clip(tmp_path, range(1, 3))
    res = export_look(engine, _transition_spec(inp, mask), tmp_path / "looks", [1, 2], size=17)
    assert res.bake == {} and not [p for p in res.files if ".ref" in p or ".key." in p]
    assert set(res.fidelity) == {"fg", "background"}


def test_a_bake_of_some_regions_only_is_refused(engine, tmp_path):
    from lookgrid.errors import InvalidInputError

    inp, mask = write_clip(tmp_path, range(1, 3))
    with pytest.raises(InvalidInputError, match="a bake exports every region"):
        export_look(engine, _transition_spec(inp, mask), tmp_path / "looks", [1], bake=True, regions=["fg"])
    assert not (tmp_path / "looks").exists()
