"""Colour helpers for training: luminance and Oklab, as plain torch functions.

Training images are in the model's working space, ``lookgrid.imaging.WORKING_SPACE`` = ACEScct (AP1
primaries, log encoding; values roughly in [0, 1]). For the perceptual colour-statistics losses we
decode ACEScct to linear AP1, convert to linear Rec.709 and then to Oklab (Björn Ottosson, 2020).
The ACEScct curve and the AP1 -> Rec.709 matrix are the constants OpenColorIO's studio config uses
(a test checks them against OpenColorIO). Out-of-gamut (negative) linear values go through a signed
cube root, so nothing NaNs.

Shapes: images are ``(B, 3, H, W)``; every function here keeps the batch and spatial layout.
"""

from __future__ import annotations

import torch

# Rec.709 luma weights applied to the encoded working-space values (as the model's guide does).
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)

# ACEScct (S-2016-001): y = (log2(x) + 9.72) / 17.52 above the break, a straight toe below.
ACESCCT_X_BREAK = 0.0078125
ACESCCT_Y_BREAK = 0.155251141552511
ACESCCT_A = 10.5402377416545
ACESCCT_B = 0.0729055341958355

# Linear AP1 (ACEScg) -> linear Rec.709, Bradford-adapted D60 -> D65 (as in OpenColorIO's config).
AP1_TO_REC709 = (
    (1.7050509931, -0.6217921207, -0.0832588724),
    (-0.1302564175, 1.1408047366, -0.0105483191),
    (-0.0240033568, -0.1289689761, 1.1529723329),
)

# Oklab matrices (linear sRGB -> LMS, cube-rooted LMS -> Lab).
_M1 = (
    (0.4122214708, 0.5363325363, 0.0514459929),
    (0.2119034982, 0.6806995451, 0.1073969566),
    (0.0883024619, 0.2817188376, 0.6299787005),
)
_M2 = (
    (0.2104542553, 0.7936177850, -0.0040720468),
    (1.9779984951, -2.4285922050, 0.4505937099),
    (0.0259040371, 0.7827717662, -0.8086757660),
)


def _check_rgb(x: torch.Tensor, name: str = "image") -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be (B, 3, H, W); got {tuple(x.shape)}")


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Luma of display-like RGB. ``rgb (B,3,H,W) -> (B,H,W)``."""
    _check_rgb(rgb)
    w = rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB transfer curve decode, extended oddly below 0 and as a power above 1. Any shape."""
    a = x.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)
    return torch.sign(x) * lin


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`srgb_to_linear`. Any shape."""
    a = x.abs()
    enc = torch.where(a <= 0.0031308, a * 12.92, 1.055 * a.clamp_min(1e-12) ** (1 / 2.4) - 0.055)
    return torch.sign(x) * enc


def _cbrt(x: torch.Tensor) -> torch.Tensor:
    # Signed cube root with a gradient that stays finite at 0.
    return torch.sign(x) * (x.abs() + 1e-9) ** (1.0 / 3.0)


def linear_rgb_to_oklab(rgb: torch.Tensor) -> torch.Tensor:
    """Linear sRGB ``(B,3,H,W)`` -> Oklab ``(B,3,H,W)`` (channels L, a, b)."""
    _check_rgb(rgb)
    m1 = rgb.new_tensor(_M1)
    m2 = rgb.new_tensor(_M2)
    lms = torch.einsum("ij,bjhw->bihw", m1, rgb)
    return torch.einsum("ij,bjhw->bihw", m2, _cbrt(lms))


def oklab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Oklab ``(B,3,H,W)`` -> linear sRGB ``(B,3,H,W)``; inverse of :func:`linear_rgb_to_oklab`."""
    _check_rgb(lab, "lab")
    m1 = torch.linalg.inv(lab.new_tensor(_M1, dtype=torch.float64)).to(lab.dtype)
    m2 = torch.linalg.inv(lab.new_tensor(_M2, dtype=torch.float64)).to(lab.dtype)
    lms_ = torch.einsum("ij,bjhw->bihw", m2, lab)
    return torch.einsum("ij,bjhw->bihw", m1, lms_**3)


def acescct_to_linear(y: torch.Tensor) -> torch.Tensor:
    """ACEScct -> linear AP1 (ACEScg), any shape. The exponent is capped so nothing overflows."""
    lin_toe = (y - ACESCCT_B) / ACESCCT_A
    lin_log = torch.exp2(y.clamp(max=1.5) * 17.52 - 9.72)
    return torch.where(y <= ACESCCT_Y_BREAK, lin_toe, lin_log)


def linear_to_acescct(x: torch.Tensor) -> torch.Tensor:
    """Linear AP1 -> ACEScct, any shape; inverse of :func:`acescct_to_linear`."""
    toe = ACESCCT_A * x + ACESCCT_B
    log = (torch.log2(x.clamp_min(1e-10)) + 9.72) / 17.52
    return torch.where(x <= ACESCCT_X_BREAK, toe, log)


def working_to_linear_rec709(rgb: torch.Tensor) -> torch.Tensor:
    """Working space (ACEScct) ``(B,3,H,W)`` -> linear Rec.709 ``(B,3,H,W)``."""
    _check_rgb(rgb)
    m = rgb.new_tensor(AP1_TO_REC709)
    return torch.einsum("ij,bjhw->bihw", m, acescct_to_linear(rgb))


def working_to_oklab(rgb: torch.Tensor) -> torch.Tensor:
    """Working space (ACEScct) RGB ``(B,3,H,W)`` -> Oklab ``(B,3,H,W)``."""
    return linear_rgb_to_oklab(working_to_linear_rec709(rgb))
