import pytest
import torch


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def identity_net():
    from lookgrid.model.network import LookGridNet

    torch.manual_seed(0)
    return LookGridNet({"prior": "identity"}).eval()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These tests run small tensors; on the shared 2-core machine torch's 2-thread pool spends far
    more time waiting for descheduled threads than computing (measured: predict_grids 34 ms with 1
    thread vs ~1 s with 2 under load). Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
