"""Affine bilateral grids: the layout, defined once, and the grid-space operations.

Layout: a batch of grids is a float tensor ``(B, 12, D, Hg, Wg)``:

* axis 1 holds the 12 coefficients of a 3×4 affine colour matrix, row-major:
  coefficient ``k = 4*row + col`` of ``[[a00 a01 a02 b0], [a10 a11 a12 b1], [a20 a21 a22 b2]]``;
  so the offsets ``b0, b1, b2`` are channels :data:`OFFSET_CHANNELS` = (3, 7, 11) and the
  diagonal gains are :data:`DIAGONAL_CHANNELS` = (0, 5, 10);
* axis 2 is depth (guide value z in [0, 1] → D bins), axis 3 rows, axis 4 columns.

Cell ``(d, i, j)`` is centred at guide value ``(d + 0.5)/D`` and image position
``((j + 0.5)/Wg, (i + 0.5)/Hg)`` in normalised coordinates (the HDRnet convention).
An output pixel is ``A · [r, g, b, 1]ᵀ`` with ``A`` sliced from the grid (see :mod:`.slicing`).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from lookgrid.errors import InvalidInputError, ShapeMismatchError

GRID_COEFFS = 12
GRID_DEPTH = 8
GRID_SIZE = 16
OFFSET_CHANNELS = (3, 7, 11)
DIAGONAL_CHANNELS = (0, 5, 10)


@lru_cache(maxsize=256)
def _shape_pattern(pattern: str) -> tuple[str, ...]:
    """``"(B,12,D,Hg,Wg)"`` → ``("B", "12", "D", "Hg", "Wg")``: one entry per dimension, each a
    size (digits) or a name (an identifier); anything else is a mistake in the caller's pattern."""
    inner = pattern.strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise ValueError(f"shape pattern {pattern!r} must be written in parentheses, e.g. '(B,3,H,W)'")
    dims = tuple(d.strip() for d in inner[1:-1].split(","))
    bad = [d for d in dims if not (d.isdigit() or d.isidentifier())]
    if bad:
        raise ValueError(f"shape pattern {pattern!r}: {bad} are neither sizes nor names")
    return dims


def check_shape(name: str, t: torch.Tensor, pattern: str, /, **sizes: int) -> None:
    """Raise :class:`ShapeMismatchError` unless ``t`` has the shape ``pattern`` says (the pattern is
    the check, as in kornia's ``KORNIA_CHECK_SHAPE``).

    ``pattern`` has one entry per dimension: a number is the size that dimension must have, a name
    any size — unless ``sizes`` binds it (``H=h``: that dimension must be ``h``). Every
    dimension named by a bound name is checked, so ``"(B,N,L,L)"`` with ``L=256`` asks for two.
    The message shows the pattern and, when names are bound, the sizes it stands for.

    >>> check_shape("grids", torch.zeros(2, 12, 8, 16, 16), "(B,12,D,Hg,Wg)")
    >>> check_shape("masks", torch.zeros(1, 2, 4, 5), "(1,N,H,W)", H=4, W=6)
    Traceback (most recent call last):
    ...
    lookgrid.errors.ShapeMismatchError: masks must have shape (1,N,H,W) = (1,N,4,6), got (1, 2, 4, 5)
    """
    dims = _shape_pattern(pattern)
    unknown = sorted(set(sizes) - set(dims))
    if unknown:
        raise ValueError(f"check_shape: {unknown} are not names of the pattern {pattern!r}")
    shown = pattern if not sizes else f"{pattern} = ({','.join(str(sizes.get(d, d)) for d in dims)})"
    if not isinstance(t, torch.Tensor):
        raise InvalidInputError(f"{name} must be a torch.Tensor {shown}, got {type(t).__name__}")
    want = [int(d) if d.isdigit() else sizes.get(d) for d in dims]
    if t.dim() != len(dims) or any(w is not None and s != w for s, w in zip(t.shape, want)):
        raise ShapeMismatchError(f"{name} must have shape {shown}, got {tuple(t.shape)}")


def check_grids(name: str, grids: torch.Tensor) -> None:
    """Check a grid batch ``(B, 12, D, Hg, Wg)``."""
    check_shape(name, grids, f"(B,{GRID_COEFFS},D,Hg,Wg)")


def identity_grid(
    n: int,
    depth: int = GRID_DEPTH,
    height: int = GRID_SIZE,
    width: int = GRID_SIZE,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Grids whose every cell is the identity colour transform.

    Returns ``(n, 12, depth, height, width)``: 1 on the diagonal gains, 0 elsewhere.
    """
    if n < 0 or min(depth, height, width) < 1:
        raise InvalidInputError(
            f"identity_grid needs n >= 0 and positive sizes, got n={n}, depth={depth}, height={height}, width={width}"
        )
    g = torch.zeros(n, GRID_COEFFS, depth, height, width, dtype=dtype, device=device)
    g[:, list(DIAGONAL_CHANNELS)] = 1.0
    return g


def lerp_grids(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """``(1 - t)·a + t·b`` for grids of equal shape ``(..., 12, D, Hg, Wg)``.

    ``t`` is a float or a tensor broadcastable against the grids (e.g. ``(N,1,1,1,1)``).
    Affine transforms are closed under this blend, so the result is again a valid grid.
    """
    if a.shape != b.shape:
        raise ShapeMismatchError(f"lerp_grids needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a + (b - a) * t


def apply_strength(grids: torch.Tensor, strength: torch.Tensor | float) -> torch.Tensor:
    """Blend each grid toward the identity: ``s·Γ + (1 - s)·I``.

    grids ``(N, 12, D, Hg, Wg)``; strength ``(N,)`` (or a float for all). ``s = 0`` gives the
    identity (output = input), ``s = 1`` the grid unchanged; values above 1 extrapolate.
    """
    check_grids("grids", grids)
    s = torch.as_tensor(strength, dtype=grids.dtype, device=grids.device)
    if s.dim() == 0:
        s = s.expand(grids.shape[0])
    if s.shape != (grids.shape[0],):
        raise ShapeMismatchError(f"strength must have shape (N,) with N={grids.shape[0]}, got {tuple(s.shape)}")
    if not torch.isfinite(s).all():
        raise InvalidInputError("strength must be finite")
    ident = identity_grid(grids.shape[0], *grids.shape[2:], dtype=grids.dtype, device=grids.device)
    return lerp_grids(ident, grids, s.view(-1, 1, 1, 1, 1))
