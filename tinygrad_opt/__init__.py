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
from tinygrad_opt.ops.elementwise import maximum, minimum
from tinygrad_opt.functions import _checked, _method, add, div, mul, store_out, sub  # noqa: E402
from tinygrad_opt.functions import where  # noqa: E402  (also where(condition) alone)
from tinygrad_opt.functions import (all, allclose, amax, amin, any, argsort, as_tensor, bmm,
                                    broadcast_to, clone, cumprod, cumsum, detach, dot, eq,
                                    equal, from_numpy,
                                    gather, ge, gt, is_tensor, isfinite, isinf, isnan, le,
                                    log_softmax, logical_and, logical_not, logical_or, lt,
                                    masked_fill, mm, ne, neg, norm, numel, outer, pow, prod,
                                    randperm,
                                    softmax, sort, square, topk, tril, triu)
from tinygrad_opt.functions import device, matmul_into as matmul  # noqa: E402  (out=)
from tinygrad_opt.ops.math_ops import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.rearrange import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.einsum import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.statistics import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.special import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.everyday import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.surface_more import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.decompositions_more import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.legacy_types import *  # noqa: F401,F403  (FloatTensor, ...)
from tinygrad_opt import linalg as _linalg  # noqa: E402  (torch.det, ... below)
from tinygrad_opt.linalg import matrix_exp  # noqa: E402  (torch.matrix_exp)
from tinygrad_opt.linalg import cholesky_inverse, cholesky_solve  # noqa: E402
from tinygrad_opt.lobpcg import lobpcg  # noqa: E402  (torch.lobpcg)
from tinygrad_opt.ops.shape import cat, stack
from tinygrad_opt.serialization import load, save
from tinygrad_opt.random import (Generator, default_generator, get_rng_state,  # noqa: E402
                                 manual_seed, seed, set_rng_state)
from tinygrad_opt.tensor import Tensor, tensor
from tinygrad_opt.size import Size
from tinygrad_opt import testing  # noqa: E402  (torch.testing: assert_close, make_tensor)

float32 = backend.float32
float64 = backend.float64
float16 = backend.float16
int64 = backend.int64
int32 = backend.int32
int16, int8, uint8 = (backend.as_dtype(name) for name in ("int16", "int8", "uint8"))
bool_ = backend.bool_
concat = concatenate = cat  # PyTorch's other names for cat
empty_like = zeros_like  # (PyTorch's is uninitialised memory; zeros are one valid content)
initial_seed = backend.initial_seed
accelerator = cuda.accelerator  # torch.accelerator: the GPU, when there is one
backends = cuda.backends  # torch.backends.mps and .cudnn (our own is `backend`)


class inference_mode(no_grad):
    """``with tg.inference_mode():``, ``@tg.inference_mode()`` or bare ``@tg.inference_mode``:
    ``no_grad`` (PyTorch's also marks the outputs as inference tensors). As PyTorch's
    (``InferenceMode(enabled)`` sets grad mode to ``not enabled``), ``inference_mode(False)``
    (``mode=False``) turns recording on, as a block or a decorator, even inside ``no_grad``."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.value = not self.mode


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


def get_default_device() -> str:
    """Where factories, layers and host data go when no device is named: ``'cpu'`` unless
    ``set_default_device`` changed it (PyTorch's returns a ``torch.device``; ours a name)."""
    return backend.default_device


def set_default_device(device) -> None:
    """Make ``device`` (``'cpu'``, ``'cuda'``, ``'strict'``; None: ``'cpu'``) the default, as
    ``torch.set_default_device``: ``tg.zeros(3)``, ``tg.tensor([1.0])``, ``nn.Linear(2, 3)``
    made afterwards live there. A device array given to ``tg.tensor`` stays on its device,
    ``from_numpy`` is always on the CPU, and ops put results where their inputs are."""
    backend.default_device = "cpu" if device is None else backend.check_device(device)


__version__ = "0.1.0"


# Function forms of Tensor methods: ``tg.sum(input, ...)`` is ``input.sum(...)`` (with
# PyTorch's ``out=``). The same for add, mul, sort, ... in functions.py.

exp = _method("exp", "e^x, elementwise")
log = _method("log", "natural log, elementwise")
sqrt = _method("sqrt", "√x, elementwise")
sin = _method("sin", "sin x, elementwise")
cos = _method("cos", "cos x, elementwise")
tanh = _method("tanh", "tanh x, elementwise")
sigmoid = _method("sigmoid", "σ(x) = 1 / (1 + e^−x), elementwise")
relu = _method("relu", "max(x, 0), elementwise")
abs = _method("abs", "|x|, elementwise")
sign = _method("sign", "sign of x (−1, 0 or 1), elementwise")
clip = _method("clip", "x clipped to [min, max]")
clamp = _method("clamp", "x clipped to [min, max] (alias of clip)")
sum = _method("sum", "sum over dim (all elements by default)")
mean = _method("mean", "mean over dim")
var = _method("var", "variance over dim")
std = _method("std", "standard deviation over dim")
max = _method("max", "maximum over dim")
min = _method("min", "minimum over dim")
argmax = _method("argmax", "index of the maximum over dim")
argmin = _method("argmin", "index of the minimum over dim")
logsumexp = _method("logsumexp", "log Σ e^x over dim, stable")
reshape = _method("reshape", "x with a new shape, same elements")
transpose = _method("transpose", "x with two dims swapped")
permute = _method("permute", "x with its dims reordered")
squeeze = _method("squeeze", "x without its size-1 dims")
unsqueeze = _method("unsqueeze", "x with a size-1 dim inserted")
flatten = _method("flatten", "x with a range of dims merged into one")
chunk = _method("chunk", "x cut into n pieces along a dim")


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """``tensor`` cut into pieces along ``dim`` (PyTorch names the first argument
    ``tensor`` here): ``tensor.split(split_size_or_sections, dim)``."""
    return _checked(tensor, "split").split(split_size_or_sections, dim)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: the pseudo-inverse, singular values below rcond·σ_max dropped."""
    return input.pinverse(rcond)


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    """torch.lu_solve: x with A x = b, from ``LU_data, LU_pivots = tg.linalg.lu_factor(A)``.
    The right-hand side comes FIRST here, as in PyTorch's (deprecated) function;
    ``tg.linalg.lu_solve(LU, pivots, B)`` takes it last."""
    return store_out(_linalg.lu_solve(LU_data, LU_pivots, b), out, "lu_solve")


def det(input: Tensor, *, out=None) -> Tensor:
    """torch.det: the determinant of each square matrix (``tg.linalg.det``)."""
    return store_out(_linalg.det(input), out, "det")


def logdet(input: Tensor) -> Tensor:
    """torch.logdet: log det of each square matrix, NaN where det < 0 (``tg.linalg``'s)."""
    return _linalg.logdet(input)


def slogdet(input: Tensor, *, out=None):
    """torch.slogdet: ``(sign, logabsdet)`` of each square matrix (``tg.linalg.slogdet``)."""
    return store_out(_linalg.slogdet(input), out, "slogdet")


def inverse(input: Tensor, *, out=None) -> Tensor:
    """torch.inverse: the inverse of each square matrix (``tg.linalg.inv``)."""
    return store_out(_linalg.inv(input), out, "inverse")


def matrix_power(input: Tensor, n: int, *, out=None) -> Tensor:
    """torch.matrix_power: the n-th power of each square matrix (``tg.linalg``'s)."""
    return store_out(_linalg.matrix_power(input, n), out, "matrix_power")


# PyTorch's other dtype names and ``tg.nn``-style access, answered on first use: kept out of
# this module's globals, where ``float``, ``int`` and ``bool`` would hide Python's own.
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16",
                  "long": "int64", "int": "int32", "short": "int16", "bool": "bool_"}
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
    aliases = _functional_aliases()
    if name in aliases.__all__:
        return getattr(aliases, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _functional_aliases():
    """``functional_aliases.py``: PyTorch's top-level copies of ``nn.functional``
    (``tg.conv2d``, ``tg.dropout``, ...) and its settings functions. It imports ``nn``,
    which sits above this package's own modules, so it is imported when first named."""
    return importlib.import_module(f"{__name__}.functional_aliases")


def __dir__():
    return sorted(set(globals()) | set(_DTYPE_ALIASES) | set(_SUBMODULES)
                  | set(_functional_aliases().__all__))
