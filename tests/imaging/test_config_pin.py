"""One colour configuration, named: the default is a versioned built-in, and what LookGrid records
(specs, farm tracks, looks) names the config it resolved so that it cannot change meaning."""

from __future__ import annotations

import pytest

from lookgrid.errors import ColorSpaceError
from lookgrid.imaging import DEFAULT_CONFIG, check_config, load_config, pinned_config


def test_the_default_is_a_versioned_builtin_not_an_alias(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    assert "latest" not in DEFAULT_CONFIG and DEFAULT_CONFIG.startswith("ocio://studio-config-v")
    assert pinned_config(None) == DEFAULT_CONFIG
    assert load_config(None).getName() == DEFAULT_CONFIG.removeprefix("ocio://")


def test_aliases_are_pinned_to_their_versioned_config(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    assert pinned_config("ocio://studio-config-latest") == DEFAULT_CONFIG
    assert pinned_config("ocio://default").startswith("ocio://cg-config-v")


def test_ocio_and_paths_win_and_are_recorded_absolute(tmp_path, monkeypatch):
    cfg = tmp_path / "show.ocio"
    cfg.write_text(load_config(DEFAULT_CONFIG).serialize())
    monkeypatch.setenv("OCIO", str(cfg))
    assert pinned_config(None) == str(cfg)
    monkeypatch.chdir(tmp_path)
    assert pinned_config("show.ocio") == str(cfg)
    assert pinned_config(DEFAULT_CONFIG) == DEFAULT_CONFIG  # an explicit config beats $OCIO


@pytest.mark.parametrize("config,message", [("ocio://no-such-config", "no built-in config"),
                                            ("/nowhere/config.ocio", "is not a file")])
def test_an_unknown_config_is_one_line(config, message):
    with pytest.raises(ColorSpaceError, match=message) as err:
        pinned_config(config)
    assert "\n" not in str(err.value)


def test_check_config_refuses_another_config(tmp_path, monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    assert check_config(DEFAULT_CONFIG, None) == DEFAULT_CONFIG
    assert check_config(None, None) == DEFAULT_CONFIG
    with pytest.raises(ColorSpaceError, match="made with OpenColorIO config") as err:
        check_config(DEFAULT_CONFIG, "ocio://default")
    assert "\n" not in str(err.value)
