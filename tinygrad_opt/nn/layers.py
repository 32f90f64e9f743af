"""Layers with weights or structure: Linear, Dropout, Residual, ResidualBlock, Maxout."""

from __future__ import annotations

from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.activation import ReLU
from tinygrad_opt.nn.module import Identity, Module, empty_parameter
from tinygrad_opt.nn.normalization import BatchNorm1d
from tinygrad_opt.tensor import Tensor


class Linear(Module):
    """Fully connected layer: ``y = x @ Wᵀ + b``.

    Shapes: x ``(..., in_features)`` -> y ``(..., out_features)``; the weight W is
    ``(out_features, in_features)`` and b is ``(out_features,)``, PyTorch's
    layout, so weights copy over from PyTorch models unchanged.

    Initialisation is PyTorch's default: W ~ U(−1/√in, 1/√in) (this is
    ``kaiming_uniform_(W, a=√5)``: gain √(2/6) times √(3/in)) and
    b ~ U(−1/√in, 1/√in). Call ``nn.init`` functions afterwards for another
    scheme (Kaiming normal for ReLU nets, Xavier for tanh nets).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in_features), device, dtype)
        self.register_parameter("bias", empty_parameter((out_features,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)  # U(±1/√in_features), as PyTorch

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)  # (..., in) -> (..., out)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _DropoutNd(Module):
    """PyTorch's common base of the dropout layers (Dropout, Dropout1d/2d/3d, AlphaDropout,
    FeatureAlphaDropout): the drop probability ``p`` and ``inplace``. The layers are
    siblings, as in PyTorch: a Dropout2d is not a Dropout, so ``isinstance(m, nn.Dropout)``
    picks out only element-wise dropout, and ``isinstance(m, _DropoutNd)`` every kind."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=True" if self.inplace else f"p={self.p}"


class Dropout(_DropoutNd):
    """Inverted dropout: in training, zero each element with probability ``p`` and
    scale the rest by ``1/(1−p)``; in evaluation, the identity.

    Each step trains a random thinned network; the scaling keeps every
    activation's expected value, so the full network at test time needs no
    correction. A regulariser against co-adapted features (overfitting).
    ``inplace=True`` writes the result into the input (``F.dropout``).
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Residual(Module):
    """``y = x + module(x)``: a skip connection around ``module``.

    The identity path gives ``dy/dx = I + d module/dx``, so the gradient reaches
    earlier layers even when the module's own Jacobian is tiny: the fix for
    vanishing gradients in deep nets (He et al., 2016). ``module`` must keep
    the shape of its input.
    """

    def __init__(self, module: Module):
        super().__init__()
        self.module = module

    def forward(self, input: Tensor) -> Tensor:
        return input + self.module(input)


class ResidualBlock(Module):
    """A ready two-layer residual block for MLPs::

        y = x + fc2(activation(norm(fc1(x))))

    ``fc1``: features -> hidden, ``norm``: BatchNorm1d(hidden) (Identity when
    ``norm=False``), ``fc2``: hidden -> features. The skip path is a clean
    identity (no activation after the sum), so stacking many blocks keeps the
    gradient's size even with saturating activations such as sigmoid.
    ``activation`` is a Module class (``nn.ReLU``) or an instance.
    """

    def __init__(self, features: int, hidden: int | None = None, activation=ReLU,
                 norm: bool = True):
        super().__init__()
        hidden = features if hidden is None else hidden
        self.fc1 = Linear(features, hidden)
        self.norm = BatchNorm1d(hidden) if norm else Identity()
        self.activation = activation if isinstance(activation, Module) else activation()
        self.fc2 = Linear(hidden, features)

    def forward(self, input: Tensor) -> Tensor:
        h = self.fc1(input)          # (N, hidden)
        h = self.activation(self.norm(h))
        return input + self.fc2(h)   # (N, features)


class Maxout(Module):
    """Maxout unit (Goodfellow et al., 2013): ``y_j = max_k (x @ W_kᵀ + b_k)_j``.

    A Linear to ``out_features * pieces`` values, viewed as
    ``(..., out_features, pieces)``, then the max over the pieces. A learned
    piecewise-linear convex activation: it never saturates and cannot die (one
    piece always passes the gradient), and ReLU and leaky ReLU are special
    cases; the price is ``pieces`` times the weights.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2):
        super().__init__()
        if pieces < 1:
            raise ValueError(f"Maxout: pieces must be at least 1, got {pieces}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        self.linear = Linear(in_features, out_features * pieces)

    def forward(self, input: Tensor) -> Tensor:
        return F.maxout(self.linear(input), self.pieces)  # (..., out * pieces) -> (..., out)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}")
