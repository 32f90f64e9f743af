"""PyTorch's placement of the dims that index arrays pick, where it differs from NumPy's.

``t[0, :, [0, 1]]`` for t of shape (A, B, C): PyTorch indexes with the integer first,
``t[0][:, [0, 1]]``, of shape (B, 2); NumPy counts the integer as one more index array
and, the two being apart, puts their dim first: (2, B). So PyTorch's
``t[:, [0], :, 0]`` of a (2, 3, 5, 7) tensor has shape (2, 1, 5) where NumPy's has
(1, 2, 5), with ``None`` and ``...`` in the index too. ``ops/indexing.py`` reads and
writes such an index in two steps, as PyTorch. Outside the reading path: it is
PyTorch's convention, not backpropagation.
"""

from __future__ import annotations

from tinygrad_opt import backend


def ints_first(index) -> tuple:
    """``(first, rest)`` for an index with ints and index arrays: ``first`` keeps the ints
    and ``...`` and has full slices for every other dim (a boolean mask spans its ndim
    dims; None, which adds a dim, is left to ``rest``), ``rest`` is the index without its
    ints; ``x[first][rest]`` is PyTorch's ``x[index]``. ``(None, index)`` for any other.

    A 0-d integer array (a 0-d integer Tensor: ``x[logits.argmax()]``) is an int here, as
    in PyTorch, which selects with it: ``x[i]`` is then a view, as ``x[int(i)]``."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(map(backend.is_array, parts)):
        return None, index  # ints, slices, None, ...: NumPy's placement is PyTorch's
    ints = [_is_int(part) for part in parts]
    if not any(ints):
        return None, index
    parts = tuple(part.item() if is_int and backend.is_array(part) else part  # 0-d: an int
                  for part, is_int in zip(parts, ints))
    index = parts if isinstance(index, tuple) else parts[0]
    if not any(map(backend.is_array, parts)):
        return None, index
    first = []
    for part, is_int in zip(parts, ints):
        if is_int or part is Ellipsis:
            first.append(part)
        elif part is not None:
            spans = part.ndim if backend.is_array(part) and part.dtype == bool else 1
            first.extend([slice(None)] * spans)
    return tuple(first), tuple(part for part, is_int in zip(parts, ints) if not is_int)


def _is_int(part) -> bool:
    """An int to PyTorch: Python's (not a bool), NumPy's, or a 0-d integer array."""
    if backend.is_array(part):
        return part.ndim == 0 and part.dtype.kind in "iu"
    return isinstance(part, (int, backend.np.integer)) and not isinstance(part, bool)
