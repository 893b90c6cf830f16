"""lookgrid.imaging.sequence: patterns, ranges, discovery and gap reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookgrid.errors import InvalidInputError, MissingFramesError
from lookgrid.imaging import FrameSequence, format_frame_ranges, parse_frame_range


def test_frame_ranges():
    assert parse_frame_range("1001-1005") == [1001, 1002, 1003, 1004, 1005]
    assert parse_frame_range("1001-1009x2") == [1001, 1003, 1005, 1007, 1009]
    assert parse_frame_range("1001-1010x4") == [1001, 1005, 1009]
    assert parse_frame_range("7") == [7]
    assert parse_frame_range("1-3, 10, 20-30x5") == [1, 2, 3, 10, 20, 25, 30]
    assert parse_frame_range("-3--1") == [-3, -2, -1]
    assert parse_frame_range("5-5,3") == [3, 5]
    for bad in ["", "a-b", "10-1", "1-10x0", "1-10y2", "1,,2"]:
        with pytest.raises(InvalidInputError):
            parse_frame_range(bad)
    assert format_frame_ranges([5, 1, 2, 3, 8, 9]) == "1-3, 5, 8-9"


@pytest.mark.parametrize("pattern,frame,expected", [
    ("/s/shot.%04d.exr", 1001, "/s/shot.1001.exr"),
    ("/s/shot.%04d.exr", 7, "/s/shot.0007.exr"),
    ("/s/shot.%d.exr", 7, "/s/shot.7.exr"),
    ("shot.####.exr", 7, "shot.0007.exr"),        # one # per digit (Nuke/Blender)
    ("shot.#.exr", 7, "shot.7.exr"),
    ("shot.########.exr", 1001, "shot.00001001.exr"),
    ("shot.@@@.exr", 7, "shot.007.exr"),
    ("shot.@.exr", 1001, "shot.1001.exr"),
    ("shot.####.exr", 12345, "shot.12345.exr"),   # padding is a minimum, as printf
    ("shot.####.exr", -5, "shot.-005.exr"),
    ("dir.v2/plate_%05d_final.dpx", 42, "dir.v2/plate_00042_final.dpx"),
])
def test_patterns(pattern: str, frame: int, expected: str):
    seq = FrameSequence.parse(pattern, [frame])
    assert seq.path(frame) == expected
    assert seq.frames == (frame,)


def test_plain_file_is_one_frame_and_bad_patterns_are_refused(tmp_path: Path):
    single = FrameSequence.parse("/a/plate.exr", "1")
    assert single.is_single_file and single.path(1) == "/a/plate.exr" and len(single) == 1
    assert FrameSequence.parse("/a/plate.exr", [1001]).frames == (1001,)
    with pytest.raises(InvalidInputError, match="single file"):
        FrameSequence.parse("/a/plate.exr", "1-3")
    with pytest.raises(InvalidInputError, match="more than one"):
        FrameSequence.parse("/a/shot.####.v%02d.exr", "1")
    with pytest.raises(MissingFramesError):
        FrameSequence.parse(str(tmp_path / "nothing.exr"))  # discovery of a missing plain file


def test_discovery_and_gaps(tmp_path: Path):
    for f in [1001, 1002, 1004, 1005, 1009, 1010]:
        (tmp_path / f"shot.{f:04d}.exr").write_bytes(b"x")
    # decoys: other padding, other names, other extension
    for name in ["shot.01003.exr", "shot.103.exr", "shots.1003.exr", "shot.1003.exr.tmp",
                 "shot.1003.png", "shot.abcd.exr"]:
        (tmp_path / name).write_bytes(b"x")
    seq = FrameSequence.parse(str(tmp_path / "shot.####.exr"))
    assert seq.frames == (1001, 1002, 1004, 1005, 1009, 1010)
    assert FrameSequence.parse(str(tmp_path / "shot.%04d.exr")).frames == seq.frames
    assert FrameSequence.parse(str(tmp_path / "shot.@@@@.exr")).frames == seq.frames
    assert FrameSequence.parse(str(tmp_path / "shot.%d.exr")).frames == (103,) + seq.frames
    full = FrameSequence.parse(str(tmp_path / "shot.####.exr"), "1001-1010")
    assert full.missing() == [1003, 1006, 1007, 1008]
    with pytest.raises(MissingFramesError) as info:
        full.check_exists()
    msg = str(info.value)
    assert "4 of 10 frames" in msg and "1003, 1006-1008" in msg and "shot.####.exr" in msg
    ok = FrameSequence.parse(str(tmp_path / "shot.####.exr"), "1001-1005x4")
    assert ok.check_exists() is ok and ok.frames == (1001, 1005)
    assert ok.with_frames([7, 3]).frames == (3, 7)
    with pytest.raises(MissingFramesError, match="no frames"):
        FrameSequence.parse(str(tmp_path / "other.####.exr"))


def test_shared_beachball_sequence(shared_data: Path):
    seq = FrameSequence.parse(str(shared_data / "exr/Beachball/singlepart.####.exr"))
    assert seq.frames == tuple(range(1, 9))
    with pytest.raises(MissingFramesError, match="9-10"):
        FrameSequence.parse(str(shared_data / "exr/Beachball/singlepart.####.exr"),
                            "1-10").check_exists()
    multi = FrameSequence.parse(str(shared_data / "exr/Beachball/multipart.%04d.exr"))
    assert multi.frames == (1, 7)
