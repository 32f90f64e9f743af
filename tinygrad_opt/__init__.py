"""tinygrad_opt: a from-scratch autograd micro-framework for learning how deep nets train.

    import tinygrad_opt as tg
    from tinygrad_opt import nn, optim
    import tinygrad_opt.nn.functional as F

Reading order: docs/reading-order.md.
"""

import importlib

from tinygrad_opt import backend, cuda
from tinygrad_opt.autograd.anomaly import detect_anomaly
from tinygrad_opt.autograd.functional import grad, hessian, hvp
from tinygrad_opt.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_opt.autograd.grad_mode import (enable_grad, is_grad_enabled, no_grad,
                                             set_grad_enabled)
from tinygrad_opt.factories import (arange, empty, eye, full, full_like, linspace, ones,
                                    ones_like, rand, rand_like, randint, randn, randn_like,
                                    zeros, zeros_like)
from tinygrad_opt.ops.elementwise import maximum, minimum, where
from tinygrad_opt.functions import add, div, mul, sub  # noqa: E402
from tinygrad_opt.functions import (all, allclose, amax, amin, any, argsort, as_tensor, bmm,
                                    broadcast_to, clone, cumprod, cumsum, detach, dot, eq,
                                    equal, from_numpy,
                                    gather, ge, gt, is_tensor, isfinite, isinf, isnan, le,
                                    log_softmax, logical_and, logical_not, logical_or, lt,
                                    masked_fill, mm, ne, neg, norm, numel, outer, pow, prod,
                                    randperm,
                                    softmax, sort, square, topk, tril, triu)
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.math_ops import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.rearrange import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.einsum import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.statistics import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.special import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.everyday import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.linalg import det, logdet, matrix_power, slogdet  # noqa: E402  (torch.det, ...)
from tinygrad_opt.linalg import inv as inverse  # noqa: E402  (torch.inverse)
from tinygrad_opt.linalg import matrix_exp  # noqa: E402  (torch.matrix_exp)
from tinygrad_opt.linalg import cholesky_inverse, cholesky_solve, lu_solve  # noqa: E402
from tinygrad_opt.ops.shape import cat, stack
from tinygrad_opt.serialization import load, save
from tinygrad_opt.random import Generator, get_rng_state, seed, set_rng_state  # noqa: E402
from tinygrad_opt.tensor import Tensor, tensor

float32 = backend.float32
float64 = backend.float64
float16 = backend.float16
int64 = backend.int64
int32 = backend.int32
bool_ = backend.bool_
manual_seed = backend.manual_seed
concat = concatenate = cat  # PyTorch's other names for cat
empty_like = zeros_like  # (PyTorch's is uninitialised memory; zeros are one valid content)
inference_mode = no_grad  # (PyTorch's also marks the outputs as inference tensors)
initial_seed = backend.initial_seed


def get_default_dtype():
    """The default float dtype, float32 unless ``set_default_dtype`` changed it: the dtype
    of Python floats made tensors, of factories and layers without a dtype and of integer
    -> float results (true division, ``exp`` of ints, ``mean`` of ints), as PyTorch's."""
    return backend.default_float


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float16, float32 or float64) the default float dtype, as
    ``torch.set_default_dtype``: for everything made afterwards (tensors and parameters
    made before keep theirs). ``set_default_dtype(tg.float64)`` is the usual way to run a
    whole model in double precision, e.g. for gradient checks."""
    dtype = backend.as_dtype(_DTYPE_ALIASES.get(dtype, dtype) if isinstance(dtype, str)
                             else dtype)
    if dtype not in (backend.float16, backend.float32, backend.float64):
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type (float16, float32, float64), got {dtype}")
    backend.default_float = dtype


__version__ = "0.1.0"


# Function forms of Tensor methods: ``tg.sum(x, ...)`` is ``x.sum(...)``.


def exp(x: Tensor, *args, **kwargs):
    """e^x, elementwise: ``x.exp(...)``."""
    return x.exp(*args, **kwargs)


def log(x: Tensor, *args, **kwargs):
    """natural log, elementwise: ``x.log(...)``."""
    return x.log(*args, **kwargs)


def sqrt(x: Tensor, *args, **kwargs):
    """√x, elementwise: ``x.sqrt(...)``."""
    return x.sqrt(*args, **kwargs)


def sin(x: Tensor, *args, **kwargs):
    """sin x, elementwise: ``x.sin(...)``."""
    return x.sin(*args, **kwargs)


def cos(x: Tensor, *args, **kwargs):
    """cos x, elementwise: ``x.cos(...)``."""
    return x.cos(*args, **kwargs)


def tanh(x: Tensor, *args, **kwargs):
    """tanh x, elementwise: ``x.tanh(...)``."""
    return x.tanh(*args, **kwargs)


def sigmoid(x: Tensor, *args, **kwargs):
    """σ(x) = 1 / (1 + e^−x), elementwise: ``x.sigmoid(...)``."""
    return x.sigmoid(*args, **kwargs)


def relu(x: Tensor, *args, **kwargs):
    """max(x, 0), elementwise: ``x.relu(...)``."""
    return x.relu(*args, **kwargs)


def abs(x: Tensor, *args, **kwargs):
    """|x|, elementwise: ``x.abs(...)``."""
    return x.abs(*args, **kwargs)


def sign(x: Tensor, *args, **kwargs):
    """sign of x (−1, 0 or 1), elementwise: ``x.sign(...)``."""
    return x.sign(*args, **kwargs)


def clip(x: Tensor, *args, **kwargs):
    """x clipped to [min, max]: ``x.clip(...)``."""
    return x.clip(*args, **kwargs)


def clamp(x: Tensor, *args, **kwargs):
    """x clipped to [min, max] (alias of clip): ``x.clamp(...)``."""
    return x.clamp(*args, **kwargs)


def sum(x: Tensor, *args, **kwargs):
    """sum over dim (all elements by default): ``x.sum(...)``."""
    return x.sum(*args, **kwargs)


def mean(x: Tensor, *args, **kwargs):
    """mean over dim: ``x.mean(...)``."""
    return x.mean(*args, **kwargs)


def var(x: Tensor, *args, **kwargs):
    """variance over dim: ``x.var(...)``."""
    return x.var(*args, **kwargs)


def std(x: Tensor, *args, **kwargs):
    """standard deviation over dim: ``x.std(...)``."""
    return x.std(*args, **kwargs)


def max(x: Tensor, *args, **kwargs):
    """maximum over dim: ``x.max(...)``."""
    return x.max(*args, **kwargs)


def min(x: Tensor, *args, **kwargs):
    """minimum over dim: ``x.min(...)``."""
    return x.min(*args, **kwargs)


def argmax(x: Tensor, *args, **kwargs):
    """index of the maximum over dim: ``x.argmax(...)``."""
    return x.argmax(*args, **kwargs)


def argmin(x: Tensor, *args, **kwargs):
    """index of the minimum over dim: ``x.argmin(...)``."""
    return x.argmin(*args, **kwargs)


def logsumexp(x: Tensor, *args, **kwargs):
    """log Σ e^x over dim, stable: ``x.logsumexp(...)``."""
    return x.logsumexp(*args, **kwargs)


def reshape(x: Tensor, *args, **kwargs):
    """x with a new shape, same elements: ``x.reshape(...)``."""
    return x.reshape(*args, **kwargs)


def transpose(x: Tensor, *args, **kwargs):
    """x with two dims swapped: ``x.transpose(...)``."""
    return x.transpose(*args, **kwargs)


def permute(x: Tensor, *args, **kwargs):
    """x with its dims reordered: ``x.permute(...)``."""
    return x.permute(*args, **kwargs)


def squeeze(x: Tensor, *args, **kwargs):
    """x without its size-1 dims: ``x.squeeze(...)``."""
    return x.squeeze(*args, **kwargs)


def unsqueeze(x: Tensor, *args, **kwargs):
    """x with a size-1 dim inserted: ``x.unsqueeze(...)``."""
    return x.unsqueeze(*args, **kwargs)


def flatten(x: Tensor, *args, **kwargs):
    """x with a range of dims merged into one: ``x.flatten(...)``."""
    return x.flatten(*args, **kwargs)


def split(x: Tensor, *args, **kwargs):
    """x cut into pieces along a dim: ``x.split(...)``."""
    return x.split(*args, **kwargs)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: the pseudo-inverse, singular values below rcond·σ_max dropped."""
    return input.pinverse(rcond)


def chunk(x: Tensor, *args, **kwargs):
    """x cut into n pieces along a dim: ``x.chunk(...)``."""
    return x.chunk(*args, **kwargs)


# PyTorch's other dtype names and ``tg.nn``-style access, answered on first use: kept out of
# this module's globals, where ``float``, ``int`` and ``bool`` would hide Python's own.
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16",
                  "long": "int64", "int": "int32", "bool": "bool_"}
_SUBMODULES = ("data", "datasets", "diagnostics", "distributed", "distributions", "ensemble",
               "experiments", "func", "linalg", "metrics", "models", "nn", "ops", "optim",
               "preprocessing", "random", "special", "train", "tune", "utils", "viz")


def __getattr__(name: str):
    """``tg.float``, ``tg.long``, ... (PyTorch's aliases: float32, int64, ...) and the
    subpackages, imported when first named: ``tg.nn.Linear``, ``tg.optim.Adam``."""
    if name in _DTYPE_ALIASES:
        return globals()[_DTYPE_ALIASES[name]]
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_DTYPE_ALIASES) | set(_SUBMODULES))
