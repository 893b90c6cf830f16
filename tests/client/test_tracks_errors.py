"""track_from_samples against the backend's own Track evaluation, and the one-line error family."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest

from lookgrid_client import (IncompatibleServerError, InvalidRequestError, LookGridError, RenderCancelledError,
                             ServerError, ServerUnavailableError, spec_message, track_from_samples)


def _backend_track(track: dict):
    from lookgrid.timeline import Track

    return Track.from_dict(track)


def _bezier_like(frames, seed):
    """Values of an eased host curve (keys every 7 frames, smoothstep between): not piecewise linear."""
    rng = np.random.default_rng(seed)
    keys = {f: float(rng.uniform(0, 1)) for f in range(frames[0], frames[-1] + 8, 7)}
    ks = sorted(keys)
    out = {}
    for f in frames:
        a = max(k for k in ks if k <= f)
        b = min(k for k in ks if k > f)
        s = (f - a) / (b - a)
        out[f] = keys[a] + (keys[b] - keys[a]) * (3 * s * s - 2 * s ** 3)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eased_curve_is_exact_at_every_sampled_frame(seed):
    frames = list(range(1001, 1049))
    samples = _bezier_like(frames, seed)
    track = track_from_samples(samples)
    assert all(k["interpolation"] == "LINEAR" for k in track["keys"])
    t = _backend_track(track)
    for f in frames:
        assert t.evaluate(f) == pytest.approx(samples[f], abs=1e-12)
    # the JSON form is the proto's: it parses into a ClipSpec as a style weight
    spec_message({"regions": [{"name": "a", "styles": [{"style": "x.png", "weight": track}]}]})


def test_straight_runs_keep_only_their_ends_and_constant_drops_repeats():
    samples = [(f, 0.0 if f < 10 else min(1.0, (f - 10) / 10)) for f in range(0, 31)]
    track = track_from_samples(samples)
    assert [(k["frame"], k["value"]) for k in track["keys"]] == [(0, 0.0), (10, 0.0), (20, 1.0), (30, 1.0)]
    t = _backend_track(track)
    assert all(t.evaluate(f) == pytest.approx(v, abs=1e-12) for f, v in samples)

    steps = {f: float(f >= 5) for f in range(0, 10)}
    track = track_from_samples(steps, interpolation="constant")
    assert [(k["frame"], k["value"], k["interpolation"]) for k in track["keys"]] == [
        (0, 0.0, "CONSTANT"), (5, 1.0, "CONSTANT")]
    t = _backend_track(track)
    assert all(t.evaluate(f) == v for f, v in steps.items())
    assert track_from_samples({}) == {"keys": []}
    assert track_from_samples({3: 0.25}) == {"keys": [{"frame": 3, "value": 0.25, "interpolation": "LINEAR"}]}


@pytest.mark.parametrize("bad, words", [
    ({1: math.nan}, "not finite"), ([(1, 0.5), (1.0, 0.7)], "twice"), ([(1, "x")], "numbers"), ([3], "numbers")])
def test_bad_samples_raise_one_clear_line(bad, words):
    with pytest.raises(InvalidRequestError, match=words) as err:
        track_from_samples(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidRequestError, match="interpolation"):
        track_from_samples({1: 1.0}, interpolation="bezier")


def test_every_error_is_a_lookgrid_error_of_one_line():
    for cls in (ServerUnavailableError, IncompatibleServerError, RenderCancelledError, InvalidRequestError):
        assert issubclass(cls, LookGridError)
    err = ServerError(grpc.StatusCode.INVALID_ARGUMENT, "regions[0].mask:\n  bad\tpattern", "OpenClip")
    assert isinstance(err, LookGridError)
    assert str(err) == "OpenClip: INVALID_ARGUMENT: regions[0].mask: bad pattern"
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(LookGridError("a\nb" * 400)).count("\n") == 0 and len(str(LookGridError("x" * 900))) == 500


def test_every_blender_colour_space_maps_to_a_name_the_backends_config_knows():
    import PyOpenColorIO as ocio

    from lookgrid_client.colorspaces import BLENDER, ocio_colorspace

    config = ocio.Config.CreateFromFile("ocio://studio-config-latest")
    for blender_name, name in BLENDER.items():
        assert config.getColorSpace(name) is not None, (blender_name, name)
    assert ocio_colorspace("blender", "Linear Rec.709") == "Linear Rec.709 (sRGB)"
    with pytest.raises(InvalidRequestError, match="'Non-Color' is data, not a picture"):
        ocio_colorspace("blender", "Non-Color")
    with pytest.raises(InvalidRequestError, match="'AgX Log' has no exact counterpart.*Linear Rec.709"):
        ocio_colorspace("blender", "AgX Log")
