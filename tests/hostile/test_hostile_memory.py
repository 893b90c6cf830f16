"""Issue 14, items 1–4: memory follows what was received, failed calls leave no state, frame
numbers and decoded sizes cannot be used to pin memory. RSS is this process's (the server runs in
it), read from /proc; bounds are generous for a loaded machine but far below what the attacks cost
without the fixes (hundreds of MB to GB)."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from hostile_kit import HeldStream, header, png_bomb, rss_bytes, status_of, two_region_spec, wait_until
import torch

from lookgrid.engine.styles import MAX_STYLE_SIDE, StyleStore
from lookgrid.imaging.sequence import MAX_SEQUENCE_FRAMES
from lookgrid.errors import UnknownStyleError
from lookgrid.service.server import start_in_process
from lookgrid_client import FrameIn, LookGridClient
from lookgrid_client.proto import lookgrid_pb2 as pb
from lookgrid_client.proto import lookgrid_pb2_grpc as pb_grpc

MiB = 1 << 20


def _budget_used(server) -> int:
    budget = getattr(server.servicer, "budget", None)
    return budget.used if budget is not None else 0


# --- item 1: a header pins no memory --------------------------------------------------------------
def test_announced_payload_is_not_allocated(server, client, stub, styles):
    clip = client.open_clip(two_region_spec(*styles))
    before = rss_bytes()
    # 8192 x 8192 x 4 half = 512 MiB announced; one 1 MiB chunk actually sent
    msgs = [header(clip.clip_id, 1, 8192, 8192, "RGBA"), pb.RenderFramesRequest(chunk=b"\0" * MiB)]
    held = [HeldStream(stub, msgs) for _ in range(2)]
    for h in held:
        assert h.sent.wait(10)
    wait_until(lambda: _budget_used(server) >= 2 * MiB, timeout=3)
    grown = rss_bytes() - before
    assert grown < 96 * MiB, f"RSS grew by {grown / MiB:.0f} MiB for 2 MiB received"
    assert _budget_used(server) == 2 * MiB  # what was received, nothing more
    for h in held:
        h.release()
    assert wait_until(lambda: server.servicer.active_streams == 0 and _budget_used(server) == 0)
    assert all(h.code == grpc.StatusCode.CANCELLED for h in held)


def test_server_wide_and_per_call_budgets(engine):
    with start_in_process(engine, max_held_bytes=24 * MiB, max_frame_bytes=16 * MiB,
                          max_style_bytes=16 * MiB, grace=0.5) as (srv, addr):
        with LookGridClient(addr, timeout=30) as c:
            key = c.upload_style(np.full((16, 16, 3), 0.4, np.float32))
            clip = c.open_clip({"regions": [{"name": "background", "styles": [{"style": key}]}]})
            channel = grpc.insecure_channel(addr)
            stub = pb_grpc.LookGridStub(channel)
            # 1024 x 1024 x 4 float = 16 MiB announced; 14 MiB sent by the first call ...
            first = HeldStream(stub, [header(clip.clip_id, 1, 1024, 1024, "RGBA", pb.RAW_FLOAT)]
                               + [pb.RenderFramesRequest(chunk=b"\0" * MiB)] * 14)
            assert first.sent.wait(10) and wait_until(lambda: srv.servicer.budget.used == 14 * MiB)
            # ... so a second call passes the server-wide 24 MiB after 10 MiB: refused, memory given back
            second = stub.RenderFrames(iter([header(clip.clip_id, 1, 1024, 1024, "RGBA", pb.RAW_FLOAT)]
                                            + [pb.RenderFramesRequest(chunk=b"\0" * MiB)] * 16), timeout=30)
            assert status_of(second) == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert wait_until(lambda: srv.servicer.budget.used == 14 * MiB)
            first.release()
            assert wait_until(lambda: srv.servicer.budget.used == 0 and srv.servicer.active_streams == 0)
            # a frame announced over the per-call budget (= max_frame_bytes) is refused at its header
            big = stub.RenderFrames(iter([header(clip.clip_id, 1, 2048, 1024, "RGBA", pb.RAW_FLOAT)]), timeout=30)
            assert status_of(big) == grpc.StatusCode.RESOURCE_EXHAUSTED
            # and normal frames still render within the budget, several in flight
            rgb = np.random.default_rng(0).random((256, 256, 3)).astype(np.float32)
            outs = list(c.render_frames(clip.clip_id, [FrameIn(f, rgb, list("RGB")) for f in range(1, 8)]))
            assert len(outs) == 7 and srv.servicer.budget.peak <= 24 * MiB
            channel.close()


# --- item 2: a failed OpenClip leaves nothing; one frame-count limit ------------------------------
@pytest.mark.parametrize("frames", ["0-9999999", "0-2999999,3000000-5999999,6000000-8999999", "0-100000"])
def test_oversized_frame_range_is_refused_and_leaves_no_clip(server, stub, styles, frames):
    spec = pb.ClipSpec(frames=frames, regions=[pb.RegionSpec(name="background", styles=[pb.StyleTrack(style=styles[0])])])
    before = rss_bytes()
    t0 = time.perf_counter()
    with pytest.raises(grpc.RpcError) as err:
        stub.OpenClip(pb.OpenClipRequest(spec=spec), timeout=60)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "frames" in err.value.details()
    assert server.servicer.engine.clip_ids() == []
    assert time.perf_counter() - t0 < 5.0
    assert rss_bytes() - before < 64 * MiB


def test_largest_allowed_frame_range_fits_clip_info(server, client, styles):
    info = client.open_clip({"frames": f"1000000-{1000000 + MAX_SEQUENCE_FRAMES - 1}",
                             "regions": [{"name": "background", "styles": [{"style": styles[0]}]}]})
    assert len(info.frames) == MAX_SEQUENCE_FRAMES
    client.close_clip(info.clip_id)


# --- item 3: frame-number gaps cost nothing ------------------------------------------------------
def test_frame_number_gap_on_open_ended_clip(server, client, styles):
    clip = client.open_clip(two_region_spec(*styles))
    rgba = np.random.default_rng(0).random((16, 16, 4)).astype(np.float16)
    mask = np.ones((16, 16), np.float32)
    list(client.render_frames(clip.clip_id, [FrameIn(0, rgba, list("RGBA"), masks={"fg": mask})]))
    before = rss_bytes()
    t0 = time.perf_counter()
    with pytest.raises(Exception) as err:
        list(client.render_frames(clip.clip_id, [FrameIn(30_000_000, rgba, list("RGBA"), masks={"fg": mask})]))
    seconds, grown = time.perf_counter() - t0, rss_bytes() - before
    assert getattr(err.value, "code", None) == grpc.StatusCode.FAILED_PRECONDITION
    assert seconds < 3.0 and grown < 64 * MiB, (seconds, grown)
    assert "29999999" in str(err.value)
    # the clip is unharmed: the next frame in order renders
    out = next(client.render_frames(clip.clip_id, [FrameIn(1, rgba, list("RGBA"), masks={"fg": mask})]))
    assert np.isfinite(out.pixels.astype(np.float32)).all()


# --- item 4: decompression bombs and the style store's bound --------------------------------------
def test_png_bomb_style_is_refused_from_its_header(server, client):
    bomb = png_bomb(8000, 8000)
    assert len(bomb) < 400_000
    before = rss_bytes()
    t0 = time.perf_counter()
    with pytest.raises(Exception) as err:
        LookGridClient.upload_style(client, bomb, filename="bomb.png")
    assert getattr(err.value, "code", None) == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value
    assert "pixels" in str(err.value)
    assert time.perf_counter() - t0 < 10.0
    assert rss_bytes() - before < 64 * MiB
    assert len(server.servicer.engine.styles) == 0


def test_large_style_is_kept_at_analysis_size(server, client):
    big = np.random.default_rng(1).random((1500, 2600, 3)).astype(np.float32)
    key = client.upload_style(big)
    img = server.servicer.engine.style_image(key)
    assert max(img.shape[:2]) == MAX_STYLE_SIDE and img.dtype == np.float32
    assert abs(img.shape[1] / img.shape[0] - 2600 / 1500) < 0.01


def test_style_store_is_bounded_lru_with_a_clear_not_found():
    store = StyleStore(torch.device("cpu"), lambda: None, max_bytes=3 * 64 * 64 * 3 * 4)
    keys = [f"sha256:{i:064x}" for i in range(5)]
    for k in keys[:3]:
        store.register(k, np.full((64, 64, 3), 0.5, np.float32))
    store.image(keys[0])  # used: the least recently used is now keys[1]
    store.register(keys[3], np.full((64, 64, 3), 0.5, np.float32))
    assert keys[0] in store and keys[1] not in store and len(store) == 3
    with pytest.raises(UnknownStyleError, match="evicted"):
        store.image(keys[1])
    assert store.nbytes() <= store.max_bytes
