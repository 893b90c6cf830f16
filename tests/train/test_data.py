"""Training data: shapes, partitions, exact flow of synthetic clips, DIS flow of real ones, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lookgrid.errors import InvalidInputError
from lookgrid.train.data import DataConfig, TrainingData, degrade_masks, random_blob_mask, srgb_to_working
from lookgrid.train.flow import warp


def _data(tiny_data, **kw) -> TrainingData:
    cfg = DataConfig(clips=[str(tiny_data / "clips")], photos=[str(tiny_data / "photos")], holdout=["held"], **kw)
    return TrainingData(cfg)


def test_batch_shapes_partition_and_ranges(tiny_data):
    d = _data(tiny_data)
    assert len(d.photos) == 3 and len(d.clips) == 1  # held.png is held out
    b = d.batch(np.random.default_rng(0), 3)
    assert b.content.shape == (3, 2, 3, 256, 256) and b.target.shape == (3, 2, 3, 256, 256)
    assert b.masks.shape == (3, 2, 2, 256, 256) and b.references.shape == (3, 2, 3, 256, 256)
    assert b.flow.shape == (3, 1, 2, 256, 256) and b.visibility.shape == (3, 1, 1, 256, 256)
    assert torch.allclose(b.masks.sum(2), torch.ones(3, 2, 256, 256), atol=1e-5)  # background last
    # working space (ACEScct): display 0..1 maps to ~0.073..0.555
    assert 0.07 < float(b.content.min()) and float(b.content.max()) < 0.56
    assert not torch.equal(b.content, b.target)  # a grading was applied


def test_excluded_sources_are_used_neither_in_training_nor_held_out(tiny_data):
    """``exclude`` drops a file inside a listed folder (e.g. one whose licence does not fit) from
    training and from the held-out set alike; it matches the stem or the file name."""
    d = _data(tiny_data, exclude=["a", "held.png"], references=[str(tiny_data / "photos")])
    assert len(d.photos) == 2 and len(d.references) == 2 and len(d.clips) == 1
    cfg = DataConfig(photos=[str(tiny_data / "photos")], holdout=["held"], exclude=["held"])
    with pytest.raises(InvalidInputError, match="no training data"):
        TrainingData(cfg, holdout_only=True)
    only_photos = _data(tiny_data, exclude=["moving"])
    assert only_photos.clips == [] and len(only_photos.photos) == 3


def test_same_seed_same_batch_and_different_seed_differs(tiny_data):
    d = _data(tiny_data)
    a = d.batch(np.random.default_rng(5), 2)
    b = d.batch(np.random.default_rng(5), 2)
    c = d.batch(np.random.default_rng(6), 2)
    assert torch.equal(a.content, b.content) and torch.equal(a.references, b.references)
    assert not torch.equal(a.content, c.content)


@pytest.mark.parametrize("clip_weight", [0.0, 1.0])
def test_flow_explains_motion_on_visible_pixels(tiny_data, clip_weight):
    d = _data(tiny_data, clip_weight=clip_weight, photo_weight=1.0 - clip_weight, jitter=0.0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        ex = d.example(rng)
        prev, cur = ex["content"][0:1], ex["content"][1:2]
        warped, _ = warp(prev, ex["flow"])  # (T-1=1,2,S,S)
        vis = ex["visibility"]
        assert float(vis.mean()) > 0.5
        err = float(((warped - cur).abs() * vis).sum() / (3 * vis.sum()))
        still = float((prev - cur).abs().mean())
        assert err < 0.35 * still, (ex["kind"], err, still)


def test_reference_carries_the_region_grading(tiny_data):
    # with same-source references the reference of region k is graded with g_k: its mean colour
    # moves the same way as the target's region k does
    d = _data(tiny_data, same_source_reference=1.0, unpaired=0.0, jitter=0.0, clip_weight=0.0, photo_weight=1.0)
    rng = np.random.default_rng(3)
    agree = 0
    for _ in range(6):
        ex = d.example(rng)
        m = ex["masks"][1, 0]
        shift_target = ((ex["target"][1] - ex["content"][1]) * m).sum((1, 2)) / m.sum()
        shift_ref = ex["references"][0].mean((1, 2)) - ex["content"][1].mean((1, 2))
        agree += int(torch.sign(shift_target[0] - shift_target[2]) == torch.sign(shift_ref[0] - shift_ref[2]))
    assert agree >= 4


def test_mask_batch_and_degradation(tiny_data):
    d = _data(tiny_data)
    m = d.mask_batch(np.random.default_rng(0), 4)
    assert m.shape == (4, 1, 256, 256) and m.min() >= 0 and m.max() <= 1
    g = torch.Generator().manual_seed(0)
    deg = degrade_masks(m, g)
    assert deg.shape == m.shape and deg.min() >= 0 and deg.max() <= 1
    assert float((deg - m).abs().mean()) > 1e-3
    with pytest.raises(ValueError):
        degrade_masks(m[:, 0], g)


def test_blob_mask_area_and_working_conversion():
    rng = np.random.default_rng(0)
    m = random_blob_mask(rng, 64, 64, area=(0.3, 0.3))
    assert abs(float((m > 0.5).mean()) - 0.3) < 0.05
    grey = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 3).expand(3, 1, 3).contiguous()  # (3,H=1,W=3)
    w = srgb_to_working(grey)
    assert torch.allclose(w[0], w[1], atol=1e-5) and torch.allclose(w[1], w[2], atol=1e-5)  # grey stays grey
    assert abs(float(w[0, 0, 0]) - 0.0729) < 1e-3 and abs(float(w[0, 0, 2]) - 0.5547) < 2e-3


def test_no_data_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="no training data"):
        TrainingData(DataConfig(clips=[str(tmp_path)], photos=[str(tmp_path)]))


def test_shared_davis_clip_loads(shared_data):
    from lookgrid.train.data import load_clip

    clip = load_clip(shared_data / "davis" / "blackswan", max_side=320)
    assert len(clip.frames) == len(clip.masks) == 50
    assert clip.frames[0].shape == (180, 320, 3) and clip.masks[0].shape == (180, 320)


def test_exr_stills_become_display_photos(tmp_path):
    from lookgrid.imaging.io import write_image
    from lookgrid.train.data import EXR_WHITE_QUANTILE, exr_to_rgb8, load_rgb8

    rng = np.random.default_rng(0)
    lin = (rng.random((40, 50, 3)) * 4.0).astype(np.float32)      # scene-linear, well above 1
    lin[0, 0] = np.nan
    out = exr_to_rgb8(lin)
    assert out.dtype == np.uint8 and out.shape == (40, 50, 3) and tuple(out[0, 0]) == (0, 0, 0)
    grey = np.repeat((rng.random((100, 100, 1)) * 4.0).astype(np.float32), 3, axis=2)
    assert (exr_to_rgb8(grey) == 255).mean() == pytest.approx(1 - EXR_WHITE_QUANTILE, abs=0.005)  # only the top clips
    assert exr_to_rgb8(np.full((4, 4, 1), 0.5, np.float32)).shape == (4, 4, 3)
    write_image(tmp_path / "still.exr", np.nan_to_num(lin), dtype="float")
    out = exr_to_rgb8(np.nan_to_num(lin))
    np.testing.assert_array_equal(load_rgb8(tmp_path / "still.exr"), out)


def test_commercial_recipe_uses_only_commercially_usable_sources():
    from lookgrid.train.config import load_config

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs" / "train-cpu-commercial.toml")
    assert cfg.data.licence == "commercial"
    for path in cfg.data.clips + cfg.data.photos + cfg.data.references:
        assert "davis" not in path and "deep-photo" not in path, path   # CC BY-NC / non-commercial
        assert "styles/wct2/examples/style" not in path                  # dev-suite references stay unseen
    assert load_config(repo / "configs" / "train-cpu.toml").data.licence == "research-only"
