"""SA-AdaIN, TC-AdaIN and ST-AdaIN (paper eqs. 2–6) as plain functions.

All statistics are per channel. Masked statistics are true masked statistics,
``μ = Σ m·x / Σ m`` and ``σ² = Σ m·(x − μ)² / Σ m`` — never those of a zero-filled tensor. When a
mask's mass is below ``min_mass`` (empty or tiny region) the whole frame's statistics are used
instead and the returned ``fallback`` flag says so; nothing divides by zero.
"""

from __future__ import annotations

import torch

from lookgrid.model.grid import check_shape

EPS = 1e-5


def mean_std(x: torch.Tensor, eps: float = EPS):
    """Whole-map statistics. x ``(B,C,h,w)`` → mean ``(B,C)``, std ``(B,C)`` (std = sqrt(var + eps))."""
    check_shape("x", x, "(B,C,h,w)")
    mean = x.mean(dim=(2, 3))
    var = (x - mean[..., None, None]).pow(2).mean(dim=(2, 3))
    return mean, torch.sqrt(var + eps)


def masked_mean_std(x: torch.Tensor, mask: torch.Tensor, min_mass: float = 1.0, eps: float = EPS):
    """Masked statistics with whole-frame fallback.

    x ``(B,C,h,w)``, mask ``(B,1,h,w)`` in [0, 1]. Returns mean ``(B,C)``, std ``(B,C)`` and
    fallback ``(B,)`` bool (True where ``Σ m < min_mass`` and whole-frame statistics were used).
    """
    check_shape("x", x, "(B,C,h,w)")
    check_shape("mask", mask, "(B,1,h,w)", B=x.shape[0], h=x.shape[2], w=x.shape[3])
    mass = mask.sum(dim=(1, 2, 3))  # (B,)
    fallback = mass < min_mass
    m = torch.where(fallback.view(-1, 1, 1, 1), torch.ones_like(mask), mask)
    total = m.sum(dim=(2, 3)).clamp_min(1e-12)  # (B,1)
    mean = (x * m).sum(dim=(2, 3)) / total
    var = (m * (x - mean[..., None, None]).pow(2)).sum(dim=(2, 3)) / total
    return mean, torch.sqrt(var + eps), fallback


def adain_apply(x, mean_x, std_x, mean_y, std_y):
    """``σ_y·(x − μ_x)/σ_x + μ_y``. x ``(B,C,h,w)``; statistics ``(B,C)``."""
    return std_y[..., None, None] * (x - mean_x[..., None, None]) / std_x[..., None, None] + mean_y[..., None, None]


def adain(x, y):
    """Plain AdaIN of content x ``(B,C,h,w)`` toward style y ``(B,C,h',w')``."""
    mx, sx = mean_std(x)
    my, sy = mean_std(y)
    return adain_apply(x, mx, sx, my, sy)


def sa_adain(x, y, mask, min_mass: float = 1.0):
    """SA-AdaIN (eq. 2): content statistics inside ``mask (B,1,h,w)`` only. Returns ``(B,C,h,w)``."""
    mx, sx, _ = masked_mean_std(x, mask, min_mass)
    my, sy = mean_std(y)
    return adain_apply(x, mx, sx, my, sy)


def temporal_blend(mean, std, prev_mean, prev_std, alpha: float):
    """Eqs. 5–6: ``(1 − α)·current + α·previous`` for mean and std; no previous → current."""
    if prev_mean is None:
        return mean, std
    return (1 - alpha) * mean + alpha * prev_mean, (1 - alpha) * std + alpha * prev_std


def st_adain(x, mask, mean_y, std_y, prev_mean=None, prev_std=None, alpha: float = 0.5, min_mass: float = 1.0):
    """ST-AdaIN (eqs. 4–6) with explicit temporal statistics.

    x ``(B,C,h,w)`` content features of frame t; mask ``(B,1,h,w)``; style statistics
    ``mean_y, std_y (B,C)``; previous frame's content statistics ``prev_mean, prev_std (B,C)`` or
    None. Returns ``(out (B,C,h,w), (mean_hat, std_hat), fallback (B,))``: ``mean_hat, std_hat``
    are the statistics used, to be carried to the next frame. ``alpha = 0`` (or no previous
    statistics) is SA-AdaIN; ``tc_adain`` is this with an all-ones mask.
    """
    mx, sx, fallback = masked_mean_std(x, mask, min_mass)
    mh, sh = temporal_blend(mx, sx, prev_mean, prev_std, alpha)
    return adain_apply(x, mh, sh, mean_y, std_y), (mh, sh), fallback


def tc_adain(x, mean_y, std_y, prev_mean=None, prev_std=None, alpha: float = 0.5):
    """TC-AdaIN (eq. 3): whole-frame statistics blended with the previous frame's."""
    ones = torch.ones_like(x[:, :1])
    out, stats, _ = st_adain(x, ones, mean_y, std_y, prev_mean, prev_std, alpha)
    return out, stats
