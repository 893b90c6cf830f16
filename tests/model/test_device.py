"""lookgrid.model.device.resolve_device: one rule for every --device and the engine."""

from __future__ import annotations

import pytest
import torch

from lookgrid.errors import InvalidInputError
from lookgrid.model.device import resolve_device


def test_auto_and_defaults():
    expected = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("auto") == expected
    assert resolve_device(" AUTO ") == expected
    assert resolve_device(None) == expected
    assert resolve_device("") == expected
    assert resolve_device(None, default="cpu") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu0", "cuda:x", "banana"])
def test_unknown_names_raise_one_clear_error(name):
    with pytest.raises(InvalidInputError, match="unknown device"):
        resolve_device(name)


def test_unsupported_type_raises():
    with pytest.raises(InvalidInputError, match="not supported"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
@pytest.mark.parametrize("name", ["cuda", "cuda:1", torch.device("cuda:0")])
def test_cuda_without_gpu_raises(name):
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        resolve_device(name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_index_beyond_count_raises():
    n = torch.cuda.device_count()
    assert resolve_device(f"cuda:{n - 1}") == torch.device(f"cuda:{n - 1}")
    with pytest.raises(InvalidInputError, match="CUDA GPU"):
        resolve_device(f"cuda:{n}")
