"""Shared test settings: one thread per test process, the shared data folder."""

from pathlib import Path

import pytest
import torch

# Two cores are shared by the whole suite; more threads only add contention for tiny tensors.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is not present")
    return SHARED_DATA
