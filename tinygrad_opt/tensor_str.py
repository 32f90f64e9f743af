"""How a Tensor prints: PyTorch's text (its torch/_tensor_str.py), not NumPy's.

``repr(t)`` is ``tensor(`` + the values + the suffixes + ``)``. The values are read
once, explicitly, to the host (``backend.to_host``), so printing works on every
device and never converts implicitly. One ``_Formatter`` looks at all the values
that will be shown and picks one style and one width for all of them:

- integer and bool dtypes: ``str(value)`` (``1``, ``True``);
- floats whose finite values are all whole numbers ("int mode"): ``1.``, ``-2.``;
- other floats: ``precision`` decimals, ``0.1000``;
- scientific, ``1.0000e-05``, when the largest finite nonzero ``|value|`` is more than
  1000 times the smallest, or above 1e8, or (outside int mode) the smallest is below
  1e-4; ``set_printoptions(sci_mode=True/False)`` overrides the choice.

Every entry is right-aligned to the widest one. Rows wrap at ``linewidth``; a tensor
of more than ``threshold`` elements shows ``edgeitems`` entries at each end of every
dimension around ``...``. The suffixes, in PyTorch's order: ``device='...'`` (when not
the cpu), ``dtype=...`` (unless the default float dtype, int64 or bool), then
``grad_fn=<...>`` or ``requires_grad=True``. An empty tensor prints ``[]``, with
``size=`` unless it is 1-D and ``dtype=`` unless it has the default float dtype.
"""

from __future__ import annotations

import math

import numpy as np  # host-side: the values are formatted as a host array

from tinygrad_opt import backend


class PrintOptions:
    """The options ``set_printoptions`` changes (PyTorch's defaults)."""
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = PrintOptions()


class _Formatter:
    """One style and one width for all the ``values`` (a host array) that will be shown."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        precision = PRINT_OPTS.precision
        flat = values.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return
        shown = flat.astype(np.float64)
        nonzero_finite = shown[np.isfinite(shown) & (shown != 0)]
        if nonzero_finite.size == 0:
            return                 # only zeros, nan, inf: int mode, and sci_mode is not read
        magnitude = np.abs(nonzero_finite)
        smallest, largest = float(magnitude.min()), float(magnitude.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        numbers = nonzero_finite.tolist()
        if self.int_mode:
            # a whole number has no small digits to lose: only the spread and size count
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8
            # (the trailing dot is in the text: a whole float prints as ``1.``)
            texts = ([f"{value:.{precision}e}" for value in numbers] if self.sci_mode
                     else [f"{value:.0f}." for value in numbers])
        else:
            self.sci_mode = (largest / smallest > 1000.0 or largest > 1.0e8
                             or smallest < 1.0e-4)
            texts = [f"{value:.{precision}{'e' if self.sci_mode else 'f'}}"
                     for value in numbers]
        self.max_width = max([self.max_width] + [len(text) for text in texts])
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, value) -> str:
        """``value`` (a Python number) in this formatter's style, right-aligned."""
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{PRINT_OPTS.precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if math.isfinite(value):
                    text += "."
            else:
                text = f"{value:.{PRINT_OPTS.precision}f}"
        else:
            text = str(value)
        return text.rjust(self.max_width)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The entries a summarized print shows: ``edgeitems`` at each end of every dimension."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim == 1:
        return np.concatenate((values[:edge], values[-edge:])) if len(values) > 2 * edge \
            else values
    rows = (list(range(edge)) + list(range(len(values) - edge, len(values)))
            if len(values) > 2 * edge else range(len(values)))
    return np.stack([_summarized(values[i]) for i in rows])


def _vector_str(values: np.ndarray, indent: int, summarize: bool, formatter) -> str:
    """``[a, b, ...]``: as many entries a line as fit in ``linewidth`` after ``indent``."""
    element_length = formatter.max_width + 2           # the entry, a comma and a space
    per_line = max(1, (PRINT_OPTS.linewidth - indent) // element_length)
    edge = PRINT_OPTS.edgeitems
    if summarize and len(values) > 2 * edge:
        data = ([formatter.format(value) for value in values[:edge].tolist()] + [" ..."]
                + [formatter.format(value) for value in values[-edge:].tolist()])
    else:
        data = [formatter.format(value) for value in values.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(values: np.ndarray, indent: int, summarize: bool, formatter) -> str:
    """The values of any rank: rows one under the other, one blank line more between
    blocks of each higher dimension, each level indented one more column."""
    if values.ndim == 0:
        return formatter.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, summarize, formatter)
    edge = PRINT_OPTS.edgeitems
    if summarize and len(values) > 2 * edge:
        slices = ([_nested_str(values[i], indent + 1, summarize, formatter)
                   for i in range(edge)] + ["..."]
                  + [_nested_str(values[i], indent + 1, summarize, formatter)
                     for i in range(len(values) - edge, len(values))])
    else:
        slices = [_nested_str(row, indent + 1, summarize, formatter) for row in values]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def values_str(values: np.ndarray, indent: int) -> str:
    """The bracketed values of a host array, as PyTorch's ``_tensor_str``."""
    if values.size == 0:
        return "[]"
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    summarize = values.size > PRINT_OPTS.threshold
    formatter = _Formatter(_summarized(values) if summarize else values)
    return _nested_str(values, indent, summarize, formatter)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """``text, suffix, ...)``: a suffix that would pass ``linewidth`` starts a new line."""
    parts = [text]
    last_line_length = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_length + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_length = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_length += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_str(tensor) -> str:
    """``repr(tensor)`` as PyTorch prints it (see the module docstring)."""
    prefix = "tensor("
    indent = len(prefix)
    values = backend.to_host(tensor.data)
    suffixes = []
    if tensor.device != "cpu":
        suffixes.append(f"device='{tensor.device}'")
    default_float = np.dtype(backend.default_float)
    if values.size == 0:
        # PyTorch's rule: ``[]`` alone cannot tell a (0,) from a (2, 0) tensor, nor,
        # with no entries to read, an int from a float: so the shape (unless 1-D) and
        # every dtype but the default float show
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if values.dtype != default_float:
            suffixes.append(f"dtype={values.dtype}")
    elif values.dtype not in (default_float, np.dtype(np.int64), np.dtype(np.bool_)):
        suffixes.append(f"dtype={values.dtype}")
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name}>")
    elif tensor.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + values_str(values, indent), suffixes, indent)
