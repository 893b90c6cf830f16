"""Loading and saving LookGridNet checkpoints.

Format: ``torch.save`` of ``{"format": "lookgrid-net", "version": 1, "config": {...},
"state_dict": {...}, "meta": {...}}``. ``meta`` is free-form (training record); its
``mask_enhancer_trained`` flag becomes ``net.mask_enhancer_trained`` on load; its ``data_licence``
says which licence class the training data carries (:mod:`lookgrid.model.licence`). Named
checkpoints live in ``models/`` of the repository (``lookgrid-v2``, ``lookgrid-commercial``).

The name ``prior`` (:data:`lookgrid.model.names.PRIOR_MODEL`) is a model without a checkpoint: the
closed-form colour prior alone (:func:`prior_model`). It is the default
(:data:`lookgrid.model.names.DEFAULT_MODEL`; ``$LOOKGRID_MODEL`` names another).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lookgrid.errors import InvalidInputError, ModelNotAvailableError
from lookgrid.fsutil import atomic_write
from lookgrid.model.device import resolve_device
from lookgrid.model.names import DEFAULT_MODEL, PRIOR_MODEL, available_models, is_model_name, is_prior, models_dir
from lookgrid.model.network import LookGridNet

FORMAT = "lookgrid-net"
VERSION = 1


def shipped_model_path() -> Path | None:
    """The checkpoint file of the default model, ``resolve_model_path(None)``: None when that is
    ``prior``, which has no file."""
    return resolve_model_path(None)


def default_model_choice() -> str:
    """What a command that names no model runs: ``$LOOKGRID_MODEL`` if set (a path or a model name),
    else :data:`lookgrid.model.names.DEFAULT_MODEL`."""
    return os.environ.get("LOOKGRID_MODEL") or DEFAULT_MODEL


def resolve_model_path(model: str | Path | None) -> Path | None:
    """The checkpoint file ``model`` names: None or "" -> the default model's
    (:func:`default_model_choice`); an existing file
    -> itself; a bare name (``lookgrid-v2``, ``lookgrid-commercial``) -> ``<models_dir>/<name>.pt``.
    Raises :class:`ModelNotAvailableError` (naming the models there) when a name names none; a path
    that does not exist is returned as is (:func:`load_model` says it is missing). ``prior`` has no
    file: None."""
    if model is None or str(model) == "":
        model = default_model_choice()
    if is_prior(model):
        return None
    p = Path(model)
    if p.is_file() or not is_model_name(model):
        return p
    candidate = models_dir() / f"{model}.pt"
    if candidate.is_file():
        return candidate
    names = ", ".join(available_models())
    raise ModelNotAvailableError(f"no model named {str(model)!r} in {models_dir()} (models there: {names})")


def load_model(
    path: str | Path | None = None, device: str | torch.device = "cpu", *, vgg19_weights=None
) -> LookGridNet:
    """Load a checkpoint (eval mode, on ``device``).

    ``path``: a checkpoint file or a model name (:func:`resolve_model_path`); ``prior``: the prior
    alone (:func:`prior_model`). ``path=None``: the default model (:func:`default_model_choice`).
    A missing/unreadable/incompatible file or an unknown name raises :class:`ModelNotAvailableError`.
    """
    dev = resolve_device(device, default="cpu")
    if is_prior(path if path not in (None, "") else default_model_choice()):
        return prior_model(dev, vgg19_weights=vgg19_weights)
    path = resolve_model_path(path)
    if path is None or not path.is_file():
        raise ModelNotAvailableError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means the file is unusable
        raise ModelNotAvailableError(f"cannot read model file {path}: {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelNotAvailableError(f"{path} is not a LookGrid checkpoint (format != {FORMAT!r})")
    if ckpt.get("version") != VERSION:
        raise ModelNotAvailableError(
            f"{path} has checkpoint version {ckpt.get('version')}, this LookGrid reads {VERSION}"
        )
    config = dict(ckpt.get("config") or {})
    # Checkpoints written before the colour prior and pixel blending existed were trained on the
    # identity base with grid-space blending: load them as they were trained.
    config.setdefault("prior", "identity")
    config.setdefault("blend", "grid")
    # ... and those written before the prior's tone curve existed were trained without it
    config.setdefault("prior_curve", 0.0)
    # ... and those from before the curve had its own slope cap capped it at the affine's gain
    config.setdefault("prior_max_slope", float(config.get("prior_max_gain", 2.0)))
    try:
        net = LookGridNet(config, vgg19_weights=vgg19_weights)
        net.load_state_dict(ckpt["state_dict"])
    except (InvalidInputError, RuntimeError, KeyError) as err:
        raise ModelNotAvailableError(f"{path} does not fit this LookGrid model: {err}") from err
    net.meta = dict(ckpt.get("meta") or {})
    net.mask_enhancer_trained = bool(net.meta.get("mask_enhancer_trained", False))
    return net.to(dev).eval()


#: what :func:`prior_model` says about itself (``Engine.model_info``, the service's ``ModelInfo``)
PRIOR_DESCRIPTION = (
    "the closed-form colour prior alone: per region an MKL affine colour map and a tone "
    "curve along a luminance guide, no learned residual, no training data"
)


#: the prior model's tone-curve slope cap (:func:`prior_model`)
PRIOR_MAX_SLOPE = 16.0


def prior_model(device: str | torch.device = "cpu", *, vgg19_weights=None) -> LookGridNet:
    """The model called ``prior``: a :class:`LookGridNet` with the default config whose grids are
    the closed-form colour prior alone (the residual head starts at zero) and whose guide is the
    pure luminance guide ``z = sigmoid(4·luma − 2)`` (the initial guide's small random hidden units
    are zeroed), so it is the same model on every run and machine. Mask enhancement stays off
    (``mask_enhancer_trained`` False). It was trained on nothing: ``meta["data_licence"] = "none"``."""
    dev = resolve_device(device, default="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = LookGridNet(vgg19_weights=vgg19_weights)
    with torch.no_grad():
        g = net.guide_net
        g.w1[1:].zero_()
        g.w2[1:].zero_()
    # the tone curve's slope cap: 16 (2 for trained models). Measured on the dev suite (12 frames, 5
    # clips; models/prior.md): SWD 6.73 at 2, 6.33 at 4, 6.16 at 8, 6.10 at 16; structure 0.987 ->
    # 0.984, low-pass warping 1.70 -> 1.78 and grade pumping 0.62 -> 0.54 from 2 to 16. Raising the
    # affine's gain cap instead did not help (gain 4: SWD 6.78 at slope 2, 6.54 at slope 4).
    net.config["prior_max_slope"] = PRIOR_MAX_SLOPE
    net.meta = {"data_licence": "none", "model": PRIOR_MODEL}
    net.mask_enhancer_trained = False
    vars(net).update(name=PRIOR_MODEL, description=PRIOR_DESCRIPTION, is_identity=False)  # plain attributes
    return net.to(dev).eval()


def save_model(net: LookGridNet, path: str | Path, meta: dict | None = None) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "config": dict(net.config),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    meta = dict(meta or {})
    meta.setdefault("mask_enhancer_trained", bool(getattr(net, "mask_enhancer_trained", False)))
    ckpt["meta"] = meta
    atomic_torch_save(ckpt, path)
    return path


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see a partial
    file, and a failed save leaves any previous file in place."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
