"""PyTorch's power of integers, where NumPy raises: ``a ** b`` with a negative integer
exponent ``b`` in a tensor. PyTorch's integer kernel gives 1/a^|b| truncated toward
zero: 1 for a = 1, ±1 for a = −1 (by the parity of b), and 0 for every other a
(a = 0 too). A negative Python-number exponent is PyTorch's error instead
("Integers to negative integer powers are not allowed"), checked in ``elementwise.pow``.
"""

from __future__ import annotations

from tinygrad_opt import backend


def integer_power(a, b):
    """``a ** b`` for two integer arrays (broadcastable), with PyTorch's negative powers."""
    xp = backend.xp_of(a)
    power = a ** xp.maximum(b, 0)  # NumPy raises on a negative integer power: none left
    one_over = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(b < 0, one_over, power).astype(power.dtype, copy=False)
