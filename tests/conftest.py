import pytest
import torch

from course_lib.runtime import seed_everything


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state and two threads, as a learner's laptop."""
    seed_everything(0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
