"""service.checks: limits and the announced size of raw payloads, one rule for styles and frames."""

from __future__ import annotations

import pytest

from lookgrid.errors import InvalidInputError, ResourceLimitError
from lookgrid.service.checks import Limits, check_frame_header, check_style_header, raw_payload_bytes
from lookgrid_client import pb

KEY = "sha256:" + "0" * 64


def test_raw_payload_bytes():
    assert raw_payload_bytes(pb.RAW_HALF, 4, 3, 4) == 4 * 3 * 4 * 2
    assert raw_payload_bytes(pb.RAW_FLOAT, 4, 3, 3) == 4 * 3 * 3 * 4


def test_style_header_checks():
    lim = Limits(max_style_bytes=1000)
    ok = pb.StyleHeader(sha256=KEY, encoding=pb.RAW_HALF, payload_bytes=96, width=4, height=4, channels=3)
    check_style_header(ok, lim)
    with pytest.raises(InvalidInputError, match="does not match payload_bytes 95"):
        check_style_header(pb.StyleHeader(sha256=KEY, encoding=pb.RAW_HALF, payload_bytes=95, width=4,
                                          height=4, channels=3), lim)
    with pytest.raises(ResourceLimitError, match="style limit"):
        check_style_header(pb.StyleHeader(sha256=KEY, encoding=pb.ENCODED, payload_bytes=1001), lim)
    with pytest.raises(InvalidInputError, match="sha256"):
        check_style_header(pb.StyleHeader(sha256="sha256:xyz", encoding=pb.ENCODED, payload_bytes=1), lim)


def test_frame_header_checks():
    lim = Limits(max_frame_pixels=100)
    check_frame_header(pb.FrameHeader(frame=1, encoding=pb.RAW_FLOAT, width=5, height=4,
                                      channels=list("RGB"), payload_bytes=5 * 4 * 3 * 4), lim)
    with pytest.raises(InvalidInputError, match="needs 240"):
        check_frame_header(pb.FrameHeader(frame=1, encoding=pb.RAW_FLOAT, width=5, height=4,
                                          channels=list("RGB"), payload_bytes=239), lim)
    with pytest.raises(ResourceLimitError, match="100 pixels"):
        check_frame_header(pb.FrameHeader(frame=1, encoding=pb.ENCODED, width=11, height=10), lim)
