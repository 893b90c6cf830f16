"""Numba kernels for the CPU render path (imported lazily: numba costs ~0.5 s to import).

Same maths as :func:`lookgrid.model.slicing.slice_apply_reference` and the pointwise guide of
:mod:`lookgrid.model.guide`; tests assert they agree to 1e-5. Everything is float32; compiled
functions are cached on disk (``cache=True``).

How it is made fast (rows run in parallel with ``prange``; everything inside a row is written as
straight loops over pixels that LLVM vectorises):

1. the grid is interpolated along y once per row into a ``(Wg, D, 12)`` table;
2. a row splits into *spans* of pixels that share the same two x cells (x0, x1) — 17 spans for a
   16-wide grid — so within a span the cells' coefficients are scalars;
3. for each depth bin d that occurs in the span (usually a few), every pixel computes the affine
   result of the x-interpolated cell at depth d and adds it with its tent weight in z — no
   gather, so it vectorises. The output starts as the input and accumulates weighted
   *differences* from it, and x/y interpolations are lerps ``a + t·(b − a)``, so a constant
   identity grid reproduces the input exactly.

The fused kernel also evaluates the pointwise guide per row (a vectorisable exp written out), so
the guide map never goes through memory.

:func:`guide_slice_blend_apply_cpu` is the pixel-space blend of N region grids (same maths as
:func:`lookgrid.model.slicing.slice_blend_apply_reference`): per row the guide and the depth
coordinates are computed once; each region present in the row gets its own y-interpolated table,
and only the spans where its weight ``w_k = m_k / max(1, Σm)`` is non-zero somewhere are sliced
(into zeroed scratch rows, which thereby hold ``A_k·[p,1] − p``) and accumulated as
``out += w_k·scratch``. Most pixels belong to one region, so the cost stays near one slice.

Small functions are compiled separately on purpose: inlined into the parallel loop, LLVM gave up
vectorising them (too many possibly-aliasing arrays); called, each stays vectorised.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import torch

from lookgrid._numba import PARALLEL_LOCK, locked  # noqa: F401  (threading layer + one lock)

_FM = {"contract", "arcp", "reassoc", "nsz", "afn"}  # no 'nnan'/'ninf': clamps must stay clamps
_F: dict[str, Any] = dict(fastmath=_FM, nogil=True, cache=True)
_P: dict[str, Any] = dict(fastmath=_FM, nogil=True, cache=True, parallel=True)
_LOG2E = np.float32(1.4426950408889634)
_LN2 = np.float32(0.6931471805599453)


def grid_to_cells(grid: torch.Tensor) -> np.ndarray:
    """``(12, D, Hg, Wg)`` torch grid → contiguous float32 ``(Hg, Wg, D, 12)`` numpy array."""
    return grid.detach().to("cpu", torch.float32).permute(2, 3, 1, 0).contiguous().numpy()


def grids_to_cells(grids) -> np.ndarray:
    """``(N, 12, D, Hg, Wg)`` torch or numpy grids → contiguous float32 ``(N, Hg, Wg, D, 12)`` numpy."""
    if isinstance(grids, torch.Tensor):
        grids = grids.detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(np.asarray(grids, np.float32).transpose(0, 3, 4, 2, 1))


@numba.njit(**_F)
def _x_spans(w, wg):
    """Per column x weight, and spans ``(start, end, x0, x1)`` of columns sharing their two cells."""
    x0 = np.empty(w, np.int64)
    x1 = np.empty(w, np.int64)
    wx = np.empty(w, np.float32)
    for j in range(w):
        g = (j + 0.5) * (wg / w) - 0.5
        f = math.floor(g)
        wx[j] = np.float32(g - f)
        a = int(f)
        x0[j] = min(max(a, 0), wg - 1)
        x1[j] = min(max(a + 1, 0), wg - 1)
    n = 1
    for j in range(1, w):
        if x0[j] != x0[j - 1] or x1[j] != x1[j - 1]:
            n += 1
    spans = np.empty((n, 4), np.int64)
    s = 0
    start = 0
    for j in range(1, w + 1):
        if j == w or x0[j] != x0[j - 1] or x1[j] != x1[j - 1]:
            spans[s, 0] = start
            spans[s, 1] = j
            spans[s, 2] = x0[j - 1]
            spans[s, 3] = x1[j - 1]
            s += 1
            start = j
    return spans, wx


@numba.njit(**_F)
def _row_scratch(wg, d, c, w):
    """Per-row scratch of the fused kernels: the row's cell table ``(Wg,D,12)`` (:func:`_row_table`),
    the ``(W,)`` buffers of :func:`_guide_row` (mask sum, code map, guide, sigmoid bits) and two
    ``(W,)`` buffers of :func:`_slice_row`."""
    return (
        np.empty((wg, d, c), np.float32),
        np.empty(w, np.float32),
        np.empty(w, np.float32),
        np.empty(w, np.float32),
        np.empty(w, np.int32),
        np.empty(w, np.float32),
        np.empty(w, np.float32),
    )


@numba.njit(**_F)
def _row_table(cells, i, h, row):
    """Interpolate ``cells (Hg,Wg,D,12)`` along y for image row ``i`` of ``h`` into ``row (Wg,D,12)``."""
    hg, wg, d, c = cells.shape
    g = (i + 0.5) * (hg / h) - 0.5
    f = math.floor(g)
    wy = np.float32(g - f)
    a = int(f)
    y0 = min(max(a, 0), hg - 1)
    y1 = min(max(a + 1, 0), hg - 1)
    for x in range(wg):
        for z in range(d):
            for k in range(c):
                a0 = cells[y0, x, z, k]
                row[x, z, k] = a0 + wy * (cells[y1, x, z, k] - a0)


@numba.njit(**_F)
def _z_row(zrow, d, gzc, fl):
    """Guide values → depth coordinate clamped to [0, D−1] (gzc) and its floor (fl), as floats."""
    fd = np.float32(d)
    top = fd - np.float32(1.0)
    for j in range(zrow.shape[0]):
        gz = zrow[j] * fd - np.float32(0.5)
        gz = min(max(gz, np.float32(0.0)), top)
        if not (gz == gz):  # NaN guide: read the first bin, like the reference's clamped index
            gz = np.float32(0.0)
        gzc[j] = gz
        fl[j] = np.float32(np.int32(gz))  # floor (gz >= 0)


@numba.njit(**_F)
def _bins_used(fl, d):
    lo = np.float32(d)
    hi = np.float32(0.0)
    for j in range(fl.shape[0]):
        lo = min(lo, fl[j])
        hi = max(hi, fl[j])
    return int(lo), min(int(hi) + 1, d - 1)


@numba.njit(**_F)
def _span_depth(A, B, dd, r, g, b, wx, gzc, o0, o1, o2):
    """One span, one depth bin: ``o += tent(gz − d)·(A_d x-lerped · [r,g,b,1] − input)``.

    Accumulating differences from the input (``o`` starts as the input) keeps a constant identity
    grid exact; summed over bins it is the trilinear result, as in the reference.
    """
    a00 = A[0]
    a01 = A[1]
    a02 = A[2]
    a03 = A[3]  # noqa: E702
    a10 = A[4]
    a11 = A[5]
    a12 = A[6]
    a13 = A[7]  # noqa: E702
    a20 = A[8]
    a21 = A[9]
    a22 = A[10]
    a23 = A[11]  # noqa: E702
    b00 = B[0]
    b01 = B[1]
    b02 = B[2]
    b03 = B[3]  # noqa: E702
    b10 = B[4]
    b11 = B[5]
    b12 = B[6]
    b13 = B[7]  # noqa: E702
    b20 = B[8]
    b21 = B[9]
    b22 = B[10]
    b23 = B[11]  # noqa: E702
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for j in range(r.shape[0]):
        rr = r[j]
        gg = g[j]
        bb = b[j]
        t = wx[j]
        wgt = max(zero, one - abs(gzc[j] - dd))
        p = a00 * rr + a01 * gg + a02 * bb + a03
        q = b00 * rr + b01 * gg + b02 * bb + b03
        o0[j] += wgt * ((p + t * (q - p)) - rr)
        p = a10 * rr + a11 * gg + a12 * bb + a13
        q = b10 * rr + b11 * gg + b12 * bb + b13
        o1[j] += wgt * ((p + t * (q - p)) - gg)
        p = a20 * rr + a21 * gg + a22 * bb + a23
        q = b20 * rr + b21 * gg + b22 * bb + b23
        o2[j] += wgt * ((p + t * (q - p)) - bb)


@numba.njit(**_F)
def _copy_row(src, dst):
    for j in range(src.shape[0]):
        dst[j] = src[j]


@numba.njit(**_F)
def _slice_row(row, zrow, spans, wx, d, r, g, b, o0, o1, o2, gzc, fl):
    """Slice + apply one image row (all 1-D float32 rows; gzc, fl are scratch)."""
    _z_row(zrow, d, gzc, fl)
    _copy_row(r, o0)
    _copy_row(g, o1)
    _copy_row(b, o2)
    for s in range(spans.shape[0]):
        js = spans[s, 0]
        je = spans[s, 1]
        xa = spans[s, 2]
        xb = spans[s, 3]
        dmin, dmax = _bins_used(fl[js:je], d)
        for di in range(dmin, dmax + 1):
            _span_depth(
                row[xa, di],
                row[xb, di],
                np.float32(di),
                r[js:je],
                g[js:je],
                b[js:je],
                wx[js:je],
                gzc[js:je],
                o0[js:je],
                o1[js:je],
                o2[js:je],
            )


@numba.njit(**_P)
def slice_apply_cpu(cells, guide, image, out):
    """cells ``(Hg,Wg,D,12)``, guide ``(H,W)``, image/out ``(3,H,W)``; float32, C-contiguous."""
    hg, wg, d, c = cells.shape
    h, w = guide.shape
    spans, wx = _x_spans(w, wg)
    for i in numba.prange(h):
        row = np.empty((wg, d, c), np.float32)
        gzc = np.empty(w, np.float32)
        fl = np.empty(w, np.float32)
        _row_table(cells, i, h, row)
        _slice_row(
            row, guide[i], spans, wx, d, image[0, i], image[1, i], image[2, i], out[0, i], out[1, i], out[2, i], gzc, fl
        )


@numba.njit(**_F)
def _sigmoid_row(t, bits):
    """``t ← 1/(1 + exp(−t))`` in place; exp as 2ⁿ·poly(f) (rel. error ~1e-7) so it vectorises."""
    fb = bits.view(np.float32)
    for j in range(t.shape[0]):
        y = min(max(-t[j] * _LOG2E, np.float32(-125.0)), np.float32(125.0))
        n = np.int32(y + np.float32(126.5)) - np.int32(126)  # round to nearest (argument > 0)
        u = (y - np.float32(n)) * _LN2
        p = np.float32(1.0 / 5040.0)
        p = p * u + np.float32(1.0 / 720.0)
        p = p * u + np.float32(1.0 / 120.0)
        p = p * u + np.float32(1.0 / 24.0)
        p = p * u + np.float32(1.0 / 6.0)
        p = p * u + np.float32(0.5)
        p = p * u + np.float32(1.0)
        p = p * u + np.float32(1.0)
        bits[j] = (n + np.int32(127)) << np.int32(23)
        t[j] = p
    for j in range(t.shape[0]):
        t[j] = np.float32(1.0) / (np.float32(1.0) + t[j] * fb[j])


@numba.njit(**_F)
def _code_row(masks, i, codes, s, cs):
    """Region code map of row i into cs (s is scratch): Σ m_k·code_k / max(Σ m_k, 1e-6)."""
    for j in range(s.shape[0]):
        s[j] = 0.0
        cs[j] = 0.0
    for k in range(masks.shape[0]):
        ck = codes[k]
        mk = masks[k, i]
        for j in range(s.shape[0]):
            m = mk[j]
            s[j] += m
            cs[j] += m * ck
    for j in range(s.shape[0]):
        cs[j] = cs[j] / max(s[j], np.float32(1e-6))


@numba.njit(**_F)
def _mlp_row(r, g, b, cs, w1, b1, w2, b2, t):
    """t = b2 + Σ_u w2[u]·relu(w1[u]·[r,g,b,c] + b1[u]); units four at a time (fewer passes over t)."""
    k = w1.shape[0]
    for j in range(t.shape[0]):
        t[j] = b2
    u = 0
    while u + 4 <= k:
        p0 = w1[u, 0]
        p1 = w1[u, 1]
        p2 = w1[u, 2]
        p3 = w1[u, 3]
        pb = b1[u]
        pv = w2[u]  # noqa: E702
        q0 = w1[u + 1, 0]
        q1 = w1[u + 1, 1]
        q2 = w1[u + 1, 2]
        q3 = w1[u + 1, 3]
        qb = b1[u + 1]
        qv = w2[u + 1]  # noqa: E702
        s0 = w1[u + 2, 0]
        s1 = w1[u + 2, 1]
        s2 = w1[u + 2, 2]
        s3 = w1[u + 2, 3]
        sb = b1[u + 2]
        sv = w2[u + 2]  # noqa: E702
        e0 = w1[u + 3, 0]
        e1 = w1[u + 3, 1]
        e2 = w1[u + 3, 2]
        e3 = w1[u + 3, 3]
        eb = b1[u + 3]
        ev = w2[u + 3]  # noqa: E702
        zero = np.float32(0.0)
        for j in range(t.shape[0]):
            rr = r[j]
            gg = g[j]
            bb = b[j]
            cc = cs[j]  # noqa: E702
            acc = pv * max(p0 * rr + p1 * gg + p2 * bb + p3 * cc + pb, zero)
            acc += qv * max(q0 * rr + q1 * gg + q2 * bb + q3 * cc + qb, zero)
            acc += sv * max(s0 * rr + s1 * gg + s2 * bb + s3 * cc + sb, zero)
            acc += ev * max(e0 * rr + e1 * gg + e2 * bb + e3 * cc + eb, zero)
            t[j] += acc
        u += 4
    while u < k:
        a0 = w1[u, 0]
        a1 = w1[u, 1]
        a2 = w1[u, 2]
        a3 = w1[u, 3]
        bu = b1[u]
        vu = w2[u]  # noqa: E702
        for j in range(t.shape[0]):
            t[j] += vu * max(a0 * r[j] + a1 * g[j] + a2 * b[j] + a3 * cs[j] + bu, np.float32(0.0))
        u += 1


@numba.njit(**_F)
def _guide_row(r, g, b, masks, i, codes, w1, b1, w2, b2, s, cs, t, bits):
    _code_row(masks, i, codes, s, cs)
    _mlp_row(r, g, b, cs, w1, b1, w2, b2, t)
    _sigmoid_row(t, bits)


@numba.njit(nogil=True, cache=True)  # no fastmath: it would fold the NaN tests away
def _row_finite(r, g, b):
    big = np.float32(3.4028235e38)
    bad = 0
    for j in range(r.shape[0]):
        bad += 0 if (abs(r[j]) <= big and abs(g[j]) <= big and abs(b[j]) <= big) else 1
    return bad == 0


@numba.njit(**_P)
def guide_slice_apply_cpu(cells, image, masks, codes, w1, b1, w2, b2, out):
    """Fused pointwise guide + slice + apply.

    cells ``(Hg,Wg,D,12)``; image/out ``(3,H,W)``; masks ``(N,H,W)``; codes ``(N,)``;
    guide weights w1 ``(K,4)``, b1 ``(K,)``, w2 ``(K,)``, b2 float32 scalar.
    Returns the number of image rows holding NaN/Inf (0 for a clean frame; checked on the fly).
    """
    hg, wg, d, c = cells.shape
    h = image.shape[1]
    w = image.shape[2]
    spans, wx = _x_spans(w, wg)
    bad = 0
    for i in numba.prange(h):
        row, s, cs, t, bits, gzc, fl = _row_scratch(wg, d, c, w)
        _row_table(cells, i, h, row)
        r = image[0, i]
        g = image[1, i]
        b = image[2, i]
        if not _row_finite(r, g, b):
            bad += 1
        _guide_row(r, g, b, masks, i, codes, w1, b1, w2, b2, s, cs, t, bits)
        _slice_row(row, t, spans, wx, d, r, g, b, out[0, i], out[1, i], out[2, i], gzc, fl)
    return bad


@numba.njit(**_F)
def _region_weights(mk, s, wk):
    """``wk = m_k / max(1, Σm)`` for one row (s holds Σm); returns how many are non-zero."""
    one = np.float32(1.0)
    nz = 0
    for j in range(wk.shape[0]):
        v = mk[j] / max(s[j], one)
        wk[j] = v
        nz += v != np.float32(0.0)
    return nz


@numba.njit(**_F)
def _any_nonzero(a):
    for j in range(a.shape[0]):
        if a[j] != np.float32(0.0):
            return True
    return False


@numba.njit(**_F)
def _zero3(o0, o1, o2):
    for j in range(o0.shape[0]):
        o0[j] = np.float32(0.0)
        o1[j] = np.float32(0.0)
        o2[j] = np.float32(0.0)


@numba.njit(**_F)
def _accumulate3(wk, d0, d1, d2, o0, o1, o2):
    """``o += wk·d`` per channel."""
    for j in range(wk.shape[0]):
        t = wk[j]
        o0[j] += t * d0[j]
        o1[j] += t * d1[j]
        o2[j] += t * d2[j]


@numba.njit(**_F)
def _span_bins(fl, spans, d, bins):
    """Depth bins used by each span (from the floored depth coordinates of the row)."""
    for s in range(spans.shape[0]):
        lo, hi = _bins_used(fl[spans[s, 0] : spans[s, 1]], d)
        bins[s, 0] = lo
        bins[s, 1] = hi


@numba.njit(**_F)
def _blend_region_row(row, wk, spans, bins, wx, r, g, b, d0, d1, d2, o0, o1, o2, gzc):
    """Region k's contribution to one row: for every span where ``wk`` is non-zero somewhere,
    d ← A_k·[p,1] − p (scratch, trilinear) and ``o += wk·d``."""
    for s in range(spans.shape[0]):
        js = spans[s, 0]
        je = spans[s, 1]
        if not _any_nonzero(wk[js:je]):
            continue
        xa = spans[s, 2]
        xb = spans[s, 3]
        _zero3(d0[js:je], d1[js:je], d2[js:je])
        for di in range(bins[s, 0], bins[s, 1] + 1):
            _span_depth(
                row[xa, di],
                row[xb, di],
                np.float32(di),
                r[js:je],
                g[js:je],
                b[js:je],
                wx[js:je],
                gzc[js:je],
                d0[js:je],
                d1[js:je],
                d2[js:je],
            )
        _accumulate3(wk[js:je], d0[js:je], d1[js:je], d2[js:je], o0[js:je], o1[js:je], o2[js:je])


@numba.njit(**_P)
def guide_slice_blend_apply_cpu(cells, image, masks, codes, w1, b1, w2, b2, out):
    """Fused pointwise guide + per-region slice + apply + pixel-space blend.

    cells ``(N,Hg,Wg,D,12)`` (one grid per region, strength already applied; see
    :func:`grids_to_cells`); image/out ``(3,H,W)``; masks ``(N,H,W)``; codes ``(N,)``; guide weights
    as in :func:`guide_slice_apply_cpu`. ``out = p + Σ_k w_k·(A_k·[p,1] − p)`` with
    ``w_k = m_k / max(1, Σ_j m_j)``. Returns the number of image rows holding NaN/Inf.
    """
    n, hg, wg, d, c = cells.shape
    h = image.shape[1]
    w = image.shape[2]
    spans, wx = _x_spans(w, wg)
    ns = spans.shape[0]
    bad = 0
    for i in numba.prange(h):
        row, s, cs, t, bits, gzc, fl = _row_scratch(wg, d, c, w)
        wk = np.empty(w, np.float32)
        d0 = np.empty(w, np.float32)
        d1 = np.empty(w, np.float32)
        d2 = np.empty(w, np.float32)
        bins = np.empty((ns, 2), np.int64)
        r = image[0, i]
        g = image[1, i]
        b = image[2, i]
        o0 = out[0, i]
        o1 = out[1, i]
        o2 = out[2, i]
        if not _row_finite(r, g, b):
            bad += 1
        _guide_row(r, g, b, masks, i, codes, w1, b1, w2, b2, s, cs, t, bits)  # leaves s = Σ_k m_k
        _z_row(t, d, gzc, fl)
        _span_bins(fl, spans, d, bins)
        _copy_row(r, o0)
        _copy_row(g, o1)
        _copy_row(b, o2)
        for k in range(n):
            if _region_weights(masks[k, i], s, wk) == 0:
                continue
            _row_table(cells[k], i, h, row)
            _blend_region_row(row, wk, spans, bins, wx, r, g, b, d0, d1, d2, o0, o1, o2, gzc)
    return bad


@numba.njit(**_P)
def guide_cpu(image, masks, codes, w1, b1, w2, b2, out):
    """The pointwise guide alone: image ``(3,H,W)``, masks ``(N,H,W)`` → out ``(H,W)``."""
    h = image.shape[1]
    w = image.shape[2]
    for i in numba.prange(h):
        s = np.empty(w, np.float32)
        cs = np.empty(w, np.float32)
        bits = np.empty(w, np.int32)
        _guide_row(image[0, i], image[1, i], image[2, i], masks, i, codes, w1, b1, w2, b2, s, cs, out[i], bits)


@numba.njit(**_F)
def splat_cpu(guide, masks, depth, height, width, mask_mass, pixel_mass):
    """Tent-splat (the adjoint of slicing) of masks and of pixel mass; serial, for small frames.

    guide ``(h,w)``, masks ``(N,h,w)`` float32; accumulates into float64 mask_mass
    ``(N,D,Hg,Wg)`` and pixel_mass ``(D,Hg,Wg)`` (zeroed here). Same maths as
    :func:`lookgrid.model.softmask._splat`.
    """
    n = masks.shape[0]
    h, w = guide.shape
    mask_mass[:] = 0.0
    pixel_mass[:] = 0.0
    for i in range(h):
        gy = (i + 0.5) * (height / h) - 0.5
        fy = math.floor(gy)
        wy = gy - fy
        y0 = min(max(int(fy), 0), height - 1)
        y1 = min(max(int(fy) + 1, 0), height - 1)
        for j in range(w):
            gx = (j + 0.5) * (width / w) - 0.5
            fx = math.floor(gx)
            wx = gx - fx
            x0 = min(max(int(fx), 0), width - 1)
            x1 = min(max(int(fx) + 1, 0), width - 1)
            gz = min(max(guide[i, j] * depth - 0.5, -0.5), depth - 0.5)
            if not (gz == gz):
                gz = -0.5
            fz = math.floor(gz)
            wz = gz - fz
            z0 = min(max(int(fz), 0), depth - 1)
            z1 = min(max(int(fz) + 1, 0), depth - 1)
            for cz in range(2):
                zi = z0 if cz == 0 else z1
                vz = 1.0 - wz if cz == 0 else wz
                for cy in range(2):
                    yi = y0 if cy == 0 else y1
                    vy = vz * (1.0 - wy if cy == 0 else wy)
                    for cx in range(2):
                        xi = x0 if cx == 0 else x1
                        v = vy * (1.0 - wx if cx == 0 else wx)
                        pixel_mass[zi, yi, xi] += v
                        for k in range(n):
                            mask_mass[k, zi, yi, xi] += v * masks[k, i, j]


@numba.njit(**_P)
def copy_cpu(src, dst):
    """A plain parallel copy of a flat float32 array (a yardstick for the render benchmark)."""
    for i in numba.prange(src.shape[0]):
        dst[i] = src[i]
