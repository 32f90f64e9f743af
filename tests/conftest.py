"""Shared fixtures.

Device-parametrised tests take the ``device`` fixture. On CI it runs each such
test on ``'cpu'`` (NumPy) and on ``'strict'`` (NumPy arrays that refuse implicit
host conversion, as CuPy does). On a GPU machine run the suite with
``pytest --device cuda`` (or ``TINYGRAD_OPT_TEST_DEVICE=cuda``) to run them on
``'cpu'`` and ``'cuda'``.
"""

import gc
import multiprocessing
import os

# One BLAS thread: on a shared 2-core machine OpenBLAS's thread pool makes the small
# matrix products of these tests 10-500x slower. Set before NumPy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run (CI must not pass or fail by chance);
# HYPOTHESIS_PROFILE=explore draws new ones, to hunt for cases the fixed draw misses.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

import tinygrad_opt as tg  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--device", default=os.environ.get("TINYGRAD_OPT_TEST_DEVICE", "strict"),
        help="the non-host device to run device-parametrised tests on: strict or cuda")


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        other = metafunc.config.getoption("--device")
        metafunc.parametrize("device", ["cpu", other])


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    tg.manual_seed(0)
    yield


@pytest.fixture
def rng():
    """A host NumPy generator for test data."""
    return np.random.default_rng(0)


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib Figures the viz helpers draw, kept for inspection (skipped without
    matplotlib, an optional extra)."""
    pytest.importorskip("matplotlib")
    from tinygrad_opt import viz
    drawn = []
    new_figure = viz._new_figure

    def keep(*args, **kwargs):
        drawn.append(new_figure(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(viz, "_new_figure", keep)
    return drawn


@pytest.fixture
def no_process_left_behind():
    """No child process alive before the test, nor after it (DataLoader workers stop)."""
    assert multiprocessing.active_children() == []
    yield
    gc.collect()
    assert multiprocessing.active_children() == []
