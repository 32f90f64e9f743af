"""Lazy modules (``nn.LazyLinear``, ...): the input size is read from the first input.

``nn.LazyLinear(10)`` is a Linear whose ``in_features`` is not known yet: its weight
and bias are ``UninitializedParameter`` s (an empty array of size ``(0,)``, as
PyTorch's; reading their ``shape`` raises, as there, so an op on one fails). The first
call reads the size from the input (``x.shape[-1]``, or the channels ``x.shape[1]`` of
a convolution or a batch norm), gives the parameters their shapes, initialises them
exactly as the ordinary class does, and turns the module into that class: after
``m(x)``, ``type(m) is nn.Linear`` (PyTorch's ``cls_to_become``). The Parameter
objects stay the same objects, so an optimizer made before the first call (as PyTorch
allows) updates the materialised ones.

Move a lazy model to its device and dtype first (``to`` works on uninitialised
parameters), then run one batch through it ("dry run"), then train.
``state_dict()`` lists the uninitialised parameters themselves; ``load_state_dict``
called on a lazy module with real values gives it their shapes and converts it.

The lazy classes: LazyLinear; LazyConv1d/2d (LazyConv3d lives in layers_extra.py);
LazyConvTranspose1d/2d/3d; LazyBatchNorm1d/2d/3d; LazyInstanceNorm1d/2d/3d.
"""

from __future__ import annotations

from itertools import chain

from tinygrad_opt import backend, factories
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn.conv import BatchNorm2d, Conv1d, Conv2d
from tinygrad_opt.nn.conv3d import BatchNorm3d, ConvTranspose3d, InstanceNorm3d
from tinygrad_opt.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d
from tinygrad_opt.nn.layers import Linear
from tinygrad_opt.nn.layers_more import InstanceNorm1d, InstanceNorm2d
from tinygrad_opt.nn.module import Module, Parameter, _shape_of
from tinygrad_opt.nn.normalization import BatchNorm1d
from tinygrad_opt.tensor import Tensor

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyModuleMixin", "LazyLinear",
           "LazyConv1d", "LazyConv2d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d"]


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet: ``shape`` raises (``size()`` gives the
    placeholder's ``(0,)``, as PyTorch's). It holds an empty array whose dtype and device
    ``Module.to`` changes as any parameter's;
    ``materialize(shape)`` gives it a zero array of ``shape`` and makes it a plain
    Parameter (the same object: ``__class__`` becomes ``cls_to_become``)."""

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        super().__init__(factories.zeros((0,), dtype=dtype, device=device), requires_grad)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Become a ``cls_to_become`` (a Parameter; a Tensor for a buffer) of ``shape``:
        zeros for an initialiser to fill, on this tensor's device and of its dtype unless
        others are given."""
        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.data = factories.zeros(shape, dtype=dtype, device=device).data
        self._version += 1
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        """Unknown until ``materialize``: reading it raises, as PyTorch's (the usual cause is
        loading an uninitialised state into an initialised module)."""
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error "
            "usually happens in `load_state_dict` when trying to load an uninitialized "
            "parameter into an initialized one. Call `forward` to initialize the parameters "
            "before accessing their attributes.")

    def size(self, dim=None):
        """The placeholder's size, ``(0,)`` (PyTorch allows ``size()``, not ``shape``)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (BatchNorm's running statistics); as
    UninitializedParameter, ``materialize(shape)`` turns it into a plain Tensor."""

    __slots__ = ()  # Tensor's layout, so that the object can become a Tensor
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        super().__init__(factories.zeros((0,), dtype=dtype, device=device),  # (its device)
                         requires_grad=requires_grad)

    materialize = UninitializedParameter.materialize
    shape = UninitializedParameter.shape
    size = UninitializedParameter.size

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"


def is_lazy(value) -> bool:
    """True for an UninitializedParameter or an UninitializedBuffer."""
    return isinstance(value, (UninitializedParameter, UninitializedBuffer))


class LazyModuleMixin:
    """The lazy behaviour, put before an ordinary layer class in the bases:
    ``class LazyLinear(LazyModuleMixin, Linear)``. A subclass defines
    ``initialize_parameters(*args)`` (materialise and reset the parameters from the
    first input) and ``cls_to_become``; the first call runs it, then the forward."""

    cls_to_become: type | None = None

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_lazy_initialized", False):  # the first call
            self._infer_parameters(args, kwargs)
        return Module.__call__(self, *args, **kwargs)  # (self may have become another class)

    def _infer_parameters(self, args: tuple, kwargs: dict) -> None:
        self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {type(self).__name__} has not been fully initialized")
        self._materialize()

    def _materialize(self) -> None:
        """Become ``cls_to_become`` (a Linear, no longer a LazyLinear); without one, stay
        and remember that the first call is done."""
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
        else:
            self._lazy_initialized = True

    def initialize_parameters(self, *args, **kwargs) -> None:
        """Give the parameters their shapes from the first input, and initialise them."""
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self) -> bool:
        """True while a parameter or buffer of this module is uninitialised."""
        return any(is_lazy(value) for value in chain(self._parameters.values(),
                                                      self._buffers.values()))

    def _save_to_state_dict(self, destination, prefix, keep_vars, **options) -> None:
        """As a Module's, but an uninitialised tensor is listed as itself (PyTorch)."""
        super()._save_to_state_dict(destination, prefix, keep_vars, **options)
        for name, value in chain(self._parameters.items(), self._buffers.items()):
            if is_lazy(value) and prefix + name in destination:
                destination[prefix + name] = value

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """A Module's ``load_state_dict``, after ``_lazy_load_hook``: the uninitialised
        tensors take the shapes of their values (one that is itself uninitialised leaves
        it so), and once none is left the module becomes ``cls_to_become``."""
        self._lazy_load_hook(state_dict, "")
        return Module.load_state_dict(self, state_dict, strict, assign)

    def _lazy_load_hook(self, state_dict, prefix: str) -> None:
        """Give each uninitialised tensor the shape of its value at ``prefix + name`` in
        ``state_dict``; when that leaves none uninitialised, read the input size from the
        weights (``in_features``, ...) and become ``cls_to_become``. A module with no
        uninitialised tensor to load (an InstanceNorm without affine or running statistics)
        stays lazy: only its first input tells its size."""
        if not self.has_uninitialized_params():
            return
        with no_grad():
            for name, value in chain(self._parameters.items(), self._buffers.items()):
                loaded = state_dict.get(prefix + name)
                if is_lazy(value) and loaded is not None and not is_lazy(loaded):
                    value.materialize(_shape_of(loaded))
        if not self.has_uninitialized_params():
            self._sizes_from_parameters()
            self._materialize()

    def _sizes_from_parameters(self) -> None:
        """Set the input size (``in_features``, ...) from the loaded parameters."""


# ---------------------------------------------------------------------------- the layers

class LazyLinear(LazyModuleMixin, Linear):
    """``nn.Linear`` whose ``in_features`` is the last size of the first input.

    ``LazyLinear(out_features, bias=True)``; after the first call it is a Linear,
    with W and b drawn as Linear draws them: U(−1/√in, 1/√in).
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """The ordinary class's initialisation, once the shapes are known (the ordinary
        ``__init__`` calls it before: it then does nothing)."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        """in_features = input.shape[-1]; W: (out, in), b: (out,). Once initialised (a
        call, a load, or this method run by hand) it does nothing, as PyTorch's."""
        if not self.has_uninitialized_params():
            return
        if input.ndim == 0:
            raise ValueError("LazyLinear: a 0-d input has no last dim to read in_features "
                             "from")
        with no_grad():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def _sizes_from_parameters(self) -> None:
        self.in_features = self.weight.shape[1]


class _LazyConvMixin(LazyModuleMixin):
    """What the lazy (transposed) convolutions share: in_channels from the input's channel
    axis."""

    spatial_dims = 1

    def _lazy_init(self, out_channels, bias, device, dtype) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """The ordinary class's initialisation, once the shapes are known (the ordinary
        ``__init__`` calls it before: it then does nothing)."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        """in_channels = input.shape[1] (batched) or input.shape[0] (unbatched);
        W: ``_weight_shape(in_channels)``, b: (out,). Nothing once initialised."""
        if not self.has_uninitialized_params():
            return
        name = type(self).__name__
        unbatched = self.spatial_dims + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"{name}: expected a {unbatched}D (unbatched) or "
                             f"{unbatched + 1}D (batched) input, got shape {input.shape}")
        in_channels = input.shape[0] if input.ndim == unbatched else input.shape[1]
        if in_channels % self.groups != 0:
            raise ValueError(f"{name}: in_channels {in_channels} (from the input of shape "
                             f"{input.shape}) must be divisible by groups {self.groups}")
        with no_grad():
            self.in_channels = in_channels
            self.weight.materialize(self._weight_shape(in_channels))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _weight_shape(self, in_channels: int) -> tuple:
        """A convolution's weight: (out, in/groups, *kernel_size)."""
        return (self.out_channels, in_channels // self.groups) + self.kernel_size

    def _sizes_from_parameters(self) -> None:
        self.in_channels = self.weight.shape[1] * self.groups


class LazyConv1d(_LazyConvMixin, Conv1d):
    """``nn.Conv1d`` whose ``in_channels`` is read from the first input ``(N, C, L)``
    or ``(C, L)``; after the first call it is a Conv1d, initialised as Conv1d."""

    cls_to_become = Conv1d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv2d(_LazyConvMixin, Conv2d):
    """``nn.Conv2d`` whose ``in_channels`` is read from the first input ``(N, C, H, W)``
    or ``(C, H, W)``; after the first call it is a Conv2d, initialised as Conv2d."""

    cls_to_become = Conv2d
    spatial_dims = 2

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class _LazyNormMixin(LazyModuleMixin):
    """What the lazy batch and instance norms share: num_features = the input's channel
    size, ``input.shape[_channel_dim(input)]``; γ, β only with ``affine``, the running
    statistics only with ``track_running_stats`` (both True by default, as PyTorch's)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(0, eps, momentum, False, False, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = factories.zeros((), dtype=backend.int64, device=device)

    def reset_parameters(self) -> None:
        """The ordinary class's initialisation, once the shapes are known (the ordinary
        ``__init__`` calls it before: it then does nothing)."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _channel_dim(self, input: Tensor) -> int:
        """The input's channel axis: 1 of (N, C, ...)."""
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input (N, C, ...) to read "
                             f"num_features from, got shape {input.shape}")
        return 1

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        """num_features = C, the input's channel size; γ, β, running mean and variance:
        (C,). Nothing once initialised (a norm without γ, β and running statistics is
        still to initialise while its num_features is 0: it has nothing uninitialised)."""
        if self.num_features != 0 and not self.has_uninitialized_params():
            return
        num_features = input.shape[self._channel_dim(input)]
        with no_grad():
            self.num_features = num_features
            for tensor in (self.weight, self.bias, self.running_mean, self.running_var):
                if is_lazy(tensor):
                    tensor.materialize((self.num_features,))
            self.reset_parameters()

    def _sizes_from_parameters(self) -> None:
        present = [t for t in (self.weight, self.running_mean) if t is not None]
        if present:
            self.num_features = present[0].shape[0]


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """``nn.BatchNorm1d`` whose ``num_features`` is read from the first input ``(N, C)``
    or ``(N, C, L)``: ``LazyBatchNorm1d(eps, momentum, affine, track_running_stats)``."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """``nn.BatchNorm2d`` whose ``num_features`` is read from the first input
    ``(N, C, H, W)``: ``LazyBatchNorm2d(eps, momentum, affine, track_running_stats)``."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    """``nn.BatchNorm3d`` whose ``num_features`` is read from the first input
    ``(N, C, D, H, W)``: ``LazyBatchNorm3d(eps, momentum, affine, track_running_stats)``."""

    cls_to_become = BatchNorm3d

    def _channel_dim(self, input: Tensor) -> int:
        """The channel axis 1 of the only input BatchNorm3d takes, (N, C, D, H, W)."""
        if input.ndim != 5:
            raise ValueError(f"LazyBatchNorm3d: expected a 5D input (N, C, D, H, W) to read "
                             f"num_features from, got shape {input.shape}")
        return 1


class _LazyInstanceNormMixin(_LazyNormMixin):
    """What LazyInstanceNorm1d, 2d and 3d share: num_features = C of a batched input
    ``(N, C, *spatial)`` or of an unbatched one ``(C, *spatial)``. The defaults are
    PyTorch's lazy ones, ``affine=True, track_running_stats=True`` (the ordinary
    InstanceNorm's are False)."""

    def _channel_dim(self, input: Tensor) -> int:
        """1 for a batched input, 0 for an unbatched one (``spatial`` is the eager class's
        number of spatial dims)."""
        unbatched = self.spatial + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"{type(self).__name__}: expected a {unbatched}D (unbatched) or "
                             f"{unbatched + 1}D (batched) input, got shape {input.shape}")
        return 0 if input.ndim == unbatched else 1


class LazyInstanceNorm1d(_LazyInstanceNormMixin, InstanceNorm1d):
    """``nn.InstanceNorm1d`` whose ``num_features`` is read from the first input
    ``(N, C, L)`` or ``(C, L)``:
    ``LazyInstanceNorm1d(eps, momentum, affine=True, track_running_stats=True)``."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNormMixin, InstanceNorm2d):
    """``nn.InstanceNorm2d`` whose ``num_features`` is read from the first input
    ``(N, C, H, W)`` or ``(C, H, W)``:
    ``LazyInstanceNorm2d(eps, momentum, affine=True, track_running_stats=True)``."""

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNormMixin, InstanceNorm3d):
    """``nn.InstanceNorm3d`` whose ``num_features`` is read from the first input
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``:
    ``LazyInstanceNorm3d(eps, momentum, affine=True, track_running_stats=True)``."""

    cls_to_become = InstanceNorm3d


class _LazyConvTransposeMixin(_LazyConvMixin):
    """What LazyConvTranspose1d, 2d and 3d share: a lazy convolution whose weight has
    PyTorch's transposed layout (in, out/groups, *kernel_size), and their arguments (those
    of ConvTransposeNd without ``in_channels``)."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)

    def _lazy_init(self, out_channels, bias, device, dtype) -> None:
        if out_channels % self.groups != 0:  # (the ordinary __init__ saw out_channels = 0)
            raise ValueError(f"{type(self).__name__}: out_channels {out_channels} must be "
                             f"divisible by groups {self.groups}")
        super()._lazy_init(out_channels, bias, device, dtype)

    def _weight_shape(self, in_channels: int) -> tuple:
        """A transposed convolution's weight: (in, out/groups, *kernel_size)."""
        return (in_channels, self.out_channels // self.groups) + self.kernel_size

    def _sizes_from_parameters(self) -> None:
        self.in_channels = self.weight.shape[0]


class LazyConvTranspose1d(_LazyConvTransposeMixin, ConvTranspose1d):
    """``nn.ConvTranspose1d`` whose ``in_channels`` is read from the first input
    ``(N, C, L)`` or ``(C, L)``; after the first call it is a ConvTranspose1d, initialised
    as ConvTranspose1d."""

    cls_to_become = ConvTranspose1d
    spatial_dims = 1


class LazyConvTranspose2d(_LazyConvTransposeMixin, ConvTranspose2d):
    """``nn.ConvTranspose2d`` whose ``in_channels`` is read from the first input
    ``(N, C, H, W)`` or ``(C, H, W)``; after the first call it is a ConvTranspose2d,
    initialised as ConvTranspose2d."""

    cls_to_become = ConvTranspose2d
    spatial_dims = 2


class LazyConvTranspose3d(_LazyConvTransposeMixin, ConvTranspose3d):
    """``nn.ConvTranspose3d`` whose ``in_channels`` is read from the first input
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``; after the first call it is a
    ConvTranspose3d, initialised as ConvTranspose3d."""

    cls_to_become = ConvTranspose3d
    spatial_dims = 3
