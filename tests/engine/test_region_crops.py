"""Small regions analysed in their own crop (:mod:`lookgrid.engine.lowres`, ``views`` of
``LookGridNet.predict_grids``): a region that covers little of the frame gets its colour statistics
from a crop where it has many analysis pixels, not from the few (and edge-mixed) ones it has in the
256² frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lookgrid.engine import lowres as LR
from lookgrid.engine.lowres import crop_box, make_lowres
from lookgrid.model import prior as P
from lookgrid.model.load import prior_model


def _wide_shot(h=720, w=1280, seed=0):
    """A textured frame with a small round 'car' (~0.7 % of the frame) of its own colours."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    image = torch.stack([0.45 + 0.05 * torch.sin(xx / 7.0), 0.35 + 0.05 * torch.cos(yy / 5.0), 0.5 + 0 * xx]).float()
    car = (((yy - 300) / 32.0) ** 2 + ((xx - 820) / 45.0) ** 2 <= 1.0).float()
    texture = 0.08 * torch.rand(3, h, w, generator=g)
    image = torch.where(car.bool(), torch.tensor([0.75, 0.15, 0.1]).view(3, 1, 1) + texture, image)
    masks = torch.stack([car, 1.0 - car])[None]  # (1, N=2, H, W): car, background
    return image[None], masks


def test_crop_box_grows_the_bounding_box_and_refuses_large_or_empty_regions():
    m = torch.zeros(100, 200)
    m[40:60, 50:90] = 1.0  # 20 x 40
    assert crop_box(m) == (35, 65, 40, 100)  # 25 % margin each way
    m2 = torch.zeros(100, 200)
    m2[0:3, 197:200] = 1.0  # at the corner: the margin is clipped, at least 2 pixels
    assert crop_box(m2) == (0, 5, 195, 200)
    assert crop_box(torch.zeros(100, 200)) is None  # empty
    assert crop_box(torch.ones(100, 200)) is None  # the whole frame
    big = torch.zeros(100, 200)
    big[10:70, 20:150] = 1.0  # its crop would be far over a quarter of the frame
    assert crop_box(big) is None
    assert crop_box(m, max_share=0.0) is None


def test_a_small_region_gets_a_crop_view_and_the_background_does_not(monkeypatch):
    image, masks = _wide_shot()
    low = make_lowres(image, masks, 256)
    assert set(low.views) == {0}
    content, planes = low.views[0]
    assert content.shape == (1, 3, 256, 256) and planes.shape == (1, 2, 256, 256)
    assert content.dtype == torch.float16 and planes.dtype == torch.float16
    # the car fills a large share of its crop, against a sliver of the frame
    assert float(planes[0, 0].float().mean()) > 30 * float(low.masks[0, 0].float().mean())
    views = low.network_views([0, 1])
    assert views[0].shape == (2, 3, 256, 256) and views[1].shape == (2, 2, 256, 256)
    assert torch.equal(views[0][1], low.content[0].float())  # the background row: the frame
    assert torch.equal(views[1][0], planes[0].float())
    assert low.network_views([1]) is None  # no row with a crop
    monkeypatch.setenv(LR.REGION_CROPS_ENV, "0")
    assert make_lowres(image, masks, 256).views == {}


def test_the_crop_gives_the_small_region_its_own_statistics():
    """The car's colour mean and covariance from its crop are far closer to the full-resolution
    truth than from the 256² frame, where its edge pixels mix with the street."""
    image, masks = _wide_shot()
    truth_mean, truth_cov, _ = P.colour_stats(image.double(), masks[:, :1].double())
    low = make_lowres(image, masks, 256)
    frame_mean, frame_cov, _ = P.colour_stats(low.content.double(), low.masks[:, :1].double())
    crop, planes = low.views[0]
    crop_mean, crop_cov, _ = P.colour_stats(crop.double(), planes[:, :1].double())

    def err(mean, cov):
        return float((mean - truth_mean).norm() + (cov - truth_cov).norm())

    assert err(crop_mean, crop_cov) < 0.3 * err(frame_mean, frame_cov)


def test_views_of_the_frame_itself_change_nothing_and_a_crop_changes_only_its_row():
    net = prior_model()
    image, masks = _wide_shot(seed=1)
    low = make_lowres(image, masks, 256)
    gen = np.random.default_rng(3)
    styles = torch.from_numpy(gen.uniform(0.1, 0.9, (2, 3, 256, 256)).astype(np.float32))
    feats = net.encode_style(styles)
    content, planes = low.content.float(), low.masks.float()
    with torch.no_grad():
        plain, _ = net.predict_grids(content, planes, feats)
        same, _ = net.predict_grids(
            content, planes, feats, views=(content.expand(2, -1, -1, -1), planes.expand(2, -1, -1, -1))
        )
        cropped, _ = net.predict_grids(content, planes, feats, views=low.network_views([0, 1]))
    assert torch.equal(plain, same)
    assert torch.equal(cropped[1], plain[1])  # the background has no crop
    assert not torch.allclose(cropped[0], plain[0], atol=1e-3)
    with pytest.raises(Exception, match="views' masks"):
        net.predict_grids(
            content, planes, feats, views=(content.expand(2, -1, -1, -1), planes[:, :1].expand(2, -1, -1, -1))
        )
