"""Same pixels before and after a restructure: a fixed generated clip rendered with every method,
stride 1 and 2, the grid-space blend, an analysis chunk and an open clip fed out of order and
updated (``tests/same_pixels_clip.py`` says what each case is), compared with references that the
code before the engine/service restructure produced (``tests/data/same_pixels.npz``).

Exact equality: the original code was run twice and gave bit-identical float32 outputs in every case,
so any difference is a change of behaviour, not noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import same_pixels_clip as clip

REFERENCES = Path(__file__).parent / "data" / "same_pixels.npz"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return clip.render_cases(tmp_path_factory.mktemp("same_pixels"))


@pytest.fixture(scope="module")
def references():
    return clip.load(REFERENCES)


def test_the_cases_cover_every_method_of_the_engine(references):
    from lookgrid.engine.methods import METHOD_NAMES

    assert set(clip.METHODS) == set(METHOD_NAMES)
    assert {f"{m}-s{s}" for m in METHOD_NAMES for s in (1, 2)} <= set(references)


def test_every_case_gives_the_same_pixels(rendered, references):
    assert set(rendered) == set(references)
    bad = []
    for name, (ref_hashes, ref_thumbs) in sorted(references.items()):
        hashes, thumbs = rendered[name]
        if hashes != ref_hashes:
            diff = float(np.abs(thumbs - ref_thumbs).max())
            frames = [f for f, a, b in zip(clip.FRAMES, hashes, ref_hashes) if a != b]
            bad.append(f"{name}: frames {frames} differ (thumbnails up to {diff:.3g} apart)")
    assert not bad, "; ".join(bad)


def test_the_references_tell_the_cases_apart(references):
    """Guards against a clip so bland that every method gives the same picture."""
    firsts = {name: hashes[-1] for name, (hashes, _) in references.items()
              if name.endswith("-s1")}
    assert len(set(firsts.values())) == len(firsts)
    assert references["lookgrid-s1"][0][1:] != references["lookgrid-s2"][0][1:]
