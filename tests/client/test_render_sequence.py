"""LookGridClient.render_sequence against a real server: same pixels as the server rendering the
equivalent job from storage, frame order, progress, style upload once, cancel, bad input, and the
clip always closed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from client_files import read_exr
from lookgrid_client import (FrameIn, InvalidRequestError, LookGridClient, RenderCancelledError, ServerError, pb,
                             storage_spec, track_from_samples)
from lookgrid_client.output import frame_path
from lookgrid_client.sequence import analysed_frames, frames_text, send_order

FRAMES = list(range(1001, 1007))


def _spec(shot, stride=0):
    cross = track_from_samples({f: (f - 1001) / 5 for f in FRAMES})
    back = track_from_samples({f: 1 - (f - 1001) / 5 for f in FRAMES})
    return {"inputColorspace": "ACEScg", "stride": stride,
            "regions": [{"name": "fg", "mask": "inline",
                         "styles": [{"style": shot["warm"], "weight": back}, {"style": shot["cool"], "weight": cross}],
                         "strength": track_from_samples({1001: 0.6, 1006: 1.0})},
                        {"name": "background", "styles": [{"style": shot["cool"]}]}]}


class Recorder:
    """read_frame / write_frame / progress callbacks that read the shot's EXR files and keep results."""

    def __init__(self, shot):
        self.shot, self.read, self.written, self.progress, self.threads = shot, [], [], [], set()

    def read_frame(self, f):
        self.read.append(f)
        self.threads.add(threading.get_ident())
        rgba = read_exr(frame_path(self.shot["plate"], f))
        mask = read_exr(frame_path(self.shot["mask"], f))[..., 0]
        return FrameIn(f, rgba, ["R", "G", "B", "A"], masks={"fg": mask})

    def write_frame(self, out):
        self.threads.add(threading.get_ident())
        self.written.append(out)

    def on_progress(self, done, total):
        self.progress.append((done, total))


@pytest.fixture()
def client(live_server):
    with LookGridClient(live_server[1], timeout=60) as c:
        yield c


@pytest.mark.parametrize("stride", [0, 3])
def test_pixels_equal_the_same_job_rendered_from_storage(client, shot, live_server, stride):
    rec = Recorder(shot)
    res = client.render_sequence(_spec(shot, stride), FRAMES, rec.read_frame, rec.write_frame, rec.on_progress)
    assert res.frames == FRAMES and [o.frame for o in rec.written] == FRAMES
    assert rec.progress == [(i, len(FRAMES)) for i in range(len(FRAMES) + 1)]
    assert rec.threads == {threading.get_ident()}, "callbacks run on the calling thread"
    assert res.spec["frames"] == "1001-1006" and res.spec["smooth"] == 0.0  # a stream is causal
    keys = {s["style"] for r in res.spec["regions"] for s in r["styles"]}
    assert len(keys) == 2 and all(k.startswith("sha256:") for k in keys)
    assert client.server_info().open_clips == 0
    if stride == 3:
        assert rec.read == [1001, 1004, 1002, 1003, 1006, 1005], "analysed frames go before those between them"

    root = live_server[2]
    out = str(root / f"ref{stride}" / "graded.####.exr")
    job = storage_spec(res.spec, input=shot["plate"], output=out, masks={"fg": shot["mask"]}, styles=res.styles)
    assert job["regions"][0]["mask"] == shot["mask"] and "input" not in res.spec
    assert {s["style"] for r in job["regions"] for s in r["styles"]} == {shot["warm"], shot["cool"]}
    client.render_by_path(job)
    for o in rec.written:
        ref = read_exr(frame_path(out, o.frame))
        assert o.channels == ["R", "G", "B", "A"] and o.pixels.dtype == np.float32
        np.testing.assert_allclose(o.pixels, ref, rtol=2e-3, atol=2e-3)
    moved = np.abs(rec.written[-1].pixels[..., :3] - read_exr(frame_path(shot["plate"], 1006))[..., :3]).mean()
    assert moved > 1e-3, "the random network changes the picture (the comparison is not trivial)"


def test_exr_output_and_styles_uploaded_once(client, shot):
    rec = Recorder(shot)
    client.render_sequence(_spec(shot), FRAMES[:2], rec.read_frame, rec.write_frame, output_encoding=pb.ENCODED)
    stored = client.server_info().stored_styles
    res = client.render_sequence(_spec(shot), FRAMES[:2], rec.read_frame, rec.write_frame, output_encoding=pb.ENCODED)
    assert client.server_info().stored_styles == stored
    assert all(o.exr[:4] == b"v/1\x01" and o.pixels is None for o in rec.written)
    assert res.frames == FRAMES[:2]


def test_cancel_stops_cleanly_and_closes_the_clip(client, shot):
    rec = Recorder(shot)
    with pytest.raises(RenderCancelledError, match="cancelled after 2 of 6 frames"):
        client.render_sequence(_spec(shot), FRAMES, rec.read_frame, rec.write_frame,
                               cancel=lambda: len(rec.written) >= 2)
    assert [o.frame for o in rec.written] == FRAMES[:2]
    assert client.server_info().open_clips == 0


def test_inline_frames_have_a_deadline_each_not_the_stream(live_server, shot, monkeypatch):
    """Issue 24 item 10: a 0.5 s stream_timeout no longer cuts a sequence off (frames have their
    own deadline), and a frame past its own is named."""
    from lookgrid_client import sequence

    rec = Recorder(shot)
    with LookGridClient(live_server[1], timeout=60, stream_timeout=0.5) as c:
        monkeypatch.setattr(sequence, "_Stream", _slow_stream(sequence._Stream, 0.3))   # 6 × 0.3 s > 0.5 s
        c.render_sequence(_spec(shot), FRAMES, rec.read_frame, rec.write_frame, in_flight=1)
        assert [o.frame for o in rec.written] == FRAMES
        monkeypatch.setattr(sequence, "FRAME_TIMEOUT", 0.01)
        with pytest.raises(ServerError, match="DEADLINE_EXCEEDED: frame 1001 did not come back within 0.1 s"):
            c.render_sequence(_spec(shot), FRAMES, rec.read_frame, rec.write_frame)
        assert c.server_info().open_clips == 0


def _slow_stream(base, seconds):
    """A stream whose frames each take ``seconds`` longer to arrive (a slow server)."""
    import time

    class Slow(base):
        def _read(self):
            real = self.results.put

            def later(item):
                time.sleep(seconds)
                real(item)

            self.results.put = later
            super()._read()

    return Slow


def test_bad_input_raises_one_line_and_closes_the_clip(client, shot):
    rec = Recorder(shot)

    def missing_mask(f):
        item = rec.read_frame(f)
        if f == 1003:
            raise InvalidRequestError(f"mask frame {f} is missing")
        return item

    with pytest.raises(InvalidRequestError, match="mask frame 1003 is missing"):
        client.render_sequence(_spec(shot), FRAMES, missing_mask, rec.write_frame)
    assert client.server_info().open_clips == 0

    def no_mask(f):
        return FrameIn(f, read_exr(frame_path(shot["plate"], f)), ["R", "G", "B", "A"])

    with pytest.raises(ServerError, match="no mask for region 'fg'") as err:
        client.render_sequence(_spec(shot), FRAMES, no_mask, rec.write_frame)
    assert "\n" not in str(err.value)
    assert client.server_info().open_clips == 0
    with pytest.raises(InvalidRequestError, match="twice"):
        client.render_sequence(_spec(shot), [1, 1], no_mask, rec.write_frame)
    with pytest.raises(InvalidRequestError, match="not the frames to render"):
        client.render_sequence(dict(_spec(shot), frames="1001-1010"), FRAMES, no_mask, rec.write_frame)
    assert client.server_info().open_clips == 0


def test_frame_helpers():
    assert frames_text([5, 1, 2, 3, 9, 10]) == "1-3,5,9-10"
    assert analysed_frames(range(1, 11), 4) == [1, 5, 9, 10]
    assert send_order(range(1, 11), [1, 5, 9, 10]) == [1, 5, 2, 3, 4, 9, 6, 7, 8, 10]
