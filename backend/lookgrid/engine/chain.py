"""The temporal chain of a clip: network passes, their cached grids and states, and replay.

The network is called once per *pass* and analysed frame. A pass is one network input layout:

* :class:`StylePass` ``(index=p)``: every styled region at once, region ``k`` with its ``p``-th style
  (its last one when it has fewer); the grids kept are those of the regions that have a ``p``-th
  style (methods ``lookgrid``, ``per-frame``);
* :class:`RegionStylePass` ``(region=k, style=i)``: region ``k``'s ``i``-th style alone, with a
  full-frame mask (method ``pixel-blend``).

Every pass of a temporal method has its own ST-AdaIN state chain along the analysed frames
(``anchors``). After analysing a frame the chain keeps that frame's grids **and the state it
produced**; a request for anchor ``a_j`` walks back to the nearest ``a_i < a_j`` whose state is kept
(or to the clip's first anchor, which starts from ``None``) and re-runs the chain forward from there.
Every frame's grids therefore come from exactly the inputs of one in-order run, so out-of-order
requests give identical pixels.

Keys are named tuples: :class:`GridKey` ``(frame, region, style)`` for a grid ``(12, D, Hg, Wg)``,
:class:`StateKey` ``(pass_, frame)`` for the state after ``frame``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple, Sequence

import torch

from lookgrid.errors import CancelledError
from lookgrid.model.smooth import smooth_looks


class GridKey(NamedTuple):
    """One cached grid: analysed ``frame``, ``region`` index, ``style`` index within the region."""

    frame: int
    region: int
    style: int


@dataclass(frozen=True)
class StylePass:
    """Pass ``index``: all styled regions in one call, each with its ``index``-th (or last) style."""

    index: int

    def network_inputs(self, regions, styled: Sequence[int]) -> tuple[list[str], list[int] | None]:
        """(style keys, mask rows of the analysed masks; ``None`` = one full-frame mask)."""
        return [_style_at(regions[k], self.index) for k in styled], list(styled)

    def outputs(self, regions, styled: Sequence[int]) -> list[tuple[int, int, int]]:
        """``(network output row, region, style)`` of the grids this pass keeps."""
        return [(j, k, self.index) for j, k in enumerate(styled) if self.index < len(regions[k].styles)]

    def replaced_by(self, changed: set[tuple[int, int]]) -> bool:
        """Whether replacing the ``(region, style)`` looks in ``changed`` invalidates this pass."""
        return any(i == self.index for _, i in changed)


@dataclass(frozen=True)
class RegionStylePass:
    """Region ``region``'s ``style``-th look alone, full-frame mask (pixel-space blending)."""

    region: int
    style: int

    def network_inputs(self, regions, styled: Sequence[int]) -> tuple[list[str], list[int] | None]:
        return [regions[self.region].styles[self.style].style], None

    def outputs(self, regions, styled: Sequence[int]) -> list[tuple[int, int, int]]:
        return [(0, self.region, self.style)]

    def replaced_by(self, changed: set[tuple[int, int]]) -> bool:
        return (self.region, self.style) in changed


Pass = StylePass | RegionStylePass


class StateKey(NamedTuple):
    """The temporal state a pass carried out of an analysed frame."""

    pass_: Pass
    frame: int


def _style_at(region, p: int) -> str:
    styles = region.styles
    return styles[min(p, len(styles) - 1)].style


RunPass = Callable[[Pass, int, object], object]
"""``run(pass_, frame, state_in) -> state_out``: one network call that stores its grids."""


class Chains:
    """A clip's analysed grids and pass states, and the grids smoothed over the shot (not
    thread-safe: the clip's lock guards it)."""

    def __init__(self) -> None:
        self.grids: dict[GridKey, torch.Tensor] = {}
        self.states: dict[StateKey, object] = {}
        self.smoothed: dict[GridKey, torch.Tensor] = {}  # smooth_shot_grids of ...
        self._smoothed_from: dict[GridKey, torch.Tensor] = {}  # ... these grids

    def smooth(self, anchors: Sequence[int], sigma: float) -> bool:
        """Bring :attr:`smoothed` up to date with the grids (:func:`smooth_shot_grids`); the raw
        grids stay as they are (a saved analysis holds them, so a farm chunk smooths the same grids
        to the same result). Returns True when it was recomputed (a raw grid changed)."""
        old = self._smoothed_from
        if self.grids.keys() == old.keys() and all(old[k] is g for k, g in self.grids.items()):
            return False
        self.smoothed = smooth_shot_grids(self.grids, anchors, sigma)
        self._smoothed_from = dict(self.grids)
        return True

    def done(self, pass_: Pass, frame: int, regions, styled: Sequence[int]) -> bool:
        return all(GridKey(frame, k, i) in self.grids for _, k, i in pass_.outputs(regions, styled))

    def ensure(
        self,
        pass_: Pass,
        frame: int,
        anchors_of: Callable[[int], Sequence[int]],
        *,
        temporal: bool,
        run: RunPass,
        regions,
        styled: Sequence[int],
        cancel: Callable[[], bool] | None = None,
    ) -> None:
        """Make the grids of ``pass_`` at anchor ``frame`` available, replaying the chain from the
        nearest kept state (temporal methods) or running the one frame (others).
        ``anchors_of(frame)``: the chain's analysed frames up to at least ``frame`` (asked only when
        work is needed: an open-ended clip's chain grows with the frames it is given)."""
        if self.done(pass_, frame, regions, styled):
            return
        anchors = anchors_of(frame)
        j = anchors.index(frame)
        if not temporal:
            run(pass_, frame, None)
            return
        start = j
        while start > 0 and StateKey(pass_, anchors[start - 1]) not in self.states:
            start -= 1
        state = self.states.get(StateKey(pass_, anchors[start - 1])) if start > 0 else None
        for idx in range(start, j + 1):
            if cancel is not None and cancel():
                raise CancelledError("analysis cancelled")
            f = anchors[idx]
            state = run(pass_, f, state)
            self.states[StateKey(pass_, f)] = state

    def analysed_frames(self) -> set[int]:
        return {k.frame for k in self.grids}

    def clear(self) -> set[int]:
        """Drop everything; returns the frames that had grids."""
        frames = self.analysed_frames()
        self.grids.clear()
        self.states.clear()
        self.smoothed, self._smoothed_from = {}, {}
        return frames

    def drop_passes(self, passes: Iterable[Pass], regions, styled: Sequence[int]) -> set[int]:
        """Drop the grids and states of ``passes`` (all frames); returns the frames that had such grids."""
        passes = set(passes)
        outputs = {(k, i) for p in passes for _, k, i in p.outputs(regions, styled)}
        gone = [key for key in self.grids if (key.region, key.style) in outputs]
        for key in gone:
            del self.grids[key]
        for state in [s for s in self.states if s.pass_ in passes]:
            del self.states[state]
        return {key.frame for key in gone}


def smooth_shot_grids(
    grids: dict[GridKey, torch.Tensor], anchors: Sequence[int], sigma: float
) -> dict[GridKey, torch.Tensor]:
    """Each (region, style)'s grids ``(12,D,Hg,Wg)`` at the shot's ``anchors`` smoothed over the
    shot, both ways (:func:`lookgrid.model.smooth.smooth_looks`, ``sigma`` in analysed frames);
    ``grids`` must hold every anchor of every series. Returns the smoothed grids by the same keys."""
    series = sorted({(k.region, k.style) for k in grids})
    looks = torch.stack([torch.stack([grids[GridKey(f, r, i)] for r, i in series]) for f in anchors])
    smoothed = smooth_looks(looks, sigma=sigma)  # (T, R, 12, D, Hg, Wg)
    return {GridKey(f, r, i): smoothed[t, j] for t, f in enumerate(anchors) for j, (r, i) in enumerate(series)}
