"""The host-facing helpers of issue 25: where results live and which a new one replaces
(hostresults), and colour-space mapping against the server's config (colorspaces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookgrid_client import InvalidRequestError
from lookgrid_client.hostcolor import config_aliases, map_colorspace, pick_default
from lookgrid_client.hostresults import fingerprint, result_location


def test_results_are_beside_the_script_keyed_by_node_id(tmp_path):
    loc = result_location("abc123", str(tmp_path / "shot010.nk"), script_dir_expression="[SCRIPT]")
    assert loc.folder == tmp_path / "lookgrid" / "shot010" / "abc123"
    assert loc.host_prefix == "[SCRIPT]/lookgrid/shot010/abc123"
    chosen = result_location("abc123", "Root", str(tmp_path / "res"))
    assert chosen.folder == tmp_path / "res" / "untitled" / "abc123" and chosen.host_prefix == str(chosen.folder)
    with pytest.raises(InvalidRequestError, match="save the script first"):
        result_location("abc123", "Root")


def test_a_preview_replaces_previews_only_and_a_render_replaces_both(tmp_path):
    loc = result_location("n", str(tmp_path / "s.nk"))
    loc.folder.mkdir(parents=True)
    for name in ("render.a.1001.exr", "render.a.1002.exr", "preview.b.1001.exr", "preview.c.1001.exr"):
        (loc.folder / name).write_bytes(b"")
    names = lambda paths: sorted(Path(p).name for p in paths)  # noqa: E731
    assert names(loc.replaced_by("preview", "preview.c.")) == ["preview.b.1001.exr"]
    assert names(loc.replaced_by("render", "render.d.")) == ["preview.b.1001.exr", "preview.c.1001.exr",
                                                           "render.a.1001.exr", "render.a.1002.exr"]


def test_fingerprint_is_stable_and_sensitive():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.5})


SERVER = ["ACEScg", "ACEScct", "Linear Rec.709 (sRGB)", "Linear P3-D65", "sRGB - Texture", "sRGB - Display"]


def test_map_colorspace_by_name_table_and_alias():
    assert map_colorspace("blender", "ACEScg", SERVER) == "ACEScg"
    assert map_colorspace("blender", "Linear Rec.709", SERVER) == "Linear Rec.709 (sRGB)"     # the table
    studio = {"P3 linear": ["lin_p3d65_scene", "Linear P3-D65"]}
    assert map_colorspace("blender", "P3 linear", SERVER, host_config=studio) == "Linear P3-D65"  # an alias
    with pytest.raises(InvalidRequestError, match="could be any of"):
        map_colorspace("blender", "odd", SERVER, host_config={"odd": ["sRGB - Texture", "sRGB - Display"]})
    with pytest.raises(InvalidRequestError, match="no counterpart"):
        map_colorspace("blender", "Filmic Log", SERVER, host_config={"Filmic Log": []})
    with pytest.raises(InvalidRequestError, match="data, not a picture"):
        map_colorspace("blender", "Non-Color", SERVER)
    assert map_colorspace("blender", "sRGB", []) == "sRGB - Texture"    # an older server: the table only


def test_config_aliases_reads_a_config_file_without_pyopencolorio(tmp_path, monkeypatch):
    """Blender as a pip module has no PyOpenColorIO: the config's YAML is read."""
    import sys

    monkeypatch.setitem(sys.modules, "PyOpenColorIO", None)
    path = tmp_path / "config.ocio"
    path.write_text("""ocio_profile_version: 2
roles:
  scene_linear: ACEScg
colorspaces:
  - !<ColorSpace>
    name: ACEScg
    aliases: [lin_ap1_scene, "ACES - ACEScg"]
    family: ACES
  - !<ColorSpace>
    name: Raw
    family: Utility
""")
    assert config_aliases(str(path)) == {"ACEScg": ["lin_ap1_scene", "ACES - ACEScg"], "Raw": []}


def test_pick_default_prefers_the_hosts_working_space():
    assert pick_default("ACEScct", SERVER, "ACEScg") == "ACEScct"
    assert pick_default("ACES - ACEScct", SERVER, "ACEScg") == "ACEScct"
    assert pick_default("scene_linear", SERVER, "ACEScg") == "ACEScg"


def test_config_aliases_through_pyopencolorio(tmp_path):
    ocio = pytest.importorskip("PyOpenColorIO")
    path = tmp_path / "studio.ocio"
    ocio.Config.CreateFromBuiltinConfig("studio-config-latest").serialize(str(path))
    aliases = config_aliases(str(path))
    assert "ACEScg" in aliases and "lin_ap1_scene" in aliases["ACEScg"]


def test_hostio_reads_files_as_stored_off_any_thread(tmp_path):
    """The worker-side reader (Blender apply without the UI thread): RGBA values as stored, alpha 1
    added to RGB, a matte from alpha or else the first channel."""
    import threading

    import numpy as np

    from lookgrid.imaging import write_image
    from lookgrid_client.hostio import read_frame_files, read_matte, read_rgba

    rgba = (np.random.default_rng(0).random((6, 8, 4)) * 3 - 0.5).astype(np.float16).astype(np.float32)  # half EXR
    plate = write_image(tmp_path / "plate.1001.exr", rgba, channel_names=list("RGBA"))
    rgb = write_image(tmp_path / "rgb.exr", rgba[..., :3], channel_names=list("RGB"))
    y = write_image(tmp_path / "y.exr", rgba[..., :1], channel_names=["Y"])
    out = {}
    worker = threading.Thread(target=lambda: out.update(f=read_frame_files(1001, str(plate), {"car": str(y)})))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(out["f"].pixels, rgba)
    np.testing.assert_array_equal(out["f"].masks["car"], rgba[..., 0])
    np.testing.assert_array_equal(read_rgba(str(rgb))[..., 3], 1.0)
    np.testing.assert_array_equal(read_matte(str(plate)), rgba[..., 3])
    with pytest.raises(InvalidRequestError, match="missing frame file"):
        read_rgba(str(tmp_path / "nope.exr"))


def test_export_bundle_runs_the_configured_executable_with_a_deadline(tmp_path):
    """hostfarm.export_bundle: `lookgrid farm export` of the preferences' executable; every failure
    is one line (the success path is tested from Nuke, tests/hosts)."""
    import os
    import sys

    from lookgrid_client import LookGridError
    from lookgrid_client.hostfarm import export_bundle

    spec = {"input": "/shots/a.####.exr", "output": "/shots/out/a.####.exr", "regions": []}
    with pytest.raises(InvalidRequestError, match="set the LookGrid executable"):
        export_bundle("", spec, tmp_path / "f")
    with pytest.raises(InvalidRequestError, match="does not exist"):
        export_bundle(str(tmp_path / "nope"), spec, tmp_path / "f")
    with pytest.raises(InvalidRequestError, match="needs files"):
        export_bundle(sys.executable, {"regions": []}, tmp_path / "f")
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'Traceback ...' >&2\necho 'error: bad spec\n  details' >&2\nexit 3\n")
    os.chmod(failing, 0o755)
    with pytest.raises(LookGridError, match="farm export` failed: details") as err:
        export_bundle(str(failing), spec, tmp_path / "f")
    assert "\n" not in str(err.value)
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    os.chmod(slow, 0o755)
    with pytest.raises(LookGridError, match="took longer than 1 s"):
        export_bundle(str(slow), spec, tmp_path / "f", timeout=1.0)
    assert (tmp_path / "f" / "spec.json").is_file()
