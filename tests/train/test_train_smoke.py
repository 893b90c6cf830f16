"""`lookgrid train` end to end on tiny generated data: a few iterations, resume, repeatability,
outputs (CSV, plot, checkpoint, weights in the shipped format), and the batched render."""

from __future__ import annotations

import csv

import torch

from lookgrid.cli import main


def _args(tiny_data, out, *extra):
    return [
        "train",
        "--quiet",
        "--out", str(out),
        f'data.clips=["{tiny_data / "clips"}"]',
        f'data.photos=["{tiny_data / "photos"}"]',
        f'data.references=["{tiny_data / "photos"}"]',
        'data.holdout=["held"]',
        "data.unpaired=0.5",
        "optim.batch=1",
        "optim.warmup_steps=0",
        "optim.min_lr_ratio=1.0",  # constant lr: a resumed run must equal a straight one
        "masks.steps=2",
        "masks.batch=2",
        "loss.noise_samples=1",
        "loss.noise_every=1",
        "loss.temporal_every=2",  # step 0: two frames + temporal terms; step 1: frame t only
        "checkpoint.log_every=1",
        "eval.pairs=1",
        *extra,
    ]


def _rows(out):
    with (out / "losses.csv").open() as f:
        return list(csv.DictReader(f))


def test_train_smoke_resume_and_repeat(tiny_data, tmp_path, capsys):
    from lookgrid.model.load import load_model

    a = tmp_path / "a"
    assert main(_args(tiny_data, a, "--max-steps", "1")) == 0
    assert "trained 1 steps" in capsys.readouterr().out
    for name in ("config.json", "checkpoint.pt", "losses.csv", "losses.png", "model.pt", "metrics.json"):
        assert (a / name).is_file(), name
    # held-out rows, with the colour prior alone beside the trained network (the model's default base)
    import json

    rows = json.loads((a / "metrics.json").read_text())["methods"]
    assert set(rows) == {"input", "reinhard", "lookgrid", "prior"}
    assert rows["prior"]["l1"] != rows["lookgrid"]["l1"] and rows["input"]["warp_ratio"] == 1.0
    # a second start on the same folder without --resume is refused (exit 2, one line)
    assert main(_args(tiny_data, a, "--max-steps", "1")) == 2
    enh_after_1 = {k: v.clone() for k, v in load_model(a / "model.pt").mask_enhancer.state_dict().items()}
    assert main(_args(tiny_data, a, "--max-steps", "2", "--resume", "--no-eval")) == 0

    b = tmp_path / "b"
    assert main(_args(tiny_data, b, "--max-steps", "2", "--no-eval")) == 0
    ra, rb = _rows(a), _rows(b)
    assert [r["phase"] for r in ra] == ["masks", "masks", "main", "main"]
    assert ra[2]["luminance_temporal"] != "" and ra[3]["luminance_temporal"] == ""
    for x, y in zip(ra, rb):
        assert x["total"] == y["total"] and x["step"] == y["step"]
    na, nb = load_model(a / "model.pt"), load_model(b / "model.pt")
    for (k, va), vb in zip(na.state_dict().items(), nb.state_dict().values()):
        assert torch.equal(va, vb), k
    # training moved the last layer away from its zero (identity-grid) initialisation, and the
    # grids now depend on the content (guard against a dead grid path)
    assert float(na.to_grid.weight.detach().abs().sum()) > 0
    g = torch.Generator().manual_seed(4)
    masks = torch.zeros(1, 2, 256, 256)
    masks[:, 0, :, :128] = 1
    masks[:, 1] = 1 - masks[:, 0]
    styles = na.encode_style(0.1 + 0.4 * torch.rand((2, 3, 256, 256), generator=g))
    with torch.no_grad():
        g1, _ = na.predict_grids(0.1 + 0.4 * torch.rand((1, 3, 256, 256), generator=g), masks, styles)
        g2, _ = na.predict_grids(0.1 + 0.4 * torch.rand((1, 3, 256, 256), generator=g), masks, styles)
    assert float((g1 - g2).abs().max()) > 1e-6
    assert "grid_spread" in ra[2] and float(ra[2]["grid_spread"]) >= 0
    # the mask enhancement was pre-trained (no longer the zero-initialised residual), then frozen
    assert float(na.mask_enhancer.m3.weight.detach().abs().sum()) > 0
    for k, v in na.mask_enhancer.state_dict().items():
        assert torch.equal(v, enh_after_1[k]), k
    ck = torch.load(a / "checkpoint.pt", weights_only=False)
    assert ck["phase"] == "main" and ck["step"] == 2


def test_bad_override_is_a_clear_error(tiny_data, tmp_path, capsys):
    assert main(_args(tiny_data, tmp_path / "c", "loss.nonsense=1")) == 2
    assert "unknown key" in capsys.readouterr().err


def test_render_batch_matches_model_render_parts():
    from lookgrid.model.network import LookGridNet
    from lookgrid.model.render import render_parts
    from lookgrid.train.step import render_batch

    torch.manual_seed(0)
    net = LookGridNet()
    with torch.no_grad():
        net.to_grid.weight.normal_(0, 0.02)  # non-identity grids
    g = torch.Generator().manual_seed(1)
    img = 0.1 + 0.4 * torch.rand((2, 3, 256, 256), generator=g)
    m0 = (torch.rand((2, 1, 256, 256), generator=g) > 0.5).float()
    masks = torch.cat([m0, 1 - m0], dim=1)
    styles = net.encode_style(0.1 + 0.4 * torch.rand((4, 3, 256, 256), generator=g))
    with torch.no_grad():
        grids, _ = net.predict_grids(img, masks, styles)
        batched = render_batch(net, img, masks, grids)["output"]
        for i in range(2):
            one = render_parts(net, img[i : i + 1], masks[i : i + 1], grids[2 * i : 2 * i + 2])["output"]
            assert torch.allclose(batched[i : i + 1], one, atol=1e-5)
    assert not torch.allclose(batched, img, atol=1e-3)


def test_mask_enhancer_metrics_identity_enhancer():
    from lookgrid.model.network import LookGridNet
    from lookgrid.train.evaluate import mask_enhancer_metrics

    m = torch.zeros(2, 1, 256, 256)
    m[:, :, 64:192, 80:200] = 1
    res = mask_enhancer_metrics(LookGridNet(), m, seed=0)  # untrained enhancer = identity
    assert abs(res["enhanced"]["mae"] - res["degraded"]["mae"]) < 1e-3
    assert 0.3 < res["degraded"]["iou"] < 1.0


def test_temporal_real_weights_real_clips_in_the_temporal_terms():
    """``loss.temporal_real`` scales the temporal terms' visibility of real-clip examples only."""
    from lookgrid.model.network import LookGridNet
    from lookgrid.train.data import Batch
    from lookgrid.train.step import LossWeights, compute_losses

    torch.manual_seed(0)
    net = LookGridNet()
    g = torch.Generator().manual_seed(3)
    b, s = 2, 256
    content = 0.1 + 0.4 * torch.rand((b, 2, 3, s, s), generator=g)
    obj = (torch.rand((b, 2, 1, s, s), generator=g) > 0.5).float()
    batch = Batch(content=content, masks=torch.cat([obj, 1 - obj], dim=2), target=content.clone(),
                  references=0.1 + 0.4 * torch.rand((b, 2, 3, s, s), generator=g),
                  flow=torch.zeros(b, 1, 2, s, s), visibility=torch.ones(b, 1, 1, s, s), supervised=torch.ones(b),
                  kinds=["clip", "clip"])

    def temporal(weight, kinds):
        batch.kinds = kinds
        w = LossWeights(noise=0.0, temporal_real=weight)
        with torch.no_grad():
            _, parts = compute_losses(net, batch, w, torch.Generator().manual_seed(0))
        return parts["temporal"], parts["luminance_temporal"]

    full = temporal(1.0, ["clip", "clip"])
    assert full[0] > 0 and full[1] > 0
    assert temporal(0.0, ["clip", "clip"]) == (0.0, 0.0)
    assert temporal(0.0, ["photo", "photo"]) == full  # synthetic clips (exact flow) keep weight 1
    mixed = temporal(0.0, ["photo", "clip"])
    assert 0 < mixed[0] and mixed != full
