"""Normalisation layers: BatchNorm1d (statistics over the batch), LayerNorm (over
each sample's features) and GroupNorm (over each sample's groups of channels)."""

from __future__ import annotations

import numbers

from tinygrad_opt import backend
from tinygrad_opt.factories import zeros
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.module import Module, empty_parameter
from tinygrad_opt.tensor import Tensor


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015): PyTorch's common base of BatchNorm1d,
    BatchNorm2d, BatchNorm3d and SyncBatchNorm, which differ only in the input shapes
    they accept (``_check_input``). They are siblings, as in PyTorch: a BatchNorm2d is not
    a BatchNorm1d, so ``isinstance(m, nn.BatchNorm1d)`` in an init function picks out
    only the 1-D ones, and ``isinstance(m, _BatchNorm)`` every one.

    Per channel c, over the batch (and every dim after C)::

        y = (x − μ_B) / √(σ²_B + eps) · γ + β

    with the batch mean μ_B and the *biased* batch variance σ²_B in training.
    The running estimates used in evaluation are updated each training step
    with the *unbiased* variance, exactly as PyTorch::

        running_mean ← (1 − momentum)·running_mean + momentum·μ_B
        running_var  ← (1 − momentum)·running_var  + momentum·σ²_B·n/(n − 1)

    ``momentum=None`` uses a cumulative moving average instead: momentum =
    1/num_batches_tracked, so the running values are the plain mean of all
    batch statistics seen. With ``track_running_stats=False`` there are no
    running estimates and batch statistics are used in evaluation too.

    Why it helps: each layer sees inputs of a stable scale whatever the
    weights before it do, which allows larger learning rates and keeps
    sigmoid/tanh units out of saturation (a fix for vanishing gradients).
    Parameters: γ = ``weight`` (ones), β = ``bias`` (zeros), shape ``(C,)``.
    """

    # The state-dict layout of PyTorch's norm layers: version 2 added num_batches_tracked,
    # so a state dict of version 1 (or of none) without it keeps the count (PyTorch 2.x).
    _version = 2
    _state_kept_when_missing = {"num_batches_tracked": 2}

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        register_norm_state(self, num_features, eps, momentum, affine, track_running_stats,
                            device, dtype)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, x: Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must check its input shape")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] = self.num_batches_tracked.data + 1
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / self.num_batches_tracked.item()
        # Batch statistics in training, and always when there are no running ones.
        use_batch_stats = self.training or self.running_mean is None
        # Hand F.batch_norm the running buffers in evaluation (to read them) and,
        # in training, only when they are tracked (it then updates them in place).
        update = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if update else None,
            self.running_var if update else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation for inputs ``(N, C)`` or ``(N, C, L)``: per channel c, the
    statistics over the batch (and L), ``y = (x − μ_B) / √(σ²_B + eps) · γ + β``
    (:class:`_BatchNorm` has the running estimates and the modes)."""

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) input, "
                             f"got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: input of shape {x.shape} has {x.shape[1]} channels, "
                             f"the layer was built for {self.num_features}")


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the last dims ``normalized_shape``::

        y = (x − μ) / √(σ² + eps) · γ + β

    with μ and the biased σ² of each sample's trailing ``normalized_shape``
    values. Unlike BatchNorm it does not depend on the batch (the same in
    training and evaluation, fine with batch size 1). γ (``weight``, ones) and
    β (``bias``, zeros) have shape ``normalized_shape`` when
    ``elementwise_affine``.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):  # NumPy's ints too, as PyTorch
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(size) for size in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        if elementwise_affine:
            self.weight = empty_parameter(self.normalized_shape, device, dtype)
            if bias:
                self.bias = empty_parameter(self.normalized_shape, device, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018) for inputs ``(N, C, *)``::

        y = (x − μ) / √(σ² + eps) · γ + β

    with μ and the biased σ² of each sample's group of C/G channels, taken over
    (C/G, *spatial) (see :func:`F.group_norm`). G = 1 is LayerNorm over
    (C, *) with per-channel γ, β; G = C is InstanceNorm. Like LayerNorm it does
    not depend on the batch. γ (``weight``, ones) and β (``bias``, zeros) have
    shape ``(C,)`` when ``affine``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels {num_channels} must be divisible by "
                             f"num_groups {num_groups}")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        if affine:
            self.weight = empty_parameter((num_channels,), device, dtype)
            self.bias = empty_parameter((num_channels,), device, dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        # Without γ and β nothing ties the layer to num_channels: PyTorch then takes any
        # channel count that num_groups divides (F.group_norm checks that).
        if input.ndim < 2 or (self.affine and input.shape[1] != self.num_channels):
            raise ValueError(f"GroupNorm: input of shape {input.shape} does not have the "
                             f"{self.num_channels} channels (N, C, *) the layer was built for")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


def register_norm_state(module: Module, num_features: int, eps: float, momentum, affine: bool,
                        track_running_stats: bool, device, dtype) -> None:
    """The state BatchNorm and InstanceNorm share: the options, γ = ``weight`` and
    β = ``bias`` of shape ``(C,)`` when ``affine`` (else None), and the running statistics
    ``running_mean``, ``running_var``, ``num_batches_tracked`` when tracked (else None).
    All start at zero; each layer's own reset gives them their first values."""
    module.num_features = num_features
    module.eps = eps
    module.momentum = momentum
    module.affine = affine
    module.track_running_stats = track_running_stats
    if affine:
        module.weight = empty_parameter((num_features,), device, dtype)
        module.bias = empty_parameter((num_features,), device, dtype)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    if track_running_stats:
        module.register_buffer("running_mean", zeros((num_features,), dtype=dtype, device=device))
        module.register_buffer("running_var", zeros((num_features,), dtype=dtype, device=device))
        count = zeros((), dtype=backend.int64, device=device)
        module.register_buffer("num_batches_tracked", count)
    else:
        module.register_buffer("running_mean", None)
        module.register_buffer("running_var", None)
        module.register_buffer("num_batches_tracked", None)
