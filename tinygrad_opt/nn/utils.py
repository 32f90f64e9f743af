"""Gradient clipping, flat parameter vectors, weight penalties, and three namespaces.

``clip_grad_norm_`` and ``clip_grad_value_`` edit ``.grad`` in place between
``backward()`` and ``optimizer.step()``: the classic fix for exploding
gradients (``get_total_norm`` and ``clip_grads_with_norm_`` are its two halves).
The penalties return differentiable Tensors to add to a loss.

The namespaces are PyTorch's sub-modules of ``torch.nn.utils``, written as classes
here and registered as sub-modules (as ``os.path`` is), so both
``nn.utils.rnn.pad_sequence`` and ``from tinygrad_opt.nn.utils.rnn import
pad_sequence`` work:

* ``rnn``: ``PackedSequence`` and packing (the code lives in ``nn/recurrent.py``);
* ``prune``: pruning a parameter with a mask, ``weight = weight_orig · weight_mask``;
* ``stateless``: ``functional_call`` (the same as ``tinygrad_opt.func``'s);
* ``parametrize``: a tensor of a module computed from others at every read,
  ``weight = f(original)`` (``register_parametrization``);
* ``parametrizations``: three such f: ``weight_norm``, ``spectral_norm``, ``orthogonal``.

The older hook-based ``weight_norm`` / ``spectral_norm`` (``weight_g`` / ``weight_v``,
``weight_orig`` / ``weight_u`` / ``weight_v``) are plain functions here, as in PyTorch.
"""

from __future__ import annotations

import abc
import copy
import inspect
import math
import numbers
import sys
import warnings
from contextlib import contextmanager
from typing import Iterable

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn import recurrent
from tinygrad_opt.nn.functional_more import normalize
from tinygrad_opt.nn.module import Module, ModuleDict, ModuleList, Parameter
from tinygrad_opt.ops.shape import normalize_dim
from tinygrad_opt.tensor import Tensor


def _as_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _named(op: str, name: str, value, alias: str, alias_value):
    """An argument given by API.md's name or by PyTorch's (``alias``), exactly one."""
    if value is not None and alias_value is not None:
        raise TypeError(f"{op}: give {name} or {alias}, not both")
    if value is None and alias_value is None:
        raise TypeError(f"{op}: missing the argument {name} (PyTorch's {alias})")
    return alias_value if value is None else value


def clip_grad_norm_(params=None, max_norm: float = None, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None, *,
                    parameters=None) -> Tensor:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm is taken over all gradients as if concatenated into one vector,
    computed as PyTorch does, as the norm of the per-gradient norms
    (``get_total_norm``): ``total = (Σ_p Σ_i |g_pi|^q)^(1/q)`` for ``q = norm_type``,
    ``max |g_pi|`` for ``q = inf`` (``min`` for ``-inf``; for ``q = 0`` the count of
    gradients that are not all 0, PyTorch's number). Every gradient is then
    multiplied by ``min(1, max_norm / (total + 1e-6))`` (``clip_grads_with_norm_``),
    which keeps the gradient's direction and shrinks its length. Returns ``total``
    (before clipping) as a 0-d Tensor on the gradients' device; 0 when no parameter
    has a gradient. ``foreach`` is accepted and has no effect (one implementation).

    ``params`` is API.md's name for PyTorch's first argument ``parameters``;
    either keyword works.
    """
    params = _named("clip_grad_norm_", "params", params, "parameters", parameters)
    if max_norm is None:
        raise TypeError("clip_grad_norm_: missing the argument max_norm")
    params = _as_list(params)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(params, max_norm, total_norm)
    return total_norm


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The norm of all ``tensors`` together, as if concatenated into one vector.

    ``total = ‖(‖t_1‖_q, ‖t_2‖_q, ...)‖_q`` for ``q = norm_type`` (the norm of the
    per-tensor norms, which equals the norm of the concatenation), ``inf`` included.
    A 0-d Tensor, 0 for no tensors. ``error_if_nonfinite``: raise if it is NaN or inf.
    ``foreach`` is accepted and has no effect (there is one implementation).
    """
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return tg.tensor(0.0)
    with no_grad():  # one 0-d norm per tensor, on the first tensor's device (as PyTorch)
        norms = [tg.linalg.vector_norm(t, norm_type).to(tensors[0].device) for t in tensors]
        total_norm = tg.linalg.vector_norm(tg.stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm.item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return total_norm


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach=None) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))``, in place.

    ``total_norm`` is given (usually ``get_total_norm`` of the gradients, maybe
    summed over several workers first). ``foreach`` has no effect.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        total_norm = tg.tensor(float(total_norm), device=grads[0].device)
    with no_grad():
        clip_coef = float(max_norm) / (total_norm + 1e-6)
        clip_coef_clamped = clip_coef.clip(None, 1.0)              # min(coef, 1), on device
        for g in grads:  # in place, the coefficient moved to g's device
            # one rounding, as PyTorch's mul_: a float16 gradient times a wider coefficient
            # is computed in float32 (its "opmath" type), not with the coefficient rounded
            opmath = backend.float32 if g.dtype == backend.float16 else g.dtype
            coef = clip_coef_clamped.to(g.device).data.astype(opmath)
            g.data[...] = (g.data.astype(opmath) * coef).astype(g.dtype)
            g._version += 1


def clip_grad_value_(params=None, clip: float = None, foreach=None, *, parameters=None,
                     clip_value: float = None) -> None:
    """Clip every gradient element to ``[-clip, clip]``, in place. API.md names the
    arguments ``params`` and ``clip``; PyTorch's ``parameters`` and ``clip_value`` work too.
    ``foreach`` is accepted and has no effect."""
    params = _named("clip_grad_value_", "params", params, "parameters", parameters)
    clip_value = float(_named("clip_grad_value_", "clip", clip, "clip_value", clip_value))
    for p in _as_list(params):
        if p.grad is not None:
            xp = backend.xp_of(p.grad.data)
            p.grad.data[...] = xp.clip(p.grad.data, -clip_value, clip_value)
            p.grad._version += 1


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D Tensor (differentiable)."""
    parameters = _as_list(parameters)
    _check_same_device(parameters, "parameters_to_vector")
    return tg.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place: parameter i gets
    ``vec[s_i : s_i + n_i]`` (``n_i`` its number of elements, ``s_i = n_1 + ... + n_{i-1}``).

    As PyTorch, the slices are taken along dim 0 and each must hold exactly ``n_i``
    elements; entries of ``vec`` after the last slice are left unused (a longer vector,
    or a column (N, 1), is accepted)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got: {type(vec).__name__}")
    parameters = _as_list(parameters)
    total = sum(math.prod(p.shape) for p in parameters)
    rows = vec.shape[0] if vec.ndim else 0
    row_size = math.prod(vec.shape[1:])
    pointer = 0
    for p in parameters:  # checked before anything is copied
        count = math.prod(p.shape)
        if vec.ndim == 0 or (min(pointer + count, rows) - min(pointer, rows)) * row_size != count:
            raise ValueError(f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not "
                             f"hold the {total} elements of the parameters along its dim 0")
        pointer += count
    _check_same_device(parameters + [vec], "vector_to_parameters")
    pointer = 0
    with no_grad():
        for p in parameters:
            count = math.prod(p.shape)
            p.data[...] = vec.data[pointer:pointer + count].reshape(p.shape)
            p._version += 1  # a graph that saved p refuses backward, as after an optimizer step
            pointer += count


def _check_same_device(tensors, name: str) -> None:
    """One device for all (a TypeError otherwise, as PyTorch's)."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise TypeError(f"{name}: found tensors on different devices "
                        f"{sorted(map(str, devices))}, which is not supported")


def l1_penalty(parameters) -> Tensor:
    """Σ_p Σ_i |w_pi|: the L1 norm of all weights, differentiable (add ``λ·`` it to a loss).

    Its gradient λ·sign(w) pulls every weight towards 0 by the same amount, so
    the weights that matter little end up near 0. With gradient descent they only
    hover around 0 (each step overshoots it); exact zeros need a proximal method,
    ``optim.CoordinateDescent(params, l1=λ)`` (see examples/l1_vs_l2.py).
    """
    parameters = _as_list(parameters)
    if not parameters:
        return tg.tensor(0.0)
    total = parameters[0].abs().sum()
    for p in parameters[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(parameters) -> Tensor:
    """Σ_p Σ_i w_pi²: the plain sum of squares of all weights, differentiable, no ½ factor.

    Its gradient is 2·w, so ``loss + λ·l2_penalty(params)`` behaves like SGD's
    ``weight_decay = 2λ``. It shrinks large weights most and rarely makes any
    exactly 0.
    """
    parameters = _as_list(parameters)
    if not parameters:
        return tg.tensor(0.0)
    total = (parameters[0] * parameters[0]).sum()
    for p in parameters[1:]:
        total = total + (p * p).sum()
    return total


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` whose parameters are left to the caller to fill.

    As PyTorch, ``module_cls`` must be a Module class that takes a ``device`` argument
    (RuntimeError otherwise).
    There is no "meta" device here, so the module is built and initialised as usual on
    ``device``: the values are only "unspecified", and no time is saved.
    """
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"skip_init: expected a Module class as module_cls; got "
                           f"{module_cls!r}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)


def _register_submodule(namespace: type) -> type:
    """Make ``from tinygrad_opt.nn.utils.<name> import x`` find the namespace class."""
    sys.modules[f"{__name__}.{namespace.__name__}"] = namespace
    return namespace


# ------------------------------------------------------------------------------ rnn

@_register_submodule
class rnn:
    """``torch.nn.utils.rnn``: sequences of different lengths for RNN, LSTM and GRU.

    ``pad_sequence`` (list -> padded batch), ``pack_padded_sequence`` (padded batch ->
    ``PackedSequence``), ``pad_packed_sequence`` (its inverse), ``pack_sequence``,
    ``unpad_sequence``, ``unpack_sequence``. Defined in ``nn/recurrent.py``.
    """

    PackedSequence = recurrent.PackedSequence
    pad_sequence = staticmethod(recurrent.pad_sequence)
    pack_padded_sequence = staticmethod(recurrent.pack_padded_sequence)
    pad_packed_sequence = staticmethod(recurrent.pad_packed_sequence)
    pack_sequence = staticmethod(recurrent.pack_sequence)
    unpad_sequence = staticmethod(recurrent.unpad_sequence)
    unpack_sequence = staticmethod(recurrent.unpack_sequence)


# ------------------------------------------------------------------------ stateless

@_register_submodule
class stateless:
    """``torch.nn.utils.stateless``: ``functional_call``, the same as ``tg.func``'s."""

    @staticmethod
    def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                        tie_weights: bool = True, strict: bool = False):
        """``module(*args, **kwargs)`` with the given tensors in place of its own;
        see ``tinygrad_opt.func.functional_call``."""
        from tinygrad_opt.func import functional_call  # lazy: tg.func imports nn
        return functional_call(module, parameters_and_buffers, args, kwargs,
                               tie_weights=tie_weights, strict=strict)


# -------------------------------------------------------------------------- pruning
# Pruning a parameter ``name`` of a module, with PyTorch's mechanics:
#   * the Parameter moves to ``name_orig`` (still the one the optimizer trains);
#   * a buffer ``name_mask`` of 0s and 1s is registered (it is in the state_dict);
#   * ``name`` becomes a plain attribute, ``name_orig · name_mask``, recomputed by a
#     forward pre-hook (the pruning method itself) before every forward, so gradients
#     reach ``name_orig`` only where the mask is 1;
#   * pruning again combines the masks (``PruningContainer``): the new method only
#     looks at the entries (or channels) that are still unpruned;
#   * ``prune.remove`` makes it permanent: ``name`` is a Parameter again, = orig·mask.

def _check_amount(amount) -> None:
    """``amount``: a fraction in [0, 1] or a non-negative int (a count; a bool is the
    count 0 or 1, as PyTorch's check ``isinstance(amount, numbers.Real)`` lets it be)."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or "
                         "a non-negative integer")


def _count_to_prune(amount, size: int) -> int:
    """How many of ``size`` units to prune: ``amount`` itself (int) or round(amount·size)."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return int(amount)
    return round(amount * size)


def _check_structured(t: Tensor, dim: int) -> int:
    """``dim`` as an index in [0, t.ndim), for a tensor of 2 dims or more (else an error:
    a ``dim`` out of range is PyTorch's IndexError, never wrapped round)."""
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.ndim} dims")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"structured pruning: invalid index dim={dim} for a tensor of "
                         f"shape {tuple(t.shape)}")
    return dim % t.ndim


def _zeroed(mask: Tensor, flat_indices: Tensor) -> Tensor:
    """A copy of ``mask`` with the entries at ``flat_indices`` (of the flattened mask) 0."""
    flat = mask.reshape(-1).clone()
    flat[flat_indices] = 0
    return flat.reshape(mask.shape)


def _channel_mask(t: Tensor, dim: int, kept_channels: Tensor) -> Tensor:
    """1 on the slices ``kept_channels`` (indices or booleans) of ``dim``, 0 elsewhere."""
    mask = tg.zeros_like(t)
    index = [slice(None)] * t.ndim
    index[dim] = kept_channels
    mask[tuple(index)] = 1
    return mask


class BasePruningMethod(abc.ABC):
    """A pruning method: ``compute_mask(t, default_mask)`` says which entries to keep.

    Its object is also the module's forward pre-hook that recomputes
    ``name = name_orig · name_mask`` (``__call__``). ``PRUNING_TYPE`` is
    'unstructured' (single entries), 'structured' (whole slices along ``dim``) or
    'global' (a given mask); it tells ``PruningContainer`` what is still unpruned.
    """

    PRUNING_TYPE = "unstructured"
    _tensor_name = None

    @abc.abstractmethod  # (a subclass without it cannot be made: TypeError, as PyTorch)
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The new mask (t's shape): ``default_mask`` with more entries set to 0."""

    def __call__(self, module, inputs) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    def apply_mask(self, module) -> Tensor:
        """``name_orig · name_mask``: the pruned tensor, differentiable in name_orig."""
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name: str, *args, importance_scores: Tensor | None = None,
              **kwargs):
        """Prune ``module.name`` with ``cls(*args, **kwargs)``; returns the method.

        ``importance_scores`` (``name``'s shape; default the parameter itself) are
        what the method ranks, e.g. by |score| for L1.
        """
        old_key, old_method = None, None
        for key, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_key, old_method = key, hook
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old_method is not None:                         # prune again: combine masks
            container = old_method
            if not isinstance(container, PruningContainer):
                container = PruningContainer(old_method)
            container.add_pruning_method(method)
            method = container
        orig = getattr(module, name)
        if importance_scores is None:
            importance_scores = orig
        elif importance_scores.shape != orig.shape:
            raise ValueError(f"importance_scores of shape {importance_scores.shape} should "
                             f"have the shape of parameter {name}, {orig.shape}")
        with no_grad():
            if old_method is None:                         # first time: weight -> weight_orig
                default_mask = tg.ones_like(orig)
            else:
                default_mask = getattr(module, name + "_mask").detach().clone()
            mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
        if old_method is None:  # (a buffer is refused here, before the module changes)
            module.register_parameter(name + "_orig", orig)
            delattr(module, name)
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, method.apply_mask(module))   # a plain attribute, not a Parameter
        module.register_forward_pre_hook(method)
        if old_key is not None:
            del module._forward_pre_hooks[old_key]
        return method

    def prune(self, t: Tensor, default_mask: Tensor | None = None,
              importance_scores: Tensor | None = None) -> Tensor:
        """``t · mask`` for the mask this method computes (no module involved)."""
        scores = t if importance_scores is None else importance_scores
        if default_mask is None:
            default_mask = tg.ones_like(t)
        with no_grad():
            mask = self.compute_mask(scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module) -> None:
        """Make the pruning permanent: ``name`` becomes the Parameter ``name_orig``,
        its values set to orig·mask; ``name_orig`` and ``name_mask`` are deleted."""
        if self._tensor_name is None:
            raise ValueError(f"Module {module} has to be pruned before pruning can be removed")
        name = self._tensor_name
        with no_grad():
            weight = self.apply_mask(module)
        delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.data                            # the same Parameter object
        delattr(module, name + "_orig")
        delattr(module, name + "_mask")
        setattr(module, name, orig)


class PruningContainer(BasePruningMethod):
    """The pruning methods applied in turn to one parameter; the last one acts only on
    what the earlier ones left: the entries where the mask is 1 (unstructured), the
    slices along its ``dim`` that are not all 0 (structured), everything (global)."""

    def __init__(self, *methods):
        self._pruning_methods = ()
        if len(methods) == 1 and not isinstance(methods[0], BasePruningMethod):
            methods = tuple(methods[0])                    # an iterable of methods
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append ``method``; it must prune the same parameter as the others."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is None:
            return
        if self._tensor_name is None:
            self._tensor_name = method._tensor_name
        elif method._tensor_name != self._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, index):
        return self._pruning_methods[index]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask`` with the last method's mask written into the still-unpruned
        part (computed on that part of ``t`` only)."""
        method = self._pruning_methods[-1]
        mask = default_mask.to(dtype=t.dtype).clone()
        if method.PRUNING_TYPE == "unstructured":
            part = mask == 1                               # entries still kept
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError("Pruning methods of PRUNING_TYPE 'structured' need to "
                                     "have the attribute `dim` defined.")
            dim = _check_structured(t, method.dim)
            other_dims = [d for d in range(t.ndim) if d != dim]
            kept_channels = mask.sum(dim=other_dims) != 0  # (t.shape[dim],)
            index = [slice(None)] * t.ndim
            index[dim] = kept_channels
            part = tuple(index)
        elif method.PRUNING_TYPE == "global":
            part = tuple([slice(None)] * t.ndim)
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        mask[part] = method.compute_mask(t[part], default_mask=mask[part]).to(dtype=mask.dtype)
        return mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask stays all 1 (turns a parameter into orig·mask form)."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask`` unchanged."""
        return default_mask


class RandomUnstructured(BasePruningMethod):
    """Prune ``amount`` entries (a fraction or a count) chosen uniformly at random."""

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Zero the entries with the k largest of ``rand_like(t)``, k = ``amount``."""
        count = _count_to_prune(self.amount, t.numel())
        if count == 0:
            return default_mask.clone()
        draws = tg.rand(*t.shape, dtype=backend.float64, device=t.device).reshape(-1)
        return _zeroed(default_mask, draws.topk(count).indices)


class L1Unstructured(BasePruningMethod):
    """Prune the ``amount`` entries (a fraction or a count) with the smallest |t|."""

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Zero the k entries of smallest |t_i|, k = ``amount``."""
        count = _count_to_prune(self.amount, t.numel())
        if count == 0:
            return default_mask.clone()
        smallest = t.abs().reshape(-1).topk(count, largest=False).indices  # (k,)
        return _zeroed(default_mask, smallest)


class RandomStructured(BasePruningMethod):
    """Prune ``amount`` whole slices along ``dim`` (a fraction or a count), at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim: int = -1):
        _check_amount(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Keep the slices whose uniform draw is above the k-th smallest draw."""
        dim = _check_structured(t, self.dim)
        channels = t.shape[dim]
        count = _count_to_prune(self.amount, channels)
        if count == 0:
            return default_mask.clone()
        draws = tg.rand(channels, dtype=backend.float64, device=t.device)      # (C,)
        kept = draws > draws.kthvalue(count).values                            # (C,) bool
        return _channel_mask(t, dim, kept) * default_mask.to(dtype=t.dtype)


class LnStructured(BasePruningMethod):
    """Prune the ``amount`` slices along ``dim`` with the smallest L``n`` norm.

    With ``dim=0`` on a Linear weight (out, in) a slice is a row (one output
    unit), its norm ``‖W[j, :]‖_n``. ``n``: a number (``inf`` and ``-inf``
    included) or 'fro' (the same as 2); 'nuc' is not supported.
    """

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim: int = -1):
        _check_amount(amount)
        if n == "fro":
            n = 2
        if not isinstance(n, numbers.Real):
            raise ValueError(f"LnStructured: n must be a number (or 'fro'), got {n!r}")
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Keep the C − k slices of largest ‖slice‖_n, k = ``amount``."""
        dim = _check_structured(t, self.dim)
        channels = t.shape[dim]
        count = _count_to_prune(self.amount, channels)
        if count == 0:
            return default_mask.clone()
        other_dims = tuple(d for d in range(t.ndim) if d != dim)
        norms = tg.linalg.vector_norm(t, float(self.n), dim=other_dims)        # (C,)
        kept = norms.topk(channels - count).indices                            # (C − k,)
        return _channel_mask(t, dim, kept) * default_mask.to(dtype=t.dtype)


class CustomFromMask(BasePruningMethod):
    """Prune with a given ``mask`` (1 keeps, 0 prunes), combined with the current one."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor):
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask · mask``."""
        if default_mask.shape != self.mask.shape:
            raise ValueError(f"CustomFromMask: a mask of shape {self.mask.shape} for a "
                             f"parameter of shape {default_mask.shape}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)


@_register_submodule
class prune:
    """``torch.nn.utils.prune``: zero parts of a parameter with a mask.

    ``prune.l1_unstructured(module, 'weight', amount=0.3)`` replaces the Parameter
    ``weight`` with ``weight_orig`` (trained) and a buffer ``weight_mask``;
    ``module.weight`` is ``weight_orig · weight_mask``, recomputed before every
    forward. ``amount`` is a fraction of the entries (or slices) or a count.
    Pruning again prunes the rest; ``prune.remove`` makes it permanent.
    """

    BasePruningMethod = BasePruningMethod
    PruningContainer = PruningContainer
    Identity = Identity
    RandomUnstructured = RandomUnstructured
    L1Unstructured = L1Unstructured
    RandomStructured = RandomStructured
    LnStructured = LnStructured
    CustomFromMask = CustomFromMask

    @staticmethod
    def identity(module, name: str):
        """Put ``name`` into pruned form with an all-ones mask; returns the module."""
        Identity.apply(module, name)
        return module

    @staticmethod
    def random_unstructured(module, name: str, amount):
        """Prune ``amount`` random entries of ``name``; returns the module."""
        RandomUnstructured.apply(module, name, amount)
        return module

    @staticmethod
    def l1_unstructured(module, name: str, amount, importance_scores=None):
        """Prune the ``amount`` entries of smallest |score| (default |name|)."""
        L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
        return module

    @staticmethod
    def random_structured(module, name: str, amount, dim: int):
        """Prune ``amount`` random slices of ``name`` along ``dim``."""
        RandomStructured.apply(module, name, amount, dim)
        return module

    @staticmethod
    def ln_structured(module, name: str, amount, n, dim: int, importance_scores=None):
        """Prune the ``amount`` slices along ``dim`` of smallest L``n`` norm."""
        LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
        return module

    @staticmethod
    def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
        """Prune across several parameters at once: ``parameters`` is an iterable of
        ``(module, name)``; ``pruning_method`` (an unstructured method class, e.g.
        ``prune.L1Unstructured``, with ``amount=`` in ``kwargs``) ranks the entries of
        all of them together, already pruned entries left out. ``importance_scores``: a
        dict ``{(module, name): scores}``, the parameter itself where missing."""
        if not isinstance(parameters, Iterable):
            raise TypeError("global_unstructured(): parameters is not an Iterable, got "
                            f"{type(parameters).__name__}")
        if importance_scores is None:
            importance_scores = {}
        if not isinstance(importance_scores, dict):
            raise TypeError("global_unstructured(): importance_scores must be of type dict, "
                            f"got {type(importance_scores).__name__}")
        parameters = list(parameters)
        scores = parameters_to_vector([importance_scores.get((module, name),
                                                              getattr(module, name))
                                       for module, name in parameters]).detach()
        masks = []
        for module, name in parameters:
            mask = getattr(module, name + "_mask", None)
            masks.append(tg.ones_like(getattr(module, name)) if mask is None else mask)
        default_mask = parameters_to_vector(masks).detach()
        method = pruning_method(**kwargs)
        if method.PRUNING_TYPE != "unstructured":
            raise TypeError('Only "unstructured" PRUNING_TYPE supported for the '
                            f"`pruning_method`. Found method {pruning_method} of type "
                            f"{method.PRUNING_TYPE}")
        method._tensor_name = "temp"
        container = PruningContainer(method)
        with no_grad():
            final_mask = container.compute_mask(scores, default_mask)  # (Σ numel,)
        pointer = 0
        for module, name in parameters:
            shape = getattr(module, name).shape
            count = math.prod(shape)
            mask = final_mask[pointer:pointer + count].reshape(shape)
            prune.custom_from_mask(module, name, mask=mask)
            pointer += count

    @staticmethod
    def custom_from_mask(module, name: str, mask: Tensor):
        """Prune ``name`` with the given mask (1 keeps, 0 prunes)."""
        CustomFromMask.apply(module, name, mask)
        return module

    @staticmethod
    def remove(module, name: str):
        """Make the pruning of ``name`` permanent: ``name`` is a Parameter again,
        equal to orig·mask; ``name_orig``, ``name_mask`` and the hook are gone."""
        for key, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                hook.remove(module)
                del module._forward_pre_hooks[key]
                return module
        raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before "
                         "pruning can be removed")

    @staticmethod
    def is_pruned(module) -> bool:
        """Whether any sub-module of ``module`` (itself included) holds a pruning hook."""
        for submodule in module.modules():
            for hook in submodule._forward_pre_hooks.values():
                if isinstance(hook, BasePruningMethod):
                    return True
        return False


# ---------------------------------------------------------------------- parametrize
# A parametrization makes a tensor ``name`` of a module a function of other tensors,
# with PyTorch's mechanics:
#   * the tensor moves to ``module.parametrizations[name].original`` (or ``original0``,
#     ``original1``, ... when ``right_inverse`` returns several), the same Parameter
#     object, still the one the optimizer trains;
#   * ``parametrizations[name]`` is a ParametrizationList (a ModuleList of f_1, f_2, ...)
#     whose forward is ``f_k(...f_2(f_1(original)))``;
#   * the module's class is swapped for a subclass (``ParametrizedLinear``) with a
#     property ``name`` that calls it at every read, so gradients reach ``original``;
#     assigning a tensor to ``name`` stores ``right_inverse(value)`` into the originals;
#   * state_dict keys are PyTorch's: ``parametrizations.weight.original``.

class _Cache:
    """``parametrize.cached()``'s state: how many contexts are open, and the values
    computed inside them, by ``(id(module), name)``."""

    depth = 0
    values: dict = {}


def _register_parameter_or_buffer(module: Module, name: str, tensor: Tensor) -> None:
    """A Parameter is registered as a parameter, any other Tensor as a buffer."""
    if isinstance(tensor, Parameter):
        module.register_parameter(name, tensor)
    else:
        module.register_buffer(name, tensor)


def _set_data(tensor: Tensor, value: Tensor) -> None:
    """PyTorch's ``tensor.set_(value)``: the same Tensor object, now holding value's
    array (an optimizer that holds ``tensor`` keeps training it)."""
    if value is not tensor:
        tensor.data = value.data
        tensor._version += 1


class ParametrizationList(ModuleList):
    """The parametrizations f_1, ..., f_k of one tensor and its original(s).

    ``forward()`` is ``f_k(...f_1(original))`` (``f_1(original0, original1, ...)`` when
    the first ``right_inverse`` returned several tensors). Built by
    ``register_parametrization``: at construction the original is replaced by
    ``right_inverse_1(...right_inverse_k(original))`` (each f's ``right_inverse`` where
    it has one), so that the parametrized value starts equal to the original one. Unless
    ``unsafe``, the value f(original) must keep the original's shape and dtype.
    """

    def __init__(self, modules, original: Tensor, unsafe: bool = False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = tuple(original.shape), original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass                       # no right inverse: taken as the identity
        if not isinstance(new, (Tensor, tuple, list)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != original_dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype.\noriginal.dtype: {original_dtype}\n"
                                 f"right_inverse(original).dtype: {new.dtype}")
            with no_grad():
                _set_data(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, original_i in enumerate(new):
                if not isinstance(original_i, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of "
                                     f"tensors (list, tuple...). Got element {i} of the "
                                     f"sequence with type {type(original_i).__name__}.")
                if isinstance(original, Parameter):
                    original_i = Parameter(original_i, original.requires_grad)
                original_i.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", original_i)
        if not self.unsafe:
            value = self()
            _check_like(value, original_shape, original_dtype, "registering a parametrization")

    def right_inverse(self, value: Tensor) -> None:
        """Store ``right_inverse_1(...right_inverse_k(value))`` into the original(s), in
        place (no graph): what assigning ``module.name = value`` does."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got "
                                     f"{type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype "
                                     f"{value.dtype} while `original` has dtype "
                                     f"{self.original.dtype}")
                _set_data(self.original, value)
                return
            if not isinstance(value, (tuple, list)) or len(value) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of {self.ntensors} "
                                 f"tensors. Got {value!r:.80}")
            for i, tensor in enumerate(value):
                original_i = getattr(self, f"original{i}")
                if not isinstance(tensor, Tensor) or tensor.dtype != original_i.dtype:
                    raise ValueError(f"Tensor {i} returned by `right_inverse` must be a "
                                     f"Tensor of dtype {original_i.dtype}, got "
                                     f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
                _set_data(original_i, tensor)

    def forward(self) -> Tensor:
        """The parametrized value ``f_k(...f_1(original))``, recorded on the graph."""
        parametrizations = list(self)
        if self.is_tensor:
            x = parametrizations[0](self.original)
        else:
            originals = [getattr(self, f"original{i}") for i in range(self.ntensors)]
            x = parametrizations[0](*originals)
        for parametrization in parametrizations[1:]:
            x = parametrization(x)
        return x


def _check_like(value, shape: tuple, dtype, when: str) -> None:
    """The parametrized value must be a Tensor of the original's shape and dtype."""
    if not isinstance(value, Tensor):
        raise ValueError(f"A parametrization must return a tensor ({when}). Got "
                         f"{type(value).__name__}.")
    if value.dtype != dtype:
        raise ValueError(f"{when}: the parametrization may not change the dtype of the "
                         f"tensor (unless unsafe=True).\nunparametrized dtype: {dtype}\n"
                         f"parametrized dtype: {value.dtype}")
    if tuple(value.shape) != shape:
        raise ValueError(f"{when}: the parametrization may not change the shape of the "
                         f"tensor (unless unsafe=True).\nunparametrized shape: {shape}\n"
                         f"parametrized shape: {tuple(value.shape)}")


def _inject_new_class(module: Module) -> None:
    """Swap ``module``'s class for a new subclass ``Parametrized<Class>`` that will hold
    the properties (one class per module: properties live on classes)."""
    cls = type(module)

    def __getstate__(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through "
                           "state_dict().")

    def __deepcopy__(self, memo):
        # the copy gets its own class (with the same properties), so that removing a
        # parametrization from one of the two leaves the other's property in place
        own_class = type(self)
        members = {key: value for key, value in vars(own_class).items()
                   if key not in ("__dict__", "__weakref__")}
        replica = self.__new__(type(own_class.__name__, own_class.__bases__, members))
        memo[id(self)] = replica
        object.__setattr__(replica, "__dict__", copy.deepcopy(self.__dict__, memo))
        return replica

    def __setattr__(self, name, value):
        if isinstance(value, Parameter) and isinstance(getattr(type(self), name, None),
                                                       property):
            raise KeyError(f"attribute '{name}' already exists (it is parametrized: assign a "
                           "plain Tensor to set it through right_inverse)")
        cls.__setattr__(self, name, value)

    members = {"__getstate__": __getstate__, "__setattr__": __setattr__,
               "__doc__": f"{cls.__name__} with parametrized tensors (nn.utils.parametrize)."}
    if not hasattr(cls, "__deepcopy__"):
        members["__deepcopy__"] = __deepcopy__
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), members)


def _inject_property(module: Module, tensor_name: str) -> None:
    """The property ``tensor_name`` on the module's (parametrized) class: reading it runs
    the ParametrizationList (once per ``cached()`` context), assigning it runs
    ``right_inverse``."""

    def get_parametrized(self) -> Tensor:
        parametrization = self.parametrizations[tensor_name]
        if _Cache.depth == 0:
            return parametrization()
        key = (id(self), tensor_name)
        if key not in _Cache.values:
            _Cache.values[key] = parametrization()
        return _Cache.values[key]

    def set_original(self, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(type(module), tensor_name, property(
        get_parametrized, set_original, doc=f"The parametrized ``{tensor_name}``."))


@_register_submodule
class parametrize:
    """``torch.nn.utils.parametrize``: make a tensor of a module a function of others.

    ``register_parametrization(layer, 'weight', Symmetric())`` with a Module whose
    ``forward(X)`` returns ``X.triu() + X.triu(1).mT`` makes ``layer.weight`` symmetric
    at every read, while the optimizer trains
    ``layer.parametrizations.weight.original``. Several parametrizations of one tensor
    compose in registration order. ``cached()`` computes each value once inside it.
    """

    ParametrizationList = ParametrizationList

    @staticmethod
    @contextmanager
    def cached():
        """Inside ``with parametrize.cached():`` each parametrized tensor is computed at
        its first read and reused (one graph for a weight read several times in a
        forward); the values are dropped when the outermost context closes."""
        _Cache.depth += 1
        try:
            yield
        finally:
            _Cache.depth -= 1
            if _Cache.depth == 0:
                _Cache.values = {}

    @staticmethod
    def register_parametrization(module: Module, tensor_name: str, parametrization: Module,
                                 *, unsafe: bool = False) -> Module:
        """Make ``module.tensor_name`` equal ``parametrization(original)`` at every read.

        The first parametrization of a tensor moves the parameter or buffer into
        ``module.parametrizations[tensor_name].original``, after setting it to
        ``parametrization.right_inverse(value)`` when that exists (a ``right_inverse``
        returning several tensors gives ``original0``, ``original1``, ...). A later one
        is applied to the result of the earlier ones. Unless ``unsafe``, the value must
        keep its shape and dtype. Returns ``module``.
        """
        parametrization.train(module.training)
        if parametrize.is_parametrized(module, tensor_name):
            if not unsafe:
                value = getattr(module, tensor_name)
                shape, dtype = tuple(value.shape), value.dtype
                new_value = parametrization(value)
                _check_like(new_value, shape, dtype, "registering a parametrization")
                if hasattr(parametrization, "right_inverse"):
                    try:
                        inverse = parametrization.right_inverse(new_value)
                    except NotImplementedError:
                        pass
                    else:
                        _check_like(inverse, shape, dtype, "calling right_inverse")
            parametrizations = module.parametrizations[tensor_name]
            parametrizations.append(parametrization)
            parametrizations.unsafe |= unsafe              # unsafe once, unsafe for good
        elif tensor_name in module._buffers or tensor_name in module._parameters:
            original = getattr(module, tensor_name)
            parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
            delattr(module, tensor_name)
            if not parametrize.is_parametrized(module):
                _inject_new_class(module)
                module.parametrizations = ModuleDict()
            module.parametrizations[tensor_name] = parametrizations
            _inject_property(module, tensor_name)
        else:
            raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                             f"parametrized element with name '{tensor_name}'")
        return module

    @staticmethod
    def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
        """Whether ``module`` has a parametrization (on ``tensor_name``, if given)."""
        parametrizations = getattr(module, "parametrizations", None)
        if not isinstance(parametrizations, ModuleDict):
            return False
        if tensor_name is None:
            return len(parametrizations) > 0
        return tensor_name in parametrizations

    @staticmethod
    def remove_parametrizations(module: Module, tensor_name: str,
                                leave_parametrized: bool = True) -> Module:
        """Undo ``register_parametrization``: ``tensor_name`` is a plain parameter (or
        buffer) again. With ``leave_parametrized`` it keeps its current parametrized
        value (in the original's Parameter object, when there is one original);
        otherwise it is the original itself. The class is restored when no
        parametrization is left."""
        if not parametrize.is_parametrized(module, tensor_name):
            raise ValueError(f"Module {module} does not have a parametrization on "
                             f"{tensor_name}")
        parametrizations = module.parametrizations[tensor_name]
        if parametrizations.is_tensor:
            original = parametrizations.original
            if leave_parametrized:
                with no_grad():
                    value = getattr(module, tensor_name)
                    _set_data(original, value.to(dtype=original.dtype))
        else:
            if not leave_parametrized:
                raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a "
                                 "tensor that is parametrized in terms of a sequence of "
                                 "tensors.")
            value = getattr(module, tensor_name)  # in grad mode: does it require grad?
            original = (Parameter(value.detach(), value.requires_grad) if value.requires_grad
                        else value.detach())
        delattr(type(module), tensor_name)
        del module.parametrizations[tensor_name]
        _register_parameter_or_buffer(module, tensor_name, original)
        if not parametrize.is_parametrized(module):
            delattr(module, "parametrizations")
            module.__class__ = type(module).__bases__[0]
        return module

    @staticmethod
    def type_before_parametrizations(module: Module) -> type:
        """The class the module had before its first parametrization."""
        if parametrize.is_parametrized(module):
            return type(module).__bases__[0]
        return type(module)

    @staticmethod
    def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                             tensor_name: str | None = None) -> Module:
        """Give ``to_module`` the parametrizations of ``from_module`` (of ``tensor_name``
        only, or of every parametrized tensor) and the very original tensors they act on.

        As PyTorch: a tensor ``to_module`` lacks is first made a Parameter holding
        ``from_module``'s parametrized value; the same parametrization modules are then
        registered on ``to_module`` in order, and ``to_module``'s ``original`` (or
        ``original0``, ``original1``, ...) become ``from_module``'s objects, so the two
        modules share them (one optimizer step moves both). Nothing happens when
        ``from_module`` is not parametrized. Returns ``to_module``."""
        if not parametrize.is_parametrized(from_module):
            return to_module
        names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
        for name in names:
            if not parametrize.is_parametrized(from_module, name):  # (PyTorch: a KeyError)
                raise KeyError(f"transfer_parametrizations_and_params: from_module has no "
                                 f"parametrization on tensor_name={name!r}")
            source = from_module.parametrizations[name]
            if not hasattr(to_module, name):
                setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
            for parametrization in source:
                parametrize.register_parametrization(to_module, name, parametrization)
            keys = (["original"] if source.is_tensor
                    else [f"original{i}" for i in range(source.ntensors)])
            for key in keys:
                setattr(to_module.parametrizations[name], key, getattr(source, key))
        return to_module


# ----------------------------------------------------------------- parametrizations

def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """‖v‖₂ over every dim but ``dim``, the others kept as size 1 (shape (1, .., n, .., 1));
    ``dim = -1`` is the norm of the whole tensor, a 0-d Tensor (PyTorch's convention)."""
    if dim == -1:
        return tg.linalg.vector_norm(v)
    dim = normalize_dim(dim, v.ndim, "weight_norm")
    others = tuple(d for d in range(v.ndim) if d != dim)
    if not others:
        return v.abs()                                     # a 1-D v: each entry's |v_i|
    return tg.linalg.vector_norm(v, 2, dim=others, keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """w = g · v / ‖v‖ (the norm over every dim but ``dim``)."""
    return v * (g / _norm_except_dim(v, dim))


class _WeightNorm(Module):
    """Weight normalisation (Salimans & Kingma, 2016) as a parametrization::

        w = g · v / ‖v‖          (‖v‖ per slice along ``dim``)

    so a weight's length g and direction v/‖v‖ are trained separately.
    ``right_inverse(w) = (‖w‖, w)``: g = original0, v = original1."""

    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """``(g, v) = (‖w‖, w)``: the pair that gives w back."""
        return _norm_except_dim(weight, self.dim), weight


def _copy_into(buffer: Tensor, value: Tensor) -> None:
    """``buffer[...] = value`` without a graph: the same buffer object, new values."""
    buffer.data[...] = value.data
    buffer._version += 1


def _as_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` with ``dim`` moved first and the rest flattened: (size_dim, rest)."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


class _SpectralNorm(Module):
    """Spectral normalisation (Miyato et al., 2018) as a parametrization::

        u ← W v / ‖W v‖,   v ← Wᵀ u / ‖Wᵀ u‖       (power iteration, no gradient)
        σ = uᵀ W v                                   (≈ the largest singular value of W)
        w = W / σ

    with W the weight as a matrix (``dim`` first, the other dims flattened). The
    vectors ``_u``, ``_v`` are buffers: 15 iterations at registration, then
    ``n_power_iterations`` before every read in training mode, none in evaluation.
    A 1-D weight is divided by its norm.
    """

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                weight_mat = _as_matrix(weight, self.dim)             # (h, w)
                h, w = weight_mat.shape
                u = tg.randn(h, dtype=weight.dtype, device=weight.device)
                v = tg.randn(w, dtype=weight.dtype, device=weight.device)
                self.register_buffer("_u", normalize(u, dim=0, eps=eps))
                self.register_buffer("_v", normalize(v, dim=0, eps=eps))
                self._power_method(weight_mat, 15)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        with no_grad():
            for _ in range(n_power_iterations):
                _copy_into(self._u, normalize(weight_mat @ self._v, dim=0, eps=self.eps))
                _copy_into(self._v, normalize(weight_mat.mT @ self._u, dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = _as_matrix(weight, self.dim)                     # (h, w)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()                                           # (h,)
        v = self._v.clone()                                           # (w,)
        sigma = (u * (weight_mat @ v)).sum()                          # σ = uᵀ W v
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        """The weight itself (σ is recomputed from it at the next read)."""
        return value


ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """LAPACK's orgqr: the first k columns of H_1 H_2 ⋯ H_k, with

        H_i = I − τ_i v_i v_iᵀ,   v_i = e_i + A[:, i]   (A strictly lower triangular)

    applied to I[:, :k] from the last factor to the first. A (..., n, k), tau (..., k)."""
    n, k = A.shape[-2:]
    eye = tg.eye(n, dtype=A.dtype, device=A.device)
    Q = eye[:, :k]                                                   # (n, k)
    for i in reversed(range(k)):
        v = A[..., :, i:i + 1] + eye[:, i:i + 1]                     # (..., n, 1)
        tau_i = tau[..., i:i + 1].unsqueeze(-1)                      # (..., 1, 1)
        Q = Q - tau_i * (v @ (v.mT @ Q))                             # H_i Q
    return Q


def _is_orthogonal(Q: Tensor) -> bool:
    """QᵀQ = I within PyTorch's ``allclose(QᵀQ, I, atol=10·n·eps)``: off the diagonal
    |(QᵀQ)_ij| ≤ atol, on it |(QᵀQ)_ii − 1| ≤ atol + 1e-5 (allclose's rtol times 1)."""
    n, k = Q.shape[-2:]
    eye = tg.eye(k, dtype=Q.dtype, device=Q.device)
    atol = 10.0 * n * float(backend.get_xp("cpu").finfo(Q.dtype).eps)
    return bool(((Q.mT @ Q - eye).abs() <= atol + 1e-5 * eye).all().item())


def _householder_inverse(Q: Tensor) -> Tensor:
    """The X (tall, (..., n, k)) for which the 'householder' map gives the Q of Q = QR with
    diag(R) > 0: LAPACK's geqrf of Q (its reflectors strictly below the diagonal, from
    which the map recomputes τ = 2/(1 + ‖a‖²)), with ±1 on the diagonal, the sign of R's
    diagonal (flipped where geqrf made no reflection, τ = 0)."""
    host_np = backend.get_xp("cpu")
    # geqrf on the host (NumPy's "raw" QR returns it transposed); no gradient flows here
    reflectors, tau = host_np.linalg.qr(Q.numpy(), mode="raw")
    A = host_np.ascontiguousarray(host_np.swapaxes(reflectors, -1, -2))   # (..., n, k)
    k = A.shape[-1]
    diagonal = host_np.sign(A[..., range(k), range(k)])
    diagonal[tau == 0] *= -1
    A[..., range(k), range(k)] = diagonal
    return tg.tensor(A.astype(Q.dtype), device=Q.device)


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR (A tall), its columns' signs chosen so that diag(R) ≥ 0."""
    Q, R = tg.linalg.qr(A)
    negative = (R.diagonal(dim1=-2, dim2=-1) < 0).to(dtype=A.dtype)   # (..., k)
    signs = 1 - 2 * negative                                           # −1 where R_ii < 0
    return Q * signs.unsqueeze(-2)


class _Orthogonal(Module):
    """A matrix (or batch of them) with orthonormal columns (rows, when wide)::

        A = X̃ − X̃ᵀ                   (X̃ = tril(X), padded square: A is skew-symmetric)
        Q = exp(A)                    (orthogonal_map='matrix_exp')
        Q = (I − A/2)⁻¹ (I + A/2)     ('cayley')
        Q = H_1 ⋯ H_k                 ('householder': reflections from tril(X, −1))
        W = base · Q[:, :k]

    Every such Q is orthogonal, so QᵀQ = I whatever X the optimizer makes. With
    ``use_trivialization`` (the default) ``base`` is the orthogonalised initial weight,
    set by ``right_inverse``, and X starts at −I, where Q = I: the layer starts at (the
    orthogonal matrix nearest) its weight. Without it there is no ``base``: 'householder'
    starts at X = the weight's geqrf (``_householder_inverse``), the Q of its QR; the
    other two maps cannot be inverted, and X starts at the weight itself.
    """

    def __init__(self, weight: Tensor, orthogonal_map: str, *,
                 use_trivialization: bool = True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2:]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        # X is tall: (..., n, k), n ≥ k
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:                                              # embed in (..., n, n)
                zeros = tg.zeros(*X.shape[:-2], n, n - k, dtype=X.dtype, device=X.device)
                X = tg.cat([X, zeros], dim=-1)
            A = X - X.mT                                            # Aᵀ = −A
            if self.orthogonal_map == "matrix_exp":
                Q = tg.linalg.matrix_exp(A)
            else:
                eye = tg.eye(n, dtype=A.dtype, device=A.device)
                Q = tg.linalg.solve(eye - 0.5 * A, eye + 0.5 * A)   # (I − A/2)⁻¹(I + A/2)
            Q = Q[..., :k]                                          # (..., n, k)
        else:
            A = X.tril(-1)                                          # the reflectors
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))                 # (..., k)
            Q = _householder_product(A, tau)
            # the signs ±1 on X's diagonal flip columns; not trained (PyTorch's int cast)
            Q = Q * X.detach().diagonal(dim1=-2, dim2=-1).trunc().unsqueeze(-2)
        if self.use_trivialization:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        """Store the orthogonalised ``Q`` (completed to n×n) as ``base`` and return −I,
        the X where the map gives I (so the parametrized weight equals ``base``'s first
        columns)."""
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {tuple(Q.shape)}.")
        if not self.use_trivialization and self.orthogonal_map != "householder":
            raise NotImplementedError("It is not possible to assign to the matrix exponential "
                                      "or the Cayley parametrizations when "
                                      "use_trivialization=False.")
        with no_grad():
            Q_init = Q
            n, k = Q.shape[-2:]
            transposed = n < k
            if transposed:
                Q = Q.mT
                n, k = k, n
            if not self.use_trivialization:
                return _householder_inverse(Q).mT if transposed else _householder_inverse(Q)
            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:                                               # complete to n×n at random
                extra = tg.randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(tg.cat([Q, extra], dim=-1))
            self.base = Q
            minus_identity = tg.eye(*Q_init.shape[-2:], dtype=Q.dtype, device=Q.device)
            return tg.zeros_like(Q_init) - minus_identity           # −I, Q_init's shape


@_register_submodule
class parametrizations:
    """``torch.nn.utils.parametrizations``: ``weight_norm``, ``spectral_norm`` and
    ``orthogonal``, each a ``parametrize.register_parametrization`` of a Module here."""

    @staticmethod
    def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
        """Reparametrize ``name`` as ``w = g · v / ‖v‖`` (the norm over every dim but
        ``dim``; ``dim=None``: over the whole tensor). g is
        ``parametrizations.weight.original0`` (shape (out, 1, ...) for dim 0), v is
        ``original1``, initialised to ‖w‖ and w. Returns ``module``. As PyTorch, the
        module also loads a state dict of the older ``weight_norm`` (``name_g``,
        ``name_v``), renamed on loading to ``original0`` and ``original1``."""
        parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

        def older_weight_norm_keys(state_dict, prefix, *_):
            g_key, v_key = prefix + name + "_g", prefix + name + "_v"
            if g_key in state_dict and v_key in state_dict:
                original = prefix + "parametrizations." + name + ".original"
                state_dict[original + "0"] = state_dict.pop(g_key)
                state_dict[original + "1"] = state_dict.pop(v_key)

        module._register_load_state_dict_pre_hook(older_weight_norm_keys)
        return module

    @staticmethod
    def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                      eps: float = 1e-12, dim: int | None = None) -> Module:
        """Reparametrize ``name`` as ``W / σ(W)``, σ its largest singular value estimated
        by power iteration (see ``_SpectralNorm``): every read in training mode runs
        ``n_power_iterations`` more steps; evaluation reuses the vectors. ``dim``: the
        output dim (1 for ConvTranspose layers, else 0). Returns ``module``."""
        from tinygrad_opt.nn.conv_transpose import _ConvTransposeNd  # lazy: a layer file
        weight = getattr(module, name, None)
        if not isinstance(weight, Tensor):
            raise ValueError(f"Module '{module}' has no parameter or buffer with name "
                             f"'{name}'")
        if dim is None:
            dim = 1 if isinstance(module, _ConvTransposeNd) else 0
        parametrize.register_parametrization(
            module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
        return module

    @staticmethod
    def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None,
                   *, use_trivialization: bool = True) -> Module:
        """Constrain the matrix (or batch of matrices) ``name`` to orthonormal columns
        (rows, when wide): QᵀQ = I at every read, whatever the optimizer does (see
        ``_Orthogonal``). ``orthogonal_map``: 'matrix_exp' (default for square
        matrices), 'cayley' or 'householder' (default otherwise). Returns ``module``."""
        weight = getattr(module, name, None)
        if not isinstance(weight, Tensor):
            raise ValueError(f"Module '{module}' has no parameter or buffer with name "
                             f"'{name}'")
        if weight.ndim < 2:
            raise ValueError("Expected a matrix or batch of matrices. Got a tensor of "
                             f"{weight.ndim} dimensions.")
        if orthogonal_map is None:
            square = weight.shape[-2] == weight.shape[-1]
            orthogonal_map = "matrix_exp" if square else "householder"
        if orthogonal_map not in ORTHOGONAL_MAPS:
            raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                             f'"householder". Got: {orthogonal_map}')
        orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
        parametrize.register_parametrization(module, name, orth, unsafe=True)
        return module


# --------------------------------------------------------- the older, hook-based forms

class WeightNorm:
    """The forward pre-hook of the older ``weight_norm``: before every forward,
    ``module.name = g · v / ‖v‖`` from the Parameters ``name_g`` and ``name_v``."""

    def __init__(self, name: str, dim: int | None):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        """w = g · v / ‖v‖."""
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> "WeightNorm":
        """Replace the Parameter ``name`` by ``name_g`` = ‖w‖ and ``name_v`` = w."""
        warnings.warn("`nn.utils.weight_norm` is deprecated in favor of "
                      "`nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        with no_grad():
            g = _norm_except_dim(weight, fn.dim)
        delattr(module, name)
        module.register_parameter(name + "_g", Parameter(g))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))  # a plain attribute
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        """``name`` becomes a Parameter holding g · v / ‖v‖; ``name_g``, ``name_v`` go."""
        with no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        delattr(module, self.name + "_g")
        delattr(module, self.name + "_v")
        module.register_parameter(self.name, Parameter(weight))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """The older weight normalisation ``w = g · v / ‖v‖`` (deprecated in PyTorch for
    ``parametrizations.weight_norm``; a FutureWarning says so): Parameters ``name_g``
    (‖w‖ per slice along ``dim``; ``dim=None``: the whole tensor's norm) and ``name_v``
    (w), and a forward pre-hook that recomputes ``module.name`` from them."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``weight_norm``: ``name`` is a Parameter again, equal to g · v / ‖v‖."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


class SpectralNorm:
    """The forward pre-hook of the older ``spectral_norm``::

        v ← Wᵀ u / ‖Wᵀ u‖,   u ← W v / ‖W v‖     (n_power_iterations, training only)
        module.name = W / (uᵀ W v)

    from the Parameter ``name_orig`` and the buffers ``name_u``, ``name_v``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """W / σ with σ = uᵀ W v, after the power iteration when asked."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = _as_matrix(weight, self.dim)                     # (h, w)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    _copy_into(v, normalize(weight_mat.mT @ u, dim=0, eps=self.eps))
                    _copy_into(u, normalize(weight_mat @ v, dim=0, eps=self.eps))
        sigma = (u.clone() * (weight_mat @ v.clone())).sum()          # σ = uᵀ W v
        return weight / sigma

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int,
              eps: float) -> "SpectralNorm":
        """Move the Parameter ``name`` to ``name_orig``; random unit buffers ``name_u``
        (h,) and ``name_v`` (w,); ``name`` a plain attribute recomputed before forward."""
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        with no_grad():
            h, w = _as_matrix(weight, dim).shape
            u = normalize(tg.randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
            v = normalize(tg.randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())              # a plain attribute until forward
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        """``name`` becomes a Parameter holding W / σ (no more power iteration)."""
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """The older spectral normalisation: ``module.name = W / σ`` recomputed by a forward
    pre-hook (see ``SpectralNorm``), with the Parameter ``name_orig`` and the buffers
    ``name_u``, ``name_v`` (state_dict keys as PyTorch). ``dim``: 1 for ConvTranspose
    layers, else 0."""
    from tinygrad_opt.nn.conv_transpose import _ConvTransposeNd  # lazy: a layer file
    if dim is None:
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``name`` is a Parameter again, equal to W / σ."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")


# ----------------------------------------------------------------------------- fusion
# Folding an eval-mode BatchNorm into the layer before it. In eval mode BatchNorm is the
# per-channel affine map  y = (z − μ)·γ/√(σ² + ε) + β  of the layer's output z = W x + b,
# so the two together are one layer with
#     W' = W · s   (each output channel's row scaled),   b' = (b − μ)·s + β,
# where s = γ/√(σ² + ε) (μ, σ²: the running statistics; γ = 1, β = 0 when not affine).

def _fold(bias: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
          bn_w: Tensor | None, bn_b: Tensor | None):
    """(bias or 0, s = γ/√(σ² + ε), b' = (b − μ)·s + β), all of shape (C,)."""
    bias = tg.zeros_like(bn_rm) if bias is None else bias
    bn_w = tg.ones_like(bn_rm) if bn_w is None else bn_w
    bn_b = tg.zeros_like(bn_rm) if bn_b is None else bn_b
    scale = bn_w * (bn_rv + bn_eps).rsqrt()                      # (C,)
    return bias, scale, (bias - bn_rm) * scale + bn_b            # (C,)


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor,
                         bn_eps: float, bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """A convolution's weight and bias with an eval-mode BatchNorm folded in::

        W'[o] = W[o] · γ[o]/√(σ²[o] + ε)      b' = (b − μ)·γ/√(σ² + ε) + β

    ``o`` is the output channel: dim 0 of the weight, dim 1 when ``transpose``
    (ConvTranspose). A missing bias, γ or β counts as 0, 1, 0. Returns two new
    Parameters of the convolution's dtypes.
    """
    weight_dtype = conv_w.dtype
    bias_dtype = conv_w.dtype if conv_b is None else conv_b.dtype
    with no_grad():
        conv_b, scale, fused_b = _fold(conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        rest = [1] * (conv_w.ndim - 2)
        shape = [1, -1, *rest] if transpose else [-1, 1, *rest]
        fused_w = conv_w * scale.reshape(shape)                  # conv_w's shape
    return (Parameter(fused_w.to(dtype=weight_dtype), conv_w.requires_grad),
            Parameter(fused_b.to(dtype=bias_dtype), conv_b.requires_grad))


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor,
                           bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None,
                           bn_b: Tensor | None) -> tuple[Parameter, Parameter]:
    """A Linear layer's weight (out, in) and bias (out,) with an eval-mode BatchNorm over
    its outputs folded in::

        W'[o, :] = W[o, :] · γ[o]/√(σ²[o] + ε)      b' = (b − μ)·γ/√(σ² + ε) + β

    (a BatchNorm of one feature scales every output alike). Returns two new Parameters.
    """
    weight_dtype = linear_w.dtype
    bias_dtype = linear_w.dtype if linear_b is None else linear_b.dtype
    with no_grad():
        linear_b, scale, fused_b = _fold(linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        fused_w = linear_w * scale.unsqueeze(-1)                 # (out, in)
    return (Parameter(fused_w.to(dtype=weight_dtype), linear_w.requires_grad),
            Parameter(fused_b.to(dtype=bias_dtype), linear_b.requires_grad))


def _check_fusable(layer: Module, bn: Module, op: str) -> None:
    if layer.training or bn.training:
        raise AssertionError(f"{op}: Fusion only for eval! Call .eval() on both modules "
                             f"({type(layer).__name__} training={layer.training}, "
                             f"{type(bn).__name__} training={bn.training})")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError(f"{op}: the BatchNorm has no running statistics "
                             "(track_running_stats=False)")


def fuse_conv_bn_eval(conv: Module, bn: Module, transpose: bool = False) -> Module:
    """A new convolution (a deep copy of ``conv``) that computes ``bn(conv(x))`` of the
    two modules in eval mode, with the weights of ``fuse_conv_bn_weights``.
    ``transpose``: ``conv`` is a ConvTranspose (output channels on weight dim 1)."""
    _check_fusable(conv, bn, "fuse_conv_bn_eval")
    fused_conv = copy.deepcopy(conv)
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias, transpose)
    return fused_conv


def fuse_linear_bn_eval(linear: Module, bn: Module) -> Module:
    """A new Linear (a deep copy of ``linear``) that computes ``bn(linear(x))`` of the two
    modules in eval mode. The BatchNorm must have ``linear.out_features`` features, or
    one."""
    _check_fusable(linear, bn, "fuse_linear_bn_eval")
    if bn.num_features not in (linear.out_features, 1):
        raise AssertionError("To fuse, linear.out_features == bn.num_features or "
                             f"bn.num_features == 1 (got {linear.out_features} and "
                             f"{bn.num_features})")
    fused_linear = copy.deepcopy(linear)
    fused_linear.weight, fused_linear.bias = fuse_linear_bn_weights(
        fused_linear.weight, fused_linear.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias)
    return fused_linear


# ------------------------------------------------- deprecated names, more sub-modules

def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated: ``clip_grad_norm_`` (with PyTorch's FutureWarning)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation, ``inverse[permutation[i]] = i``: the argsort of a
    permutation (None stays None). ``nn.utils.rnn.invert_permutation``."""
    if permutation is None:
        return None
    return permutation.argsort().to(dtype=permutation.dtype)


rnn.invert_permutation = staticmethod(invert_permutation)


@_register_submodule
class fusion:
    """``torch.nn.utils.fusion``: folding an eval-mode BatchNorm into a conv or linear."""

    fuse_conv_bn_eval = staticmethod(fuse_conv_bn_eval)
    fuse_conv_bn_weights = staticmethod(fuse_conv_bn_weights)
    fuse_linear_bn_eval = staticmethod(fuse_linear_bn_eval)
    fuse_linear_bn_weights = staticmethod(fuse_linear_bn_weights)


@_register_submodule
class clip_grad:
    """``torch.nn.utils.clip_grad``: gradient clipping (the functions above)."""

    clip_grad_norm = staticmethod(clip_grad_norm)
    clip_grad_norm_ = staticmethod(clip_grad_norm_)
    clip_grad_value_ = staticmethod(clip_grad_value_)
    clip_grads_with_norm_ = staticmethod(clip_grads_with_norm_)
    get_total_norm = staticmethod(get_total_norm)


@_register_submodule
class convert_parameters:
    """``torch.nn.utils.convert_parameters``: parameters <-> one flat vector."""

    parameters_to_vector = staticmethod(parameters_to_vector)
    vector_to_parameters = staticmethod(vector_to_parameters)
