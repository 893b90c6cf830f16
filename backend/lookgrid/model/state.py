"""Explicit per-clip temporal state of the grid path, and cached style statistics.

Both are immutable values: a call returns a new one, nothing is kept inside modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lookgrid.errors import ShapeMismatchError


@dataclass(frozen=True)
class TemporalState:
    """Content statistics each ST-AdaIN layer used on the previous frame.

    ``means[l]`` and ``stds[l]`` are ``(R, C_l)`` for layer ``l`` (three splatting blocks), one row
    per region (``R = B·N``, batch-major). They are the *blended* statistics ``μ̂, σ̂`` of eqs. 5–6,
    so carrying them forward is a recursive filter (long-term coherence, as papers/000 suggests);
    with α the weight of the past, a change in the shot settles with time constant ~1/(1−α) frames.
    ``fallback_regions`` lists the rows whose masks were empty/tiny at some layer (whole-frame
    statistics used). ``None`` in place of a state means "first frame".

    ``colour_mean (R, 3)`` and ``colour_cov (R, 3, 3)``: the blended colour statistics of each
    region's content that the colour prior used (:mod:`lookgrid.model.prior`); None when the
    model has no prior.
    """

    means: tuple[torch.Tensor, ...]
    stds: tuple[torch.Tensor, ...]
    fallback_regions: tuple[int, ...] = field(default=())
    colour_mean: torch.Tensor | None = None
    colour_cov: torch.Tensor | None = None

    @property
    def num_regions(self) -> int:
        return int(self.means[0].shape[0])

    def check(self, rows: int, channels: tuple[int, ...]) -> None:
        """Raise :class:`ShapeMismatchError` unless the state fits ``rows`` regions and these layers."""
        got = tuple(tuple(m.shape) for m in self.means)
        want = tuple((rows, c) for c in channels)
        if got != want or tuple(tuple(s.shape) for s in self.stds) != want:
            raise ShapeMismatchError(
                f"temporal state has per-layer shapes {got}, expected {want} "
                f"(one row per region; the number of regions must not change within a clip)"
            )
        if self.colour_mean is not None and self.colour_cov is not None:
            cm, cc = tuple(self.colour_mean.shape), tuple(self.colour_cov.shape)
            if cm != (rows, 3) or cc != (rows, 3, 3):
                raise ShapeMismatchError(
                    f"temporal state has colour statistics {cm}, {cc}; expected "
                    f"({rows}, 3), ({rows}, 3, 3) (one row per region)"
                )

    def _map(self, fn, fallback_regions: tuple[int, ...]) -> "TemporalState":
        """``fn`` applied to every tensor; ``fallback_regions`` for the new state."""
        opt = lambda t: None if t is None else fn(t)  # noqa: E731
        return TemporalState(
            tuple(fn(m) for m in self.means),
            tuple(fn(s) for s in self.stds),
            fallback_regions,
            opt(self.colour_mean),
            opt(self.colour_cov),
        )

    def detach(self) -> "TemporalState":
        return self._map(lambda t: t.detach(), self.fallback_regions)

    def to(self, device) -> "TemporalState":
        return self._map(lambda t: t.to(device), self.fallback_regions)

    def select(self, rows) -> "TemporalState":
        """The state of some regions only (``rows``: list of row indices)."""
        idx = torch.as_tensor(list(rows), dtype=torch.long)
        return self._map(lambda t: t[idx.to(t.device)], ())  # row numbers change: no fallback list


@dataclass(frozen=True)
class StyleFeatures:
    """Per-layer statistics of S style images: ``means[l], stds[l]`` are ``(S, C_l)``.

    Cacheable per style image (``encode_style`` of one image, then :meth:`stack` to build the N
    styles of a call; :meth:`select` picks rows). ``colour_mean (S, 3)``, ``colour_cov (S, 3, 3)``:
    the style images' colour statistics in working space, for the colour prior (None if unused);
    ``tones (S, Q, 4)``: their :func:`lookgrid.model.prior.tone_table`, for the prior's tone curve (None if unused).
    """

    means: tuple[torch.Tensor, ...]
    stds: tuple[torch.Tensor, ...]
    colour_mean: torch.Tensor | None = None
    colour_cov: torch.Tensor | None = None
    tones: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.means[0].shape[0])

    def _map(self, fn) -> "StyleFeatures":
        opt = lambda t: None if t is None else fn(t)  # noqa: E731
        return StyleFeatures(
            tuple(fn(m) for m in self.means),
            tuple(fn(s) for s in self.stds),
            opt(self.colour_mean),
            opt(self.colour_cov),
            opt(self.tones),
        )

    def select(self, rows) -> "StyleFeatures":
        idx = torch.as_tensor(list(rows), dtype=torch.long)
        return self._map(lambda t: t[idx.to(t.device)])

    @staticmethod
    def stack(items: "list[StyleFeatures]") -> "StyleFeatures":
        """Concatenate along the style axis (e.g. one cached entry per region)."""
        if not items:
            raise ShapeMismatchError("StyleFeatures.stack needs at least one item, got 0")
        layers = len(items[0].means)
        return StyleFeatures(
            tuple(torch.cat([it.means[k] for it in items]) for k in range(layers)),
            tuple(torch.cat([it.stds[k] for it in items]) for k in range(layers)),
            _cat_all([it.colour_mean for it in items]),
            _cat_all([it.colour_cov for it in items]),
            _cat_all([it.tones for it in items]),
        )

    def lerp(self, other: "StyleFeatures", t: float) -> "StyleFeatures":
        """Blend statistics of two styles (a style mix in feature space; colour moments likewise)."""
        # quantiles blend as quantile functions: the displacement interpolation of the two tone ranges
        return StyleFeatures(
            tuple(a + (b - a) * t for a, b in zip(self.means, other.means)),
            tuple(a + (b - a) * t for a, b in zip(self.stds, other.stds)),
            _lerp_both(self.colour_mean, other.colour_mean, t),
            _lerp_both(self.colour_cov, other.colour_cov, t),
            _lerp_both(self.tones, other.tones, t),
        )

    def to(self, device) -> "StyleFeatures":
        return self._map(lambda t: t.to(device))

    def detach(self) -> "StyleFeatures":
        return self._map(lambda t: t.detach())


def _cat_all(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    """``torch.cat(parts)`` along rows when every part is there, else ``None`` (statistics that not
    every style has, e.g. colour moments of an older encoder)."""
    present = [p for p in parts if p is not None]
    return torch.cat(present) if len(present) == len(parts) else None


def _lerp_both(a: torch.Tensor | None, b: torch.Tensor | None, t: float) -> torch.Tensor | None:
    """``a + (b − a)·t`` when both are there, else ``None``."""
    return a + (b - a) * t if a is not None and b is not None else None
