"""The licence class of a model's training data, as its checkpoint states it (``meta["data_licence"]``).

Plain Python, no torch: ``lookgrid info`` reads it from checkpoints without building a model. The
training loop writes the class its data config declares (:class:`lookgrid.train.data.DataConfig`
``licence``); the engine reports it in :class:`lookgrid.engine.engine.ModelInfo` and the service in
``lookgrid.v1.ModelInfo.data_licence``.
"""

from __future__ import annotations

#: Licence classes of a model's training data (``meta["data_licence"]``):
#: "commercial" — every source permits commercial use (CC0, public domain, CC BY, Apache, BSD, MIT);
#: "research-only" — some source is non-commercial (e.g. CC BY-NC), so the weights are for research
#: and evaluation; "unknown" — a checkpoint that does not say; "none" — no training data (an
#: untrained model: the closed-form colour prior or the identity).
DATA_LICENCES = ("commercial", "research-only", "unknown", "none")


def data_licence(meta: dict | None) -> str:
    """The licence class a checkpoint's ``meta`` states (``"unknown"`` when it states none or
    something outside :data:`DATA_LICENCES`)."""
    value = (meta or {}).get("data_licence", "unknown")
    return value if value in DATA_LICENCES else "unknown"


def model_data_licence(net) -> str:
    """:func:`data_licence` of a loaded model; ``"none"`` for a model that was never loaded from a
    checkpoint (no ``meta``: its grids come from no training data)."""
    meta = getattr(net, "meta", None)
    return data_licence(meta) if meta else "none"


#: licence classes whose model a studio may use commercially: trained only on commercial-use data,
#: or trained on nothing at all (the colour prior alone)
COMMERCIAL_USE = ("commercial", "none")


def commercially_usable(licence: str) -> bool:
    """Whether a model whose training data has licence class ``licence`` may be used commercially."""
    return licence in COMMERCIAL_USE
