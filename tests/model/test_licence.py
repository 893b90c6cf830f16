"""Every shipped model states the licence class of its training data; info, engine and service say it."""

from __future__ import annotations

import json

import pytest
import torch

from lookgrid.model import licence as Lic
from lookgrid.model.load import load_model, resolve_model_path, save_model, shipped_model_path
from lookgrid.model.network import LookGridNet


def test_licence_classes_and_unknown_values():
    assert Lic.data_licence({"data_licence": "commercial"}) == "commercial"
    assert Lic.data_licence({"data_licence": "research-only"}) == "research-only"
    assert Lic.data_licence({"steps": 3}) == "unknown"
    assert Lic.data_licence({"data_licence": "free for all"}) == "unknown"
    assert Lic.model_data_licence(LookGridNet()) == "none"          # never trained


def test_every_shipped_model_states_its_licence_and_v2_is_research_only():
    shipped = resolve_model_path("lookgrid-v2")
    assert shipped is not None and shipped_model_path() is None  # the default, the prior, has no file
    for p in shipped.parent.glob("*.pt"):
        meta = torch.load(p, map_location="cpu", weights_only=True)["meta"]
        assert meta.get("data_licence") in Lic.DATA_LICENCES and meta["data_licence"] not in ("unknown", "none"), p
        assert p.with_suffix(".md").is_file(), f"{p.name} has no model card"
    assert load_model(shipped).meta["data_licence"] == "research-only"
    assert load_model("lookgrid-commercial").meta["data_licence"] == "commercial"


def test_saved_licence_survives_loading_and_reaches_the_engine(tmp_path):
    from lookgrid.engine import Engine

    path = save_model(LookGridNet(), tmp_path / "c.pt", {"data_licence": "commercial"})
    assert Engine(model_path=str(path), device="cpu").model_info().data_licence == "commercial"
    old = save_model(LookGridNet(), tmp_path / "old.pt")                 # a checkpoint that does not say
    assert Engine(model_path=str(old), device="cpu").model_info().data_licence == "unknown"


def test_info_and_service_report_the_licence(tmp_path, capsys, monkeypatch):
    from lookgrid.cli import main
    from lookgrid.engine import Engine
    from lookgrid.service.server import start_in_process
    from lookgrid_client import LookGridClient

    save_model(LookGridNet(), tmp_path / "mine.pt", {"data_licence": "commercial"})
    monkeypatch.setenv("LOOKGRID_MODELS", str(tmp_path))
    assert main(["info", "--json"]) == 0
    entry, prior = json.loads(capsys.readouterr().out)["models"]
    assert entry["data_licence"] == "commercial" and entry["name"] == "mine" and entry["commercial_use"]
    assert prior["name"] == "prior" and prior["data_licence"] == "none" and prior["commercial_use"]
    assert main(["info"]) == 0
    assert "training data: commercial" in capsys.readouterr().out
    engine = Engine(model_path=str(tmp_path / "mine.pt"), device="cpu")
    with start_in_process(engine) as (_, address), LookGridClient(address, timeout=60) as c:
        (model,) = c.server_info().models
    assert model.data_licence == "commercial"


def test_training_rejects_an_undeclared_licence_class(tmp_path):
    from lookgrid.errors import InvalidInputError
    from lookgrid.train.config import TrainConfig
    from lookgrid.train.loop import train

    cfg = TrainConfig()
    cfg.out = str(tmp_path / "run")
    cfg.data.licence = "probably fine"
    with pytest.raises(InvalidInputError, match="data.licence"):
        train(cfg)
