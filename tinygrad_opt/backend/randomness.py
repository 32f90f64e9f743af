"""The backend's randomness: one generator per array module, all seeded by ``manual_seed``.

Outside the reading path: the factories (``rand``, ``randn``, ``randint``) and the
samplers draw through these functions, which ``tinygrad_opt.backend`` re-exports
(``backend.random_uniform``, ``backend.manual_seed``, ...). Host draws come from one
NumPy ``Generator`` (and go to the strict test device as ``strict.asarray`` of them); on
CUDA the draws come from CuPy's generator, seeded by the same ``manual_seed``. The
device name has been checked by the caller (``backend.check_device``): 'cuda' means
CuPy and a GPU are there.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.backend import strict

try:  # as in backend/__init__.py: CuPy is optional
    import cupy
except Exception:
    cupy = None

# the host generator and the seed it started from: until the first manual_seed, a seed
# drawn from OS entropy (as tg.seed() draws one), so every run differs as before, yet
# initial_seed() is always an int, as PyTorch's, and manual_seed(initial_seed()) replays it
_seed = int(np.random.SeedSequence().entropy % 2**63)
_host_rng = np.random.default_rng(_seed)
seeded = False  # True once manual_seed was called: a run that chose its seed
draws = 0  # calls of the three samplers below (any generator, any device): vmap's check


def manual_seed(seed: int) -> None:
    """Seed every random source the framework uses (NumPy and, if present, CuPy)."""
    global _host_rng, _seed, seeded
    _seed, seeded = int(seed) % 2**64, True  # a negative seed wraps around, as PyTorch's
    _host_rng = np.random.default_rng(_seed)
    np.random.seed(_seed % 2**32)  # code that uses the legacy global generator
    if _has_gpu():
        cupy.random.seed(_seed)


def _has_gpu() -> bool:
    try:
        return cupy is not None and cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # a CuPy without its CUDA libraries, or no driver
        return False


def _on(array: np.ndarray, device: str):
    """A host draw moved to ``device`` ('cuda': a ``tg.Generator``'s draw)."""
    array = np.asarray(array)  # (NumPy gives a 0-d draw as a scalar)
    if device == "strict":
        return strict.asarray(array)
    return cupy.asarray(array) if device == "cuda" else array


def initial_seed() -> int:
    """The seed the host generator started from, as PyTorch's ``torch.initial_seed()``:
    the one last given to :func:`manual_seed`, or before the first ``manual_seed`` the
    seed drawn from OS entropy at import (PyTorch starts from a fixed default seed; ours
    differs per run, as NumPy's default generator does). Always an int."""
    return _seed


def random_uniform(shape, dtype, device: str, low=0.0, high=1.0, rng=None):
    """Uniform samples on [low, high) as an array of ``dtype`` on ``device``. ``rng``: a
    NumPy generator to draw from on the host instead (a ``tg.Generator``'s)."""
    _count()
    if device == "cuda" and rng is None:
        return cupy.random.uniform(low, high, size=shape).astype(dtype, copy=False)
    host = (rng or _host_rng).uniform(low, high, size=shape).astype(dtype, copy=False)
    below_high = np.minimum(host, np.nextafter(high, low, dtype=dtype))  # (rounding up to high)
    return _on(below_high, device)


def random_normal(shape, dtype, device: str, mean=0.0, std=1.0, rng=None):
    """Normal samples N(mean, std^2) as an array of ``dtype`` on ``device`` (``rng``: as
    in ``random_uniform``)."""
    _count()
    if device == "cuda" and rng is None:
        return cupy.random.normal(mean, std, size=shape).astype(dtype, copy=False)
    host = (rng or _host_rng).normal(mean, std, size=shape)
    return _on(host.astype(dtype, copy=False), device)


def random_integers(low: int, high: int, shape, device: str, rng=None):
    """Integers in [low, high) as an int64 array on ``device`` (``rng``: as above);
    an empty range is PyTorch's error."""
    _count()
    if not low < high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    if device == "cuda" and rng is None:
        return cupy.random.randint(low, high, size=shape).astype(np.int64, copy=False)
    host = (rng or _host_rng).integers(low, high, size=shape, dtype=np.int64)
    return _on(host, device)


def host_rng() -> np.random.Generator:
    """The seeded host generator (for shuffling, sampling: host-side work)."""
    return _host_rng


def _count() -> None:
    global draws
    draws += 1
