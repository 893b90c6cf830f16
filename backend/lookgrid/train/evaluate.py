"""Held-out synthetic pairs: how a trained network compares with the untouched input and with
per-region Reinhard, on examples built exactly like training examples from sources named in
``data.holdout`` (never seen in training).

Per method, averaged over pairs (frame t of each two-frame example):

* ``l1``: mean absolute difference to the synthetic target (working-space units);
* ``oklab_moments``: per-region Oklab mean/std distance to the region's reference (the training
  statistics term at one scale);
* ``swd``: per-region sliced Wasserstein distance in CIE Lab to the reference
  (:func:`lookgrid.eval.metrics.region_style_distance`, as ``lookgrid eval`` measures style);
* ``warp_mse``: mean squared difference between output t and the flow-warped output t-1 on visible
  pixels (the temporal loss), and ``warp_ratio`` = that over the same for the input.

For a model whose grids are a residual on the colour prior (:mod:`lookgrid.model.prior`), a
``prior`` row renders the same network with the residual switched off (:func:`prior_only`), which
says what training added on top of the closed-form transform.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from lookgrid.errors import InvalidInputError
from lookgrid.eval.metrics import region_style_distance, sample_pixels
from lookgrid.model.colormath import working_to_lab
from lookgrid.model.reinhard import reinhard_transfer, style_stats
from lookgrid.train import losses as L
from lookgrid.train.data import TrainingData, degrade_masks
from lookgrid.train.step import frame_grids, render_batch

METHODS = ("input", "reinhard", "lookgrid")
PRIOR_ROW = "prior"


def prior_only(net):
    """A copy of ``net`` whose residual head is zero: its grids are the colour prior alone."""
    bare = copy.deepcopy(net)
    with torch.no_grad():
        bare.to_grid.weight.zero_()
        bare.to_grid.bias.zero_()
    return bare.eval()


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(1, 2, 0).contiguous().numpy()


@torch.no_grad()
def run_lookgrid(net, ex: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs ``(prev (1,3,S,S), cur (1,3,S,S))`` of the network on one example (two frames, t-1
    carried to t in the net's temporal mode, :func:`lookgrid.train.step.frame_grids`), rendered
    with the batched reference path."""
    content, masks, refs = ex["content"], ex["masks"], ex["references"]
    n = masks.shape[1]
    styles = net.encode_style(refs)
    outs, carry = [], None
    for f in range(2):
        m = masks[f : f + 1]
        grids, carry = frame_grids(
            net, content[f : f + 1], net.enhance_masks(m), styles, carry, ex["flow"][0:1], ex["visibility"][0:1]
        )
        outs.append(render_batch(net, content[f : f + 1], m, grids)["output"])
    assert grids.shape[0] == n
    return outs[0], outs[1]


def run_reinhard(ex: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-region Reinhard (lookgrid.model.reinhard) on both frames of one example."""

    stats = [style_stats(_hwc(r)) for r in ex["references"]]
    outs = []
    for f in range(2):
        o = reinhard_transfer(_hwc(ex["content"][f]), ex["masks"][f].numpy(), stats)
        outs.append(torch.from_numpy(o).permute(2, 0, 1)[None])
    return outs[0], outs[1]


def pair_metrics(prev: torch.Tensor, cur: torch.Tensor, ex: dict) -> dict:
    """Metrics of one method's outputs ``prev, cur (1,3,S,S)`` on example ``ex``."""

    masks = ex["masks"][1:2]
    refs = ex["references"][None]
    flow, vis = ex["flow"][0:1], ex["visibility"][0:1]  # the pair (0, 1)
    res = {
        "l1": float((cur - ex["target"][1:2]).abs().mean()),
        "oklab_moments": float(L.region_stats_loss(cur, masks, refs, scales=(1,))),
        "warp_mse": float(L.temporal_loss(cur, prev, flow, vis)),
    }
    swd = []
    img = _hwc(cur[0])
    for k in range(masks.shape[1]):
        ref_lab = working_to_lab(sample_pixels(_hwc(ex["references"][k]).reshape(-1, 3), 20000, 0).astype(np.float64))
        d = region_style_distance(img, masks[0, k].numpy(), ref_lab)
        if d is not None:
            swd.append(d.swd)
    res["swd"] = float(np.mean(swd)) if swd else float("nan")
    return res


def heldout_metrics(net, cfg, *, progress: Callable[[str], None] | None = None) -> dict | None:
    """Metrics of :data:`METHODS` on ``cfg.eval.pairs`` held-out examples; None when the config
    names no held-out sources or none are found."""
    dcfg = copy.deepcopy(cfg.data)
    dcfg.unpaired = 0.0  # every held-out pair has a synthetic target
    dcfg.frames = 2  # pairs, whatever sequence length training used
    try:
        data = TrainingData(dcfg, holdout_only=True)
    except InvalidInputError:
        return None
    rng = np.random.default_rng(cfg.eval.seed)
    net.eval()
    bare = prior_only(net) if getattr(net, "uses_prior", False) else None
    methods = METHODS + ((PRIOR_ROW,) if bare is not None else ())
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(cfg.eval.pairs):
        ex = data.example(rng)
        rows["input"].append(pair_metrics(ex["content"][0:1], ex["content"][1:2], ex))
        rows["reinhard"].append(pair_metrics(*run_reinhard(ex), ex))
        rows["lookgrid"].append(pair_metrics(*run_lookgrid(net, ex), ex))
        if bare is not None:
            rows[PRIOR_ROW].append(pair_metrics(*run_lookgrid(bare, ex), ex))
    out: dict = {"pairs": cfg.eval.pairs, "holdout": list(cfg.data.holdout), "methods": {}}
    for m in methods:
        keys = rows[m][0].keys()
        out["methods"][m] = {k: float(np.nanmean([r[k] for r in rows[m]])) for k in keys}
    base = out["methods"]["input"]["warp_mse"]
    for m in methods:
        out["methods"][m]["warp_ratio"] = out["methods"][m]["warp_mse"] / base if base > 0 else float("nan")
    if progress:
        for m in methods:
            r = out["methods"][m]
            progress(
                f"held-out {m:9s} l1 {r['l1']:.4f}  oklab {r['oklab_moments']:.4f}  swd {r['swd']:.3f}  warp ratio {r['warp_ratio']:.3f}"
            )
    return out


@torch.no_grad()
def mask_enhancer_metrics(net, masks: torch.Tensor, seed: int = 0) -> dict:
    """How much the mask enhancement restores degraded masks.

    ``masks (B,1,256,256)`` clean masks in [0,1]; they are degraded with
    :func:`lookgrid.train.data.degrade_masks` (fixed ``seed``) and compared with the clean ones
    before and after ``net.enhance_masks``: mean absolute error and IoU at 0.5.
    Returns ``{"degraded": {"mae", "iou"}, "enhanced": {"mae", "iou"}}``.
    """

    clean = masks.clamp(0, 1)
    noisy = degrade_masks(clean, torch.Generator().manual_seed(seed))
    enhanced = net.enhance_masks(noisy)

    def score(m: torch.Tensor) -> dict:
        a, b = m > 0.5, clean > 0.5
        inter = (a & b).sum().item()
        union = (a | b).sum().item()
        return {"mae": float((m - clean).abs().mean()), "iou": inter / union if union else 1.0}

    return {"degraded": score(noisy), "enhanced": score(enhanced)}
