"""hostrender: a host's job spec from what it read, and EXR results written all together or not
at all, with the storage-form spec beside them."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from client_files import read_exr
from lookgrid_client import FrameIn, InvalidRequestError, LookGridClient, ServerError
from lookgrid_client.hostrender import RegionLook, build_spec, render_to_files
from lookgrid_client.output import frame_path

FRAMES = [1001, 1002, 1003]


def _looks(shot):
    return [RegionLook("fg", "inline", [(shot["warm"], {f: 1.0 - (f - 1001) / 2 for f in FRAMES}),
                                        (shot["cool"], {f: (f - 1001) / 2 for f in FRAMES})], {1001: 0.5, 1003: 1.0}),
            RegionLook("background", "", [(shot["cool"], None)])]


def _reader(shot, fail_at=None):
    def read(f):
        if f == fail_at:
            raise InvalidRequestError(f"mask frame {f} is missing")
        return FrameIn(f, read_exr(frame_path(shot["plate"], f)), ["R", "G", "B", "A"],
                       masks={"fg": read_exr(frame_path(shot["mask"], f))[..., 0]})
    return read


def test_build_spec_checks_what_the_host_read(shot):
    spec = build_spec(_looks(shot), input_colorspace="ACEScg", method="per-frame", stride=2)
    assert spec["method"] == "per-frame" and spec["stride"] == 2 and spec["inputColorspace"] == "ACEScg"
    assert spec["smooth"] == 0.0  # host jobs are causal, whichever way their frames travel
    fg, bg = spec["regions"]
    assert fg["mask"] == "inline" and "mask" not in bg and "weight" not in bg["styles"][0]
    assert [k["value"] for k in fg["styles"][0]["weight"]["keys"]] == [1.0, 0.0]
    with pytest.raises(InvalidRequestError, match="at least one region"):
        build_spec([], input_colorspace="ACEScg")
    with pytest.raises(InvalidRequestError, match="region 'x' has no reference image"):
        build_spec([RegionLook("x")], input_colorspace="ACEScg")
    with pytest.raises(InvalidRequestError, match="reference image /nope.png does not exist"):
        build_spec([RegionLook("x", styles=[("/nope.png", None)])], input_colorspace="ACEScg")


def test_results_and_storage_spec_or_nothing(live_server, shot, tmp_path):
    spec = build_spec(_looks(shot), input_colorspace="ACEScg")
    out = str(tmp_path / "graded" / "shot.####.exr")
    with LookGridClient(live_server[1]) as client:
        with pytest.raises(InvalidRequestError, match="mask frame 1002"):
            render_to_files(client, spec, FRAMES, _reader(shot, fail_at=1002), out,
                            storage_input=shot["plate"], storage_masks={"fg": shot["mask"]})
        assert not (tmp_path / "graded").exists(), "a failed render leaves nothing behind"
        with pytest.raises(InvalidRequestError, match="inline masks but no mask pattern"):
            render_to_files(client, spec, FRAMES, _reader(shot), out, storage_input=shot["plate"])
        assert not (tmp_path / "graded").exists()

        result, paths, spec_path = render_to_files(client, spec, FRAMES, _reader(shot), out,
                                                   storage_input=shot["plate"], storage_masks={"fg": shot["mask"]})
        assert paths == [frame_path(out, f) for f in FRAMES] and result.frames == FRAMES
        assert sorted(os.listdir(tmp_path / "graded")) == ["lookgrid_spec.json"] + [os.path.basename(p) for p in paths]
        assert "latest" not in json.loads((tmp_path / "graded" / "lookgrid_spec.json").read_text())["config"]
        job = json.loads(open(spec_path).read())
        assert job["input"] == shot["plate"] and job["output"] == out and job["frames"] == "1001-1003"
        assert job["regions"][0]["mask"] == shot["mask"] and job["regions"][0]["styles"][0]["style"] == shot["warm"]
        for p in paths:
            px = read_exr(p)
            assert px.shape == (40, 56, 4) and np.isfinite(px).all()
        with pytest.raises(ServerError):  # the clip is closed: nothing of it lingers on the server
            client.close_clip(result.clip_id)


def test_by_path_results_move_all_together_and_a_cancel_leaves_nothing(live_server, shot, tmp_path):
    from lookgrid_client import RenderCancelledError, storage_spec
    from lookgrid_client.hostrender import render_by_path_to_files

    root = live_server[2]
    spec = storage_spec(build_spec(_looks(shot), input_colorspace="ACEScg"), input=shot["plate"],
                        output=str(root / "byp" / "g.####.exr"), masks={"fg": shot["mask"]})
    spec["frames"] = "1001-1003"
    final = str(tmp_path / "final" / "f.####.exr")
    seen = []
    with LookGridClient(live_server[1]) as client:
        with pytest.raises(RenderCancelledError, match="cancelled after 1 of 3"):
            render_by_path_to_files(client, spec, FRAMES, final, progress=lambda d, t: seen.append((d, t)),
                                    cancel=lambda: len(seen) >= 1)
        assert not (tmp_path / "final").exists() and not list((root / "byp").glob("*.exr"))
        result, paths = render_by_path_to_files(client, spec, FRAMES, final)
        assert paths == [frame_path(final, f) for f in FRAMES] and all(os.path.isfile(p) for p in paths)
        assert not list((root / "byp").glob("*.exr")), "the server's own copies are removed"
        assert all(s["style"].startswith("sha256:") for s in result.spec["regions"][0]["styles"])


def _by_path_spec(shot, root, name):
    from lookgrid_client import storage_spec

    spec = storage_spec(build_spec(_looks(shot), input_colorspace="ACEScg"), input=shot["plate"],
                        output=str(root / name / "g.####.exr"), masks={"fg": shot["mask"]})
    spec["frames"] = "1001-1003"
    return spec


def test_a_by_path_render_resumes_from_the_frames_a_cancelled_run_finished(live_server, shot, tmp_path):
    """Issue 24 item 10: frames go in chunks the server commits; a cancel keeps the finished chunks
    (recorded with their size and time), a rerun of the same job renders only the rest, and the
    cancel is acknowledged (the server has stopped) before it returns."""
    from lookgrid_client import RenderCancelledError
    from lookgrid_client.hostrender import render_by_path_to_files

    root = live_server[2]
    spec = _by_path_spec(shot, root, "resume")
    final = str(tmp_path / "final" / "f.####.exr")
    seen, phases = [], []
    with LookGridClient(live_server[1]) as client:
        with pytest.raises(RenderCancelledError) as info:
            render_by_path_to_files(client, spec, FRAMES, final, progress=lambda d, t: seen.append(d),
                                    cancel=lambda: len(seen) >= 2, chunk=1)
        assert "did not confirm" not in str(info.value)
        assert client.server_info().open_clips == 0          # acknowledged: the server stopped
        kept = sorted(p.name for p in (root / "resume").glob("*.exr"))
        assert kept[0] == "g.1001.exr" and (root / "resume" / "lookgrid_done.json").exists()
        assert not (tmp_path / "final").exists()
        again = []
        result, paths = render_by_path_to_files(client, spec, FRAMES, final, progress=lambda d, t: again.append(d),
                                                phase=phases.append, chunk=1)
        assert again[0] >= 2 and again[-1] == 3, again           # frame 1001 was not rendered again
        assert any(p.startswith("resuming: ") for p in phases) and "rendering" in phases
        assert paths == [frame_path(final, f) for f in FRAMES]
        assert not list((root / "resume").glob("*")), "moved into place: nothing is kept"
        fresh = str(tmp_path / "fresh" / "f.####.exr")
        render_by_path_to_files(client, _by_path_spec(shot, root, "fresh"), FRAMES, fresh)
        for f in FRAMES:      # the resumed sequence has the pixels of one run
            np.testing.assert_array_equal(read_exr(frame_path(final, f)), read_exr(frame_path(fresh, f)))


def test_a_by_path_render_has_a_deadline_per_frame_not_per_sequence(live_server, shot, tmp_path):
    """Item 10: the whole stream no longer shares one deadline; each frame has its own, and one
    that runs past it is named (finished chunks stay for a rerun)."""
    from lookgrid_client.hostrender import render_by_path_to_files

    root = live_server[2]
    with LookGridClient(live_server[1], stream_timeout=0.5) as client:
        # a 0.5 s stream deadline no longer cuts a sequence off: frames have their own
        render_by_path_to_files(client, _by_path_spec(shot, root, "long"), FRAMES, str(tmp_path / "a" / "f.####.exr"),
                                frame_timeout=120)
        with pytest.raises(ServerError, match=r"DEADLINE_EXCEEDED: frame \d+ of the call did not finish within"):
            render_by_path_to_files(client, _by_path_spec(shot, root, "short"), FRAMES,
                                    str(tmp_path / "b" / "f.####.exr"), frame_timeout=0.0001)
        assert not (tmp_path / "b").exists()
