"""A check the tools share: is an argument a count (a whole number, 3 or 3.0)?"""

from __future__ import annotations

import numbers


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
