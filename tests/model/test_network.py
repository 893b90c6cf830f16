import pytest
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.grid import identity_grid
from lookgrid.model.network import LookGridNet
from lookgrid.model.state import StyleFeatures, TemporalState

R = LookGridNet.LOW_RES


def _inputs(gen, b=1, n=2):
    content = torch.rand(b, 3, R, R, generator=gen)
    masks = torch.zeros(b, n, R, R)
    for k in range(n):
        masks[:, k, :, k * R // n:(k + 1) * R // n] = 1
    return content, masks, torch.rand(n, 3, R, R, generator=gen)


def test_untrained_net_predicts_identity_grids(identity_net, gen):
    content, masks, styles = _inputs(gen)
    with torch.no_grad():
        grids, state = identity_net.predict_grids(content, masks, identity_net.encode_style(styles))
    assert grids.shape == (2, 12, 8, 16, 16)
    assert torch.equal(grids, identity_grid(2))
    assert isinstance(state, TemporalState) and state.num_regions == 2
    assert [tuple(m.shape) for m in state.means] == [(2, 8), (2, 16), (2, 32)]


def test_batch_and_style_rows(identity_net, gen):
    content, masks, styles = _inputs(gen, b=2, n=3)
    with torch.no_grad():
        sf = identity_net.encode_style(styles)
        g, st = identity_net.predict_grids(content, masks, sf)
        g2, _ = identity_net.predict_grids(content, masks, StyleFeatures.stack([sf, sf]))
    assert g.shape == (6, 12, 8, 16, 16) and st.num_regions == 6
    assert torch.equal(g, g2)


def _trained_like(seed=3):
    torch.manual_seed(seed)
    net = LookGridNet().eval()
    with torch.no_grad():  # make the grid head non-zero so grids depend on inputs
        net.to_grid.weight.normal_(0, 0.05)
    return net


def test_temporal_state_changes_the_result_and_alpha_zero_ignores_it(gen):
    net = _trained_like()
    content, masks, styles = _inputs(gen)
    with torch.no_grad():
        sf = net.encode_style(styles)
        g1, s1 = net.predict_grids(content, masks, sf)
        other, _, _ = _inputs(gen)
        _, s_other = net.predict_grids(other, masks, sf)
        g_state, _ = net.predict_grids(content, masks, sf, s_other, alpha=0.5)
        g_a0, _ = net.predict_grids(content, masks, sf, s_other, alpha=0.0)
        g_again, s_again = net.predict_grids(content, masks, sf)
    assert not torch.allclose(g_state, g1, atol=1e-4)
    assert torch.allclose(g_a0, g1, atol=1e-6)
    assert torch.equal(g_again, g1)  # no hidden state in modules
    assert all(torch.equal(a, b) for a, b in zip(s1.means, s_again.means))


def test_region_k_uses_style_k(gen):
    net = _trained_like()
    # the tone curve is fitted along the guide, which sees the region order (its region codes), so
    # only the curve-free grids are invariant to swapping the regions and their styles together
    net.config["prior_curve"] = 0.0
    content, masks, styles = _inputs(gen)
    with torch.no_grad():
        sf = net.encode_style(styles)
        g, _ = net.predict_grids(content, masks, sf)
        g_swapped, _ = net.predict_grids(content, masks.flip(1), sf.select([1, 0]))
    assert torch.allclose(g, g_swapped.flip(0), atol=1e-5)


def test_empty_region_mask_is_reported_not_nan(gen, caplog):
    net = _trained_like()
    content, masks, styles = _inputs(gen)
    masks[:, 1] = 0
    with torch.no_grad():
        g, st = net.predict_grids(content, masks, net.encode_style(styles))
    assert torch.isfinite(g).all()
    assert st.fallback_regions == (1,)
    assert "empty or tiny masks" in caplog.text


def test_state_of_wrong_region_count_is_rejected(identity_net, gen):
    content, masks, styles = _inputs(gen)
    with torch.no_grad():
        sf = identity_net.encode_style(styles)
        _, st = identity_net.predict_grids(content, masks, sf)
        with pytest.raises(ShapeMismatchError, match="number of regions"):
            identity_net.predict_grids(content, masks[:, :1], sf.select([0]), st)


def test_bad_shapes_state_the_shape(identity_net, gen):
    content, masks, styles = _inputs(gen)
    sf = identity_net.encode_style(styles)
    with pytest.raises(ShapeMismatchError, match=r"got \(1, 3, 128, 128\)"):
        identity_net.predict_grids(content[..., :128, :128], masks, sf)
    with pytest.raises(ShapeMismatchError, match=r"got 3"):
        identity_net.predict_grids(content, masks, StyleFeatures.stack([sf, sf.select([0])]))
    with pytest.raises(ShapeMismatchError, match=r"got \(2, 4, 256, 256\)"):
        identity_net.encode_style(torch.zeros(2, 4, R, R))
    with pytest.raises(InvalidInputError, match="NaN"):
        identity_net.predict_grids(content * float("nan"), masks, sf)


def test_enhance_masks_starts_near_identity(identity_net, gen):
    m = torch.rand(1, 3, R, R, generator=gen)
    out = identity_net.enhance_masks(m)
    assert out.shape == m.shape and (out - m).abs().max() < 2e-4


def test_guide_is_in_unit_interval_and_mask_aware(identity_net, gen):
    img = torch.rand(1, 3, 20, 30, generator=gen)
    m = torch.zeros(1, 2, 20, 30)
    m[:, 0, :, :15] = 1
    m[:, 1] = 1 - m[:, 0]
    z = identity_net.guide(img, m)
    assert z.shape == (1, 20, 30) and (z > 0).all() and (z < 1).all()
    with torch.no_grad():
        identity_net.guide_net.w1[:, 3] += 0.5  # weight on the region code
        z2 = identity_net.guide(img, m)
        identity_net.guide_net.w1[:, 3] -= 0.5
    assert not torch.allclose(z, z2)


def test_gradients_reach_every_trainable_parameter(gen):
    net = _trained_like().train()
    content, masks, styles = _inputs(gen)
    grids, st = net.predict_grids(content, masks, net.encode_style(styles))
    grids2, _ = net.predict_grids(content, masks, net.encode_style(styles), st)
    (grids.square().mean() + grids2.square().mean()).backward()
    untouched = [n for n, p in net.named_parameters()
                 if (p.grad is None or p.grad.abs().sum() == 0) and not n.startswith(("guide_net", "mask_enhancer"))]
    assert untouched == []


def test_unknown_config_key_rejected():
    with pytest.raises(InvalidInputError, match="unknown"):
        LookGridNet({"colour": 1})


def test_vgg19_encoder_loads_torchvision_state_dict(tmp_path, gen):
    from lookgrid.errors import ModelNotAvailableError
    from lookgrid.model.encoder import VGG19Encoder

    shapes = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
              14: (256, 256), 16: (256, 256), 19: (512, 256), 21: (512, 512)}
    sd = {}
    for i, (o, c) in shapes.items():
        sd[f"features.{i}.weight"] = torch.randn(o, c, 3, 3, generator=gen) * 0.01
        sd[f"features.{i}.bias"] = torch.zeros(o)
    sd["classifier.0.weight"] = torch.zeros(1)
    path = tmp_path / "vgg19.pth"
    torch.save(sd, path)
    enc = VGG19Encoder()
    enc.load_torchvision(path)
    assert torch.equal(enc.convs["19"].weight, sd["features.19.weight"])
    feats = enc(torch.rand(1, 3, 32, 32, generator=gen))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 32), (1, 128, 16, 16), (1, 256, 8, 8), (1, 512, 4, 4)]
    net = LookGridNet({"encoder": "vgg19"}, vgg19_weights=path)
    assert net.blocks[0].s1.in_channels == 64
    del sd["features.19.weight"]
    torch.save(sd, path)
    with pytest.raises(ModelNotAvailableError, match="features.19.weight"):
        VGG19Encoder().load_torchvision(path)
