"""The closed-form colour prior: each region's grid starts from an affine colour transform that
moves the region's colour distribution onto its reference's.

Why (see the model card): trained here without pretrained networks and on 2 CPU cores, the grid
network alone learnt looks far weaker than a classical statistics transfer (dev-suite sliced
Wasserstein distance 13.9 against Reinhard's 8.2). So the grid of region k is

    Γ_k = P_k + R_k,

``P_k`` a constant grid holding the affine transform below and ``R_k`` the network's prediction
(its last layer starts at zero, so an untrained network renders the prior). The network then only
has to learn corrections — local, luminance-dependent, content-aware — which is what a bilateral
grid is good at, instead of the whole look.

The transform is the linear Monge–Kantorovich map between Gaussians (Pitié & Kokaram 2007, "the
linear Monge-Kantorovitch linear colour mapping for example-based colour transfer"): with the
region's masked mean ``μ_c`` and covariance ``Σ_c`` and the reference's ``μ_s``, ``Σ_s`` (working
space, i.e. ACEScct, at the 256² analysis resolution),

    T = Σ_c^{-1/2} (Σ_c^{1/2} Σ_s Σ_c^{1/2})^{1/2} Σ_c^{-1/2},     x ↦ T (x − μ_c) + μ_s.

``T`` is symmetric positive semi-definite and maps N(μ_c, Σ_c) exactly onto N(μ_s, Σ_s) with the
least total colour displacement; unlike per-channel (Reinhard) matching it carries the reference's
channel correlations (a warm–cool split stays a split). Measured on 12 frames of the 5 dev clips,
prior alone with pixel blending: SWD 7.9 (MKL) vs 8.9 (per-channel), Reinhard 8.2.

Photoreal guard: T's eigenvalues are capped at ``max_gain`` (default 2). A reference with much more
contrast than a flat region would otherwise amplify grain and compression noise (uncapped: up to
×20 on a nearly flat sky); the cap of 2 lowered the dev warping ratio from 1.84 (cap 4) to 1.55 and
the SWD from 8.5 to 7.9 (it also stops outliers from dominating). Covariances get ``eps``·I added
(a floor of 0.01 ACEScct units of standard deviation, ~1 % of the range).

Temporal state: the *content* statistics are blended with the previous frame's exactly like
TC-AdaIN's (eqs. 5–6), ``μ̂ᵗ = (1−α)μᵗ + α μ̂ᵗ⁻¹`` and likewise ``Σ̂``, and carried in
:class:`lookgrid.model.state.TemporalState`.

Tone curve (config ``prior_curve`` > 0): an affine map matches only the first two moments, so a
reference whose tones are skewed — a low-key photo with most pixels dark and a few bright ones —
comes out with the right mean and spread but the wrong tonal shape, and one colour cast for every
tone where the reference has cool shadows and warm highlights. The curve adds, per region and per
depth bin of the grid, a colour offset (:func:`tone_curve_offsets`): its grey part moves the luma
distribution of the affine's output onto the reference's (quantile matching, the curve's slope
capped at ``max_gain`` both ways like the affine's; in ACEScct a grey offset is an exposure
change), its luma-free part moves each tone's mean colour onto the reference's mean colour at the
same tone (:func:`tone_table`, stored with the style). The per-pixel change is fitted by least
squares along the grid's depth axis (the guide) with a smoothness term: a smooth tone and split-tone
curve along the guide, which a bilateral grid represents exactly. ``prior_curve`` scales the
offsets (0 = the affine alone).

All functions are plain torch, no gradient is needed through them (the prior depends only on the
images, not on weights); they work in float64 internally and return the input dtype.
"""

from __future__ import annotations

import torch

from lookgrid.model.colormath import luma_t
from lookgrid.model.grid import GRID_COEFFS, OFFSET_CHANNELS, check_shape
from lookgrid.model.slicing import depth_coords

DEFAULT_MAX_GAIN = 2.0
DEFAULT_EPS = 1e-4
PRIORS = ("mkl", "identity")
#: tone bins kept per style image and per region for the tone curve (:func:`tone_table`)
TONE_BINS = 64
#: weight of the tone curve's smoothness term (per unit of region mass)
CURVE_SMOOTHNESS = 0.005
#: the tone curve is fitted on every CURVE_STRIDE-th pixel of the analysis frame each way (256² -> 64²)
CURVE_STRIDE = 4


def colour_stats(image: torch.Tensor, weights: torch.Tensor | None = None, min_mass: float = 1.0):
    """Weighted colour mean and covariance.

    image ``(B,3,h,w)``; weights ``(B,1,h,w)`` in [0, 1] or None (all pixels). Returns mean
    ``(B,3)``, covariance ``(B,3,3)`` (population, ``Σ w (x−μ)(x−μ)ᵀ / Σ w``) and fallback ``(B,)``
    bool: True where the weights total less than ``min_mass`` and the whole image was used instead
    (an empty region has no statistics; nothing divides by zero).
    """
    check_shape("image", image, "(B,3,h,w)")
    b, _, h, w = image.shape
    x = image.detach().to(torch.float64).reshape(b, 3, h * w)
    if weights is None:
        m = torch.ones(b, 1, h * w, dtype=torch.float64, device=image.device)
        fallback = torch.zeros(b, dtype=torch.bool, device=image.device)
    else:
        check_shape("weights", weights, "(B,1,h,w)", B=b, h=h, w=w)
        m = weights.detach().to(torch.float64).reshape(b, 1, h * w).clamp(0.0, 1.0)
        fallback = m.sum(dim=(1, 2)) < min_mass
        m = torch.where(fallback.view(-1, 1, 1), torch.ones_like(m), m)
    total = m.sum(dim=2).clamp_min(1e-12)  # (B,1)
    mean = (x * m).sum(dim=2) / total
    d = x - mean[..., None]
    cov = torch.einsum("bip,bjp->bij", d * m, d) / total[..., None]
    return mean.to(image.dtype), cov.to(image.dtype), fallback


def _sym_pow(c: torch.Tensor, power: float) -> torch.Tensor:
    """``c^power`` of symmetric positive semi-definite matrices ``(B,3,3)`` by eigendecomposition."""
    e, v = torch.linalg.eigh(c)
    e = e.clamp_min(1e-12) ** power
    return (v * e.unsqueeze(-2)) @ v.transpose(-1, -2)


def mkl_matrix(
    cov_content: torch.Tensor, cov_style: torch.Tensor, *, max_gain: float = DEFAULT_MAX_GAIN, eps: float = DEFAULT_EPS
) -> torch.Tensor:
    """The linear Monge–Kantorovich map ``T (B,3,3)`` from ``cov_content (B,3,3)`` to
    ``cov_style (B,3,3)`` (``eps``·I added to both), eigenvalues capped at ``max_gain``.

    Without the cap, ``T Σ_c T = Σ_s`` (up to eps); ``Σ_c = Σ_s`` gives the identity.
    """
    check_shape("cov_content", cov_content, "(B,3,3)")
    check_shape("cov_style", cov_style, "(B,3,3)", B=cov_content.shape[0])
    eye = torch.eye(3, dtype=torch.float64, device=cov_content.device)
    cc = cov_content.detach().to(torch.float64) + eps * eye
    cs = cov_style.detach().to(torch.float64) + eps * eye
    cc = 0.5 * (cc + cc.transpose(-1, -2))
    cs = 0.5 * (cs + cs.transpose(-1, -2))
    half = _sym_pow(cc, 0.5)
    inv_half = _sym_pow(cc, -0.5)
    t = inv_half @ _sym_pow(half @ cs @ half, 0.5) @ inv_half
    t = 0.5 * (t + t.transpose(-1, -2))
    e, v = torch.linalg.eigh(t)
    e = e.clamp(0.0, float(max_gain))
    return ((v * e.unsqueeze(-2)) @ v.transpose(-1, -2)).to(cov_content.dtype)


def prior_affine(
    mean_content, cov_content, mean_style, cov_style, *, max_gain: float = DEFAULT_MAX_GAIN, eps: float = DEFAULT_EPS
) -> torch.Tensor:
    """``(B,3,4)`` affine ``[T | μ_s − T μ_c]`` (means ``(B,3)``, covariances ``(B,3,3)``)."""
    check_shape("mean_content", mean_content, "(B,3)")
    b = mean_content.shape[0]
    check_shape("mean_style", mean_style, "(B,3)", B=b)
    t = mkl_matrix(cov_content, cov_style, max_gain=max_gain, eps=eps).to(torch.float64)
    mc = mean_content.detach().to(torch.float64)
    ms = mean_style.detach().to(torch.float64)
    offset = ms - (t @ mc.unsqueeze(-1)).squeeze(-1)
    return torch.cat([t, offset.unsqueeze(-1)], dim=-1).to(mean_content.dtype)


def affine_grid(affine: torch.Tensor, depth: int, height: int, width: int) -> torch.Tensor:
    """Constant grids: ``affine (B,3,4)`` → ``(B,12,D,Hg,Wg)`` (row-major coefficients, the layout
    of :mod:`lookgrid.model.grid`)."""
    check_shape("affine", affine, "(B,3,4)")
    b = affine.shape[0]
    return affine.reshape(b, GRID_COEFFS, 1, 1, 1).expand(b, GRID_COEFFS, depth, height, width).contiguous()


def temporal_blend_stats(mean, cov, prev_mean, prev_cov, alpha: float):
    """TC blend of colour statistics (eqs. 5–6 applied to the prior): ``(1−α)·current + α·previous``;
    no previous → current. Shapes ``(R,3)`` and ``(R,3,3)``."""
    if prev_mean is None:
        return mean, cov
    return (1 - alpha) * mean + alpha * prev_mean, (1 - alpha) * cov + alpha * prev_cov


# ------------------------------------------------------------------------------------------------
# tone curve
def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched piecewise-linear interpolation, constant beyond the ends: ``x (B,P)`` at knots
    ``xp (B,K)`` (non-decreasing) with values ``fp (B,K)`` → ``(B,P)``."""
    k = xp.shape[1]
    hi = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, k - 1)
    lo = hi - 1
    x0, x1 = xp.gather(1, lo), xp.gather(1, hi)
    f0, f1 = fp.gather(1, lo), fp.gather(1, hi)
    t = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return f0 + t * (f1 - f0)


def curve_pixels(x: torch.Tensor) -> torch.Tensor:
    """The pixels the tone curve is fitted on: every :data:`CURVE_STRIDE`-th row and column of
    ``x (B,C,H,W)`` (from the middle of the first block). Subsampled, not averaged: averaging would
    narrow the tones and the curve would then over-stretch them."""
    k = CURVE_STRIDE
    return x[..., k // 2 :: k, k // 2 :: k]


def tone_table(image: torch.Tensor, weights: torch.Tensor | None = None, q: int = TONE_BINS) -> torch.Tensor:
    """The tones of ``image (B,3,h,w)`` weighted by ``weights (B,1,h,w)`` or None: its pixels ordered
    by luma (Rec.709 weights on the working-space values) and cut into ``q`` bins of equal mass.
    Returns ``(B,q,4)`` in the image's dtype: per bin, the luma quantile at the bin's middle level
    ``(j + 0.5)/q`` and the bin's mean colour (3) — what colour each tone has (a reference's cool
    shadows and warm highlights)."""
    check_shape("image", image, "(B,3,h,w)")
    b = image.shape[0]
    x = image.detach().to(torch.float64).reshape(b, 3, -1)
    return _tones(x, _luma(x), None if weights is None else weights.reshape(b, -1), q)[0].to(image.dtype)


def _luma(x: torch.Tensor) -> torch.Tensor:
    """``(B,3,P)`` → ``(B,P)`` luma (:func:`lookgrid.model.colormath.luma_t`)."""
    return luma_t(x.unsqueeze(-1))[..., 0]


def _tones(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None, q: int):
    """:func:`tone_table` of colours ``x (B,3,P)`` with lumas ``y (B,P)`` (float64), and each pixel's
    bin index ``(B,P)`` long. Bin means come from cumulative colour sums interpolated at the bin edges,
    so every bin has exactly 1/q of the mass (no empty bins)."""
    w = torch.ones_like(y) if weights is None else weights.detach().to(torch.float64).clamp_min(0.0)
    sy, order = torch.sort(y, dim=1)
    sw = w.gather(1, order)
    total = sw.sum(dim=1, keepdim=True).clamp_min(1e-12)
    cw = torch.cumsum(sw, dim=1) / total  # end-point CDF
    mid = cw - 0.5 * sw / total  # mid-point CDF
    levels = ((torch.arange(q, dtype=torch.float64, device=y.device) + 0.5) / q).expand(y.shape[0], q)
    quant = _interp(levels, mid, sy)
    sx = x.gather(2, order.unsqueeze(1).expand_as(x))
    cx = torch.cumsum(sx * sw.unsqueeze(1), dim=2) / total.unsqueeze(1)  # (B,3,P)
    edges = (torch.arange(q + 1, dtype=torch.float64, device=y.device) / q).expand(y.shape[0], q + 1)
    zero = torch.zeros_like(cw[:, :1])
    cwz = torch.cat([zero, cw], dim=1)
    at = torch.stack([_interp(edges, cwz, torch.cat([zero, cx[:, c]], dim=1)) for c in range(3)], dim=-1)
    means = torch.diff(at, dim=1) * q  # (B,q,3)
    rank = torch.empty_like(mid).scatter_(1, order, mid)
    bins = (rank * q).long().clamp(0, q - 1)
    return torch.cat([quant.unsqueeze(-1), means], dim=-1), bins


def tone_curve(source_q: torch.Tensor, target_q: torch.Tensor, max_slope: float = DEFAULT_MAX_GAIN) -> torch.Tensor:
    """A monotone tone curve through the quantile pairs, slope capped to ``[1/max_slope, max_slope]``.

    ``source_q``, ``target_q (B,Q)`` non-decreasing. Returns the curve's values ``(B,Q)`` at the knots
    ``source_q``: segment slopes of ``target_q`` over ``source_q`` are clamped and integrated outward
    from the median knot, which keeps its target value. Equal quantiles give the identity."""
    check_shape("source_q", source_q, "(B,Q)")
    check_shape("target_q", target_q, "(B,Q)", B=source_q.shape[0], Q=source_q.shape[1])
    xs, ys = source_q.to(torch.float64), target_q.to(torch.float64)
    dx = torch.diff(xs, dim=1)
    dy = torch.diff(ys, dim=1)
    flat = dx <= 1e-9
    slope = torch.where(flat, torch.ones_like(dx), dy / dx.clamp_min(1e-9)).clamp(1.0 / max_slope, max_slope)
    step = torch.where(flat, torch.zeros_like(dx), slope * dx)
    mid = xs.shape[1] // 2
    cum = torch.cat([torch.zeros_like(xs[:, :1]), torch.cumsum(step, dim=1)], dim=1)
    return (ys[:, mid : mid + 1] + cum - cum[:, mid : mid + 1]).to(source_q.dtype)


def depth_weights(guide: torch.Tensor, depth: int) -> torch.Tensor:
    """Tent weights ``(B,P,D)`` of each pixel's guide value ``guide (B,P)`` over the grid's depth bins,
    as slicing reads them (:func:`lookgrid.model.slicing.depth_coords`)."""
    z0, z1, wz = depth_coords(guide.detach(), depth, torch.float64)
    w = torch.zeros(*guide.shape, depth, dtype=torch.float64, device=guide.device)
    w.scatter_add_(2, z0.unsqueeze(-1), (1 - wz).unsqueeze(-1))
    w.scatter_add_(2, z1.unsqueeze(-1), wz.unsqueeze(-1))
    return w


def tone_curve_offsets(
    content: torch.Tensor,
    weights: torch.Tensor,
    guide: torch.Tensor,
    affine: torch.Tensor,
    reference_tones: torch.Tensor,
    depth: int,
    *,
    max_slope: float = DEFAULT_MAX_GAIN,
    smoothness: float = CURVE_SMOOTHNESS,
) -> torch.Tensor:
    """Per depth bin colour offsets ``(B,D,3)`` that move the tones of ``affine``'s output onto the
    reference's (module doc).

    content ``(B,3,h,w)`` (one row per region), weights ``(B,1,h,w)`` (the region's mask, positive
    total), guide ``(B,h,w)`` (the depth coordinate of each pixel), affine ``(B,3,4)``,
    reference_tones ``(B,Q,4)`` (:func:`tone_table` of the reference). Pixel p of tone bin j wants the
    change ``e_p``: grey by the tone curve ``T(y_p) − y_p`` (:func:`tone_curve`, slope-capped) plus the
    luma-free part of the difference of bin j's mean colours (reference − output). Minimises
    ``Σ_p m_p ‖Σ_d w_pd δ_d − e_p‖² + smoothness·Σm·Σ_d ‖δ_{d+1} − δ_d‖²``, ``w_pd`` p's tent weights
    along depth."""
    check_shape("content", content, "(B,3,h,w)")
    b, _, h, w = content.shape
    check_shape("weights", weights, "(B,1,h,w)", B=b, h=h, w=w)
    check_shape("guide", guide, "(B,h,w)", B=b, h=h, w=w)
    check_shape("affine", affine, "(B,3,4)", B=b)
    check_shape("reference_tones", reference_tones, "(B,Q,4)", B=b)
    x = content.detach().to(torch.float64).reshape(b, 3, h * w)
    a = affine.detach().to(torch.float64)
    out = torch.einsum("bij,bjp->bip", a[:, :, :3], x) + a[:, :, 3:]  # the affine's output (B,3,P)
    y = _luma(out)
    m = weights.detach().to(torch.float64).reshape(b, h * w).clamp(0.0, 1.0)
    ref = reference_tones.to(torch.float64)
    tones, bins = _tones(out, y, m, ref.shape[1])
    qc = tones[..., 0]
    knots_t = tone_curve(qc, ref[..., 0], max_slope)
    grey = _interp(y, qc, knots_t) - _interp(y, qc, qc)  # beyond the ends: constant
    dc = ref[..., 1:] - tones[..., 1:]  # (B,Q,3)
    chroma = dc - _luma(dc.transpose(1, 2)).unsqueeze(-1)  # luma-free part
    e = grey.unsqueeze(-1) + chroma.gather(1, bins.unsqueeze(-1).expand(b, h * w, 3))  # (B,P,3)
    wd = depth_weights(guide.reshape(b, h * w), depth)  # (B,P,D)
    wm = wd * m.unsqueeze(-1)
    normal = torch.einsum("bpd,bpe->bde", wm, wd)
    rhs = torch.einsum("bpd,bpc->bdc", wm, e)
    diff = torch.diff(torch.eye(depth, dtype=torch.float64, device=content.device), dim=0)  # (D-1,D)
    mass = m.sum(dim=1).clamp_min(1e-12).view(b, 1, 1)
    eye = torch.eye(depth, dtype=torch.float64, device=content.device)
    system = normal + mass * (smoothness * (diff.T @ diff) + 1e-6 * eye)
    return torch.linalg.solve(system, rhs).to(content.dtype)


def add_depth_offsets(grids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """``grids (B,12,D,Hg,Wg)`` with ``offsets (B,D,3)`` added to the constant term of each output
    channel (:data:`lookgrid.model.grid.OFFSET_CHANNELS`) in each depth bin."""
    b, c, d = grids.shape[:3]
    check_shape("offsets", offsets, "(B,D,3)", B=b, D=d)
    add = torch.zeros(b, c, d, dtype=grids.dtype, device=grids.device)
    for ch, k in enumerate(OFFSET_CHANNELS):
        add[:, k] = offsets[..., ch].to(grids.dtype)
    return grids + add[..., None, None]
