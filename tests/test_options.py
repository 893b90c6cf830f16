"""lookgrid.commands.options: the shared --device / --model options and size parsing; timing."""

from __future__ import annotations

import argparse

import pytest

from lookgrid.cli import main
from lookgrid.commands.bench.timing import time_call
from lookgrid.commands.options import add_device_option, add_model_option, parse_size, parse_sizes
from lookgrid.errors import InvalidInputError


def test_parse_size():
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size(" 64X32 ") == (64, 32)
    assert parse_sizes("1920x1080,3840x2160") == [(1920, 1080), (3840, 2160)]
    for bad in ["1920", "axb", "10x10x10", ""]:
        with pytest.raises(InvalidInputError, match="--size must be WIDTHxHEIGHT"):
            parse_size(bad)
    with pytest.raises(InvalidInputError, match="between 16 and 8192"):
        parse_size("8x8", lo=16, hi=8192)
    with pytest.raises(InvalidInputError, match="--sizes"):
        parse_sizes("1920x1080,nope")


def test_device_and_model_options_default_to_auto_and_shipped():
    p = argparse.ArgumentParser()
    add_device_option(p)
    add_model_option(p)
    args = p.parse_args([])
    assert args.device is None and args.model is None  # None = auto / the shipped weights
    assert p.parse_args(["--device", "cuda:1"]).device == "cuda:1"  # checked when the command starts


@pytest.mark.parametrize("argv", [["serve", "--device", "banana"],
                                  ["bench", "analyze", "--device", "banana"]])
def test_unknown_device_is_one_clear_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown device 'banana'" in err[0]


def test_time_call_counts_runs_and_warms_up():
    calls = []
    t = time_call(lambda: calls.append(1), 5)
    assert len(calls) == 6 and 0 <= t.min_ms <= t.median_ms and t.cpu_ms >= 0
    assert set(t.as_dict()) == {"median_ms", "min_ms", "cpu_ms"}
