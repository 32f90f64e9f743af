"""The last of PyTorch's ``torch.nn`` names: ``RNNCellBase`` (the base class of the
three cells, to subclass for a cell of one's own), the deprecated ``Container`` and
``NLLLoss2d`` (each with PyTorch's warning), and two namespaces, registered as
sub-modules (as ``os.path`` is) so that both the attribute and the import work:

* ``parameter``: ``torch.nn.parameter`` (``from tinygrad_opt.nn.parameter import
  Parameter``): ``Parameter``, ``UninitializedParameter``, ``UninitializedBuffer``,
  ``is_lazy``;
* ``grad``: ``torch.nn.grad``, the two gradients of a convolution (defined in
  ``nn/functional_surface.py``).

Names, arguments, defaults, parameter names and reprs are PyTorch's.
"""

from __future__ import annotations

import sys
import warnings

from tinygrad_opt.nn.functional_surface import grad
from tinygrad_opt.nn.lazy import UninitializedBuffer, UninitializedParameter, is_lazy
from tinygrad_opt.nn.loss import NLLLoss
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.nn.recurrent import _CellBase

__all__ = ["RNNCellBase", "Container", "NLLLoss2d", "parameter", "grad"]


class _RNNCellBaseType(type):
    """Makes ``isinstance(nn.LSTMCell(2, 3), nn.RNNCellBase)`` true, as in PyTorch: the
    built-in cells derive from ``recurrent._CellBase``, the class RNNCellBase extends."""

    def __instancecheck__(cls, instance) -> bool:
        if cls is RNNCellBase:
            return isinstance(instance, _CellBase)
        return super().__instancecheck__(instance)

    def __subclasscheck__(cls, subclass) -> bool:
        if cls is RNNCellBase:
            return issubclass(subclass, _CellBase)
        return super().__subclasscheck__(subclass)


class RNNCellBase(_CellBase, metaclass=_RNNCellBaseType):
    """The parameters of a recurrent cell with ``num_chunks`` gates G::

        weight_ih (G·H, input_size)   weight_hh (G·H, H)   bias_ih, bias_hh (G·H,)

    all initialised U(−1/√H, 1/√H) by ``reset_parameters`` (H = ``hidden_size``);
    ``bias=False`` registers the biases as None. A subclass writes ``forward``
    (RNNCell has G = 1, GRUCell 3, LSTMCell 4).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks, device, dtype)


class Container(Module):
    """Deprecated (``nn.Module`` does all it did): a Module whose keyword arguments are
    its sub-modules, ``Container(fc=nn.Linear(2, 3))``."""

    def __init__(self, **kwargs):
        super().__init__()
        warnings.warn("nn.Container is deprecated. All of it's functionality is now "
                      "implemented in nn.Module. Subclass that instead.", FutureWarning,
                      stacklevel=2)
        for name, module in kwargs.items():
            self.add_module(name, module)


class NLLLoss2d(NLLLoss):
    """Deprecated: ``NLLLoss``, which takes (N, C, H, W) inputs itself."""

    def __init__(self, weight=None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean"):
        warnings.warn("NLLLoss2d has been deprecated. Please use NLLLoss instead as a "
                      "drop-in replacement.", stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class parameter:
    """``torch.nn.parameter``: the Parameter classes and ``is_lazy``."""

    Parameter = Parameter
    UninitializedParameter = UninitializedParameter
    UninitializedBuffer = UninitializedBuffer
    is_lazy = staticmethod(is_lazy)


sys.modules[f"{__package__}.parameter"] = parameter
