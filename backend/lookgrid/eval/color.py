"""Colour conversions for evaluation and the classical baseline, as plain numpy functions.

Images handed to evaluation and baselines are in the model's working space,
``lookgrid.imaging.WORKING_SPACE`` = **ACEScct** (AP1 primaries, ACES white, log encoding; see
``lookgrid.imaging.color``). This module decodes it analytically (no OpenColorIO here):

* ``ACEScct -> ACEScg`` (linear AP1): the published ACEScct curve (Academy S-2016-001), a straight toe
  below ``X_BRK = 0.0078125`` and ``2^(17.52 y - 9.72)`` above; no clamp, so it inverts exactly for
  every real value.
* ``ACEScg -> linear Rec.709 (sRGB primaries, D65)``: matrices built from the primaries with a Bradford
  chromatic adaptation from the ACES white to D65, which is how the OpenColorIO studio config defines
  "sRGB - Texture" / "Linear Rec.709 (sRGB)" (a test checks the matrix against ``lookgrid.imaging``).
* CIE L*a*b* is taken of linear Rec.709 via XYZ with the D65 white. The Lab cube root keeps its linear
  toe for negative values, so ``lab_to_working(working_to_lab(x)) == x`` to float precision even for
  out-of-gamut and negative values.
* "Display" values are linear Rec.709 with the sRGB curve (odd extension below 0, power law above 1),
  i.e. what an 8-bit PNG of the frame holds before clipping. Metrics that need a viewer's image
  (optical flow, warping error, structure, halos, contact sheets) work on those, clipped to [0, 1].
  For an sRGB JPEG read into the working space, ``working_to_display`` gives back the file's values.

Shapes: any ``(..., 3)`` array; the last axis is the colour channel. Computation is in float64;
results are float32 unless the input was float64.
"""

from __future__ import annotations

import numpy as np

#: The working space these formulas decode; a test checks it equals ``lookgrid.imaging.WORKING_SPACE``.
WORKING_SPACE_ASSUMED = "ACEScct"

# ACEScct curve constants (S-2016-001).
_CCT_X_BRK = 0.0078125
_CCT_Y_BRK = 0.155251141552511
_CCT_A = 10.5402377416545
_CCT_B = 0.0729055341958355


def _xy_to_xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _rgb_to_xyz_matrix(primaries, white) -> np.ndarray:
    p = np.array([_xy_to_xyz(*c) for c in primaries]).T
    return p * np.linalg.solve(p, _xy_to_xyz(*white))


_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _bradford(src_white, dst_white) -> np.ndarray:
    a = _BRADFORD @ _xy_to_xyz(*src_white)
    b = _BRADFORD @ _xy_to_xyz(*dst_white)
    return np.linalg.inv(_BRADFORD) @ np.diag(b / a) @ _BRADFORD


D65 = (0.3127, 0.3290)
ACES_WHITE = (0.32168, 0.33767)
REC709_TO_XYZ = _rgb_to_xyz_matrix([(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)], D65)
AP1_TO_XYZ = _rgb_to_xyz_matrix([(0.713, 0.293), (0.165, 0.830), (0.128, 0.044)], ACES_WHITE)
#: linear Rec.709 (D65) -> ACEScg (AP1, ACES white), Bradford-adapted
REC709_TO_AP1 = np.linalg.inv(AP1_TO_XYZ) @ _bradford(D65, ACES_WHITE) @ REC709_TO_XYZ
AP1_TO_REC709 = np.linalg.inv(REC709_TO_AP1)
_XYZ_TO_REC709 = np.linalg.inv(REC709_TO_XYZ)
_WHITE_XYZ = REC709_TO_XYZ.sum(axis=1)
_DELTA = 6.0 / 29.0

#: Rec.709 luma weights, applied to display (sRGB-encoded) values.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


def _out_dtype(x: np.ndarray):
    return np.float64 if np.asarray(x).dtype == np.float64 else np.float32


def apply_matrix(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``(..., 3) -> (..., 3)``: each pixel times the 3x3 matrix ``m`` (``m @ pixel``), float64.

    Written as three weighted sums of channels: numpy's ``x @ m.T`` goes through BLAS, which is
    about 10x slower for this shape on a busy 2-core machine.
    """
    x = np.asarray(x, dtype=np.float64)
    c0, c1, c2 = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([m[j, 0] * c0 + m[j, 1] * c1 + m[j, 2] * c2 for j in range(3)], axis=-1)


def apply_weights(x: np.ndarray, w) -> np.ndarray:
    """``(..., 3) -> (...)``: weighted sum of the channels, float64."""
    x = np.asarray(x, dtype=np.float64)
    return w[0] * x[..., 0] + w[1] * x[..., 1] + w[2] * x[..., 2]


def _check_rgb(x, name: str) -> np.ndarray:
    from lookgrid.errors import ShapeMismatchError

    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ShapeMismatchError(f"{name} must have 3 channels in its last axis; got shape {x.shape}")
    return x


# --- transfer curves (any shape, float64 out) -----------------------------------------------------
def acescct_decode(y) -> np.ndarray:
    """ACEScct code values -> linear ACEScg values (no clamp)."""
    y = np.asarray(y, dtype=np.float64)
    lin_log = np.exp2(np.minimum(y, 60.0) * 17.52 - 9.72)
    return np.where(y <= _CCT_Y_BRK, (y - _CCT_B) / _CCT_A, lin_log)


def acescct_encode(x) -> np.ndarray:
    """Linear ACEScg values -> ACEScct code values; inverse of :func:`acescct_decode`."""
    x = np.asarray(x, dtype=np.float64)
    log = (np.log2(np.maximum(x, _CCT_X_BRK)) + 9.72) / 17.52
    return np.where(x <= _CCT_X_BRK, _CCT_A * x + _CCT_B, log)


def srgb_decode(x) -> np.ndarray:
    """sRGB-encoded -> linear light; odd below 0, power law above 1."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    return np.sign(x) * np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


def srgb_encode(x) -> np.ndarray:
    """Linear light -> sRGB-encoded; inverse of :func:`srgb_decode`."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    return np.sign(x) * np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1.0 / 2.4) - 0.055)


# --- working space <-> linear Rec.709 / display -----------------------------------------------------
def working_to_linear709(rgb) -> np.ndarray:
    """Working-space (ACEScct) ``(..., 3)`` -> linear Rec.709 ``(..., 3)`` float64."""
    rgb = _check_rgb(rgb, "rgb")
    return apply_matrix(acescct_decode(rgb), AP1_TO_REC709)


def linear709_to_working(rgb) -> np.ndarray:
    """Linear Rec.709 ``(..., 3)`` -> working space (ACEScct) ``(..., 3)`` float64."""
    rgb = _check_rgb(rgb, "rgb")
    return acescct_encode(apply_matrix(rgb, REC709_TO_AP1))


def working_to_display(rgb) -> np.ndarray:
    """Working space ``(..., 3)`` -> sRGB-encoded Rec.709 ``(..., 3)`` (not clipped)."""
    return srgb_encode(working_to_linear709(rgb)).astype(_out_dtype(rgb))


def display_to_working(rgb) -> np.ndarray:
    """sRGB-encoded Rec.709 ``(..., 3)`` -> working space ``(..., 3)``; inverse of the above."""
    rgb = _check_rgb(rgb, "rgb")
    return linear709_to_working(srgb_decode(rgb)).astype(_out_dtype(rgb))


def display_luma(rgb) -> np.ndarray:
    """Luma of the display image of working-space ``(..., 3)``, clipped to [0, 1] -> ``(...)``."""
    disp = np.clip(working_to_display(np.asarray(rgb, dtype=np.float64)), 0.0, 1.0)
    return apply_weights(disp, LUMA_WEIGHTS).astype(_out_dtype(rgb))


# --- Lab -----------------------------------------------------------------------------------------
def _f(t):
    return np.where(t > _DELTA**3, np.cbrt(np.maximum(t, _DELTA**3)), t / (3 * _DELTA**2) + 4.0 / 29.0)


def _f_inv(t):
    return np.where(t > _DELTA, t**3, 3 * _DELTA**2 * (t - 4.0 / 29.0))


def linear709_to_lab(rgb) -> np.ndarray:
    """Linear Rec.709 ``(..., 3)`` -> CIE L*a*b* (D65) ``(..., 3)`` float64."""
    rgb = _check_rgb(rgb, "rgb")
    f = _f(apply_matrix(rgb, REC709_TO_XYZ) / _WHITE_XYZ)
    return np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1
    )


def lab_to_linear709(lab) -> np.ndarray:
    """CIE L*a*b* (D65) ``(..., 3)`` -> linear Rec.709 ``(..., 3)`` float64."""
    lab = np.asarray(_check_rgb(lab, "lab"), dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    xyz = np.stack([_f_inv(fy + lab[..., 1] / 500.0), _f_inv(fy), _f_inv(fy - lab[..., 2] / 200.0)], axis=-1)
    return apply_matrix(xyz * _WHITE_XYZ, _XYZ_TO_REC709)


def working_to_lab(rgb) -> np.ndarray:
    """Working space ``(..., 3)`` -> CIE L*a*b* ``(..., 3)`` (L* = 100 for scene-linear 1.0)."""
    return linear709_to_lab(working_to_linear709(rgb)).astype(_out_dtype(rgb))


def lab_to_working(lab) -> np.ndarray:
    """CIE L*a*b* ``(..., 3)`` -> working space ``(..., 3)``; inverse of :func:`working_to_lab`."""
    return linear709_to_working(lab_to_linear709(lab)).astype(_out_dtype(lab))
