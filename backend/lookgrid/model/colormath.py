"""Colour maths shared by training, evaluation, the guide and the Reinhard transfer.

Everything here is analytic (no OpenColorIO; the imaging layer owns that, and a test checks these
formulas against it). Images are in the model's working space, ``lookgrid.imaging.WORKING_SPACE`` =
**ACEScct** (AP1 primaries, ACES white, log encoding; see :mod:`lookgrid.imaging.color`):

* ``ACEScct -> ACEScg`` (linear AP1): the ACEScct curve, a straight toe below ``ACESCCT_X_BREAK`` and
  ``2^(17.52 y - 9.72)`` above; ``ACEScg -> ACEScct`` is its inverse.
* ``ACEScg -> linear Rec.709 (sRGB primaries, D65)``: matrices built from the primaries with a Bradford
  chromatic adaptation from the ACES white to D65, which is how the OpenColorIO studio config defines
  "sRGB - Texture" / "Linear Rec.709 (sRGB)".
* CIE L*a*b* of linear Rec.709 via XYZ with the D65 white; the cube root keeps its linear toe for
  negative values, so ``lab_to_working(working_to_lab(x)) == x`` to float precision even out of gamut.
* Oklab (Björn Ottosson's matrices) of linear Rec.709, with a signed cube root.
* "Display" values: linear Rec.709 with the sRGB curve (odd below 0, power law above 1), i.e. what an
  8-bit PNG of the frame holds before clipping; for an sRGB JPEG read into the working space,
  :func:`working_to_display` gives back the file's values.
* Luma: Rec.709 weights :data:`LUMA_WEIGHTS` on encoded values (display values in evaluation,
  working-space values in the guide's initialisation and the training gradings).

Two forms with the same constants:

* **numpy** (evaluation, Reinhard): any ``(..., 3)`` array, the last axis the channel; computed in
  float64; results float32 unless the input was float64 (the curve functions return float64).
* **torch** (training losses; differentiable): images ``(B, 3, H, W)``, names ending in ``_t``.

They differ in one deliberate place, the cap on the ACEScct code value before its exponential:
the numpy form decodes every finite float32 code exactly (:data:`ACESCCT_DECODE_CAP`), the torch form
caps at :data:`ACESCCT_DECODE_CAP_T` so the gradient of an early training output far out of range
stays finite (beyond it the gradient is zero). Below the torch cap (linear values up to ~96,000,
beyond the half-float range) both forms agree; a test checks it.
"""

from __future__ import annotations

import numpy as np
import torch

from lookgrid.errors import ShapeMismatchError

#: The working space these formulas decode; a test checks it equals ``lookgrid.imaging.WORKING_SPACE``.
WORKING_SPACE_ASSUMED = "ACEScct"

# --- constants ----------------------------------------------------------------------------------
#: ACEScct curve (S-2016-001): ``y = (log2(x) + 9.72) / 17.52`` above the break, ``A·x + B`` below.
ACESCCT_X_BREAK = 0.0078125
ACESCCT_Y_BREAK = 0.155251141552511
ACESCCT_A = 10.5402377416545
ACESCCT_B = 0.0729055341958355
ACESCCT_LOG_SCALE = 17.52
ACESCCT_LOG_OFFSET = 9.72
#: numpy decode cap: codes above it give +inf in float64 anyway
ACESCCT_DECODE_CAP = 60.0
#: torch decode cap (gradient safety, see the module docstring)
ACESCCT_DECODE_CAP_T = 1.5

#: Rec.709 luma weights
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)

D65 = (0.3127, 0.3290)
ACES_WHITE = (0.32168, 0.33767)


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


REC709_TO_XYZ = _rgb_to_xyz_matrix([(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)], D65)
AP1_TO_XYZ = _rgb_to_xyz_matrix([(0.713, 0.293), (0.165, 0.830), (0.128, 0.044)], ACES_WHITE)
#: linear Rec.709 (D65) -> ACEScg (AP1, ACES white), Bradford-adapted
REC709_TO_AP1 = np.linalg.inv(AP1_TO_XYZ) @ _bradford(D65, ACES_WHITE) @ REC709_TO_XYZ
AP1_TO_REC709 = np.linalg.inv(REC709_TO_AP1)
_XYZ_TO_REC709 = np.linalg.inv(REC709_TO_XYZ)
_WHITE_XYZ = REC709_TO_XYZ.sum(axis=1)
_DELTA = 6.0 / 29.0

#: Oklab: linear Rec.709 -> LMS, and cube-rooted LMS -> Lab
OKLAB_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
OKLAB_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
#: offset inside the signed cube root of the torch form, so its gradient stays finite at 0
_CBRT_EPS_T = 1e-9


# --- numpy form ---------------------------------------------------------------------------------
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
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ShapeMismatchError(f"{name} must have 3 channels in its last axis; got shape {x.shape}")
    return x


def acescct_decode(y) -> np.ndarray:
    """ACEScct code values -> linear ACEScg values, any shape, float64."""
    y = np.asarray(y, dtype=np.float64)
    lin_log = np.exp2(np.minimum(y, ACESCCT_DECODE_CAP) * ACESCCT_LOG_SCALE - ACESCCT_LOG_OFFSET)
    return np.where(y <= ACESCCT_Y_BREAK, (y - ACESCCT_B) / ACESCCT_A, lin_log)


def acescct_encode(x) -> np.ndarray:
    """Linear ACEScg values -> ACEScct code values, any shape, float64; inverse of :func:`acescct_decode`."""
    x = np.asarray(x, dtype=np.float64)
    log = (np.log2(np.maximum(x, ACESCCT_X_BREAK)) + ACESCCT_LOG_OFFSET) / ACESCCT_LOG_SCALE
    return np.where(x <= ACESCCT_X_BREAK, ACESCCT_A * x + ACESCCT_B, log)


def srgb_decode(x) -> np.ndarray:
    """sRGB-encoded -> linear light, any shape, float64; odd below 0, power law above 1."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    return np.sign(x) * np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


def srgb_encode(x) -> np.ndarray:
    """Linear light -> sRGB-encoded, any shape, float64; inverse of :func:`srgb_decode`."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    return np.sign(x) * np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1.0 / 2.4) - 0.055)


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


def display_luma_u8(rgb) -> np.ndarray:
    """:func:`display_luma` quantised to 8 bits ``(...)`` uint8 (what the flow estimator reads)."""
    return np.clip(np.round(display_luma(rgb) * 255.0), 0, 255).astype(np.uint8)


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


def linear709_to_oklab(rgb) -> np.ndarray:
    """Linear Rec.709 ``(..., 3)`` -> Oklab ``(..., 3)`` float64 (signed cube root)."""
    rgb = _check_rgb(rgb, "rgb")
    return apply_matrix(np.cbrt(apply_matrix(rgb, OKLAB_M1)), OKLAB_M2)


def working_to_oklab(rgb) -> np.ndarray:
    """Working space (ACEScct) ``(..., 3)`` -> Oklab ``(..., 3)`` float64."""
    return linear709_to_oklab(working_to_linear709(rgb))


# --- torch form (B, 3, H, W), differentiable ----------------------------------------------------
def _check_rgb_t(x: torch.Tensor, name: str = "image") -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ShapeMismatchError(f"{name} must be (B, 3, H, W); got {tuple(x.shape)}")


def _matrix_t(m, x: torch.Tensor) -> torch.Tensor:
    """``m (3,3)`` applied to every pixel of ``x (B,3,H,W)``."""
    return torch.einsum("ij,bjhw->bihw", x.new_tensor(np.asarray(m)), x)


def luma_t(rgb: torch.Tensor) -> torch.Tensor:
    """Rec.709 luma of encoded RGB. ``rgb (B,3,H,W) -> (B,H,W)``."""
    _check_rgb_t(rgb)
    return (rgb * rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)).sum(dim=1)


def srgb_decode_t(x: torch.Tensor) -> torch.Tensor:
    """:func:`srgb_decode` for tensors of any shape."""
    a = x.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)
    return torch.sign(x) * lin


def srgb_encode_t(x: torch.Tensor) -> torch.Tensor:
    """:func:`srgb_encode` for tensors of any shape."""
    a = x.abs()
    enc = torch.where(a <= 0.0031308, a * 12.92, 1.055 * a.clamp_min(1e-12) ** (1 / 2.4) - 0.055)
    return torch.sign(x) * enc


def acescct_decode_t(y: torch.Tensor) -> torch.Tensor:
    """:func:`acescct_decode` for tensors of any shape, capped at :data:`ACESCCT_DECODE_CAP_T`."""
    lin_toe = (y - ACESCCT_B) / ACESCCT_A
    lin_log = torch.exp2(y.clamp(max=ACESCCT_DECODE_CAP_T) * ACESCCT_LOG_SCALE - ACESCCT_LOG_OFFSET)
    return torch.where(y <= ACESCCT_Y_BREAK, lin_toe, lin_log)


def acescct_encode_t(x: torch.Tensor) -> torch.Tensor:
    """:func:`acescct_encode` for tensors of any shape."""
    toe = ACESCCT_A * x + ACESCCT_B
    log = (torch.log2(x.clamp_min(1e-10)) + ACESCCT_LOG_OFFSET) / ACESCCT_LOG_SCALE
    return torch.where(x <= ACESCCT_X_BREAK, toe, log)


def working_to_linear709_t(rgb: torch.Tensor) -> torch.Tensor:
    """Working space (ACEScct) ``(B,3,H,W)`` -> linear Rec.709 ``(B,3,H,W)``."""
    _check_rgb_t(rgb)
    return _matrix_t(AP1_TO_REC709, acescct_decode_t(rgb))


def _cbrt_t(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * (x.abs() + _CBRT_EPS_T) ** (1.0 / 3.0)


def linear709_to_oklab_t(rgb: torch.Tensor) -> torch.Tensor:
    """Linear Rec.709 ``(B,3,H,W)`` -> Oklab ``(B,3,H,W)`` (channels L, a, b)."""
    _check_rgb_t(rgb)
    return _matrix_t(OKLAB_M2, _cbrt_t(_matrix_t(OKLAB_M1, rgb)))


def oklab_to_linear709_t(lab: torch.Tensor) -> torch.Tensor:
    """Oklab ``(B,3,H,W)`` -> linear Rec.709 ``(B,3,H,W)``; inverse of :func:`linear709_to_oklab_t`."""
    _check_rgb_t(lab, "lab")
    return _matrix_t(np.linalg.inv(OKLAB_M1), _matrix_t(np.linalg.inv(OKLAB_M2), lab) ** 3)


def working_to_oklab_t(rgb: torch.Tensor) -> torch.Tensor:
    """Working space (ACEScct) RGB ``(B,3,H,W)`` -> Oklab ``(B,3,H,W)``."""
    return linear709_to_oklab_t(working_to_linear709_t(rgb))


# --- colour difference -----------------------------------------------------------------------
def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) of CIE L*a*b* ``(..., 3)`` pairs -> ``(...)``.

    The formula of Sharma, Wu and Dalal (2005), including their notes on the hue mean and hue
    difference when a chroma is zero; a test checks it against their published pairs.
    """
    a = np.asarray(lab1, dtype=np.float64)
    b = np.asarray(lab2, dtype=np.float64)
    if a.shape != b.shape or a.shape[-1] != 3:
        raise ShapeMismatchError(f"delta_e2000 needs two (..., 3) Lab arrays of one shape; got {a.shape}, {b.shape}")
    l1, a1, b1 = a[..., 0], a[..., 1], a[..., 2]
    l2, a2, b2 = b[..., 0], b[..., 1], b[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(zero, 0.0, dh)
    d_l = l2 - l1
    d_c = c2p - c1p
    d_h = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    l_mean = (l1 + l2) / 2.0
    cp_mean = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180.0, hsum / 2.0, np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0)
    )
    h_mean = np.where(zero, hsum, h_mean)
    t = (
        1.0
        - 0.17 * np.cos(np.radians(h_mean - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * h_mean))
        + 0.32 * np.cos(np.radians(3.0 * h_mean + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * h_mean - 63.0))
    )
    d_theta = 30.0 * np.exp(-(((h_mean - 275.0) / 25.0) ** 2))
    r_c = 2.0 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1.0 + 0.015 * (l_mean - 50.0) ** 2 / np.sqrt(20.0 + (l_mean - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_mean
    s_h = 1.0 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    return np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def display_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* of what a display shows for working-space ``(..., 3)``: the sRGB display image
    clipped to [0, 1], decoded to linear Rec.709, to Lab (D65) -> ``(..., 3)`` float64."""
    disp = np.clip(working_to_display(np.asarray(rgb, dtype=np.float64)), 0.0, 1.0)
    return linear709_to_lab(srgb_decode(disp))
