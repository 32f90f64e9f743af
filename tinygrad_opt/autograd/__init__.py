"""Autograd: the switches, the graph an op records, and the backward pass over it.

The order to read the files in is docs/reading-order.md (the project's one reading order).

``tg.autograd`` offers ``torch.autograd``'s names: ``grad``, ``backward``, ``Function``,
``gradcheck``, ``gradgradcheck``, the grad-mode switches, ``detect_anomaly``,
``set_detect_anomaly`` and the submodules ``functional`` (``jacobian``, ``hessian``,
``vjp``, ``jvp``, ``vhp``, ``hvp``), ``forward_ad`` (dual tensors: forward mode) and
``graph`` (``Node``: ``grad_fn.next_functions``).
"""

from tinygrad_opt.autograd.anomaly import (detect_anomaly, is_anomaly_check_nan_enabled,
                                           is_anomaly_enabled, set_detect_anomaly)
from tinygrad_opt.autograd import forward_ad, functional, graph
from tinygrad_opt.autograd.torch_style import (  # the core one, and PyTorch's ctx style
    Function, once_differentiable)
from tinygrad_opt.autograd.functional import backward, grad  # engine.grad, PyTorch's options
from tinygrad_opt.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_opt.autograd.grad_mode import (enable_grad, is_grad_enabled, no_grad,
                                             set_grad_enabled)

__all__ = ["Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
           "forward_ad", "functional", "grad", "graph", "gradcheck", "gradgradcheck",
           "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
           "once_differentiable", "set_detect_anomaly", "set_grad_enabled"]
