"""Issue 14, items 5, 6 and 9 through the service: NaN/Inf in alpha, contract slips, token mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest

from hostile_kit import header, status_of, two_region_spec
from lookgrid.imaging.decode import encode_exr
from lookgrid_client import FrameIn
from lookgrid_client.proto import lookgrid_pb2 as pb


# --- item 5: the NaN/Inf policy covers alpha ------------------------------------------------------
@pytest.mark.parametrize("encoding", [pb.RAW_HALF, pb.ENCODED])
def test_non_finite_alpha_is_replaced_in_render_frames(client, styles, encoding):
    clip = client.open_clip(two_region_spec(*styles))
    rgba = np.random.default_rng(0).random((24, 32, 4)).astype(np.float32)
    rgba[0, :3, 3] = [np.nan, np.inf, -np.inf]
    mask = np.zeros((24, 32), np.float32)
    mask[6:18, 8:24] = 1
    frame = FrameIn(1, rgba.astype(np.float16) if encoding == pb.RAW_HALF else rgba, list("RGBA"), masks={"fg": mask})
    if encoding == pb.ENCODED:
        both = np.concatenate([rgba, mask[..., None]], -1)
        frame = FrameIn(1, exr=encode_exr(both, ["R", "G", "B", "A", "fg"]))
    out = next(client.render_frames(clip.clip_id, [frame], output_encoding=pb.RAW_FLOAT))
    alpha = np.asarray(out.pixels, np.float32)[..., list(out.channels).index("A")]
    assert np.isfinite(alpha).all()
    assert alpha[0, 0] == 0.0 and alpha[0, 1] == 65504.0 and alpha[0, 2] == -65504.0
    np.testing.assert_allclose(alpha[1:], rgba[1:, :, 3], atol=1e-3)


# --- item 9: contract slips ---------------------------------------------------------------------
def test_red_green_and_a_mask_without_blue_is_invalid_argument(client, styles):
    clip = client.open_clip(two_region_spec(*styles))
    px = np.random.default_rng(1).random((16, 16, 3)).astype(np.float16)
    with pytest.raises(Exception) as err:
        list(client.render_frames(clip.clip_id, [FrameIn(1, px, ["R", "G", "fg"])]))
    assert getattr(err.value, "code", None) == grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert "R, G and B" in str(err.value)


def test_negative_stride_in_a_spec_is_refused(stub, styles):
    spec = pb.ClipSpec(stride=-5, regions=[pb.RegionSpec(name="background", styles=[pb.StyleTrack(style=styles[0])])])
    with pytest.raises(grpc.RpcError) as err:
        stub.OpenClip(pb.OpenClipRequest(spec=spec), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "stride" in err.value.details()


def test_payload_over_the_frame_limit_is_resource_exhausted(client, stub, styles):
    clip = client.open_clip(two_region_spec(*styles))
    msgs = [header(clip.clip_id, 1, 1 << 15, 1 << 14, "RGBA", pb.RAW_FLOAT, payload_bytes=(2 << 30) + 4)]
    assert status_of(stub.RenderFrames(iter(msgs), timeout=30)) == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- item 6: an empty token file never turns authentication off -----------------------------------
def test_empty_token_file_is_refused(tmp_path):
    token = tmp_path / "token"
    token.write_text("  \n")
    ready = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "lookgrid.cli", "serve", "--address", "127.0.0.1:0",
                             "--token-file", str(token), "--ready-file", str(ready), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if k != "LOOKGRID_TOKEN"})
    try:
        deadline = time.time() + 90
        while proc.poll() is None and not ready.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert not ready.exists(), "the server started without authentication"
        assert proc.wait(30) == 2
        out = proc.stdout.read()
        assert "empty" in out and out.count("\n") <= 2, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
