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
* ``stateless``: ``functional_call`` (the same as ``tinygrad_opt.func``'s).
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
from typing import Iterable

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn import recurrent
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
                    error_if_nonfinite: bool = False, *, parameters=None) -> Tensor:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm is taken over all gradients as if concatenated into one
    vector: ``total = (Σ_p Σ_i |g_pi|^q)^(1/q)`` for ``q = norm_type``, and
    ``max |g_pi|`` for ``q = inf``. If ``total > max_norm`` every gradient is
    multiplied by ``max_norm / (total + 1e-6)`` (PyTorch's rule), which keeps
    the gradient's direction and shrinks its length. Returns ``total`` (before
    clipping) as a 0-d Tensor on the gradients' device.

    ``params`` is API.md's name for PyTorch's first argument ``parameters``;
    either keyword works.
    """
    params = _named("clip_grad_norm_", "params", params, "parameters", parameters)
    if max_norm is None:
        raise TypeError("clip_grad_norm_: missing the argument max_norm")
    grads = [p.grad for p in _as_list(params) if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return tg.tensor(0.0)
    with no_grad():
        if norm_type == math.inf:
            norms = [g.abs().max() for g in grads]                 # one 0-d tensor per grad
            total_norm = tg.stack(norms).max()
        else:
            sums = [(g.abs() ** norm_type).sum() for g in grads]  # Σ |g_i|^q per grad
            total_norm = tg.stack(sums).sum() ** (1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(total_norm.item()):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                "non-finite, so it cannot be clipped (error_if_nonfinite=False skips this check)")
        clip_coef = max_norm / (total_norm + 1e-6)
        # min(coef, 1) on the device: no host round trip, and a no-op when total ≤ max_norm
        clip_coef_clamped = clip_coef.clip(None, 1.0)
        for g in grads:
            g.data[...] = g.data * clip_coef_clamped.data.astype(g.dtype)  # in place
            g._version += 1
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
    with no_grad():
        norms = [tg.linalg.vector_norm(t, norm_type) for t in tensors]  # one 0-d per tensor
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
        for g in grads:
            g.data[...] = g.data * clip_coef_clamped.data.astype(g.dtype)  # in place
            g._version += 1


def clip_grad_value_(params=None, clip: float = None, *, parameters=None,
                     clip_value: float = None) -> None:
    """Clip every gradient element to ``[-clip, clip]``, in place. API.md names the
    arguments ``params`` and ``clip``; PyTorch's ``parameters`` and ``clip_value`` work too."""
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
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got: {type(vec).__name__}")
    parameters = _as_list(parameters)
    total = sum(math.prod(p.shape) for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec of shape {vec.shape} does not match the "
                         f"{total} elements of the parameters")
    _check_same_device(parameters + [vec], "vector_to_parameters")
    pointer = 0
    with no_grad():
        for p in parameters:
            count = math.prod(p.shape)
            p.data[...] = vec.data[pointer:pointer + count].reshape(p.shape)
            p._version += 1  # a graph that saved p refuses backward, as after an optimizer step
            pointer += count


def _check_same_device(tensors, name: str) -> None:
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise RuntimeError(f"{name}: tensors are on different devices: {sorted(devices)}")


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

    As PyTorch, ``module_cls`` must take a ``device`` argument (RuntimeError otherwise).
    There is no "meta" device here, so the module is built and initialised as usual on
    ``device``: the values are only "unspecified", and no time is saved.
    """
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
    """``amount``: a fraction in [0, 1] or a non-negative int (a count)."""
    if not isinstance(amount, numbers.Real) or isinstance(amount, bool):
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


def _check_structured(t: Tensor) -> None:
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.ndim} dims")


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


class BasePruningMethod:
    """A pruning method: ``compute_mask(t, default_mask)`` says which entries to keep.

    Its object is also the module's forward pre-hook that recomputes
    ``name = name_orig · name_mask`` (``__call__``). ``PRUNING_TYPE`` is
    'unstructured' (single entries), 'structured' (whole slices along ``dim``) or
    'global' (a given mask); it tells ``PruningContainer`` what is still unpruned.
    """

    PRUNING_TYPE = "unstructured"
    _tensor_name = None

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The new mask (t's shape): ``default_mask`` with more entries set to 0."""
        raise NotImplementedError

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
        if old_method is None:
            delattr(module, name)
            module.register_parameter(name + "_orig", orig)
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
            dim = method.dim % t.ndim
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
        _check_structured(t)
        channels = t.shape[self.dim]
        count = _count_to_prune(self.amount, channels)
        if count == 0:
            return default_mask.clone()
        draws = tg.rand(channels, dtype=backend.float64, device=t.device)      # (C,)
        kept = draws > draws.kthvalue(count).values                            # (C,) bool
        return _channel_mask(t, self.dim % t.ndim, kept) * default_mask.to(dtype=t.dtype)


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
        _check_structured(t)
        dim = self.dim % t.ndim
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
        all of them together, already pruned entries left out."""
        parameters = list(parameters)
        importance_scores = importance_scores or {}
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
