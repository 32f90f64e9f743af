"""Activation modules. Each docstring gives the function, its derivative and
when to reach for it; the computation itself is in ``nn.functional``.

Why activations exist: a stack of linear layers is one linear map, however
deep. A nonlinearity between them lets the network bend its decision surface.
Why the choice matters: backprop multiplies the local derivatives of every
layer, so an activation whose derivative is often far below 1 (sigmoid, tanh
when saturated) shrinks the gradient geometrically with depth (vanishing
gradients), and one whose derivative is often exactly 0 (ReLU for negative
inputs) can stop a unit from learning at all (dying ReLU). See
docs/activations.md.

``inplace=True`` (where PyTorch has it) writes the result into the input and
returns the input itself: it saves memory, and the input must not be a leaf that
requires grad (``nn.functional._in_place``).
"""

from __future__ import annotations

import warnings

from tinygrad_opt import backend
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init as nn_init
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import Tensor


def _inplace_suffix(module: Module) -> str:
    """``", inplace=True"`` when the module works in place, else nothing (PyTorch's repr)."""
    return ", inplace=True" if module.inplace else ""


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^−x).     σ'(x) = σ(x)·(1 − σ(x)) ≤ 1/4.

    Squashes to (0, 1): the output layer for a probability. As a hidden
    activation it saturates (σ' ≈ 0 for |x| ≳ 5), its derivative is at most
    1/4, and its outputs are not zero-centred, so deep sigmoid nets suffer
    vanishing gradients. Prefer ReLU-family units in hidden layers.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = (e^x − e^−x) / (e^x + e^−x).     tanh'(x) = 1 − tanh²(x) ≤ 1.

    Zero-centred (outputs in (−1, 1)), so it trains better than sigmoid as a
    hidden unit, but it still saturates for large |x| (vanishing gradients).
    Used in RNN cells; pair with Xavier initialisation (gain 5/3).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class ReLU(Module):
    """ReLU(x) = max(0, x).     ReLU'(x) = 1 for x > 0, 0 for x ≤ 0.

    The default hidden activation: cheap, no saturation for x > 0 (the
    gradient passes unchanged), sparse activations. A unit whose input is
    negative for every example gets no gradient ever again ("dying ReLU",
    e.g. after a too-large learning rate step); the leaky variants fix that.
    Pair with Kaiming initialisation (gain √2).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """LeakyReLU(x) = x for x > 0, a·x otherwise (a = ``negative_slope``).
    Derivative: 1 for x > 0, a otherwise.

    The small slope a (0.01) keeps a gradient flowing for negative inputs, so
    units cannot die.
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self)}"


class PReLU(Module):
    """PReLU(x) = x for x > 0, a·x otherwise, with the slope a *learned*
    (He et al., 2015). Derivatives: ∂y/∂x = 1 or a; ∂y/∂a = 0 for x > 0, x otherwise.

    ``num_parameters=1`` shares one slope; ``num_parameters=C`` learns one per
    channel (dim 1 of an ``(N, C, ...)`` input). ``init`` is the starting slope.
    Do not put weight decay on a: it pushes the unit towards ReLU.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        device = backend.check_device(device)
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        array = backend.get_xp(device).full((num_parameters,), init, dtype=dtype)
        self.weight = Parameter(Tensor(array, device=device))

    def reset_parameters(self) -> None:
        """Every slope back to ``init``."""
        nn_init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU (Xu et al., 2015): x for x ≥ 0, a·x otherwise.

    Training: each element draws its own slope a ~ U(lower, upper) on every
    forward (derivative a for negative inputs). Evaluation: the fixed mean
    slope a = (lower + upper)/2. The noise acts as a regulariser on top of the
    leaky ReLU's protection against dying units.
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        if lower > upper:  # (F.rrelu's check, made early; a negative lower is allowed, as PyTorch)
            raise ValueError(f"RReLU: need lower <= upper, got lower={lower}, upper={upper}")
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_suffix(self)}"


class ELU(Module):
    """ELU(x) = x for x > 0, α(e^x − 1) otherwise (Clevert et al., 2015).
    Derivative: 1 for x > 0, α·e^x = ELU(x) + α otherwise.

    Smooth, no dead units, and negative outputs (down to −α) push mean
    activations towards zero, which speeds learning; costs an exp.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self)}"


class SELU(Module):
    """SELU(x) = λ·x for x > 0, λα(e^x − 1) otherwise, λ ≈ 1.0507, α ≈ 1.6733
    (Klambauer et al., 2017). Derivative: λ for x > 0, λα·e^x otherwise.

    The constants make activations converge to zero mean and unit variance
    through depth ("self-normalising") without BatchNorm, for fully
    connected nets with LeCun-normal weights (``kaiming_normal_`` with
    ``nonlinearity='linear'``) and no ordinary dropout.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """GELU(x) = x·Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel, 2016).
    Derivative: Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).

    A smooth ReLU that weighs inputs by how likely they are to be positive;
    the usual choice in Transformers. ``approximate='tanh'`` uses
    Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³))).
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class SiLU(Module):
    """SiLU(x) = x·σ(x) (also "swish").     Derivative: σ(x)·(1 + x·(1 − σ(x))).

    Smooth, non-monotonic near 0, unbounded above like ReLU; close to GELU in
    behaviour and often a drop-in improvement over ReLU in deep nets.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """Softplus(x) = (1/β)·log(1 + e^(βx)); x itself where βx > threshold.
    Derivative: σ(βx).

    A smooth ReLU whose output is always positive: used to produce positive
    quantities (a variance, a rate). Computed stably for any x.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """Softsign(x) = x / (1 + |x|).     Derivative: 1 / (1 + |x|)².

    Like tanh with range (−1, 1), but it approaches its asymptotes
    polynomially rather than exponentially, so it saturates more gently.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Hardtanh(Module):
    """Hardtanh(x) = min(max(x, min_val), max_val).
    Derivative: 1 for min_val < x < max_val, 0 otherwise.

    A piecewise-linear tanh: cheap, bounded; zero gradient outside the range.
    ``min_value`` / ``max_value`` are PyTorch's deprecated spellings of ``min_val`` /
    ``max_val`` (given, they win, with a warning).
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        if min_value is not None:
            warnings.warn("Hardtanh: keyword argument min_value is deprecated and renamed "
                          "to min_val", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("Hardtanh: keyword argument max_value is deprecated and renamed "
                          "to max_val", FutureWarning, stacklevel=2)
            max_val = max_value
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self)}"


class ReLU6(Hardtanh):
    """ReLU6(x) = min(max(x, 0), 6), a Hardtanh on [0, 6] (as in PyTorch, a subclass).
    Derivative: 1 for 0 < x < 6, 0 otherwise, and 0 at both kinks x = 0 and x = 6.

    The cap keeps activations small enough for low-precision arithmetic; used in
    MobileNets.
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(Module):
    """Hardsigmoid(x) = 0 for x ≤ −3, 1 for x ≥ 3, (x + 3)/6 between.
    Derivative: 1/6 for −3 < x < 3, 0 otherwise, and 0 at both kinks x = ±3.

    A piecewise-linear sigmoid without an exponential: MobileNetV3's gates.
    (PyTorch's repr does not show ``inplace`` for this module; neither does ours.)
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class Hardswish(Module):
    """Hardswish(x) = x·hardsigmoid(x): 0 for x ≤ −3, x for x ≥ 3, x(x + 3)/6 between.
    Derivative: 0 for x ≤ −3, x/3 + 1/2 for −3 < x < 3, 1 for x ≥ 3 (so 0 at x = −3
    and 1 at x = 3, as PyTorch since 2.7).

    A cheap SiLU for mobile networks (Howard et al., 2019, MobileNetV3).
    (PyTorch's repr does not show ``inplace`` for this module; neither does ours.)
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)


class CELU(Module):
    """CELU(x) = x for x > 0, α(e^(x/α) − 1) otherwise (Barron, 2017); α ≠ 0.
    Derivative: 1 for x > 0, e^(x/α) otherwise: 1 at x = 0 from both sides.

    ELU with its exponent scaled by 1/α, so the derivative is continuous for
    every α (ELU's jumps from α to 1 at 0 unless α = 1).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha cannot be 0")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self)}"


class Mish(Module):
    """Mish(x) = x·tanh(softplus(x)) (Misra, 2019).
    Derivative: tanh(s) + x·σ(x)·(1 − tanh²(s)), s = softplus(x); smooth everywhere.

    A smooth, non-monotonic ReLU like SiLU, with a slightly deeper dip below 0.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    """LogSigmoid(x) = log σ(x) = −softplus(−x).     Derivative: σ(−x) = 1 − σ(x).

    Computed as min(x, 0) − log(1 + e^−|x|), finite for any x (log of a computed
    σ(−1000) = 0 would be −inf). Its negative is the logistic loss of a score x.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Threshold(Module):
    """Threshold(x) = x for x > threshold, ``value`` otherwise.
    Derivative: 1 for x > threshold, 0 otherwise (0 at x = threshold).

    ReLU is ``Threshold(0, 0)``.
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self)}"


class Hardshrink(Module):
    """Hardshrink(x) = x for |x| > λ, 0 for −λ ≤ x ≤ λ (λ = ``lambd``).
    Derivative: 1 for |x| > λ, 0 otherwise (0 at x = ±λ).

    Sets small values to exactly 0 and keeps the rest: hard thresholding, for
    sparse codes.
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """Softshrink(x) = x − λ for x > λ, x + λ for x < −λ, 0 between (λ = ``lambd`` ≥ 0).
    Derivative: 1 for |x| > λ, 0 otherwise (0 at x = ±λ).

    Soft thresholding: moves every value λ towards 0 and stops at 0, the
    proximal step of an L1 penalty (ISTA, sparse coding).
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Tanhshrink(Module):
    """Tanhshrink(x) = x − tanh(x).     Derivative: tanh²(x); smooth.

    Near 0 it is flat (≈ x³/3); far from 0 it is x ∓ 1.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class GLU(Module):
    """GLU(x) = a·σ(b), a and b the two halves of x along ``dim`` (Dauphin et al., 2017).
    Derivatives: ∂y/∂a = σ(b), ∂y/∂b = a·σ(b)(1 − σ(b)).

    A gate: σ(b) in (0, 1) says how much of a passes, and the gradient through a
    is not squashed. Shapes: (..., 2n, ...) -> (..., n, ...) along ``dim``.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _softmax_dim(module: Module, x: Tensor) -> int:
    """The module's ``dim``; for ``dim=None``, PyTorch's legacy implicit choice (with its
    deprecation warning): dim 0 for 0-, 1- and 3-D inputs, else dim 1."""
    if module.dim is not None:
        return module.dim
    name = type(module).__name__.lower()
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if x.ndim in (0, 1, 3) else 1


class Softmax(Module):
    """softmax(x)_i = e^(x_i) / Σ_j e^(x_j) along ``dim`` (default: the last).
    Jacobian: ∂y_i/∂x_j = y_i(δ_ij − y_j).

    Turns scores into a probability distribution. For training, prefer
    ``CrossEntropyLoss`` on the raw logits (or ``LogSoftmax`` + ``NLLLoss``):
    log(softmax) computed in two steps can hit log(0).

    ``dim=None`` (here, as in Softmin and LogSoftmax) picks PyTorch's legacy implicit
    dim, with its warning: 0 for 0-, 1- and 3-D inputs, else 1. The default here is -1
    (PyTorch's is None).
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, _softmax_dim(self, input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax(x)_i = x_i − log Σ_j e^(x_j) along ``dim`` (default: the last).
    Jacobian: ∂y_i/∂x_j = δ_ij − softmax(x)_j.

    Stable for any logits (logsumexp subtracts the max); feed it to
    ``NLLLoss``.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, _softmax_dim(self, input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmin(x)_i = e^(−x_i) / Σ_j e^(−x_j) = softmax(−x) along ``dim`` (default: the
    last). Jacobian: ∂y_i/∂x_j = −y_i(δ_ij − y_j).

    A distribution that puts most weight on the smallest values (distances, costs).
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, _softmax_dim(self, input))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

