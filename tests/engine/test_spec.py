"""ClipSpec dataclasses ⇄ JSON: the dict form is protobuf's JSON mapping of lookgrid.v1.ClipSpec."""

from __future__ import annotations

import json

import pytest

from lookgrid.engine.spec import ClipSpec, RegionSpec, StyleTrack
from lookgrid.errors import InvalidInputError
from lookgrid.timeline import Key, Track

HASH = "sha256:" + "0123456789abcdef" * 4


def full_spec() -> ClipSpec:
    return ClipSpec(
        input="/shots/a/plate.####.exr", frames="1001-1100x2", input_colorspace="ACEScg",
        output="/out/a.####.exr", output_colorspace="ACEScct",
        regions=[
            RegionSpec("car", "/shots/a/car.####.png",
                       [StyleTrack(HASH, Track((Key(1001, 1.0, "smooth"), Key(1050, 0.0)))),
                        StyleTrack("/refs/dusk.jpg", Track((Key(1001, 0.0, "cubic"), Key(1050, 1.0))))],
                       Track((Key(1001, 0.5, "linear"), Key(1100, 1.0))), mask_channel="A"),
            RegionSpec("background", None, [StyleTrack("/refs/sky.png")]),
        ],
        stride=8, method="per-frame", model="/models/x.pt", device="cpu", config="ocio://studio-config-latest")


def test_dict_form_is_camel_case_with_defaults_omitted():
    d = full_spec().to_dict()
    assert d["inputColorspace"] == "ACEScg" and d["outputColorspace"] == "ACEScct"
    assert d["regions"][0]["maskChannel"] == "A"
    assert d["regions"][0]["styles"][0]["weight"]["keys"][0] == {
        "frame": 1001.0, "value": 1.0, "interpolation": "SMOOTH"}
    bg = d["regions"][1]
    assert bg == {"name": "background", "styles": [{"style": "/refs/sky.png"}]}  # unit tracks omitted
    minimal = ClipSpec(regions=[RegionSpec("background", None, [StyleTrack("a.png")])]).to_dict()
    assert set(minimal) == {"regions", "stride", "method", "device"}


def test_round_trip_through_dict_and_json(tmp_path):
    spec = full_spec()
    assert ClipSpec.from_dict(spec.to_dict()) == spec
    assert ClipSpec.from_json(spec.to_json()) == spec
    path = tmp_path / "clip.json"
    spec.save(path)
    assert ClipSpec.load(path) == spec  # absolute paths stay as they are
    assert json.loads(path.read_text()) == spec.to_dict()


def test_equals_protobuf_json_mapping():
    pb = pytest.importorskip("lookgrid_client.proto.lookgrid_pb2")
    json_format = pytest.importorskip("google.protobuf.json_format")
    spec = full_spec()
    msg = json_format.ParseDict(spec.to_dict(), pb.ClipSpec())
    assert json_format.MessageToDict(msg) == spec.to_dict()
    assert msg.regions[0].styles[1].weight.keys[0].interpolation == pb.Key.CUBIC
    # protobuf's own JSON (with proto field names) is read back too
    again = ClipSpec.from_dict(json_format.MessageToDict(msg, preserving_proto_field_name=True))
    assert again == spec


def test_relative_paths_resolve_against_the_spec_file(tmp_path):
    (tmp_path / "job").mkdir()
    p = tmp_path / "job" / "clip.json"
    p.write_text(json.dumps({"input": "frames/%04d.png", "output": "out/%04d.png",
                             "regions": [{"name": "fg", "mask": "m/%04d.png", "styles": [{"style": "a.jpg"}]},
                                         {"name": "background", "styles": [{"style": HASH}]}]}))
    spec = ClipSpec.load(p)
    assert spec.input == str(tmp_path / "job" / "frames/%04d.png")
    assert spec.regions[0].mask == str(tmp_path / "job" / "m/%04d.png")
    assert spec.regions[0].styles[0].style == str(tmp_path / "job" / "a.jpg")
    assert spec.regions[1].styles[0].style == HASH
    assert spec.method == "lookgrid" and spec.stride == 1


@pytest.mark.parametrize("data, message", [
    ({"regions": [], "bogus": 1}, "unknown field"),
    ({"regions": [{"name": "fg", "mask": "m", "styles": []}]}, "has no style"),
    ({"regions": [{"name": "background", "mask": "m", "styles": [{"style": "a"}]}]}, "cannot have a mask"),
    ({"regions": [{"name": "a", "styles": [{"style": "x"}]}, {"name": "b", "styles": [{"style": "y"}]}]},
     "only one region may have no mask"),
    ({"regions": [{"name": "a", "styles": [{"style": "sha256:xyz"}]}]}, "64 lowercase hex"),
    ({"method": "magic", "regions": [{"name": "a", "styles": [{"style": "x"}]}]}, "unknown method"),
    ({"regions": [{"name": "a", "styles": [{"style": "x"}], "strength": {"keys": [{"value": 2}]}}]},
     r"strength keys must lie in \[0, 1\]"),
    ({"regions": [{"name": "a", "styles": [{"style": "x", "weight": {"keys": [{"value": -1}]}}]}]},
     "negative"),
    ({"regions": [{"name": "a b", "styles": [{"style": "x"}]}]}, "may only use"),
])
def test_bad_specs_name_the_field(data, message):
    with pytest.raises(InvalidInputError, match=message):
        ClipSpec.from_dict(data).validate(need_paths=False)
