"""Steadiness from the whole shot: each region's look smoothed over the shot, both ways in time.

A shot is analysed before it is rendered, so the look of frame t may depend on the frames after it
as well as before (DESIGN.md §3.4). Re-fitting the look on every frame makes the grade follow every
small change of the region's statistics (a matte that breathes, a part of the subject entering the
frame): the grade "pumps". A look held from frame 0 does not pump, but it cannot follow a real change
(a light switched on). The smoothing here sits between the two: a weighted mean of each region's looks
over the frames around t,

    L̃_t = Σ_s K_ts L_s / Σ_s K_ts,
    K_ts = G(t − s; sigma) · G(d(L_t, L_s); range_sigma) · w_s · [s and t in the same segment],

* ``G(x; σ) = exp(−x² / 2σ²)``, the time kernel truncated at 3σ;
* the **range kernel** on ``d``, the root-mean-square difference of two frames' looks (a look's
  coefficients, e.g. a bilateral grid's), makes this a bilateral filter in time: frames whose look
  differs much from frame t's (a real change of the shot, which makes the per-frame fit jump) get
  little weight, so the change comes through within a frame or two instead of being smeared over
  ±3σ; ``range_sigma = None`` turns it off;
* ``w_s`` in [0, 1] is each frame's confidence (e.g. how much of the frame the optical flow holds
  on; 0 = do not use this frame's look for its neighbours, though it still gets a smoothed one);
* ``cuts`` split the shot into segments that never mix (a hard reset).

The looks are linear in the render (a grid's coefficients are an affine colour transform per cell),
so the mean of looks is the look of the mean transform. Frame t's own look always has weight
``G(0) · w_t`` > 0 unless ``w_t = 0``; where every weight is zero the look is kept unchanged.

:func:`smooth_looks_reference` is the plain loop, :func:`smooth_looks` the vectorised, blocked one;
:func:`smoothing_kernel` the dense ``(R, T, T)`` kernel (to inspect a shot's weights); tests check
all three agree.
"""

from __future__ import annotations

import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError

#: the time kernel is cut at this many sigmas
TRUNCATE = 3.0
#: frames per block of the fast path (:func:`smooth_looks`)
BLOCK = 32
#: default range sigma (root-mean-square difference of two bilateral grids' coefficients; the
#: colour prior's per-frame jitter on the dev suite is ~0.005-0.02, a cut or light change > 0.1)
DEFAULT_RANGE_SIGMA = 0.05


def _check(looks: torch.Tensor, weights, cuts, sigma: float, range_sigma):
    if not isinstance(looks, torch.Tensor) or looks.dim() < 2:
        raise ShapeMismatchError(
            f"looks must be a tensor (T, R, ...), got "
            f"{tuple(looks.shape) if isinstance(looks, torch.Tensor) else type(looks).__name__}"
        )
    t, r = looks.shape[:2]
    if not sigma >= 0:
        raise InvalidInputError(f"sigma must be >= 0 frames, got {sigma}")
    if range_sigma is not None and not range_sigma > 0:
        raise InvalidInputError(f"range_sigma must be > 0 (or None), got {range_sigma}")
    w = (
        torch.ones(t, r, dtype=torch.float64)
        if weights is None
        else torch.as_tensor(weights, dtype=torch.float64).cpu()
    )
    if w.dim() == 1 and w.shape[0] == t:
        w = w[:, None].expand(t, r)
    if tuple(w.shape) != (t, r):
        raise ShapeMismatchError(f"weights must be (T,) or (T, R) = ({t}, {r}), got {tuple(w.shape)}")
    c = torch.zeros(t, dtype=torch.bool) if cuts is None else torch.as_tensor(cuts, dtype=torch.bool).cpu()
    if tuple(c.shape) != (t,):
        raise ShapeMismatchError(f"cuts must be (T,) = ({t},), got {tuple(c.shape)}")
    return w.clamp(0.0, 1.0), torch.cumsum(c.long(), 0)


def smooth_looks_reference(
    looks: torch.Tensor, *, sigma: float, range_sigma: float | None = DEFAULT_RANGE_SIGMA, weights=None, cuts=None
) -> torch.Tensor:
    """Plain reference of :func:`smooth_looks` (loops over frames and regions, float64)."""
    w, seg = _check(looks, weights, cuts, sigma, range_sigma)
    if sigma == 0:
        return looks.clone()
    x = looks.detach().to(torch.float64).cpu()
    t_count, r_count = x.shape[:2]
    reach = int(TRUNCATE * sigma)
    out = x.clone()
    for r in range(r_count):
        for t in range(t_count):
            num = torch.zeros_like(x[t, r])
            den = 0.0
            for s in range(max(0, t - reach), min(t_count, t + reach + 1)):
                if seg[s] != seg[t]:
                    continue
                k = float(torch.exp(torch.tensor(-((t - s) ** 2) / (2.0 * sigma * sigma), dtype=torch.float64)))
                if range_sigma is not None:
                    d2 = float(((x[t, r] - x[s, r]) ** 2).mean())
                    k *= float(torch.exp(torch.tensor(-d2 / (2.0 * range_sigma**2), dtype=torch.float64)))
                k *= float(w[s, r])
                num += k * x[s, r]
                den += k
            if den > 0:
                out[t, r] = num / den
    return out.to(dtype=looks.dtype, device=looks.device)


def smoothing_kernel(
    looks: torch.Tensor, *, sigma: float, range_sigma: float | None = DEFAULT_RANGE_SIGMA, weights=None, cuts=None
) -> torch.Tensor:
    """The normalised kernel ``(R, T, T)`` of :func:`smooth_looks`: row t of region r holds the
    weights of frames s (they sum to 1; a row with no weight at all is the identity row)."""
    w, seg = _check(looks, weights, cuts, sigma, range_sigma)
    t_count, r_count = looks.shape[:2]
    idx = torch.arange(t_count, dtype=torch.float64)
    lag = idx[:, None] - idx[None, :]
    k = torch.exp(-(lag**2) / (2.0 * max(sigma, 1e-12) ** 2))
    k = k * (lag.abs() <= int(TRUNCATE * sigma)) * (seg[:, None] == seg[None, :])
    k = k[None].expand(r_count, t_count, t_count).clone()
    if range_sigma is not None:
        x = looks.detach().to(torch.float64).cpu().reshape(t_count, r_count, -1).transpose(0, 1)  # (R,T,P)
        d2 = torch.cdist(x, x) ** 2 / x.shape[-1]
        k = k * torch.exp(-d2 / (2.0 * range_sigma**2))
    k = k * w.T[:, None, :]
    den = k.sum(dim=2, keepdim=True)
    eye = torch.eye(t_count, dtype=torch.float64)[None].expand_as(k)
    return torch.where(den > 0, k / den.clamp_min(1e-300), eye)


def smooth_looks(
    looks: torch.Tensor, *, sigma: float, range_sigma: float | None = DEFAULT_RANGE_SIGMA, weights=None, cuts=None
) -> torch.Tensor:
    """Each region's looks smoothed over the shot, both ways (module doc).

    looks ``(T, R, ...)``: per analysed frame (in order), per region (or region × style), a look of
    any shape (a grid ``(12, D, Hg, Wg)``); weights ``(T,)`` or ``(T, R)`` in [0, 1] or None (all 1);
    cuts ``(T,)`` bool or None: True where a new shot starts; sigma: the time kernel's standard
    deviation in analysed frames (0 = unchanged); range_sigma: the range kernel's (None = off).
    Returns ``(T, R, ...)`` in ``looks``' dtype and device.

    Blocked: frames are taken :data:`BLOCK` at a time against the ``±⌊3σ⌋`` frames around them
    (distances by ``cdist``, the mix by ``bmm``), so the cost grows linearly with the shot's length.

    >>> looks = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0]).view(5, 1)
    >>> smooth_looks(looks, sigma=1.0, range_sigma=None)[2, 0] < 3.0
    tensor(True)
    """
    w, seg = _check(looks, weights, cuts, sigma, range_sigma)
    if sigma == 0:
        return looks.clone()
    t_count, r_count = looks.shape[:2]
    x = looks.detach().to(torch.float64).cpu().reshape(t_count, r_count, -1).transpose(0, 1)  # (R,T,P)
    reach = int(TRUNCATE * sigma)
    block = max(BLOCK, 2 * reach)
    out = torch.empty_like(x)
    for b0 in range(0, t_count, block):  # rows [b0, b1) need the frames [c0, c1) around them
        b1 = min(t_count, b0 + block)
        c0, c1 = max(0, b0 - reach), min(t_count, b1 + reach)
        rows, cols = torch.arange(b0, b1, dtype=torch.float64), torch.arange(c0, c1, dtype=torch.float64)
        lag = rows[:, None] - cols[None, :]
        k = torch.exp(-(lag**2) / (2.0 * sigma * sigma)) * (lag.abs() <= reach)
        k = (k * (seg[b0:b1, None] == seg[None, c0:c1]))[None].expand(r_count, -1, -1)
        if range_sigma is not None:
            d2 = torch.cdist(x[:, b0:b1], x[:, c0:c1]) ** 2 / x.shape[-1]
            k = k * torch.exp(-d2 / (2.0 * range_sigma**2))
        k = k * w.T[:, None, c0:c1]
        den = k.sum(dim=2, keepdim=True)
        mixed = torch.bmm(k, x[:, c0:c1]) / den.clamp_min(1e-300)
        out[:, b0:b1] = torch.where(den > 0, mixed, x[:, b0:b1])
    return out.transpose(0, 1).reshape(looks.shape).to(dtype=looks.dtype, device=looks.device)
