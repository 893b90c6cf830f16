"""The prior alone, chosen by name: ``--model prior``, ``LOOKGRID_MODEL=prior``, ``"model": "prior"``."""

from __future__ import annotations

import json

import numpy as np
import torch

from lookgrid.model import load as L
from lookgrid.model.licence import commercially_usable, model_data_licence
from lookgrid.model.names import PRIOR_MODEL, available_models, is_prior
from lookgrid.model.network import LookGridNet


def test_prior_is_a_name_with_no_file_and_no_training_data():
    assert is_prior("prior") and not is_prior("lookgrid-v2") and not is_prior(None)
    assert PRIOR_MODEL in available_models()
    assert L.resolve_model_path("prior") is None
    net = L.load_model("prior")
    assert isinstance(net, LookGridNet) and not net.training
    assert net.config["prior"] == "mkl" and net.config["prior_curve"] == 1.0
    assert net.config["prior_max_gain"] == 2.0 and net.config["prior_max_slope"] == L.PRIOR_MAX_SLOPE == 16.0
    assert torch.count_nonzero(net.to_grid.weight) == 0 and torch.count_nonzero(net.to_grid.bias) == 0
    assert model_data_licence(net) == "none" and commercially_usable("none")
    assert not commercially_usable("research-only")
    assert net.mask_enhancer_trained is False


def test_prior_is_the_same_model_every_time_with_a_luminance_guide():
    torch.manual_seed(123)
    a = L.load_model("prior")
    torch.manual_seed(456)
    b = L.load_model("prior")
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), k
    img = torch.rand(1, 3, 8, 8)
    masks = torch.ones(1, 2, 8, 8) * 0.5
    luma = (img * torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)).sum(1)
    torch.testing.assert_close(a.guide(img, masks), torch.sigmoid(4 * luma - 2))


def test_prior_by_environment_and_in_the_engine(monkeypatch):
    from lookgrid.engine import Engine

    monkeypatch.setenv("LOOKGRID_MODEL", "prior")
    assert L.shipped_model_path() is None and L.default_model_choice() == "prior"
    assert model_data_licence(L.load_model()) == "none"
    info = Engine(device="cpu").model_info()
    assert info.name == "prior" and info.data_licence == "none" and info.identity is False
    monkeypatch.delenv("LOOKGRID_MODEL")
    info = Engine(model_path="prior", device="cpu").model_info()
    assert info.name == "prior" and info.path == "" and "prior" in info.description


def test_unknown_name_lists_prior(monkeypatch, tmp_path):
    import pytest

    from lookgrid.errors import ModelNotAvailableError

    monkeypatch.setenv("LOOKGRID_MODELS", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="prior"):
        L.resolve_model_path("no-such-model")


def test_render_and_spec_with_the_prior(tmp_path, capsys):
    """``--model prior`` renders the prior (not the identity), the spec carries it, and the same
    spec renders the same pixels."""
    from lookgrid.cli import main
    from lookgrid.engine.spec import ClipSpec
    from lookgrid.imaging import read_image, write_image

    (tmp_path / "frames").mkdir()
    (tmp_path / "masks").mkdir()
    y, x = np.mgrid[0:40, 0:56].astype(np.float32)
    for f in range(2):
        write_image(tmp_path / "frames" / f"{f:05d}.png", np.stack([x / 56, y / 40, 0.5 + 0 * x], -1), dtype="uint8")
        m = np.zeros((40, 56), np.float32)
        m[10:30, 10:30] = 1.0
        write_image(tmp_path / "masks" / f"{f:05d}.png", m, dtype="uint8")
    rng = np.random.default_rng(0)
    write_image(tmp_path / "a.png", np.clip(rng.normal((0.8, 0.4, 0.2), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    write_image(tmp_path / "b.png", np.clip(rng.normal((0.2, 0.3, 0.7), 0.1, (30, 30, 3)), 0, 1), dtype="uint8")
    args = ["render", "--input", str(tmp_path / "frames" / "%05d.png"), "--mask", f"fg={tmp_path / 'masks' / '%05d.png'}",
            "--style", f"fg={tmp_path / 'a.png'}", "--style", f"background={tmp_path / 'b.png'}", "--no-progress",
            "--model", "prior", "--device", "cpu"]
    assert main(args + ["--output", str(tmp_path / "o1" / "%05d.png"), "--write-spec", str(tmp_path / "s.json")]) == 0
    spec = ClipSpec.from_dict(json.loads((tmp_path / "s.json").read_text()))
    assert spec.model == "prior"
    assert main(["render", "--spec", str(tmp_path / "s.json"), "--no-progress"]) == 0
    assert main(args + ["--output", str(tmp_path / "o1" / "%05d.png")]) == 0
    out = read_image(tmp_path / "o1" / "00001.png").pixels
    src = read_image(tmp_path / "frames" / "00001.png").pixels
    assert np.abs(out - src).mean() > 0.02  # a look, not the identity
