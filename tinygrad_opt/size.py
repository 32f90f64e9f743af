"""``Size``: a tensor's shape, PyTorch's ``torch.Size``."""

from __future__ import annotations

import math


class Size(tuple):
    """What ``x.shape`` and ``x.size()`` return: a tuple of ints that compares, unpacks,
    slices and adds as any tuple (``x.shape == (2, 3)``), and whose type tells PyTorch's
    legacy constructors a shape from values: ``tg.FloatTensor(x.shape)`` is a tensor of
    that shape, ``tg.FloatTensor((2, 3))`` the two values. Its repr is the tuple's,
    ``(2, 3)`` (PyTorch prints ``torch.Size([2, 3])``)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``()``)."""
        return math.prod(self)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))
