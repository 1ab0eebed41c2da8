"""Shared fixtures. The reference samples live in ../shared/data beside the repo; tests needing them skip
when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_dir(shared_data: Path):
    """``shared_dir(name, marker="")``: ``../shared/data/<name>``, skipping the test when it (or the file
    ``marker`` inside it) is absent."""

    def find(name: str, marker: str = "") -> Path:
        p = shared_data / name
        if not ((p / marker).is_file() if marker else p.is_dir()):
            pytest.skip(f"../shared/data/{name} is absent")
        return p

    return find


@pytest.fixture(scope="session")
def cog_sample(shared_dir) -> Path:
    return shared_dir("cog-official-sample")


@pytest.fixture(scope="session")
def clevr_sample(shared_dir) -> Path:
    return shared_dir("clevr-official-engine-sample")


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from 2 intra-op threads, and `pytest -n 2` already uses both cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _no_flush_denormal_leak():
    """Commands under test turn on flush-to-zero for speed (vrkit.models.perf.cpu_speedups); left on, it makes
    hypothesis refuse to run (it checks that subnormal floats exist) in whatever test comes next in the process."""
    yield
    import torch

    torch.set_flush_denormal(False)
