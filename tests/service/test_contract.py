"""The wire contract: generated stubs, the ClipSpec JSON form, the chunked frame format, errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf import json_format

from lookgrid import errors as E
from lookgrid.engine.spec import ClipSpec
from lookgrid.service.errors import STATUS_TABLE, status_for
from lookgrid_client import pb, wire

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None, reason="grpcio-tools not installed")
def test_committed_stubs_match_the_proto():
    """Regenerating the stubs from the .proto gives exactly the committed files."""
    res = subprocess.run([sys.executable, str(REPO / "protos" / "generate.py"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_client_imports_neither_torch_nor_backend():
    code = ("import sys, lookgrid_client, lookgrid_client.client, lookgrid_client.wire;"
            "bad=[m for m in ('torch','lookgrid','OpenImageIO','PyOpenColorIO') if m in sys.modules];"
            "print(','.join(bad))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


FULL_SPEC = {
    "input": "shot/plate.####.exr", "frames": "1001-1048x2", "inputColorspace": "ACEScg",
    "output": "out/graded.####.exr", "outputColorspace": "ACEScct", "stride": 8, "method": "per-frame",
    "model": "lookgrid-v1", "device": "cpu", "config": "ocio://studio-config-latest",
    "regions": [
        {"name": "car", "mask": "shot/car.####.exr", "maskChannel": "A",
         "styles": [{"style": "refs/sunset.jpg",
                     "weight": {"keys": [{"frame": 1001.0, "value": 1.0, "interpolation": "SMOOTH"},
                                         {"frame": 1024.0, "interpolation": "CUBIC"},
                                         {"frame": 1030.5, "value": 0.25, "interpolation": "CONSTANT"}]}},
                    {"style": "sha256:" + "9f" * 32,
                     "weight": {"keys": [{"frame": 1001.0, "interpolation": "LINEAR"},
                                         {"frame": 1024.0, "value": 1.0}]}}],
         "strength": {"keys": [{"frame": 1001.0, "value": 0.8}]}},
        {"name": "background", "styles": [{"style": "refs/overcast.png"}]},
    ],
}


def test_clipspec_json_is_protobuf_json():
    """The engine's ClipSpec dict form and protobuf's JSON mapping of the message agree both ways."""
    msg = json_format.ParseDict(FULL_SPEC, pb.ClipSpec())
    proto_json = json_format.MessageToDict(msg)
    spec = ClipSpec.from_dict(proto_json)
    assert spec.stride == 8 and spec.method == "per-frame" and spec.regions[0].mask_channel == "A"
    # the engine's dict form IS protobuf's JSON of the message it describes
    back = json_format.MessageToDict(json_format.ParseDict(spec.to_dict(), pb.ClipSpec()))
    assert back == spec.to_dict()
    # and it means the same as the message it came from (an omitted interpolation is LINEAR)
    assert ClipSpec.from_dict(back) == spec
    unspecified = msg.regions[0].styles[1].weight.keys[1]
    assert unspecified.interpolation == pb.Key.INTERPOLATION_UNSPECIFIED
    assert spec.regions[0].styles[1].weight.keys[1].interp == "linear"
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()


def test_clipspec_json_rejects_unknown_fields_on_both_sides():
    bad = dict(FULL_SPEC, strideR=3)
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(bad, pb.ClipSpec())
    with pytest.raises(E.InvalidInputError):
        ClipSpec.from_dict(bad)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_raw_frame_round_trip_in_chunks(dtype):
    rng = np.random.default_rng(0)
    a = rng.random((37, 53, 5)).astype(dtype)
    b = rng.random((8, 9, 3)).astype(dtype)
    msgs = list(wire.raw_frame_messages("c", 7, a, list("RGBAm"), pb.RenderFramesRequest, chunk_bytes=1000))
    msgs += list(wire.raw_frame_messages("c", 8, b, list("RGB"), pb.RenderFramesRequest, chunk_bytes=1000))
    assert all(m.ByteSize() < 1100 for m in msgs)
    frames = list(wire.assemble_frames(msgs))
    assert [f.header.frame for f in frames] == [7, 8]
    np.testing.assert_array_equal(frames[0].pixels(), a)
    np.testing.assert_array_equal(frames[1].pixels(), b)


def test_assemble_rejects_malformed_streams():
    a = np.zeros((4, 4, 3), np.float32)
    msgs = list(wire.raw_frame_messages("c", 1, a, list("RGB"), pb.RenderFramesRequest, chunk_bytes=64))
    with pytest.raises(wire.WireError, match="before any frame header"):
        list(wire.assemble_frames(msgs[1:]))
    with pytest.raises(wire.WireError, match="ended after"):
        list(wire.assemble_frames(msgs[:-1]))
    with pytest.raises(wire.WireError, match="more payload"):
        list(wire.assemble_frames(msgs[:-1] + [pb.RenderFramesRequest(chunk=msgs[-1].chunk + b"x")]))
    with pytest.raises(wire.WireError, match="new header"):
        list(wire.assemble_frames(msgs[:2] + msgs))
    with pytest.raises(wire.WireError, match="exceeds the limit"):
        list(wire.assemble_frames(msgs, max_payload_bytes=100))
    short = wire.Frame(pb.FrameHeader(encoding=pb.RAW_FLOAT, width=4, height=4, channels=list("RGB")), b"\0" * 8)
    with pytest.raises(wire.WireError, match="needs 192"):
        short.pixels()


def test_style_hash_covers_shape_and_colorspace_for_raw():
    a = np.zeros((2, 3, 3), np.float32)
    data = wire.raw_bytes(a)
    h1 = wire.style_hash(data, encoding=pb.RAW_FLOAT, shape=(2, 3, 3))
    assert wire.is_style_key(h1)
    assert h1 != wire.style_hash(data, encoding=pb.RAW_FLOAT, shape=(3, 2, 3))
    assert h1 != wire.style_hash(data, encoding=pb.RAW_FLOAT, shape=(2, 3, 3), colorspace="ACEScg")
    assert wire.style_hash(b"abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _all_error_classes():
    return [c for c in vars(E).values() if isinstance(c, type) and issubclass(c, E.LookGridError)]


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_lookgrid_error_has_a_deliberate_status(cls):
    code, message = status_for(cls("the field 'x' is bad"))
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.OK)
    assert "'x'" in message


def test_status_table_codes():
    expect = {
        E.InvalidInputError: "INVALID_ARGUMENT", E.ShapeMismatchError: "INVALID_ARGUMENT",
        E.UnknownClipError: "NOT_FOUND", E.UnknownStyleError: "NOT_FOUND", E.MissingFramesError: "NOT_FOUND",
        E.ModelNotAvailableError: "FAILED_PRECONDITION", E.ClipStateError: "FAILED_PRECONDITION",
        E.ResourceLimitError: "RESOURCE_EXHAUSTED", E.DeadlineError: "DEADLINE_EXCEEDED",
        E.CancelledError: "CANCELLED", E.PathOutsideRootsError: "PERMISSION_DENIED",
        E.UnauthenticatedError: "UNAUTHENTICATED", wire.WireError: "INVALID_ARGUMENT",
    }
    for cls, name in expect.items():
        assert status_for(cls("m"))[0].name == name, cls
    code, message = status_for(ZeroDivisionError("boom"))
    assert code == grpc.StatusCode.INTERNAL and "ZeroDivisionError" in message
    assert grpc.StatusCode.UNKNOWN not in STATUS_TABLE.values()
