"""Issue 24 item 6: the path mapping between a workstation and a render server, applied both ways."""

from __future__ import annotations

import pytest

from lookgrid_client import InvalidRequestError
from lookgrid_client.pathmap import PathMap


def test_prefixes_map_both_ways_by_whole_components_longest_first():
    m = PathMap.parse("/Volumes/shots = /mnt/shots\n/Volumes/shots/vfx = /srv/vfx")
    assert m.to_server("/Volumes/shots/a/plate.%04d.exr") == "/mnt/shots/a/plate.%04d.exr"
    assert m.to_server("/Volumes/shots/vfx/b.exr") == "/srv/vfx/b.exr"          # the longer prefix wins
    assert m.to_server("/Volumes/shots2/c.exr") == "/Volumes/shots2/c.exr"      # not a whole component
    assert m.to_host("/mnt/shots/a/g.1001.exr") == "/Volumes/shots/a/g.1001.exr"
    assert m.to_server("/elsewhere/x.exr") == "/elsewhere/x.exr"


def test_windows_prefixes_match_either_slash_and_case():
    m = PathMap.parse("S:\\shots = /mnt/shots; \\\\nas\\vfx = /mnt/vfx")
    assert m.to_server("s:/Shots/x/y.exr") == "/mnt/shots/x/y.exr"
    assert m.to_server("S:\\shots\\x\\y.exr") == "/mnt/shots/x/y.exr"
    assert m.to_host("/mnt/shots/x/y.exr") == "S:\\shots\\x\\y.exr"
    assert m.to_host("/mnt/vfx/z.exr") == "\\\\nas\\vfx\\z.exr"


def test_a_bad_entry_is_one_line_and_empty_means_none():
    assert not PathMap.parse("") and not PathMap.parse(" ; \n")
    with pytest.raises(InvalidRequestError, match="path mapping '/a': write it as"):
        PathMap.parse("/a")
