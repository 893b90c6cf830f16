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
    """

    means: tuple[torch.Tensor, ...]
    stds: tuple[torch.Tensor, ...]
    fallback_regions: tuple[int, ...] = field(default=())

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

    def detach(self) -> "TemporalState":
        return TemporalState(tuple(m.detach() for m in self.means), tuple(s.detach() for s in self.stds),
                             self.fallback_regions)

    def to(self, device) -> "TemporalState":
        return TemporalState(tuple(m.to(device) for m in self.means), tuple(s.to(device) for s in self.stds),
                             self.fallback_regions)

    def select(self, rows) -> "TemporalState":
        """The state of some regions only (``rows``: list of row indices)."""
        idx = torch.as_tensor(list(rows), dtype=torch.long)
        return TemporalState(tuple(m[idx.to(m.device)] for m in self.means),
                             tuple(s[idx.to(s.device)] for s in self.stds))


@dataclass(frozen=True)
class StyleFeatures:
    """Per-layer statistics of S style images: ``means[l], stds[l]`` are ``(S, C_l)``.

    Cacheable per style image (``encode_style`` of one image, then :meth:`stack` to build the N
    styles of a call; :meth:`select` picks rows).
    """

    means: tuple[torch.Tensor, ...]
    stds: tuple[torch.Tensor, ...]

    def __len__(self) -> int:
        return int(self.means[0].shape[0])

    def select(self, rows) -> "StyleFeatures":
        idx = torch.as_tensor(list(rows), dtype=torch.long)
        return StyleFeatures(tuple(m[idx.to(m.device)] for m in self.means),
                             tuple(s[idx.to(s.device)] for s in self.stds))

    @staticmethod
    def stack(items: "list[StyleFeatures]") -> "StyleFeatures":
        """Concatenate along the style axis (e.g. one cached entry per region)."""
        if not items:
            raise ShapeMismatchError("StyleFeatures.stack needs at least one item, got 0")
        layers = len(items[0].means)
        return StyleFeatures(tuple(torch.cat([it.means[l] for it in items]) for l in range(layers)),
                             tuple(torch.cat([it.stds[l] for it in items]) for l in range(layers)))

    def lerp(self, other: "StyleFeatures", t: float) -> "StyleFeatures":
        """Blend statistics of two styles (a style mix in feature space)."""
        return StyleFeatures(tuple(a + (b - a) * t for a, b in zip(self.means, other.means)),
                             tuple(a + (b - a) * t for a, b in zip(self.stds, other.stds)))

    def to(self, device) -> "StyleFeatures":
        return StyleFeatures(tuple(m.to(device) for m in self.means), tuple(s.to(device) for s in self.stds))

    def detach(self) -> "StyleFeatures":
        return StyleFeatures(tuple(m.detach() for m in self.means), tuple(s.detach() for s in self.stds))
