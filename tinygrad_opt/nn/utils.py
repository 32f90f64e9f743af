"""Gradient clipping, flat parameter vectors and weight penalties.

``clip_grad_norm_`` and ``clip_grad_value_`` edit ``.grad`` in place between
``backward()`` and ``optimizer.step()``: the classic fix for exploding
gradients. The penalties return differentiable Tensors to add to a loss.
"""

from __future__ import annotations

import math
from typing import Iterable

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
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
