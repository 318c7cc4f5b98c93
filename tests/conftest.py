import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Two test workers share two cores; more torch threads each only wait on each other (~50x
    slower on tiny models). Tests about threading set their own count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
