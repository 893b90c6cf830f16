"""A clip's analysis in parts: per-frame and per-pair work anywhere, in any order, then one short fold
in order that gives the grids of the sequential analysis bit for bit.

The sequential analysis (:meth:`lookgrid.engine.chain.Chains.ensure` over the clip's analysed frames,
the *anchors*) does, per anchor and pass, with ``temporal = "flow"``
(:meth:`lookgrid.engine.runtime.ModelRuntime.predict_flow`):

1. **per frame** — read the plate, convert, downscale (:func:`lookgrid.engine.lowres.make_lowres`),
   masks, and the network pass *without state*: the fresh grids ``(S,12,D,Hg,Wg)``;
2. **per pair** — DIS flow from the anchor to the one before it, reduced to per-cell moves
   (:func:`lookgrid.engine.runtime.pair_moves`: a :class:`~lookgrid.model.propagate.CellMoves`);
3. **in order** — warp the previous anchor's propagated grids by those moves and blend
   (:func:`lookgrid.model.propagate.apply_moves`).

:func:`analyze_part` does steps 1 and 2 for a run of consecutive anchors (reading the anchor before
its first too, for the pair across its start); :func:`fold_parts` does step 3 over all the parts.
Both call the functions the sequential path calls, with the same inputs, so the result is the same
by construction. Methods without a temporal chain (``per-frame``) are step 1 only. ``temporal =
"tc"`` cannot be split (:data:`TC_IN_ORDER`): its state is the network's own statistics.

A part as plain data (``torch.save``-able, loaded with ``weights_only=True``)::

    {"format": "lookgrid-analysis-part", "version": 1,
     "analysis": analysis_key(spec), "frames": [...],   # which clip it belongs to
     "anchors": [...],                                 # its consecutive analysed frames
     "passes": P, "keys": [[pass, frame], ...], "grids": [(S,12,D,Hg,Wg) float32, ...],
     "pairs": [frame, ...],                            # anchors whose pair to the previous it holds
     "moves": (K,Hg,Wg,2) float32, "shares": (K,Hg,Wg) float32}
"""

from __future__ import annotations

from typing import Sequence

import torch

from lookgrid.engine.analysis import analysis_key
from lookgrid.engine.chain import GridKey
from lookgrid.engine.runtime import flow_luma, pair_moves
from lookgrid.errors import InvalidInputError
from lookgrid.model.propagate import CellMoves, apply_moves

PART_FORMAT = "lookgrid-analysis-part"
PART_VERSION = 1

#: why ``temporal = "tc"`` analysis stays one sequential task (said once, in output and docs)
TC_IN_ORDER = (
    "temporal mode 'tc' carries the network's region statistics from frame to frame, "
    "so its analysis runs in order on one worker"
)


def in_order_reason(method, temporal: str) -> str | None:
    """Why an analysis by ``method`` (:func:`lookgrid.engine.methods.get_method`) in the runtime's
    ``temporal`` mode cannot be split into parts (None: it can)."""
    if method.analysed and method.temporal and temporal == "tc":
        return TC_IN_ORDER
    return None


def part_anchors(clip) -> list[int]:
    """The analysed frames the parts of ``clip`` must cover together (none for ``reinhard``)."""
    return list(clip.anchors or []) if clip.method.analysed else []


def short_list(items: Sequence, most: int = 5) -> str:
    """``items`` for a one-line message: the first ``most``, then "and N more"."""
    shown = ", ".join(str(f) for f in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def analyze_part(clip, anchors: Sequence[int]) -> dict:
    """Per-frame and per-pair work of consecutive ``anchors`` of an open clip on storage (module
    doc). Returns the part as plain data; :class:`InvalidInputError` for frames that are not a run
    of the clip's analysed frames, or a clip whose analysis cannot be split."""
    reason = in_order_reason(clip.method, clip.runtime.temporal)
    if reason is not None:
        raise InvalidInputError(f"the analysis cannot be split into parts: {reason}")
    every = part_anchors(clip)
    anchors = sorted(set(int(f) for f in anchors))
    if not anchors:
        raise InvalidInputError("an analysis part needs at least one analysed frame")
    stray = [f for f in anchors if f not in every]
    if stray:
        raise InvalidInputError(f"frames {short_list(stray)} are not analysed frames of the clip")
    start = every.index(anchors[0])
    if every[start : start + len(anchors)] != anchors:
        raise InvalidInputError(f"an analysis part's frames must be consecutive analysed frames, got {anchors}")
    passes = clip.method.passes(clip.regions, clip.styled)
    keys, grids, lumas = [], [], {}
    for f in anchors:
        for p, pass_ in enumerate(passes):
            content, masks, styles, views = clip.pass_inputs(pass_, f)
            fresh, _ = clip.runtime.predict(content.float(), masks.float(), styles, None, views)
            keys.append([p, f])
            grids.append(fresh.cpu())
        if clip.method.temporal and passes:
            lumas[f] = flow_luma(content)
    pairs: list[int] = []
    moves: list[CellMoves] = []
    if lumas:
        hg, wg = grids[0].shape[-2:]
        before = every[start - 1] if start > 0 else None
        if before is not None:  # the pair across the part's start needs the anchor before it
            lumas[before] = flow_luma(clip.pass_inputs(passes[0], before)[0])
        for f in anchors:
            if before is not None:
                pairs.append(f)
                moves.append(pair_moves(lumas[f], lumas[before], hg, wg))
            before = f
    return {
        "format": PART_FORMAT,
        "version": PART_VERSION,
        "analysis": analysis_key(clip.spec),
        "frames": list(clip.frames or []),
        "anchors": anchors,
        "passes": len(passes),
        "keys": keys,
        "grids": grids,
        "pairs": pairs,
        "moves": torch.stack([m.moves for m in moves]) if moves else torch.zeros(0, 1, 1, 2),
        "shares": torch.stack([m.share for m in moves]) if moves else torch.zeros(0, 1, 1),
    }


def check_part(part, clip) -> None:
    """:class:`InvalidInputError` unless ``part`` is an analysis part of this clip (same analysis
    inputs and frames, same passes)."""
    if not isinstance(part, dict) or part.get("format") != PART_FORMAT:
        raise InvalidInputError("not a LookGrid analysis part (format 'lookgrid-analysis-part')")
    if part.get("version") != PART_VERSION:
        raise InvalidInputError(f"analysis part version {part.get('version')} is not supported")
    anchors = part.get("anchors") or []
    name = f"{anchors[0]}-{anchors[-1]}" if anchors else "(empty)"
    if part.get("analysis") != analysis_key(clip.spec) or list(part.get("frames") or []) != list(clip.frames or []):
        raise InvalidInputError(f"analysis part {name} was made for another clip (other inputs or frames)")
    if part.get("passes") != len(clip.method.passes(clip.regions, clip.styled)):
        raise InvalidInputError(f"analysis part {name} was made with other network passes")


def fold_parts(clip, parts: Sequence[dict]) -> dict[GridKey, torch.Tensor]:
    """The sequential fold (module doc): the clip's analysed grids by key, from ``parts`` that
    together cover every anchor (any order; overlapping parts must agree, as parts of one clip do).
    :class:`InvalidInputError` naming the anchors no part holds."""
    for part in parts:
        check_part(part, clip)
    fresh: dict[tuple[int, int], torch.Tensor] = {}
    moves: dict[int, CellMoves] = {}
    for part in parts:
        fresh.update({(int(p), int(f)): g for (p, f), g in zip(part["keys"], part["grids"])})
        for j, f in enumerate(part["pairs"]):
            moves[int(f)] = CellMoves(part["moves"][j], part["shares"][j])
    anchors = part_anchors(clip)
    passes = clip.method.passes(clip.regions, clip.styled)
    temporal = clip.method.temporal
    missing = [
        f
        for j, f in enumerate(anchors)
        if any((p, f) not in fresh for p in range(len(passes))) or (temporal and j > 0 and f not in moves)
    ]
    if missing:
        raise InvalidInputError(f"no analysis part holds analysed frames {short_list(missing)}")
    device, alpha = clip.runtime.device, clip.runtime.alpha if temporal and passes else 0.0
    out: dict[GridKey, torch.Tensor] = {}
    for p, pass_ in enumerate(passes):
        previous = None
        for f in anchors:
            grids = fresh[(p, f)].to(device)
            if temporal and previous is not None:
                grids = apply_moves(previous, grids, moves[f], alpha)
            previous = grids
            for row, k, i in pass_.outputs(clip.regions, clip.styled):
                out[GridKey(f, k, i)] = grids[row]
    return out
