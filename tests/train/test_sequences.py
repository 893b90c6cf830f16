"""Training on sequences of T >= 2 frames: data shapes, exact photo-sequence flows, the two-frame
random stream kept, both temporal modes of the step (tc state, flow propagation) and BPTT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lookgrid.errors import InvalidInputError
from lookgrid.model.network import LookGridNet
from lookgrid.model.propagate import propagate_grids
from lookgrid.train.data import Batch, DataConfig, TrainingData
from lookgrid.train.flow import warp
from lookgrid.train.step import LossWeights, compute_losses, frame_grids, propagate_batch

RECORDED = Path(__file__).with_name("pair_stream_recorded.json")
KEYS = ("content", "masks", "target", "references", "flow", "visibility", "supervised")


def _fingerprint(b: Batch) -> dict:
    """Per tensor: the sum and a position-weighted sum (catches reordering), plus the kinds."""
    out = {}
    for k in KEYS:
        x = getattr(b, k).double().flatten()
        w = torch.linspace(0, 1, x.numel(), dtype=torch.float64)
        out[k] = [float(x.sum()), float((x * w).sum())]
    out["kinds"] = list(b.kinds)
    return out


def _sources(tiny_data, tmp_path) -> dict[str, DataConfig]:
    blob = tmp_path / "blobclips" / "still"  # a clip without masks: random blob carried by the flow
    shutil.copytree(tiny_data / "clips" / "moving" / "frames", blob / "frames")
    return {
        "photos": DataConfig(photos=[str(tiny_data / "photos")], references=[str(tiny_data / "photos")], unpaired=0.5),
        "clips": DataConfig(clips=[str(tiny_data / "clips")]),
        "blob": DataConfig(clips=[str(tmp_path / "blobclips")], photos=[str(tiny_data / "photos")],
                           clip_weight=0.8, photo_weight=0.2),
    }


def test_two_frame_stream_is_the_pair_stream_recorded_before_sequences(tiny_data, tmp_path):
    """frames = 2 draws the same numbers in the same order as the pair-only data did (values
    recorded from the code before sequences existed, commit 094f513): the generator's next draw
    (exact, platform-independent) and the batches (float sums; a tolerance for image-codec or
    OpenCV differences between platforms)."""
    want = json.loads(RECORDED.read_text())
    for name, cfg in _sources(tiny_data, tmp_path).items():
        d = TrainingData(cfg)
        rng = np.random.default_rng(7)
        got = [_fingerprint(d.batch(rng, 2)) for _ in range(2)]
        assert int(rng.integers(2**62)) == want[name]["rng_next"], name
        for g, r in zip(got, want[name]["batches"]):
            assert g["kinds"] == r["kinds"], name
            for k in KEYS:
                assert g[k] == pytest.approx(r[k], rel=1e-5, abs=1e-3), (name, k)


@pytest.mark.parametrize("frames", [2, 3, 4])
def test_batch_shapes_for_sequences(tiny_data, frames):
    cfg = DataConfig(clips=[str(tiny_data / "clips")], photos=[str(tiny_data / "photos")], frames=frames)
    b = TrainingData(cfg).batch(np.random.default_rng(frames), 2)
    t = frames
    assert b.content.shape == (2, t, 3, 256, 256) and b.target.shape == (2, t, 3, 256, 256)
    assert b.masks.shape == (2, t, 2, 256, 256) and b.references.shape == (2, 2, 3, 256, 256)
    assert b.flow.shape == (2, t - 1, 2, 256, 256) and b.visibility.shape == (2, t - 1, 1, 256, 256)
    assert torch.allclose(b.masks.sum(2), torch.ones(2, t, 256, 256), atol=1e-5)
    assert not torch.equal(b.content[:, -1], b.content[:, -2])  # the sequence moves


@pytest.mark.parametrize("kind", ["photo", "clip"])
def test_every_consecutive_pair_is_explained_by_its_flow(tiny_data, kind):
    """T = 4: frame t-1 warped by flow entry t-1 matches frame t on visible pixels, for every pair
    (photo sequences: exact flow, so a small absolute error in working-space units; real clips:
    DIS flow, relative to the frame difference)."""
    photos = kind == "photo"
    cfg = DataConfig(clips=[str(tiny_data / "clips")], photos=[str(tiny_data / "photos")], frames=4, jitter=0.0,
                     clip_weight=0.0 if photos else 1.0, photo_weight=1.0 if photos else 0.0)
    d = TrainingData(cfg)
    rng = np.random.default_rng(2)
    for _ in range(2):
        ex = d.example(rng)
        assert ex["kind"].startswith(kind)
        for t in range(1, 4):
            prev, cur = ex["content"][t - 1 : t], ex["content"][t : t + 1]
            warped, _ = warp(prev, ex["flow"][t - 1 : t])
            vis = ex["visibility"][t - 1 : t]
            assert float(vis.mean()) > 0.5
            err = float(((warped - cur).abs() * vis).sum() / (3 * vis.sum()))
            still = float((prev - cur).abs().mean())
            if photos:
                # pair 1 samples the unresampled view: only the blob's soft edge differs; later pairs
                # add the bilinear resampling of frame t-1 by the warp itself (~0.001 here)
                assert err < 0.004 and err < 0.2 * still, (t, err, still)
            else:
                assert err < 0.35 * still, (t, err, still)


def test_frames_must_be_an_integer_of_at_least_two(tiny_data, tmp_path):
    from lookgrid.train.config import load_config

    for bad in ("1", "2.5", "true"):
        with pytest.raises(InvalidInputError, match="data.frames"):
            load_config(None, [f"data.frames={bad}"])
    assert load_config(None, ["data.frames=3"]).data.frames == 3
    with pytest.raises(InvalidInputError, match="data.frames"):
        TrainingData(DataConfig(photos=[str(tiny_data / "photos")], frames=0))
    # clips shorter than T are skipped (the tiny clip has 6 frames); no data left is the usual error
    with pytest.raises(InvalidInputError, match="no training data"):
        TrainingData(DataConfig(clips=[str(tiny_data / "clips")], frames=7))


# --- the step ------------------------------------------------------------------------------------
def _net(mode: str, **config) -> LookGridNet:
    torch.manual_seed(0)
    net = LookGridNet({"temporal": mode, **config})
    with torch.no_grad():
        net.to_grid.weight.normal_(0, 0.02)  # non-identity grids
    return net


def _batch(b: int, t: int, flow_px: float = 3.0, seed: int = 3) -> Batch:
    """A random batch of ``b`` examples, ``t`` frames; the draws of a T=2 batch come first in the
    order the pair-only recording used."""
    g = torch.Generator().manual_seed(seed)
    s = 256
    content = 0.1 + 0.4 * torch.rand((b, t, 3, s, s), generator=g)
    obj = (torch.rand((b, t, 1, s, s), generator=g) > 0.5).float()
    flow = flow_px * torch.randn((b, t - 1, 2, s, s), generator=g)
    vis = (torch.rand((b, t - 1, 1, s, s), generator=g) > 0.3).float()
    return Batch(content=content, masks=torch.cat([obj, 1 - obj], dim=2), target=content.flip(2).clone(),
                 references=0.1 + 0.4 * torch.rand((b, 2, 3, s, s), generator=g),
                 flow=flow, visibility=vis, supervised=torch.tensor([1.0, 0.0][:b]), kinds=["photo", "clip"][:b])


def test_two_frame_tc_step_gives_the_pair_losses_recorded_before_sequences():
    """T = 2 in tc mode is the pair step: every term as computed by the code before sequences
    (commit 094f513) on the same batch, weights and generator."""
    recorded = {"supervised": 0.09670910984277725, "stats": 0.11230439692735672, "swd": 0.02484888955950737,
                "laplacian": 0.0016567965503782034, "mask": 0.24850544333457947, "guide": 0.021932203322649002,
                "temporal": 0.019318055361509323, "luminance_temporal": 0.018098127096891403,
                "noise": 2.3272461930901045e-06, "total": 21.539718627929688, "grid_spread": 0.006249026861041784}
    # the recording predates the prior's tone curve: the affine prior it was made with
    net = _net("tc", prior_curve=0.0)
    _, parts = compute_losses(net, _batch(2, 2), LossWeights(temporal_real=0.5), torch.Generator().manual_seed(0))
    for name, value in recorded.items():
        assert parts[name] == pytest.approx(value, rel=1e-4, abs=1e-9), name


@pytest.mark.parametrize("mode", ["tc", "flow"])
def test_three_frame_step_runs_the_chain_and_backpropagates_through_it(monkeypatch, mode):
    """T = 3: finite losses, gradients reach the parameters, and the last frame's grids depend on
    frame 0's content through the chain (tc: the statistics state; flow: the propagated grids) —
    in flow mode that path closes when nothing is visible. In flow mode the step's frame-1 grids are
    :func:`propagate_grids` of frame 0's grids, per example."""
    import lookgrid.train.step as step_mod

    net = _net(mode)
    batch = _batch(1, 3)
    batch.content.requires_grad_(True)
    seen = []

    def recording(*args, **kw):
        out = frame_grids(*args, **kw)
        seen.append(out[0])
        return out

    monkeypatch.setattr(step_mod, "frame_grids", recording)
    total, parts = compute_losses(net, batch, LossWeights(noise_samples=1), torch.Generator().manual_seed(0))
    assert len(seen) == 4  # frames 0, 1, 2 and the noisy copy of frame 2
    assert all(np.isfinite(parts[k]) for k in ("total", "temporal", "luminance_temporal", "noise", "supervised"))
    (g0,) = torch.autograd.grad(seen[2].sum(), batch.content, retain_graph=True)
    assert float(g0[:, 0].abs().sum()) > 0  # frame 2's grids feel frame 0
    total.backward()
    assert float(net.to_grid.weight.grad.abs().sum()) > 0
    if mode == "flow":
        fresh, _ = net.predict_grids(batch.content[:, 1], net.enhance_masks(batch.masks[:, 1]),
                                     net.encode_style(batch.references[0]), None)
        mine = propagate_grids(seen[0], fresh, batch.flow[0, 0].permute(1, 2, 0), batch.visibility[0, 0, 0],
                               net.config["alpha"])
        assert torch.allclose(seen[1], mine, atol=1e-6) and not torch.allclose(seen[1], fresh, atol=1e-4)
        # nothing visible: no propagation, so frame 0 no longer reaches frame 2's grids
        seen.clear()
        batch.visibility = torch.zeros_like(batch.visibility)
        batch.content.grad = None
        compute_losses(net, batch, LossWeights(noise=0.0), torch.Generator().manual_seed(0))
        (g0,) = torch.autograd.grad(seen[2].sum(), batch.content)
        assert float(g0[:, 0].abs().sum()) == 0.0
    # without the temporal pass: the last frame only, no carry
    seen.clear()
    _, parts = compute_losses(net, batch, LossWeights(noise=0.0), torch.Generator().manual_seed(0), with_temporal=False)
    assert len(seen) == 1 and np.isnan(parts["temporal"])


def test_propagation_moves_grids_with_the_content():
    """Content moving left by one grid cell (16 px at 256²): the backward flow t -> t-1 is +16 px
    in x, so with alpha = 1 and everything visible cell (i, j) of frame t takes cell (i, j+1) of
    frame t-1, for every example of the batch (rows i·N..(i+1)·N); likewise one cell down in y."""
    g = torch.Generator().manual_seed(0)
    b, n, s = 2, 2, 256
    previous = torch.rand((b * n, 12, 8, 16, 16), generator=g)
    fresh = torch.rand((b * n, 12, 8, 16, 16), generator=g)
    vis = torch.ones(b, 1, s, s)
    flow = torch.zeros(b, 2, s, s)
    flow[:, 0] = 16.0
    out = propagate_batch(previous, fresh, flow, vis, 1.0)
    assert torch.allclose(out[..., :, :-1], previous[..., :, 1:], atol=1e-5)
    flow = torch.zeros(b, 2, s, s)
    flow[:, 1] = -16.0  # content moved down: pixel y of t was at y - 16 in t-1
    out = propagate_batch(previous, fresh, flow, vis, 1.0)
    assert torch.allclose(out[..., 1:, :], previous[..., :-1, :], atol=1e-5)
    # example 1 invisible: it keeps its fresh grids while example 0 propagates
    vis[1] = 0.0
    out = propagate_batch(previous, fresh, flow, vis, 0.5)
    assert torch.allclose(out[n:], fresh[n:]) and not torch.allclose(out[:n], fresh[:n])
