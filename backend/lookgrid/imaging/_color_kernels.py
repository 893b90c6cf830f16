"""Numba kernels of the colour pipeline's exact fast path (:class:`lookgrid.imaging.color.ColorPipeline`).

:func:`forward_kernel` (scene → working: matrix, then the log curve) and :func:`inverse_kernel`
(working → scene) apply, in float32 as OpenColorIO does, the matrices and ``LogCameraTransform``
parameters that :mod:`lookgrid.imaging.color` reads out of OpenColorIO's own transform, and enforce
the NaN/Inf policy on the way (:func:`_policy`). OpenColorIO's processor is their reference; the
pipeline checks them against it when it is built. Parallel kernels: call them under
:data:`lookgrid._numba.PARALLEL_LOCK`. Compiled functions are cached on disk (``cache=True``).
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from lookgrid import _numba  # noqa: F401  (the threading layer, chosen before any parallel kernel)


@numba.njit(cache=True, inline="always")
def _policy(v, y, counts, clamp):
    """One value through the NaN/Inf policy (and, for colour, the ±65504 range); counts[y] gets
    +1 in column 0 (NaN), 1 (+Inf), 2 (-Inf) or 3 (finite value clamped). float32 in and out."""
    if v != v:
        counts[y, 0] += 1
        return np.float32(0.0)
    if v == np.inf:
        counts[y, 1] += 1
        return np.float32(65504.0)
    if v == -np.inf:
        counts[y, 2] += 1
        return np.float32(-65504.0)
    if clamp:
        if v > 65504.0:
            counts[y, 3] += 1
            return np.float32(65504.0)
        if v < -65504.0:
            counts[y, 3] += 1
            return np.float32(-65504.0)
    return v


@numba.njit(cache=True, inline="always")
def _rgb_in(row, x, y, counts, clamp):
    """Read pixel ``x`` of ``row`` (W, C), row ``y`` of the frame (its counts), with the NaN/Inf
    policy (and with ``clamp`` the ±65504 range) applied."""
    r = row[x, 0]
    g = row[x, 1]
    b = row[x, 2]
    if clamp:
        # one comparison per value covers NaN (always False), ±Inf and out-of-range values
        if not (abs(r) <= 65504.0 and abs(g) <= 65504.0 and abs(b) <= 65504.0):
            r = _policy(r, y, counts, True)
            g = _policy(g, y, counts, True)
            b = _policy(b, y, counts, True)
    elif not (r - r == 0.0 and g - g == 0.0 and b - b == 0.0):
        r = _policy(r, y, counts, False)
        g = _policy(g, y, counts, False)
        b = _policy(b, y, counts, False)
    return r, g, b


@numba.njit(cache=True, inline="always")
def _extra_channels(row, out, x, y, counts):
    """Copy channels 3.. (alpha, masks) of pixel ``x`` from ``row`` to ``out`` (both (W, C), row
    ``y`` of the frame): NaN/Inf policy only, no clamping."""
    for k in range(3, row.shape[1]):
        e = row[x, k]
        if not e - e == 0.0:
            e = _policy(e, y, counts, False)
        out[x, k] = e


@numba.njit(cache=True, parallel=True, nogil=True)  # nogil: the render pipeline's other threads run on
def forward_kernel(src, dst, m, off, has_matrix, curve, has_curve, counts):
    """dst[..., :3] = curve(m @ src[..., :3] + off) (matrix skipped unless ``has_matrix``);
    other channels copied.

    src, dst: (H, W, C) float32, C ≥ 3; m (3, 3), off (3,) float32; curve (9,) float32 (see
    ``lookgrid.imaging.color._LogCamera.params``; the same for the three channels); counts (H, 4) int64 zeros, filled with
    NaN/+Inf/-Inf/clamped counts per row. float32 arithmetic, as OpenColorIO's CPU path."""
    h, w, c = src.shape
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    o0, o1, o2 = off[0], off[1], off[2]
    slope, log_off, lin_slope, lin_off, lin_break = curve[0], curve[1], curve[2], curve[3], curve[4]
    linear_slope, linear_off = curve[5], curve[6]
    for y in numba.prange(h):
        row, out = src[y], dst[y]
        for x in range(w):
            r, g, b = _rgb_in(row, x, y, counts, True)
            if has_matrix:
                v0 = m00 * r + m01 * g + m02 * b + o0
                v1 = m10 * r + m11 * g + m12 * b + o1
                v2 = m20 * r + m21 * g + m22 * b + o2
            else:
                v0 = r
                v1 = g
                v2 = b
            if has_curve:
                v0 = (
                    slope * np.log2(lin_slope * v0 + lin_off) + log_off
                    if v0 > lin_break
                    else linear_slope * v0 + linear_off
                )
                v1 = (
                    slope * np.log2(lin_slope * v1 + lin_off) + log_off
                    if v1 > lin_break
                    else linear_slope * v1 + linear_off
                )
                v2 = (
                    slope * np.log2(lin_slope * v2 + lin_off) + log_off
                    if v2 > lin_break
                    else linear_slope * v2 + linear_off
                )
            out[x, 0] = v0
            out[x, 1] = v1
            out[x, 2] = v2
            if c > 3:
                _extra_channels(row, out, x, y, counts)


@numba.njit(cache=True, inline="always")
def _inverse_row(src, dst, y, minv, off, has_matrix, curve, has_curve, counts):
    """Row ``y`` of :func:`inverse_kernel` (one body for the parallel kernel, its serial twin and
    the half-float kernels): ``src`` (W, C) float32 → ``dst`` (W, C) float32, counts in ``counts[y]``."""
    c = src.shape[1]
    m00, m01, m02 = minv[0, 0], minv[0, 1], minv[0, 2]
    m10, m11, m12 = minv[1, 0], minv[1, 1], minv[1, 2]
    m20, m21, m22 = minv[2, 0], minv[2, 1], minv[2, 2]
    o0, o1, o2 = off[0], off[1], off[2]
    slope, log_off, lin_slope, lin_off = curve[0], curve[1], curve[2], curve[3]
    linear_slope, linear_off, log_break = curve[5], curve[6], curve[7]
    lo = np.float32(-65504.0)
    hi = np.float32(65504.0)
    # multiplications by reciprocals instead of divisions in the loop (≤ 1 ulp apart)
    one = np.float32(1.0)
    inv_slope, inv_lin_slope, inv_linear_slope = one / slope, one / lin_slope, one / linear_slope
    for x in range(src.shape[0]):
        r, g, b = _rgb_in(src, x, y, counts, False)
        if has_curve:
            r = (
                (np.exp2((r - log_off) * inv_slope) - lin_off) * inv_lin_slope
                if r > log_break
                else (r - linear_off) * inv_linear_slope
            )
            g = (
                (np.exp2((g - log_off) * inv_slope) - lin_off) * inv_lin_slope
                if g > log_break
                else (g - linear_off) * inv_linear_slope
            )
            b = (
                (np.exp2((b - log_off) * inv_slope) - lin_off) * inv_lin_slope
                if b > log_break
                else (b - linear_off) * inv_linear_slope
            )
            # exp2 can overflow to Inf; keep the matrix input finite (Inf - Inf would be NaN)
            r = min(max(r, np.float32(-1e30)), np.float32(1e30))
            g = min(max(g, np.float32(-1e30)), np.float32(1e30))
            b = min(max(b, np.float32(-1e30)), np.float32(1e30))
        if has_matrix:
            r -= o0
            g -= o1
            b -= o2
            r, g, b = (m00 * r + m01 * g + m02 * b, m10 * r + m11 * g + m12 * b, m20 * r + m21 * g + m22 * b)
        # scene-linear results are clamped to the half range, as the OpenColorIO path does
        dst[x, 0] = min(max(r, lo), hi)
        dst[x, 1] = min(max(g, lo), hi)
        dst[x, 2] = min(max(b, lo), hi)
        if c > 3:
            _extra_channels(src, dst, x, y, counts)


@numba.njit(cache=True, parallel=True, nogil=True)  # nogil: the render pipeline's other threads run on
def inverse_kernel(src, dst, minv, off, has_matrix, curve, has_curve, counts):
    """dst[..., :3] = clamp(minv @ (curve⁻¹(src[..., :3]) - off), ±65504); other channels copied
    (same layout as :func:`forward_kernel`)."""
    for y in numba.prange(src.shape[0]):
        _inverse_row(src[y], dst[y], y, minv, off, has_matrix, curve, has_curve, counts)


@numba.njit(cache=True, nogil=True)
def inverse_kernel_serial(src, dst, minv, off, has_matrix, curve, has_curve, counts):
    """:func:`inverse_kernel` on the calling thread: the same values (the same row body), and no
    parallel-kernel lock to wait for — for a caller budgeted to one numba thread (the render's
    writer on 2 cores, :mod:`lookgrid.engine.budget`)."""
    for y in range(src.shape[0]):
        _inverse_row(src[y], dst[y], y, minv, off, has_matrix, curve, has_curve, counts)


@numba.njit(cache=True, inline="always")
def half_bits(f):
    """The bit pattern of the half float nearest to the float32 whose bit pattern is ``f``
    (uint32), ties to even: IEEE 754's rounding, as ``numpy.float16(x)``, Imath's ``half(x)`` and
    OpenImageIO's float → half conversion give. Beyond ±65504 (after rounding) → ±Inf; NaN stays
    a NaN (its high mantissa bits kept, as numpy keeps them)."""
    sign = (f >> np.uint32(16)) & np.uint32(0x8000)
    a = f & np.uint32(0x7FFFFFFF)
    if a >= np.uint32(0x38800000) and a < np.uint32(0x477FF000):  # a normal half, after rounding
        # rebias the exponent and round the 13 dropped bits, ties to the even neighbour
        rounded = a - np.uint32(0x38000000) + np.uint32(0x0FFF) + ((a >> np.uint32(13)) & np.uint32(1))
        return np.uint16(sign | (rounded >> np.uint32(13)))
    exp = f & np.uint32(0x7F800000)
    if exp >= np.uint32(0x47800000):  # |x| >= 65536, Inf or NaN
        if exp == np.uint32(0x7F800000):
            sig = f & np.uint32(0x007FFFFF)
            if sig != 0:
                h = np.uint32(0x7C00) + (sig >> np.uint32(13))
                if h == np.uint32(0x7C00):
                    h += np.uint32(1)  # a NaN whose payload sits in the low bits stays a NaN
                return np.uint16(sign + h)
        return np.uint16(sign + np.uint32(0x7C00))
    if exp <= np.uint32(0x38000000):  # |x| < 2**-14: a subnormal half, or zero
        if exp < np.uint32(0x33000000):  # below half the smallest subnormal: zero
            return np.uint16(sign)
        e = exp >> np.uint32(23)
        sig = np.uint32(0x00800000) + (f & np.uint32(0x007FFFFF))
        sig >>= np.uint32(113) - e
        # ties to even: round up unless exactly half-way to an even result (the bits the shift
        # dropped count too)
        if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000) or (f & np.uint32(0x7FF)) != 0:
            sig += np.uint32(0x1000)
        return np.uint16(sign + (sig >> np.uint32(13)))
    h_exp = (exp - np.uint32(0x38000000)) >> np.uint32(13)
    sig = f & np.uint32(0x007FFFFF)
    if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000):
        sig += np.uint32(0x1000)
    # a carry out of the mantissa raises the exponent by one: still the right result (up to Inf)
    return np.uint16(sign + h_exp + (sig >> np.uint32(13)))


#: whether this CPU converts float32 → half in hardware (x86's F16C, IEEE rounding: ties to even).
#: With it LLVM compiles the conversion to one vector instruction; without it LLVM would call a
#: runtime function that numba's JIT may not have, so :func:`half_bits` is used instead.
HAS_F16C = bool(llvm.get_host_cpu_features().get("f16c", False))


@intrinsic
def _f16c_half_bits(typingctx, value):
    """The half bit pattern of a float32 by LLVM's ``fptrunc`` to half (F16C's ``vcvtps2ph``)."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))

    return types.uint16(types.float32), codegen


@numba.njit(cache=True, inline="always")
def _to_half_row_bits(row, dst):
    """``dst`` (W, C) uint16 = the half bit patterns of ``row`` (W, C) float32 (contiguous), by
    :func:`half_bits` (the reference, and the path on CPUs without F16C)."""
    bits = row.view(np.uint32)
    for x in range(row.shape[0]):
        for k in range(row.shape[1]):
            dst[x, k] = half_bits(bits[x, k])


@numba.njit(cache=True, inline="always")
def _to_half_row_f16c(row, dst):
    """:func:`_to_half_row_bits` in hardware (only compiled where :data:`HAS_F16C`)."""
    for x in range(row.shape[0]):
        for k in range(row.shape[1]):
            dst[x, k] = _f16c_half_bits(row[x, k])


_to_half_row = _to_half_row_f16c if HAS_F16C else _to_half_row_bits


@numba.njit(cache=True, nogil=True)
def to_half(src, dst):
    """``dst`` (N, C) uint16 = the half bit patterns of ``src`` (N, C) float32 (contiguous), as
    the half kernels convert (in hardware where :data:`HAS_F16C`)."""
    _to_half_row(src, dst)


@numba.njit(cache=True, nogil=True)
def to_half_reference(src, dst):
    """:func:`to_half` by :func:`half_bits` alone, whatever the CPU."""
    _to_half_row_bits(src, dst)


@numba.njit(cache=True, parallel=True, nogil=True)
def inverse_half_kernel(src, dst, minv, off, has_matrix, curve, has_curve, counts):
    """:func:`inverse_kernel` with half-float output: ``dst`` (H, W, C) uint16 gets the bit
    patterns of its float32 results rounded to half (ties to even: in hardware where
    :data:`HAS_F16C`, else :func:`half_bits`), row by row, so the float32 frame is never held
    whole."""
    w, c = src.shape[1], src.shape[2]
    for y in numba.prange(src.shape[0]):
        row = np.empty((w, c), np.float32)
        _inverse_row(src[y], row, y, minv, off, has_matrix, curve, has_curve, counts)
        _to_half_row(row, dst[y])


@numba.njit(cache=True, nogil=True)
def inverse_half_kernel_serial(src, dst, minv, off, has_matrix, curve, has_curve, counts):
    """:func:`inverse_half_kernel` on the calling thread (see :func:`inverse_kernel_serial`)."""
    w, c = src.shape[1], src.shape[2]
    row = np.empty((w, c), np.float32)
    for y in range(src.shape[0]):
        _inverse_row(src[y], row, y, minv, off, has_matrix, curve, has_curve, counts)
        _to_half_row(row, dst[y])


@numba.njit(cache=True, inline="always")
def _half_table_row(src, dst, y, tables, plain, counts):
    """Row ``y`` of :func:`half_table_kernel` (one body for it and its parallel twin)."""
    w, c = src.shape[1], src.shape[2]
    for x in range(w):
        for k in range(c):
            b = src[y, x, k]
            if (b & 0x7C00) == 0x7C00:  # exponent all ones: Inf (mantissa 0) or NaN
                if b & 0x03FF:
                    counts[y, 0] += 1
                elif b & 0x8000:
                    counts[y, 2] += 1
                else:
                    counts[y, 1] += 1
            dst[y, x, k] = tables[k, b] if k < 3 else plain[b]


@numba.njit(cache=True, nogil=True)  # serial: no parallel-kernel lock, so the reader runs beside compute
def half_table_kernel(src, dst, tables, plain, counts):
    """dst[y, x, k] = tables[k, src[y, x, k]] for k < 3, plain[src[y, x, k]] for k >= 3.

    src: (H, W, C) uint16, the bit patterns of half-float pixels (any non-negative strides);
    dst: (H, W, C) float32 (any strides, e.g. a view of planar memory); tables: (3, 65536) float32,
    the working value of every half per colour channel (NaN/Inf policy included); plain: (65536,)
    float32, every half as float32 with the policy (other channels); counts: (H, 4) int64 zeros,
    filled like :func:`forward_kernel`'s (NaN, +Inf, -Inf; a half is never beyond ±65504)."""
    for y in range(src.shape[0]):
        _half_table_row(src, dst, y, tables, plain, counts)


@numba.njit(cache=True, parallel=True, nogil=True)
def half_table_kernel_parallel(src, dst, tables, plain, counts):
    """:func:`half_table_kernel` with its rows over numba's threads (the same values): for a
    caller that has the cores to itself (the plain render loop); under the parallel-kernel lock."""
    for y in numba.prange(src.shape[0]):
        _half_table_row(src, dst, y, tables, plain, counts)


@numba.njit(cache=True, nogil=True)
def lut_kernel(src, table, dst):
    """``dst[i] = table[src[i]]``: (N,) uint8 or uint16 codes → (N,) float32 through ``table``
    (every code's value; :func:`lookgrid.imaging.io.read_image` builds it from OpenImageIO's own
    conversion, so the result is OpenImageIO's bit for bit)."""
    for i in range(src.shape[0]):
        dst[i] = table[src[i]]


@numba.njit(cache=True, parallel=True, nogil=True)
def lut_kernel_parallel(src, table, dst):
    """:func:`lut_kernel` over numba's threads, in blocks (call under the parallel-kernel lock)."""
    n = src.shape[0]
    block = 1 << 16
    for b in numba.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            dst[i] = table[src[i]]
