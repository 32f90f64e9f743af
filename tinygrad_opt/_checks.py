"""Checks the tools share: is an argument a count (a whole number, 3 or 3.0)? a 64-bit
seed? a lazy module's placeholder?"""

from __future__ import annotations

import numbers
import operator


def whole_number(value, minimum: int = 1) -> bool:
    """True for a real number with a whole value of at least ``minimum``: 3, 3.0 and
    ``np.int64(3)``; not True, 2.5, inf, NaN, None or '3' (``int()`` of those would raise
    its own error, which names no argument)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return int(value) == value and value >= minimum
    except (OverflowError, ValueError):  # inf, NaN
        return False


def seed64(seed, caller: str, note: str = "") -> int:
    """``seed`` as a 64-bit seed: any integer in [−2⁶³, 2⁶⁴), a negative one read as the
    unsigned number with the same bits (as PyTorch: −1 → 2⁶⁴ − 1). ``caller`` names the
    function in the errors; ``note`` ends the range error."""
    if isinstance(seed, bool) or not hasattr(type(seed), "__index__"):
        raise TypeError(f"{caller}: seed must be an int, got {seed!r}")
    seed = operator.index(seed)
    if not -2**63 <= seed < 2**64:
        raise RuntimeError(f"{caller}: seed {seed} is out of the range [-2**63, 2**64) of a "
                           f"64-bit seed{note}")
    return seed % 2**64


def is_uninitialized(tensor) -> bool:
    """True for a lazy module's UninitializedParameter or UninitializedBuffer (nn/lazy.py):
    the Tensors with ``materialize(shape)``, asked by that method, not by class (nn.lazy
    imports the package that imports the modules asking)."""
    return callable(getattr(type(tensor), "materialize", None))
