"""One parameter's optimizer state, set up on first use: the zero-started arrays.

Every first-order rule keeps running averages per parameter (Adam's m and v,
RMSprop's v, ...), each starting at 0 the first time the rule sees the
parameter. :func:`state_arrays` makes them, in the order the rule names them,
and hands them back on later steps.

It is a module of its own so that the readable rules (``sgd.py``, ``adam.py``,
...) and their compiled twins (``fused.py``, ``fused_cpu.py``) share this one
set-up: ``optimizer.py`` imports ``fused.py``, so the twins cannot import
from ``optimizer.py`` without an import circle; this module imports neither.
"""

from tinygrad_opt import backend


def state_arrays(state: dict, theta, *names: str) -> list:
    """``[state[name] for name in names]``: one parameter's state arrays, each made
    the first time it is asked for, as zeros of θ's shape, dtype and device (the
    running averages of every rule start at 0). The rule writes them in place
    (``m *= beta1``, ``m[...] = ...``), so they carry over to the next step."""
    for name in names:
        if name not in state:
            state[name] = backend.xp_of(theta).zeros_like(theta)
    return [state[name] for name in names]
