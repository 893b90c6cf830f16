"""Synthetic photoreal colour gradings: the supervision that needs no pretrained network.

A :class:`Grading` is a random but plausible colour transform of the kind a colourist applies: white
balance, per-channel smooth monotone curves (lift / gamma / gain), contrast about a pivot, saturation,
a hue rotation about the grey axis and split-toning (one tint in the shadows, another in the
highlights). It is a pure per-pixel function of colour, so it is photoreal by construction and a
bilateral grid of local affine colour transforms can represent it closely.

Training uses it region-wise: region ``k`` of the content gets grading ``g_k`` (the *target*), and
``g_k`` applied to another image or another frame gives region ``k``'s *reference*.

Images are display-like working-space RGB ``(B, 3, H, W)`` in [0, 1]; gradings clamp their result to
[0, 1] (training photos are display-referred 8-bit images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError
from lookgrid.model.colormath import LUMA_WEIGHTS
from lookgrid.model.grid import check_shape


@dataclass(frozen=True)
class Grading:
    """Parameters of one grading. Tuples are per channel (R, G, B)."""

    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gamma: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 1.0
    pivot: float = 0.45
    saturation: float = 1.0
    hue: float = 0.0  # radians, rotation about the grey axis
    shadow_tint: tuple[float, float, float] = (0.0, 0.0, 0.0)
    highlight_tint: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @staticmethod
    def identity() -> "Grading":
        return Grading()


def _rgb(values) -> tuple[float, float, float]:
    """Three numbers (R, G, B) as a tuple of Python floats."""
    r, g, b = (float(v) for v in values)
    return r, g, b


def _unit_tint(rng: np.random.Generator, amount: float) -> tuple[float, float, float]:
    """A random chroma offset (zero-sum RGB vector) of the given length."""
    angle = rng.uniform(0, 2 * math.pi)
    # Two orthonormal chroma axes orthogonal to grey (1,1,1).
    u = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
    v = np.array([1.0, 1.0, -2.0]) / math.sqrt(6)
    t = amount * (math.cos(angle) * u + math.sin(angle) * v)
    return _rgb(t)


def sample_grading(rng: np.random.Generator, strength: float = 1.0) -> Grading:
    """Draw a random photoreal grading; ``strength`` scales every departure from identity.

    ``strength=1`` gives clearly visible looks (warm/cool casts of ~10-25 %, saturation 0.45-1.6,
    hue rotation up to ±25°, contrast 0.7-1.45); ``strength=0`` is the identity.
    """
    s = float(strength)

    def lerp1(v: float) -> float:
        return 1.0 + s * (v - 1.0)

    temp = rng.uniform(-1, 1)
    tint = rng.uniform(-0.5, 0.5)
    wb = np.array([1 + 0.25 * temp, 1 + 0.12 * tint, 1 - 0.25 * temp])
    wb = wb / (np.array(LUMA_WEIGHTS) @ wb)
    lift = rng.uniform(-0.04, 0.08, 3) * s
    gamma = np.exp(rng.normal(0, 0.18, 3) + rng.normal(0, 0.15)) ** s
    gain = rng.uniform(0.85, 1.12, 3)
    return Grading(
        white_balance=_rgb([1 + s * (w - 1) for w in wb]),
        lift=_rgb(lift),
        gamma=_rgb(gamma),
        gain=_rgb([lerp1(x) for x in gain]),
        contrast=lerp1(float(np.exp(rng.uniform(math.log(0.7), math.log(1.45))))),
        pivot=float(rng.uniform(0.35, 0.55)),
        saturation=lerp1(float(np.exp(rng.uniform(math.log(0.45), math.log(1.6))))),
        hue=float(s * math.radians(rng.uniform(-25, 25)) * (rng.random() < 0.6)),
        shadow_tint=_unit_tint(rng, s * rng.uniform(0.0, 0.12)),
        highlight_tint=_unit_tint(rng, s * rng.uniform(0.0, 0.10)),
    )


def hue_rotation_matrix(angle: float) -> np.ndarray:
    """3×3 rotation by ``angle`` radians about the grey axis (1,1,1)/√3 (Rodrigues)."""
    k = np.ones(3) / math.sqrt(3)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * (kx @ kx)


def apply_grading(rgb: torch.Tensor, g: Grading) -> torch.Tensor:
    """Apply one grading. ``rgb (B,3,H,W) -> (B,3,H,W)`` in [0, 1]."""
    check_shape("rgb", rgb, "(B,3,H,W)")

    def vec(t: tuple[float, float, float]) -> torch.Tensor:
        return rgb.new_tensor(t).view(1, 3, 1, 1)

    luma_w = vec(LUMA_WEIGHTS)
    x = (rgb * vec(g.white_balance)).clamp(0.0, 1.0)
    # lift / gamma / gain: monotone and smooth on [0, 1]
    lift, gain = vec(g.lift), vec(g.gain)
    x = lift + (gain - lift) * x.clamp_min(0.0) ** vec(g.gamma)
    x = (x - g.pivot) * g.contrast + g.pivot
    y = (x * luma_w).sum(1, keepdim=True)
    x = y + g.saturation * (x - y)
    if g.hue != 0.0:
        m = rgb.new_tensor(hue_rotation_matrix(g.hue), dtype=rgb.dtype)
        x = torch.einsum("ij,bjhw->bihw", m, x)
    y = (x * luma_w).sum(1, keepdim=True).clamp(0.0, 1.0)
    x = x + vec(g.shadow_tint) * (1 - y) ** 2 + vec(g.highlight_tint) * y**2
    return x.clamp(0.0, 1.0)


def apply_region_gradings(rgb: torch.Tensor, masks: torch.Tensor, gradings: list[list[Grading]]) -> torch.Tensor:
    """Grade each region with its own grading and composite by the masks.

    ``rgb (B,3,H,W)``, ``masks (B,N,H,W)`` soft and summing to 1 per pixel (a partition),
    ``gradings[b][k]`` for sample ``b``, region ``k`` -> ``(B,3,H,W)``:
    ``out = Σ_k masks_k · g_k(rgb)``.
    """
    b, n = masks.shape[:2]
    if rgb.shape[0] != b or rgb.shape[2:] != masks.shape[2:]:
        raise ShapeMismatchError(f"rgb {tuple(rgb.shape)} and masks {tuple(masks.shape)} do not match")
    if len(gradings) != b or any(len(row) != n for row in gradings):
        raise InvalidInputError(f"need {b}×{n} gradings")
    out = torch.zeros_like(rgb)
    for i in range(b):
        for k in range(n):
            out[i : i + 1] += masks[i : i + 1, k : k + 1] * apply_grading(rgb[i : i + 1], gradings[i][k])
    return out
