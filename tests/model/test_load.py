import pytest
import torch

from lookgrid.errors import ModelNotAvailableError
from lookgrid.model import load as L
from lookgrid.model.network import LookGridNet


def test_the_default_model_is_the_prior_alone(monkeypatch):
    """No model named and no $LOOKGRID_MODEL: the closed-form colour prior alone (no checkpoint, no
    training data), the same model on every run."""
    monkeypatch.delenv("LOOKGRID_MODEL", raising=False)
    assert L.default_model_choice() == "prior" and L.shipped_model_path() is None
    assert L.resolve_model_path(None) is None and L.resolve_model_path("") is None
    net = L.load_model()
    assert isinstance(net, LookGridNet) and not net.training and net.name == "prior"
    assert net.config["prior"] == "mkl" and net.meta["data_licence"] == "none"
    assert torch.equal(net.to_grid.weight, torch.zeros_like(net.to_grid.weight))


def test_checkpoint_from_before_the_prior_loads_as_trained(tmp_path):
    """A checkpoint whose config predates the colour prior and pixel blending (as models written
    by the first release) was trained on the identity base with grid-space blending."""
    path = L.save_model(LookGridNet(), tmp_path / "old.pt")
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["prior"], ckpt["config"]["blend"], ckpt["config"]["prior_max_gain"]
    torch.save(ckpt, path)
    net = L.load_model(path)
    assert net.config["prior"] == "identity" and net.config["blend"] == "grid"
    assert L.load_model(L.save_model(LookGridNet(), tmp_path / "new.pt")).config["prior"] == "mkl"


def test_checkpoint_from_before_the_tone_curve_loads_without_it(tmp_path):
    """Weights trained on the affine prior alone (lookgrid-v2, the first lookgrid-commercial) keep
    it; a new checkpoint keeps the curve it was trained with."""
    path = L.save_model(LookGridNet(), tmp_path / "old.pt")
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["prior_curve"]
    torch.save(ckpt, path)
    assert L.load_model(path).config["prior_curve"] == 0.0
    assert L.load_model(L.save_model(LookGridNet(), tmp_path / "new.pt")).config["prior_curve"] == 1.0


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(5)
    net = LookGridNet({"guide_hidden": 8, "alpha": 0.3})
    with torch.no_grad():
        net.to_grid.weight.normal_()
    path = L.save_model(net, tmp_path / "m.pt", meta={"note": "test"})
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "lookgrid-net" and ckpt["version"] == 1 and ckpt["config"]["alpha"] == 0.3
    back = L.load_model(path)
    assert back.config == net.config
    assert back.meta["note"] == "test" and back.mask_enhancer_trained is False
    net.mask_enhancer_trained = True
    assert L.load_model(L.save_model(net, path)).mask_enhancer_trained is True
    for (k, a), (_, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_env_var_points_at_model(tmp_path, monkeypatch):
    path = L.save_model(LookGridNet({"alpha": 0.2}), tmp_path / "x.pt")
    monkeypatch.setenv("LOOKGRID_MODEL", str(path))
    assert L.load_model().config["alpha"] == 0.2


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_bad_files_raise_model_not_available(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"format": "something-else"}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ModelNotAvailableError, match="bad.pt"):
        L.load_model(path)
    with pytest.raises(ModelNotAvailableError, match="not found"):
        L.load_model(tmp_path / "missing.pt")


def test_incompatible_state_dict(tmp_path):
    path = L.save_model(LookGridNet(), tmp_path / "m.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["grid_channels"] = 32
    torch.save(ckpt, path)
    with pytest.raises(ModelNotAvailableError, match="does not fit"):
        L.load_model(path)


def test_lookgrid_v2_stays_available_by_name(monkeypatch):
    """models/lookgrid-v2.pt ships with the repository and is chosen by name (or $LOOKGRID_MODEL):
    the trained residual on the colour prior, pixel blending."""
    monkeypatch.delenv("LOOKGRID_MODEL", raising=False)
    path = L.resolve_model_path("lookgrid-v2")
    assert path is not None and path.name == "lookgrid-v2.pt" and path.parent.name == "models"
    net = L.load_model("lookgrid-v2")
    assert net.config["prior"] == "mkl" and net.config["blend"] == "pixel"
    assert net.meta["steps"] >= 1000 and net.mask_enhancer_trained
    assert float(net.to_grid.weight.detach().abs().sum()) > 0  # a trained residual, not the bare prior
    monkeypatch.setenv("LOOKGRID_MODEL", "lookgrid-v2")
    assert L.shipped_model_path() == path and L.load_model().meta["data_licence"] == "research-only"


def test_models_are_chosen_by_name(tmp_path, monkeypatch):
    """A bare name picks ``<models dir>/<name>.pt``; an unknown name says which names exist; a path
    is still a path; $LOOKGRID_MODEL may be a name too."""
    monkeypatch.setenv("LOOKGRID_MODELS", str(tmp_path))
    L.save_model(LookGridNet({"alpha": 0.3}), tmp_path / "studio-a.pt")
    L.save_model(LookGridNet({"alpha": 0.7}), tmp_path / "studio-b.pt")
    assert L.resolve_model_path("studio-b") == tmp_path / "studio-b.pt"
    assert L.load_model("studio-a").config["alpha"] == 0.3
    with pytest.raises(ModelNotAvailableError, match=r"no model named 'studio-c'.*studio-a, studio-b"):
        L.load_model("studio-c")
    with pytest.raises(ModelNotAvailableError, match="not found"):
        L.load_model(str(tmp_path / "elsewhere" / "studio-a.pt"))
    monkeypatch.setenv("LOOKGRID_MODEL", "studio-b")
    assert L.shipped_model_path() == tmp_path / "studio-b.pt" and L.load_model().config["alpha"] == 0.7
    assert not L.is_model_name("a/b") and not L.is_model_name("x.pt") and L.is_model_name("lookgrid-v2")
