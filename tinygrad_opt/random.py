"""``tg.Generator`` and ``tg.random``: random number generators as PyTorch's.

The framework draws from one seeded generator (seeded in ``backend``;
``tg.manual_seed`` returns it as ``tg.default_generator``, PyTorch's). A ``Generator`` is a generator of its own, for a stream that other
draws do not disturb: ``g = tg.Generator().manual_seed(0)`` then
``tg.randn(3, generator=g)``, ``random_split(..., generator=g)``,
``DataLoader(..., generator=g)``. It wraps a NumPy generator (``numpy_rng``) and
draws on the host, also for tensors on ``cuda`` (copied there).
"""

from __future__ import annotations

import contextlib

from tinygrad_opt import backend
from tinygrad_opt._checks import seed64

__all__ = ["Generator", "default_generator", "manual_seed", "initial_seed", "seed",
           "get_rng_state", "set_rng_state", "fork_rng"]

initial_seed = backend.initial_seed  # torch.random.initial_seed


class Generator:
    """A random number generator of its own, PyTorch's ``torch.Generator``.

    ``manual_seed(s)`` reseeds it and returns it; ``seed()`` reseeds it from OS
    entropy and returns the seed; ``initial_seed()`` is the seed last set;
    ``get_state()`` / ``set_state(state)`` save and restore where it is.
    """

    def __init__(self, device: str = "cpu"):
        self.device = backend.check_device(device)
        self.seed()

    def manual_seed(self, seed: int) -> "Generator":
        """Start over from ``seed``; returns the generator, as PyTorch.

        ``seed`` is any integer (a NumPy integer too) in [−2⁶³, 2⁶⁴): as PyTorch, a
        negative one is read as the unsigned 64-bit number with the same bits
        (−1 → 2⁶⁴ − 1, which ``initial_seed`` then gives back)."""
        self._seed = seed64(seed, "Generator.manual_seed", " (Overflow when unpacking long)")
        self.numpy_rng = backend.np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new seed."""
        fresh = int(backend.np.random.SeedSequence().entropy % 2**63)
        self.manual_seed(fresh)
        return fresh

    def initial_seed(self) -> int:
        """The seed last given (by ``manual_seed`` or ``seed``)."""
        return self._seed

    def get_state(self) -> dict:
        """Where the generator is: a dict to give to ``set_state`` later."""
        return {"seed": self._seed, "bit_generator": self.numpy_rng.bit_generator.state}

    def set_state(self, state: dict) -> "Generator":
        """Go back to a state from ``get_state``; returns the generator."""
        self._seed = state["seed"]
        self.numpy_rng.bit_generator.state = state["bit_generator"]
        return self

    def __repr__(self) -> str:
        return f"Generator(device='{self.device}', initial_seed={self._seed})"


class _DefaultGenerator(Generator):
    """The framework's own generator as a ``Generator`` (PyTorch's
    ``torch.default_generator``): not a stream of its own but a view of the one that
    ``backend.manual_seed`` seeds, so drawing from it (``generator=tg.default_generator``)
    is drawing without a generator, and reseeding it reseeds the framework."""

    def __init__(self):
        self.device = "cpu"

    @property
    def numpy_rng(self):
        """The framework's host generator (a new one after each ``manual_seed``)."""
        return backend.host_rng()

    @property
    def _seed(self):  # (what ``initial_seed`` and ``repr`` read)
        return backend.initial_seed()

    def manual_seed(self, seed: int) -> "Generator":
        """``tg.manual_seed(seed)``; returns this generator."""
        return manual_seed(seed)

    def seed(self) -> int:
        """``tg.seed()``: reseed the framework from OS entropy; returns the seed."""
        return seed()

    def get_state(self) -> dict:
        """``tg.get_rng_state()``."""
        return get_rng_state()

    def set_state(self, state: dict) -> "Generator":
        """``tg.set_rng_state(state)``; returns this generator."""
        set_rng_state(state)
        return self


default_generator = _DefaultGenerator()


def manual_seed(seed: int) -> Generator:
    """Seed every random source of the framework (``backend.manual_seed``: NumPy's and,
    if present, CuPy's generators); returns ``default_generator``, as PyTorch's
    ``torch.manual_seed``, so that ``tg.manual_seed(0).initial_seed()`` is 0."""
    backend.manual_seed(seed)
    return default_generator


def seed() -> int:
    """Seed the framework's generator from OS entropy (``torch.seed``); returns the seed."""
    fresh = int(backend.np.random.SeedSequence().entropy % 2**63)
    backend.manual_seed(fresh)
    return fresh


def get_rng_state() -> dict:
    """The framework's host generator's state (``torch.get_rng_state``), for
    ``set_rng_state``. (CuPy's generator on ``cuda`` is not included.)"""
    return {"seed": backend.initial_seed(), "bit_generator": backend.host_rng().bit_generator.state}


def set_rng_state(state: dict) -> None:
    """Put the framework's host generator back where ``get_rng_state`` found it."""
    backend.host_rng().bit_generator.state = state["bit_generator"]


@contextlib.contextmanager
def fork_rng(enabled: bool = True):
    """Within the block, draw as you like: afterwards the framework's host generator is
    where it was (``torch.random.fork_rng``)."""
    saved = get_rng_state() if enabled else None
    try:
        yield
    finally:
        if enabled:
            set_rng_state(saved)
