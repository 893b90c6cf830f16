"""The model port of the engine: one shared network and what clips ask of it.

A :class:`ModelRuntime` holds the lazily loaded model, the device, the style store and the model
settings every clip follows (temporal mode, analysis resolution, flow blend ``alpha``, whether to
enhance masks), and offers the network calls clips make: :meth:`~ModelRuntime.predict` and, for
``temporal = "flow"``, :meth:`~ModelRuntime.predict_flow` (analysis, low resolution), and
:meth:`~ModelRuntime.render_grids` (full-resolution slice). Clips and
methods receive the runtime, never the :class:`lookgrid.engine.engine.Engine` façade.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from lookgrid.engine.styles import StyleStore
from lookgrid.imaging.flow import flow_to_previous
from lookgrid.model.colormath import display_luma_u8
from lookgrid.model.device import resolve_device
from lookgrid.model.licence import model_data_licence
from lookgrid.model.load import load_model, resolve_model_path
from lookgrid.model.network import temporal_mode
from lookgrid.model.propagate import CellMoves, FlowState, apply_moves, check_temporal_mode, flow_moves
from lookgrid.model.render import render_frame


@dataclass(frozen=True)
class ModelInfo:
    """What the engine's model says about itself (the service's ``ModelInfo``)."""

    name: str
    path: str
    identity: bool
    description: str
    #: licence class of the training data (:data:`lookgrid.model.licence.DATA_LICENCES`)
    data_licence: str = "unknown"


class ModelRuntime:
    """One model (shared by all clips, used only for inference), its device and the style store.

    ``model``: a ``LookGridNet`` (or anything with its interface); ``None`` loads the shipped
    weights lazily on first use (``model_path`` to choose a checkpoint). ``temporal``: ``"tc"`` or
    ``"flow"`` for every clip (see :attr:`temporal`; ``None``: what the model's config says).
    ``enhance_masks``: see :attr:`enhance_masks` (``None``: what the model says).
    """

    def __init__(
        self,
        model: Any = None,
        device: str = "auto",
        *,
        model_path: str | None = None,
        enhance_masks: bool | None = None,
        temporal: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self._temporal = None if temporal is None else check_temporal_mode(temporal)
        self._enhance_masks = enhance_masks
        self._model = model
        if model is not None:
            self._model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.model_path = model_path
        self._model_lock = threading.Lock()
        self.styles = StyleStore(self.device, lambda: self.model)

    @property
    def model(self) -> Any:
        """The network, loaded on first use."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = load_model(self.model_path, device=str(self.device)).eval()
        return self._model

    @property
    def enhance_masks(self) -> bool:
        """Run the model's mask enhancer (paper §3.3) before the grid path. Default: only when the
        model says its enhancer is trained (``model.mask_enhancer_trained``), because an untrained
        enhancer would blur every mask toward 0.5."""
        if self._enhance_masks is not None:
            return bool(self._enhance_masks)
        return bool(getattr(self.model, "mask_enhancer_trained", False))

    @property
    def temporal(self) -> str:
        """How temporal methods carry the look between analysed frames: ``"tc"`` (region
        statistics, TC-AdaIN) or ``"flow"`` (grids warped along optical flow,
        :mod:`lookgrid.model.propagate`). The constructor's ``temporal`` if given, else the
        model's ``config["temporal"]`` (the model default, ``"flow"``, for checkpoints that do not say)."""
        if self._temporal is not None:
            return self._temporal
        return temporal_mode(self.model)

    @property
    def low_res(self) -> int:
        """The side ``L`` of the network's square analysis input."""
        return int(getattr(self.model, "LOW_RES", 256))

    @property
    def alpha(self) -> float:
        """Weight of this frame's own grids against the propagated ones in flow mode
        (:func:`lookgrid.model.propagate.propagate_grids`); the model's ``config["alpha"]``."""
        return float(getattr(self.model, "config", {}).get("alpha", 0.5))

    def model_info(self) -> ModelInfo:
        """Name, file, whether it renders the identity (an untrained net), a description and the
        licence class of its training data."""
        model = self.model
        identity = getattr(model, "is_identity", None)
        if identity is None:  # a LookGridNet whose grid head is all zeros gives identity grids
            head = getattr(model, "to_grid", None)
            identity = head is not None and int(torch.count_nonzero(head.weight)) == 0
        found = resolve_model_path(self.model_path) if self.model_path or hasattr(model, "meta") else None
        path = str(found or "")
        name = str(
            getattr(model, "name", "")
            or (os.path.splitext(os.path.basename(path))[0] if path else "lookgrid-untrained")
        )
        return ModelInfo(
            name=name,
            path=path,
            identity=bool(identity),
            description=str(getattr(model, "description", "") or type(model).__name__),
            data_licence=str(getattr(model, "data_licence", "") or model_data_licence(model)),
        )

    def predict(self, content: torch.Tensor, masks: torch.Tensor, styles: Sequence[str], state: Any, views=None):
        """One network call: content ``(1,3,L,L)``, masks ``(1,S,L,L)``, S style keys, views (where
        each row takes its colour statistics, :meth:`lookgrid.engine.lowres.LowRes.network_views`) →
        ``(grids (S,12,D,Hg,Wg), new_state)``."""
        net = self.model
        feats = self.styles.features(tuple(styles))
        with torch.inference_mode():
            if self.enhance_masks:
                masks = net.enhance_masks(masks)
            grids, new_state = net.predict_grids(content, masks, feats, state, views=views)
        return grids.detach(), new_state

    def predict_flow(
        self, content: torch.Tensor, masks: torch.Tensor, styles: Sequence[str], state: FlowState | None, views=None
    ) -> tuple[torch.Tensor, FlowState]:
        """``temporal = "flow"``: this frame's grids without statistics state, blended with the
        previous analysed frame's propagated grids warped along DIS flow at analysis resolution
        (weight :attr:`alpha`). content ``(1,3,L,L)`` (any float dtype), masks ``(1,S,L,L)`` →
        ``(grids (S,12,D,Hg,Wg), FlowState)``. The three steps are :meth:`predict` with no state,
        :func:`pair_moves` and :func:`lookgrid.model.propagate.apply_moves`: the farm runs the first
        two on workers and only the last in order (:mod:`lookgrid.engine.parts`), with the same
        functions, so its grids are these bit for bit."""
        grids, _ = self.predict(content.float(), masks.float(), styles, None, views)
        luma = flow_luma(content)
        if state is not None:
            moves = pair_moves(luma, state.luma.numpy(), *grids.shape[-2:])
            grids = apply_moves(state.grids, grids, moves, self.alpha)
        return grids, FlowState(grids, torch.from_numpy(luma))

    def render_grids(
        self, image: torch.Tensor, masks: torch.Tensor, grids: torch.Tensor, strength: torch.Tensor
    ) -> torch.Tensor:
        """Full-resolution render: image ``(1,3,H,W)``, masks ``(1,N,H,W)``, grids ``(N,12,D,Hg,Wg)``,
        strength ``(N,)`` → ``(1,3,H,W)``."""
        with torch.inference_mode():
            return render_frame(self.model, image, masks, grids, strength)


def flow_luma(content: torch.Tensor) -> np.ndarray:
    """The flow's input for an analysed frame: display luma ``(L, L)`` uint8 of its network-resolution
    content ``(1,3,L,L)`` (any float dtype, any device)."""
    return display_luma_u8(content[0].permute(1, 2, 0).float().cpu().numpy())


def pair_moves(luma: np.ndarray, previous_luma: np.ndarray, hg: int, wg: int) -> CellMoves:
    """The per-pair work of ``temporal = "flow"``: DIS flow from an analysed frame to the one before
    (both ``(L, L)`` uint8 luma, :func:`flow_luma`) reduced to per-cell moves of an ``hg×wg`` grid
    (:func:`lookgrid.model.propagate.flow_moves`), on the CPU in float32 whatever the device, so
    every worker computes the same moves."""
    flow, visible = flow_to_previous(luma, previous_luma)
    return flow_moves(torch.from_numpy(flow).float(), torch.from_numpy(visible), hg, wg)
