"""tinygrad_opt: a from-scratch autograd micro-framework for learning how deep nets train.

    import tinygrad_opt as tg
    from tinygrad_opt import nn, optim
    import tinygrad_opt.nn.functional as F

Reading order: docs/reading-order.md.
"""

from tinygrad_opt import backend, cuda
from tinygrad_opt.autograd.anomaly import detect_anomaly
from tinygrad_opt.autograd.engine import grad
from tinygrad_opt.autograd.functional import hessian, hvp
from tinygrad_opt.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_opt.autograd.grad_mode import (enable_grad, is_grad_enabled, no_grad,
                                             set_grad_enabled)
from tinygrad_opt.factories import (arange, empty, eye, full, full_like, linspace, ones,
                                    ones_like, rand, rand_like, randint, randn, randn_like,
                                    zeros, zeros_like)
from tinygrad_opt.ops.elementwise import maximum, minimum, where
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.shape import cat, stack
from tinygrad_opt.serialization import load, save
from tinygrad_opt.tensor import Tensor, tensor

float32 = backend.float32
float64 = backend.float64
float16 = backend.float16
int64 = backend.int64
int32 = backend.int32
bool_ = backend.bool_
manual_seed = backend.manual_seed

__version__ = "0.1.0"


def _elementwise_function(method):
    def function(x, *args, **kwargs):
        return getattr(x, method)(*args, **kwargs)
    function.__name__ = method
    function.__doc__ = f"``tg.{method}(x, ...)`` is ``x.{method}(...)``."
    return function


exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, sign, clip, clamp = (
    _elementwise_function(name) for name in
    ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sign", "clip",
     "clamp"))
sum, mean, var, std, max, min, argmax, argmin, logsumexp = (
    _elementwise_function(name) for name in
    ("sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "logsumexp"))
reshape, transpose, permute, squeeze, unsqueeze, flatten, split, chunk = (
    _elementwise_function(name) for name in
    ("reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "split", "chunk"))
