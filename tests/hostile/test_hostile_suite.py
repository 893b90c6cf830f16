"""The standing hostile-input suite: seeded mutations of real files as frames and as styles,
malformed streams, damaged EXRs, concurrent clients checked against each alone, killed clients.
Every answer must be a deliberate status (never INTERNAL or UNKNOWN), every output finite, and
what a call held must be freed when it ends. Counts are fixed and small (CI: 2 cores)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import grpc
import numpy as np
import pytest

from hostile_kit import header, mutate, rss_bytes, status_of, style_image, two_region_spec, wait_until
from lookgrid.imaging import write_image
from lookgrid.imaging.decode import encode_exr
from lookgrid_client import FrameIn, LookGridClient
from lookgrid_client.proto import lookgrid_pb2 as pb

DELIBERATE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
              grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}
MUTATIONS = 10
MiB = 1 << 20


def freed(server) -> bool:
    return wait_until(lambda: server.servicer.active_streams == 0 and server.servicer.budget.used == 0)


def sample_exr() -> bytes:
    y, x = np.mgrid[0:24, 0:32].astype(np.float32) / 32
    mask = (x > 0.5).astype(np.float32)
    return encode_exr(np.stack([x, y, 0.5 + 0 * x, 0.8 + 0 * x, mask], -1), ["R", "G", "B", "A", "fg"])


def test_mutated_exr_frames(server, client, styles):
    clip = client.open_clip(two_region_spec(*styles))
    good = sample_exr()
    rng = np.random.default_rng(14)
    start = rss_bytes()
    codes = []
    for i in range(MUTATIONS):
        try:
            outs = list(client.render_frames(clip.clip_id, [FrameIn(i, exr=mutate(good, rng))],
                                             output_encoding=pb.RAW_FLOAT))
            assert all(np.isfinite(o.pixels).all() for o in outs)
            codes.append(grpc.StatusCode.OK)
        except Exception as err:  # noqa: BLE001 - ServerError carries the code
            codes.append(getattr(err, "code", None))
    assert set(codes) <= DELIBERATE, codes
    assert freed(server) and rss_bytes() - start < 128 * MiB
    assert client.server_info().open_clips == 1


@pytest.mark.parametrize("fmt", ["png", "exr"])
def test_mutated_style_uploads(server, client, tmp_path, fmt):
    path = tmp_path / f"s.{fmt}"
    write_image(path, style_image(5, (0.3, 0.2, 0.1)), **({"dtype": "uint8"} if fmt == "png" else {}))
    good = path.read_bytes()
    rng = np.random.default_rng(41)
    codes = []
    for _ in range(MUTATIONS):
        try:
            client.upload_style(mutate(good, rng), filename=f"m.{fmt}")
            codes.append(grpc.StatusCode.OK)
        except Exception as err:  # noqa: BLE001
            codes.append(getattr(err, "code", None))
    assert set(codes) <= DELIBERATE, codes
    assert freed(server)


def test_damaged_exrs_as_frames_and_styles(server, client, styles, shared_data):
    damaged = sorted((shared_data / "exr" / "Damaged").glob("*"))
    assert damaged
    clip = client.open_clip(two_region_spec(*styles))
    for i, p in enumerate(damaged[:8]):
        data = p.read_bytes()[: 8 << 20]
        for call in (lambda: client.upload_style(data, filename="d.exr"),
                     lambda: list(client.render_frames(clip.clip_id, [FrameIn(i, exr=data)]))):
            try:
                call()
                code = grpc.StatusCode.OK
            except Exception as err:  # noqa: BLE001
                code = getattr(err, "code", None)
            assert code in DELIBERATE, (p.name, code)
    assert freed(server)


def test_malformed_streams(server, client, stub, styles):
    clip = client.open_clip(two_region_spec(*styles)).clip_id
    cases = {
        "chunk first": [pb.RenderFramesRequest(chunk=b"x")],
        "two headers": [header(clip, 1, 4, 4, "RGB"), header(clip, 2, 4, 4, "RGB")],
        "empty message": [pb.RenderFramesRequest()],
        "too many bytes": [header(clip, 1, 4, 4, "RGB"), pb.RenderFramesRequest(chunk=b"\0" * 200)],
        "ends early": [header(clip, 1, 4, 4, "RGB"), pb.RenderFramesRequest(chunk=b"\0" * 10)],
        "size mismatch": [header(clip, 1, 4, 4, "RGB", payload_bytes=7)],
        "negative size": [header(clip, 1, 4, 4, "RGB", payload_bytes=-1)],
        "unknown clip": [header("nope", 1, 4, 4, "RGB")],
        "no encoding": [header(clip, 1, 4, 4, "RGB", encoding=0, payload_bytes=0)],
        "too many pixels": [header(clip, 1, 1 << 16, 1 << 16, "RGB", payload_bytes=16)],
    }
    for name, msgs in cases.items():
        code = status_of(stub.RenderFrames(iter(msgs), timeout=30))
        assert code in DELIBERATE - {grpc.StatusCode.OK}, (name, code)
    for bad in ([pb.UploadStyleRequest(chunk=b"x")],
                [pb.UploadStyleRequest(header=pb.StyleHeader(sha256="sha256:" + "0" * 64, payload_bytes=3 << 30))]):
        with pytest.raises(grpc.RpcError) as err:
            stub.UploadStyle(iter(bad), timeout=30)
        assert err.value.code() in DELIBERATE
    assert freed(server)


def test_concurrent_clients_match_each_alone(server, styles):
    rng = np.random.default_rng(7)
    jobs = [[rng.random((32, 48, 4)).astype(np.float16) for _ in range(3)] for _ in range(4)]
    mask = np.zeros((32, 48), np.float32)
    mask[8:24, 10:30] = 1

    def run(frames):
        with LookGridClient(server.address, timeout=120) as c:
            clip = c.open_clip(two_region_spec(*styles)).clip_id
            outs = [o.pixels for o in c.render_frames(clip, [FrameIn(f, px, list("RGBA"), masks={"fg": mask})
                                                               for f, px in enumerate(frames)])]
            c.close_clip(clip)
            return outs

    alone = [run(j) for j in jobs]
    together = [None] * len(jobs)

    def worker(i):
        together[i] = run(jobs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for a, b in zip(alone, together):
        assert b is not None and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert freed(server) and server.servicer.engine.clip_ids() == []


def test_killed_clients_free_their_calls(server, client, styles):
    clip = client.open_clip(two_region_spec(*styles)).clip_id
    script = textwrap.dedent(f"""
        import sys, time, grpc
        from lookgrid_client.proto import lookgrid_pb2 as pb, lookgrid_pb2_grpc as g
        ch = grpc.insecure_channel({server.address!r})
        def reqs():
            yield pb.RenderFramesRequest(header=pb.FrameHeader(clip_id={clip!r}, frame=1, encoding=pb.RAW_FLOAT,
                width=1024, height=1024, channels=list("RGBA"), payload_bytes=16 << 20))
            yield pb.RenderFramesRequest(chunk=b"\\0" * (4 << 20))
            print("sent", flush=True)
            time.sleep(600)
        for _ in g.LookGridStub(ch).RenderFrames(reqs()):
            pass
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "sent"
        assert wait_until(lambda: server.servicer.budget.used >= 12 * MiB, timeout=20)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert freed(server)
    assert client.server_info().open_clips == 1  # the clip itself is the client's, still open
