"""A real server on port 0 in this process: info, health, reflection, styles, clips, inline frames,
render by path, concurrency, eviction, disconnects and every error status."""

from __future__ import annotations

import os
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from service_clips import frame_rgba, style_image, two_region_spec
from lookgrid.engine import Engine
from lookgrid.service.server import create_server, start_in_process
from lookgrid_client import FrameIn, LookGridClient, ServerError, pb, wire
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc


def _code(excinfo) -> str:
    return excinfo.value.code.name


def test_info_health_and_reflection(server, client):
    info = client.server_info()
    assert info.api_version == "lookgrid.v1" and info.device == "cpu"
    assert "lookgrid" in info.methods and info.limits.chunk_bytes <= info.limits.max_message_bytes
    assert info.working_space and info.roots
    assert info.config.startswith("ocio://studio-config-v") or info.config.startswith("/")  # pinned, never -latest
    channel = grpc.insecure_channel(server.address)
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "lookgrid.v1.LookGrid"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(iter(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                 timeout=10)))
    names = {s.name for s in answer.list_services_response.service}
    assert {"lookgrid.v1.LookGrid", "grpc.health.v1.Health"} <= names
    channel.close()


def test_style_upload_is_deduplicated_and_verified(server, client):
    img = style_image(5, (0.3, 0.3, 0.3))
    key = wire.style_hash(wire.raw_bytes(img), encoding=pb.RAW_FLOAT, shape=img.shape)
    assert not client.has_style(key)
    assert client.upload_style(img) == key
    assert client.has_style(key)
    stub = pb_grpc.LookGridStub(grpc.insecure_channel(server.address))
    data = bytes(wire.raw_bytes(img))
    header = pb.StyleHeader(sha256=key, encoding=pb.RAW_FLOAT, payload_bytes=len(data), height=48, width=64,
                            channels=3)
    again = stub.UploadStyle(iter([pb.UploadStyleRequest(header=header), pb.UploadStyleRequest(chunk=data)]),
                             timeout=30)
    assert again.deduplicated and (again.width, again.height) == (64, 48)
    wrong = pb.StyleHeader(sha256="sha256:" + "0" * 64, encoding=pb.RAW_FLOAT, payload_bytes=len(data),
                           height=48, width=64, channels=3)
    with pytest.raises(grpc.RpcError) as err:
        stub.UploadStyle(iter([pb.UploadStyleRequest(header=wrong), pb.UploadStyleRequest(chunk=data)]), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "sha256" in err.value.details()


def test_png_style_upload(client, tmp_path):
    import cv2

    img = (style_image(9, (0.2, 0.4, 0.3)) * 255).astype(np.uint8)
    path = tmp_path / "ref.png"
    cv2.imwrite(str(path), img[..., ::-1])
    key = client.upload_style(path)
    assert key == wire.style_hash(path.read_bytes())
    assert client.has_style(key)
    with pytest.raises(ServerError) as err:
        client.upload_style(b"this is not an image", filename="x.png")
    assert _code(err) == "INVALID_ARGUMENT"


def _render(client, clip_id, frames, h=48, w=64, dtype=np.float16):
    items = []
    for f in frames:
        rgba, mask = frame_rgba(f, h, w, dtype)
        items.append(FrameIn(f, rgba, ["R", "G", "B", "A"], masks={"fg": mask}))
    return {o.frame: o for o in client.render_frames(clip_id, items)}


def test_inline_frames_render_and_keep_alpha(client, styles):
    clip = client.open_clip(two_region_spec(*styles))
    assert clip.spec.regions[0].mask == "inline"
    outs = _render(client, clip.clip_id, [1, 2, 3])
    rgba, _ = frame_rgba(2)
    out = outs[2]
    assert out.channels == ["R", "G", "B", "A"] and out.pixels.dtype == np.float16 and out.pixels.shape == rgba.shape
    np.testing.assert_array_equal(out.pixels[..., 3], rgba[..., 3])
    change = np.abs(out.pixels[..., :3].astype(np.float32) - rgba[..., :3].astype(np.float32)).mean()
    assert change > 1e-3, "the randomised model must change the picture"
    assert np.isfinite(out.pixels.astype(np.float32)).all()


def test_exr_bytes_both_ways(client, styles, tmp_path):
    from lookgrid.imaging import read_image, write_image

    clip = client.open_clip(two_region_spec(*styles))
    rgba, mask = frame_rgba(1, dtype=np.float32)
    path = tmp_path / "in.exr"
    write_image(path, np.concatenate([rgba, mask[..., None]], -1), channel_names=["R", "G", "B", "A", "fg"],
                dtype="half")
    out = next(client.render_frames(clip.clip_id, [FrameIn(1, exr=path.read_bytes())]))
    assert out.exr is not None and out.pixels is None
    (tmp_path / "out.exr").write_bytes(out.exr)
    img = read_image(tmp_path / "out.exr")
    assert list(img.channel_names) == ["R", "G", "B", "A"]
    raw = _render(client, client.open_clip(two_region_spec(*styles)).clip_id, [1], dtype=np.float16)[1]
    np.testing.assert_allclose(img.pixels, raw.pixels.astype(np.float32), atol=2e-3)


def test_inline_scrubbing_back_equals_in_order(client, styles):
    """Frames re-sent in any order after the clip has seen their predecessors render exactly as in an
    in-order run; a frame whose predecessors were never sent is refused (FAILED_PRECONDITION)."""
    spec = two_region_spec(*styles, frames="1-6")
    a = client.open_clip(spec).clip_id
    in_order = _render(client, a, [1, 2, 3, 4, 5, 6])
    b = client.open_clip(spec).clip_id
    with pytest.raises(ServerError) as err:
        _render(client, b, [3])
    assert _code(err) == "FAILED_PRECONDITION" and "frame 1" in err.value.details
    _render(client, b, [1, 2, 3, 4, 5, 6])
    client.update_clip(b, dict(spec, regions=[dict(spec["regions"][0], strength={"keys": [{"value": 0.5}]}),
                                              spec["regions"][1]]))
    client.update_clip(b, spec)  # back to the original look: cached combined grids are dropped
    shuffled = _render(client, b, [5, 3, 6, 4])
    for f in (3, 4, 5, 6):
        np.testing.assert_array_equal(shuffled[f].pixels, in_order[f].pixels)


def test_two_concurrent_clips_do_not_share_state(client, styles, server):
    spec_a = two_region_spec(styles[0], styles[1], frames="1-4")
    spec_b = two_region_spec(styles[1], styles[0], frames="1-4")
    alone = {}
    for name, spec in (("a", spec_a), ("b", spec_b)):
        alone[name] = _render(client, client.open_clip(spec).clip_id, [1, 2, 3, 4])
    together, errors = {}, []

    def run(name, spec):
        try:
            with LookGridClient(server.address) as c:
                together[name] = _render(c, c.open_clip(spec).clip_id, [1, 2, 3, 4])
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=item) for item in (("a", spec_a), ("b", spec_b))]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert not errors
    for name in ("a", "b"):
        for f in (1, 2, 3, 4):
            np.testing.assert_array_equal(together[name][f].pixels, alone[name][f].pixels)
    assert not np.array_equal(alone["a"][4].pixels, alone["b"][4].pixels)


def test_update_clip_reports_invalidated_frames(client, styles):
    spec = two_region_spec(*styles, frames="1-4")
    clip = client.open_clip(spec)
    before = _render(client, clip.clip_id, [1, 2, 3, 4])
    spec["regions"][0]["strength"] = {"keys": [{"frame": 3, "value": 1.0}, {"frame": 4, "value": 0.0}]}
    info = client.update_clip(clip.clip_id, spec)
    assert info.invalidated_frames == 1  # only frame 4's evaluated strength changed
    after = _render(client, clip.clip_id, [3, 4])
    np.testing.assert_array_equal(after[3].pixels, before[3].pixels)
    assert not np.array_equal(after[4].pixels, before[4].pixels)


# --- storage ---------------------------------------------------------------------------------------
def _write_sequence(root, n=4):
    from lookgrid.imaging import write_image

    (root / "plate").mkdir()
    for f in range(1, n + 1):
        rgba, mask = frame_rgba(f, dtype=np.float32)
        write_image(root / "plate" / f"p.{f:04d}.exr", rgba, channel_names=list("RGBA"), dtype="half")
        write_image(root / "plate" / f"m.{f:04d}.exr", mask[..., None], channel_names=["A"], dtype="half")


def _path_spec(root, styles, out):
    return {"input": str(root / "plate" / "p.####.exr"), "output": str(root / out / "o.####.exr"),
            "regions": [{"name": "fg", "mask": str(root / "plate" / "m.####.exr"), "styles": [{"style": styles[0]}]},
                        {"name": "background", "styles": [{"style": styles[1]}]}]}


def test_render_by_path_progress_and_out_of_order(client, styles, tmp_path, engine):
    from lookgrid.imaging import read_image

    _write_sequence(tmp_path)
    seen = []
    progress = client.render_by_path(_path_spec(tmp_path, styles, "all"), progress=seen.append)
    assert [p.frame for p in progress] == [1, 2, 3, 4] and progress[-1].done == progress[-1].total == 4
    assert seen == progress and os.path.isfile(progress[0].output_path)
    part = client.render_by_path(_path_spec(tmp_path, styles, "part"), frames=[4, 2])
    assert [p.frame for p in part] == [4, 2]
    for f in (4, 2):
        a = read_image(tmp_path / "all" / f"o.{f:04d}.exr").pixels
        b = read_image(tmp_path / "part" / f"o.{f:04d}.exr").pixels
        np.testing.assert_array_equal(a, b)
    assert engine.clip_ids() == []  # one-off clips are closed
    clip = client.open_clip(_path_spec(tmp_path, styles, "x"))
    assert list(clip.frames) == [1, 2, 3, 4]
    assert [p.frame for p in client.analyze(clip.clip_id, [3])] == [3]


def test_paths_are_confined_to_roots(client, styles, tmp_path):
    _write_sequence(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir(exist_ok=True)
    cases = [
        dict(_path_spec(tmp_path, styles, "o"), output=str(tmp_path / ".." / outside.name / "o.####.exr")),
        dict(_path_spec(tmp_path, styles, "o"), output=str(outside / "o.####.exr")),
    ]
    link = tmp_path / "escape"
    link.symlink_to(outside)
    cases.append(dict(_path_spec(tmp_path, styles, "o"), output=str(link / "o.####.exr")))
    (tmp_path / "plate" / "p.0005.exr").symlink_to(outside / "secret.exr")
    cases.append(_path_spec(tmp_path, styles, "o"))
    for spec in cases:
        with pytest.raises(ServerError) as err:
            client.render_by_path(spec)
        assert _code(err) == "PERMISSION_DENIED", spec
    assert not any(outside.iterdir())


# --- errors ----------------------------------------------------------------------------------------
def test_error_statuses(client, styles, server):
    with pytest.raises(ServerError) as err:
        client.open_clip(two_region_spec(*styles, method="magic"))
    assert _code(err) == "INVALID_ARGUMENT" and "method" in err.value.details
    with pytest.raises(ServerError) as err:
        client.open_clip(two_region_spec("sha256:" + "1" * 64, styles[1]))
    assert _code(err) == "NOT_FOUND" and "sha256:111" in err.value.details
    with pytest.raises(ServerError) as err:
        client.close_clip("no-such-clip")
    assert _code(err) == "NOT_FOUND"
    clip = client.open_clip(two_region_spec(*styles))
    with pytest.raises(ServerError) as err:
        client.analyze(clip.clip_id, [1])
    assert _code(err) == "FAILED_PRECONDITION"
    spec = two_region_spec(*styles)
    spec["regions"] = [dict(spec["regions"][0], name=f"r{i}") for i in range(20)]
    with pytest.raises(ServerError) as err:
        client.open_clip(spec)
    assert _code(err) == "RESOURCE_EXHAUSTED" and "regions" in err.value.details
    server.servicer.limits.max_frame_pixels = 100
    with pytest.raises(ServerError) as err:
        _render(client, clip.clip_id, [1])
    assert _code(err) == "RESOURCE_EXHAUSTED" and "48" in err.value.details
    server.servicer.limits.max_frame_pixels = 1 << 26
    rgba, _ = frame_rgba(1)
    with pytest.raises(ServerError) as err:  # no mask for region fg
        next(client.render_frames(clip.clip_id, [FrameIn(1, rgba, list("RGBA"))]))
    assert _code(err) == "INVALID_ARGUMENT" and "'fg'" in err.value.details
    slow = LookGridClient(server.address, stream_timeout=0.001)
    with pytest.raises(ServerError) as err:
        list(slow.render_frames(clip.clip_id, [FrameIn(1, rgba, list("RGBA"), masks={"fg": rgba[..., 0]})]))
    assert _code(err) == "DEADLINE_EXCEEDED"
    slow.close()
    stub = pb_grpc.LookGridStub(grpc.insecure_channel(server.address))
    call = stub.RenderFrames(iter(wire.raw_frame_messages(clip.clip_id, 1, rgba, list("RGBA"),
                                                          pb.RenderFramesRequest)), timeout=30)
    call.cancel()
    with pytest.raises(grpc.RpcError) as rpc_err:
        list(call)
    assert rpc_err.value.code() == grpc.StatusCode.CANCELLED


def test_eviction_by_ttl_and_memory(net, tmp_path):
    engine = Engine(net, device="cpu")
    with start_in_process(engine, sweep_seconds=0.05, clip_ttl=0.3, grace=0.2) as (_, address), \
            LookGridClient(address) as c:
        keys = (c.upload_style(style_image(1, (0.5, 0.2, 0.1))), c.upload_style(style_image(2, (0.1, 0.2, 0.5))))
        idle = c.open_clip(two_region_spec(*keys)).clip_id
        time.sleep(0.8)
        with pytest.raises(ServerError) as err:
            _render(c, idle, [1])
        assert _code(err) == "NOT_FOUND" and "evicted" in err.value.details and "idle" in err.value.details
        engine.clips.ttl_s = 600
        engine.clips.max_cache_bytes = 1  # any cached grid is too much: the least recently used clip goes
        first = c.open_clip(two_region_spec(*keys)).clip_id
        _render(c, first, [1])
        second = c.open_clip(two_region_spec(*keys)).clip_id
        _render(c, second, [1])
        deadline = time.time() + 5
        while first in engine.clip_ids() and time.time() < deadline:
            time.sleep(0.05)
        with pytest.raises(ServerError) as err:
            c.update_clip(first, two_region_spec(*keys))
        assert _code(err) == "NOT_FOUND" and "memory" in err.value.details


def test_client_disconnect_frees_the_stream(client, styles, server):
    clip = client.open_clip(two_region_spec(*styles))
    rgba = np.zeros((512, 512, 4), np.float16)
    msgs = list(wire.raw_frame_messages(clip.clip_id, 1, rgba, list("RGBA"), pb.RenderFramesRequest,
                                        chunk_bytes=64 * 1024))
    gate = threading.Event()

    def half_then_wait():
        yield from msgs[: len(msgs) // 2]
        gate.wait(10)

    stub = pb_grpc.LookGridStub(grpc.insecure_channel(server.address))
    call = stub.RenderFrames(half_then_wait(), timeout=30)
    deadline = time.time() + 10
    while server.servicer.active_streams == 0 and time.time() < deadline:
        time.sleep(0.01)
    assert server.servicer.active_streams == 1
    call.cancel()
    gate.set()
    deadline = time.time() + 10
    while (server.servicer.active_streams or server.servicer.stream_bytes) and time.time() < deadline:
        time.sleep(0.02)
    assert server.servicer.active_streams == 0 and server.servicer.stream_bytes == 0


def test_token_and_tls(net, tmp_path):
    import shutil
    import subprocess

    from lookgrid.errors import InvalidInputError

    engine = Engine(net, device="cpu")
    with pytest.raises(InvalidInputError, match="TLS"):
        create_server("0.0.0.0:0", engine)
    with start_in_process(engine, token="s3cret", grace=0.2) as (_, address):
        with LookGridClient(address) as c:
            with pytest.raises(ServerError) as err:
                c.server_info()
            assert _code(err) == "UNAUTHENTICATED"
        with LookGridClient(address, token="wrong") as c:
            with pytest.raises(ServerError) as err:
                c.server_info()
            assert _code(err) == "UNAUTHENTICATED"
        with LookGridClient(address, token="s3cret") as c:
            assert c.server_info().api_version == "lookgrid.v1"
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    with start_in_process(engine, "0.0.0.0:0", token="s3cret", tls_cert=cert.read_bytes(),
                          tls_key=key.read_bytes(), grace=0.2) as (_, address):
        port = address.rpartition(":")[2]
        with LookGridClient(f"localhost:{port}", token="s3cret", root_certificates=cert) as c:
            assert c.server_info().api_version == "lookgrid.v1"
