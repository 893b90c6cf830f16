import pytest
import torch


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def identity_net():
    from lookgrid.model.network import LookGridNet

    torch.manual_seed(0)
    return LookGridNet().eval()
