"""The two primitives of the functional forms, and softplus, which rests on one of them.

``erf`` and ``log1p`` are the two functional forms with a backward of their own
(the ops ``Erf`` and ``Log1p`` live in ops/math_ops.py, with ``tg.erf`` and
``tg.log1p``), each for a reason stated in its docstring: NumPy has no erf, and
``log(1 + e)`` loses every digit of a tiny ``e``. ``softplus`` is a composition built on
``log1p``; it lives here, next to ``log1p``, because both the activations
(``nn/functional.py``, ``F.softplus``) and the losses (``nn/functional_loss.py``,
``binary_cross_entropy_with_logits``) use it, and both can import this file
without an import circle. ``F.erf``, ``F.log1p`` and ``F.softplus`` are these.
"""

from __future__ import annotations

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.ops.math_ops import Erf, Log1p
from tinygrad_opt.tensor import Tensor


# ------------------------------------------------- the two primitives (ops/math_ops.py)


def log1p(input: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x (see ``Log1p``)."""
    return Log1p.apply(input)


def erf(input: Tensor) -> Tensor:
    """The error function, elementwise (see ``Erf``)."""
    return Erf.apply(input)


# ------------------------------------- softplus (the activations and the losses share it)

def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β)·log(1 + e^(βx)), and x itself where βx > threshold (as PyTorch).

    Stable form: log(1 + e^z) = max(z, 0) + log1p(e^−|z|), where e^−|z| ≤ 1.
    ``max`` and ``−|z|`` are built from ``where`` so that the derivative at
    z = 0 comes out as σ(0) = ½ (relu and abs would both give 0 there).
    """
    z = input * beta
    positive_part = tg.where(z > 0, z, 0.0)   # max(z, 0)
    negative_part = tg.where(z > 0, 0.0, z)   # min(z, 0)
    minus_abs = negative_part - positive_part  # −|z|
    softplus_z = positive_part + log1p(minus_abs.exp())
    return tg.where(z > threshold, input, softplus_z / beta)


# ------------------------- batch, layer and instance norm share these steps

def _update_running(running: Tensor, batch_stat: Tensor, momentum: float) -> None:
    """running ← (1 − momentum)·running + momentum·batch_stat, in place, no graph (its
    version goes up, as for every in-place write: an op that saved it would refuse)."""
    batch_array = batch_stat.data.reshape(running.shape)
    running.data[...] = (1 - momentum) * running.data + momentum * batch_array
    running._version += 1


def _affine(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None, shape) -> Tensor:
    """γ·x̂ + β with γ, β reshaped to broadcast over x̂ (either may be None)."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


def _check_per_channel(op_name: str, input: Tensor, **per_channel) -> None:
    """Each of ``per_channel`` (γ, β, the running statistics; None: absent) holds one value
    per channel of ``input`` (N, C, ...). As PyTorch, only the number of elements counts."""
    channels = input.shape[1]
    for name, tensor in per_channel.items():
        if tensor is not None and tensor.data.size != channels:
            raise ValueError(f"{op_name}: {name} of shape {tensor.shape} has "
                             f"{tensor.data.size} elements, expected one for each of the "
                             f"{channels} channels of an input of shape {input.shape}")


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """embedding's max_norm: w_i ← w_i · max_norm / (‖w_i‖ + 1e-7) for each looked-up row
    with ‖w_i‖ > max_norm, in place and outside the graph (its version goes up).
    embedding and embedding_bag (functional_extra.py) share it."""
    xp = backend.xp_of(weight.data)
    looked_up = xp.unique(input.data)                                       # (K,)
    norms = xp.linalg.norm(weight.data[looked_up], ord=norm_type, axis=1)   # (K,)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    weight.data[looked_up] = weight.data[looked_up] * scale[:, None].astype(weight.dtype)
    weight._version += 1
