"""A region's look as one global colour transform (a 3-D LUT), and an ASC CDL fitted to it.

A bilateral grid is a *local* transform: region ``k``'s colour transform at pixel ``p`` is the 3×4
matrix ``A_k(x_p, y_p, z)`` sliced from its grid at the pixel's position and guide value
``z = g(rgb, code_p)`` (:mod:`.guide`: the guide is pointwise in the colour and the region-code map).
A LUT is a *global* one. We define the region's LUT as its transform averaged over its pixels,
weighted by its matte ``w_p`` (the render's blend weight, :func:`.slicing.blend_weights`):

    LUT_k(c) = Σ_p w_p · A_k(x_p, y_p, g(c, code_p)) · [c; 1]  /  Σ_p w_p

over one frame, or over all pixels of a frame range (a *shot look*: sums over frames, each frame
with its own grid and matte). ``c`` is a working-space (ACEScct) colour.

Computed exactly and cheaply (:func:`look_stats` + :func:`look_lut`): ``A_k`` is trilinear in the
grid, so the spatial tent weights of all pixels that share one code value sum into per-cell weights
``W_b(i, j)``, and those pixels' summed transform at any ``z`` is the depth profile
``Ā_b(d) = Σ_ij W_b(i, j)·Γ(d, i, j)`` interpolated at ``z`` — a ``(12, D)`` array per code bin ``b``.
Each LUT entry then needs one guide evaluation ``g(c, code_b)`` and a 1-D interpolation per bin.
Pixels are binned by code into :data:`CODE_BINS` bins and each bin uses the matte-weighted mean code of
its pixels: exact when codes are discrete (binary mattes: a region's interior has exactly its code),
and within one bin width of the code (1/64) at soft matte edges, where the guide moves by less than
that times its code sensitivity. :func:`region_lut_reference` is the brute-force per-pixel sum;
tests check that the two agree.

Everything is accumulated as a deviation from the identity (``Γ − I``), so an identity grid
(strength 0, a region without a style) gives exactly ``LUT(c) = c``.

Shapes: grid ``(12, D, Hg, Wg)`` in the layout of :mod:`.grid`; code map and matte ``(H, W)``;
LUT ``(S, S, S, 3)`` indexed ``[r, g, b]`` over ``linspace(0, 1, S)`` per axis (red slowest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.grid import GRID_COEFFS, check_shape, identity_grid
from lookgrid.model.guide import pointwise_guide
from lookgrid.model.slicing import apply_affine, axis_coords, slice_grid_reference

CODE_BINS = 65
LUT_SIZES = (17, 33, 65)

#: ``guide(rgb (M,3), code float) -> z (M,)`` — the guide at colours ``rgb`` for one code value
Guide = Callable[[torch.Tensor, float], torch.Tensor]


def guide_of(guide_net) -> Guide:
    """The pointwise guide of a :class:`lookgrid.model.guide.GuideNet` as a :data:`Guide`."""

    def guide(rgb: torch.Tensor, code: float) -> torch.Tensor:
        p = guide_net.w1
        img = rgb.to(p.dtype).t().reshape(1, 3, -1, 1)
        code_map = torch.full((1, 1, img.shape[2], 1), float(code), dtype=p.dtype, device=p.device)
        with torch.no_grad():
            z = pointwise_guide(img.to(p.device), code_map, guide_net.w1, guide_net.b1, guide_net.w2, guide_net.b2)
        return z.reshape(-1).to(rgb.dtype)

    return guide


@dataclass
class LookStats:
    """Sufficient statistics of a region's look over one or more frames (float64).

    ``dev (B, 12, D)``: Σ over the bin's pixels of ``w_p · Σ_ij tent_p(i, j)·(Γ − I)(d, i, j)``;
    ``mass (B,)``: Σ ``w_p``; ``code_sum (B,)``: Σ ``w_p · code_p``. Add two with ``+`` (frames)."""

    dev: torch.Tensor
    mass: torch.Tensor
    code_sum: torch.Tensor

    def __add__(self, other: "LookStats") -> "LookStats":
        if self.dev.shape != other.dev.shape:
            raise ShapeMismatchError(
                f"cannot add look statistics of shapes {tuple(self.dev.shape)} and {tuple(other.dev.shape)}"
            )
        return LookStats(self.dev + other.dev, self.mass + other.mass, self.code_sum + other.code_sum)

    @property
    def total(self) -> float:
        """Σ of the matte over every pixel accumulated (the region's area in pixels)."""
        return float(self.mass.sum())

    @property
    def is_identity(self) -> bool:
        return bool((self.dev == 0).all())


def _tent_matrix(n_pix: int, n_cells: int) -> torch.Tensor:
    """``(n_pix, n_cells)`` float64: the slicing tent weight of each pixel row/column per cell."""
    i0, i1, w = axis_coords(n_pix, n_cells, "cpu", torch.float64)
    t = torch.zeros(n_pix, n_cells, dtype=torch.float64)
    rows = torch.arange(n_pix)
    t.index_put_((rows, i0), 1.0 - w, accumulate=True)
    t.index_put_((rows, i1), w, accumulate=True)
    return t


def code_bin(code_map: torch.Tensor, n_bins: int = CODE_BINS) -> torch.Tensor:
    """Bin index ``round(code·(n_bins − 1))`` of each code in [0, 1], clamped: same shape, int64."""
    return (code_map.to(torch.float64) * (n_bins - 1)).round().clamp(0, n_bins - 1).long()


def look_stats(grid: torch.Tensor, code_map: torch.Tensor, weight: torch.Tensor, n_bins: int = CODE_BINS) -> LookStats:
    """One frame's :class:`LookStats` for one region.

    grid ``(12, D, Hg, Wg)`` — the region's grid with its strength applied (what the render slices);
    code_map ``(H, W)`` — the region-code map of all masks (:func:`lookgrid.model.guide.region_code_map`);
    weight ``(H, W)`` — the region's matte (its blend weight), ≥ 0.
    """
    check_shape("grid", grid, f"({GRID_COEFFS},D,Hg,Wg)")
    check_shape("code_map", code_map, "(H,W)")
    h, w = code_map.shape
    check_shape("weight", weight, "(H,W)", H=h, W=w)
    if n_bins < 2:
        raise InvalidInputError(f"n_bins must be >= 2, got {n_bins}")
    _, d, hg, wg = grid.shape
    wt = weight.detach().to("cpu", torch.float64)
    if not torch.isfinite(wt).all() or (wt < 0).any():
        raise InvalidInputError("the matte must be finite and >= 0")
    bins = code_bin(code_map.detach().cpu(), n_bins)
    code = code_map.detach().to("cpu", torch.float64)
    # columns: each pixel adds w·tent to two column cells of its row, in its code bin's slot
    i0, i1, fx = axis_coords(w, wg, "cpu", torch.float64)
    per_row = torch.zeros(h, n_bins * wg, dtype=torch.float64)
    base = bins * wg
    per_row.scatter_add_(1, base + i0.view(1, w), wt * (1.0 - fx).view(1, w))
    per_row.scatter_add_(1, base + i1.view(1, w), wt * fx.view(1, w))
    cells = torch.einsum("yi,ybj->bij", _tent_matrix(h, hg), per_row.view(h, n_bins, wg))  # (B,Hg,Wg)
    dev_grid = grid.detach().to("cpu", torch.float64) - identity_grid(1, d, hg, wg, dtype=torch.float64)[0]
    dev = torch.einsum("bij,cdij->bcd", cells, dev_grid)
    flat_bins = bins.reshape(-1)
    mass = torch.zeros(n_bins, dtype=torch.float64).scatter_add_(0, flat_bins, wt.reshape(-1))
    code_sum = torch.zeros(n_bins, dtype=torch.float64).scatter_add_(0, flat_bins, (wt * code).reshape(-1))
    return LookStats(dev, mass, code_sum)


def lut_lattice(size: int, *, dtype=torch.float64) -> torch.Tensor:
    """``(S, S, S, 3)``: the colour of each LUT entry, ``[r, g, b]`` over ``linspace(0, 1, S)``."""
    if size < 2:
        raise InvalidInputError(f"LUT size must be >= 2, got {size}")
    a = torch.linspace(0.0, 1.0, size, dtype=dtype)
    return torch.stack(torch.meshgrid(a, a, a, indexing="ij"), dim=-1)


def _depth_interp(profile: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``profile (12, D)`` at guide values ``z (M,)`` → ``(M, 12)``, with the
    slicing convention (cell ``d`` centred at ``(d + 0.5)/D``, clamped at the ends)."""
    d = profile.shape[1]
    gz = (z.to(profile.dtype) * d - 0.5).clamp(-0.5, d - 0.5)
    z0f = torch.floor(gz)
    t = (gz - z0f).unsqueeze(1)
    z0 = z0f.long().clamp(0, d - 1)
    z1 = (z0f.long() + 1).clamp(0, d - 1)
    a, b = profile[:, z0].t(), profile[:, z1].t()
    return a + t * (b - a)


def _affine_rows(coeffs: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """``coeffs (M, 12)`` applied to ``rgb (M, 3)`` → ``(M, 3)`` (layout of :mod:`.grid`)."""
    a = coeffs.view(-1, 3, 4)
    return (a[:, :, :3] * rgb.unsqueeze(1)).sum(dim=2) + a[:, :, 3]


def look_apply(stats: LookStats, guide: Guide, rgb: torch.Tensor) -> torch.Tensor:
    """The region's averaged transform at colours ``rgb (M, 3)`` (working space) → ``(M, 3)`` float64.

    Colours where the region has no pixels at all (``stats.total == 0``) are returned unchanged."""
    check_shape("rgb", rgb, "(M,3)")
    c = rgb.to(torch.float64)
    total = stats.mass.sum()
    if total <= 0 or stats.is_identity:
        return c.clone()
    change = torch.zeros_like(c)
    for b in torch.nonzero(stats.mass > 0).flatten().tolist():
        m = stats.mass[b]
        z = guide(c, float(stats.code_sum[b] / m)).to(torch.float64)
        change += _affine_rows(_depth_interp(stats.dev[b], z), c)  # (Γ−I)·[c;1], mass-weighted sum
    return c + change / total


def look_lut(stats: LookStats, guide: Guide, size: int = 33) -> torch.Tensor:
    """The region's LUT ``(S, S, S, 3)`` float64 (see the module docstring)."""
    lattice = lut_lattice(size)
    return look_apply(stats, guide, lattice.reshape(-1, 3)).reshape(lattice.shape)


def global_lut(luts: torch.Tensor, areas: torch.Tensor, frame_area: float) -> torch.Tensor:
    """The whole frame's look as one LUT, from the region LUTs ``(K, S, S, S, 3)``.

    The blended transform at a pixel is ``I + Σ_k w_k·(A_k − I)``; its average over all
    ``frame_area`` pixels (summed over the frames) is ``I + Σ_k (area_k / frame_area)·(LUT_k − I)``,
    ``areas (K,)`` = each region's :attr:`LookStats.total`. Pixels no matte covers keep identity.
    """
    check_shape("luts", luts, "(K,S,S,S,3)")
    if areas.shape != (luts.shape[0],) or frame_area <= 0:
        raise ShapeMismatchError(
            f"areas must be (K,) = ({luts.shape[0]},) and frame_area > 0, got {tuple(areas.shape)} and {frame_area}"
        )
    ident = lut_lattice(luts.shape[1], dtype=luts.dtype)
    share = (areas.to(luts.dtype) / frame_area).view(-1, 1, 1, 1, 1)
    return ident + (share * (luts - ident)).sum(dim=0)


def region_lut_reference(frames, guide_net, rgb: torch.Tensor) -> torch.Tensor:
    """Brute force: ``Σ_p w_p·A(x_p, y_p, g(c, code_p))·[c; 1] / Σ_p w_p`` for every colour.

    frames: list of ``(grid (12,D,Hg,Wg), code_map (H,W), weight (H,W))``; guide_net a
    :class:`lookgrid.model.guide.GuideNet`; rgb ``(M, 3)``. Returns ``(M, 3)`` float64. Slices with
    :func:`lookgrid.model.slicing.slice_grid_reference` at every (colour, pixel) pair: for tests.
    """
    c = rgb.to(torch.float64)
    m = c.shape[0]
    total = torch.zeros((), dtype=torch.float64)
    acc = torch.zeros(m, 3, dtype=torch.float64)
    gn = {k: getattr(guide_net, k).detach().to(torch.float64) for k in ("w1", "b1", "w2", "b2")}
    for grid, code_map, weight in frames:
        h, w = code_map.shape
        img = c.view(m, 3, 1, 1).expand(m, 3, h, w)
        codes = code_map.to(torch.float64).view(1, 1, h, w).expand(m, 1, h, w)
        z = pointwise_guide(img, codes, gn["w1"], gn["b1"], gn["w2"], gn["b2"])
        coeffs = slice_grid_reference(grid.to(torch.float64).unsqueeze(0).expand(m, -1, -1, -1, -1), z)
        out = apply_affine(coeffs, img)  # (M,3,H,W)
        wt = weight.to(torch.float64)
        acc += (out * wt).sum(dim=(2, 3))
        total += wt.sum()
    return acc / total


def lut_apply_reference(lut: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of ``lut (S,S,S,3)`` at ``rgb (M,3)`` (clamped to [0, 1], as a LUT3D does)
    → ``(M, 3)`` in the LUT's dtype."""
    check_shape("lut", lut, "(S,S,S,3)")
    s = lut.shape[0]
    x = rgb.to(lut.dtype).clamp(0.0, 1.0) * (s - 1)
    i0 = torch.floor(x).long().clamp(0, s - 2)
    t = x - i0
    out = torch.zeros(x.shape[0], 3, dtype=lut.dtype)
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                wgt = (
                    (t[:, 0] if dr else 1 - t[:, 0])
                    * (t[:, 1] if dg else 1 - t[:, 1])
                    * (t[:, 2] if db else 1 - t[:, 2])
                )
                out += wgt.unsqueeze(1) * lut[i0[:, 0] + dr, i0[:, 1] + dg, i0[:, 2] + db]
    return out


# --- ASC CDL ------------------------------------------------------------------------------------
CDL_LUMA = (0.2126, 0.7152, 0.0722)


def cdl_apply(rgb: torch.Tensor, slope, offset, power, sat) -> torch.Tensor:
    """ASC CDL as OpenColorIO applies a ``.cc`` file (its ``CDL_NO_CLAMP`` style): ``v = c·slope +
    offset``, ``v ** power`` where ``v > 0`` (other values pass unchanged), then saturation about
    Rec.709 luma; no clamping, so values above 1 (ACEScct highlights) survive. rgb ``(M, 3)``;
    slope/offset/power ``(3,)``; sat scalar."""
    v = rgb * slope + offset
    pos = v > 0
    v = torch.where(pos, v.clamp_min(1e-12) ** power, v)
    luma = (v * torch.tensor(CDL_LUMA, dtype=v.dtype)).sum(dim=1, keepdim=True)
    return luma + sat * (v - luma)


@dataclass(frozen=True)
class CDLFit:
    """An ASC CDL fitted by least squares; ``rms`` and ``max`` are its errors (working-space units)."""

    slope: tuple[float, float, float]
    offset: tuple[float, float, float]
    power: tuple[float, float, float]
    sat: float
    rms: float
    max: float


def fit_cdl(rgb: torch.Tensor, target: torch.Tensor, *, steps: int = 60) -> CDLFit:
    """Least-squares ASC CDL mapping ``rgb (M, 3)`` to ``target (M, 3)`` (the look at those colours).

    L-BFGS on slope (log), offset, power (log) and saturation (log), starting at the identity."""
    check_shape("rgb", rgb, "(M,3)")
    check_shape("target", target, "(M,3)", M=rgb.shape[0])
    x = rgb.detach().to(torch.float64)
    y = target.detach().to(torch.float64)
    params = torch.zeros(10, dtype=torch.float64, requires_grad=True)

    def unpack(p):
        return p[0:3].exp(), p[3:6], p[6:9].exp(), p[9].exp()

    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((cdl_apply(x, *unpack(params)) - y) ** 2).mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        slope, offset, power, sat = unpack(params)
        err = (cdl_apply(x, slope, offset, power, sat) - y).norm(dim=1)
        return CDLFit(
            tuple(slope.tolist()),
            tuple(offset.tolist()),
            tuple(power.tolist()),
            float(sat),
            float(err.pow(2).mean().sqrt()),
            float(err.max()),
        )
