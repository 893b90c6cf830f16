import pytest
import torch

from lookgrid.errors import ShapeMismatchError
from lookgrid.model.adain import adain, masked_mean_std, mean_std, sa_adain, st_adain, tc_adain


def test_sa_adain_with_all_ones_mask_is_adain(gen):
    x = torch.randn(2, 4, 9, 11, generator=gen)
    y = torch.randn(2, 4, 5, 7, generator=gen) * 3 + 1
    assert torch.allclose(sa_adain(x, y, torch.ones(2, 1, 9, 11)), adain(x, y), atol=1e-5)


def test_masked_statistics_are_true_masked_statistics(gen):
    x = torch.randn(1, 3, 8, 8, generator=gen)
    m = torch.zeros(1, 1, 8, 8)
    m[..., 2:5, 1:6] = 1
    mean, std, fb = masked_mean_std(x, m)
    inside = x[..., 2:5, 1:6].reshape(1, 3, -1)
    assert torch.allclose(mean, inside.mean(-1), atol=1e-6)
    assert torch.allclose(std, torch.sqrt(inside.var(-1, unbiased=False) + 1e-5), atol=1e-6)
    assert not fb.any()


def test_sa_adain_ignores_pixels_outside_mask(gen):
    x = torch.randn(1, 3, 8, 8, generator=gen)
    y = torch.randn(1, 3, 8, 8, generator=gen)
    m = torch.zeros(1, 1, 8, 8)
    m[..., :4, :] = 1
    x2 = x.clone()
    x2[..., 4:, :] = 100 * torch.randn(1, 3, 4, 8, generator=gen)
    a, b = sa_adain(x, y, m), sa_adain(x2, y, m)
    assert torch.allclose(a[..., :4, :], b[..., :4, :], atol=1e-5)


def test_empty_mask_falls_back_to_frame_statistics(gen):
    x = torch.randn(2, 3, 8, 8, generator=gen)
    m = torch.ones(2, 1, 8, 8)
    m[1] = 0
    mean, std, fb = masked_mean_std(x, m)
    fm, fs = mean_std(x)
    assert fb.tolist() == [False, True]
    assert torch.allclose(mean[1], fm[1]) and torch.allclose(std[1], fs[1])
    assert torch.isfinite(sa_adain(x, x, m)).all()


def test_tiny_mask_below_min_mass_falls_back(gen):
    x = torch.randn(1, 2, 8, 8, generator=gen)
    m = torch.zeros(1, 1, 8, 8)
    m[..., 0, 0] = 0.5
    assert masked_mean_std(x, m, min_mass=1.0)[2].item() is True


def test_tc_adain_alpha_zero_is_sa_adain(gen):
    x = torch.randn(1, 4, 6, 6, generator=gen)
    y = torch.randn(1, 4, 6, 6, generator=gen)
    m = (torch.rand(1, 1, 6, 6, generator=gen) > 0.4).float()
    my, sy = mean_std(y)
    prev = (torch.randn(1, 4, generator=gen), torch.rand(1, 4, generator=gen) + 0.5)
    out, _, _ = st_adain(x, m, my, sy, *prev, alpha=0.0)
    assert torch.allclose(out, sa_adain(x, y, m), atol=1e-5)
    tc, _ = tc_adain(x, my, sy, *prev, alpha=0.0)
    assert torch.allclose(tc, adain(x, y), atol=1e-5)


def test_temporal_blend_uses_previous_statistics(gen):
    x = torch.randn(1, 4, 6, 6, generator=gen)
    my, sy = torch.zeros(1, 4), torch.ones(1, 4)
    pm, ps = torch.full((1, 4), 3.0), torch.full((1, 4), 2.0)
    _, (mh, sh), _ = st_adain(x, torch.ones(1, 1, 6, 6), my, sy, pm, ps, alpha=0.25)
    cm, cs = mean_std(x)
    assert torch.allclose(mh, 0.75 * cm + 0.25 * pm) and torch.allclose(sh, 0.75 * cs + 0.25 * ps)


def test_gradcheck_st_adain():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    m = torch.rand(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    my = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
    sy = (torch.rand(1, 2, dtype=torch.float64) + 0.5).requires_grad_()
    pm = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
    ps = (torch.rand(1, 2, dtype=torch.float64) + 0.5).requires_grad_()
    f = lambda *a: st_adain(a[0], a[1], a[2], a[3], a[4], a[5], alpha=0.3, min_mass=0.1)[0]  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, m, my, sy, pm, ps))


def test_bad_mask_shape_names_shape():
    with pytest.raises(ShapeMismatchError, match=r"\(1, 2, 4, 4\)"):
        masked_mean_std(torch.zeros(1, 3, 4, 4), torch.ones(1, 2, 4, 4))
